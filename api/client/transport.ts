// One HTTPS connection to a Kubernetes API server: TLS from the Connection, its credentials on every
// request, JSON bodies, a per-request timeout and metav1.Status answers turned into APIError. The typed
// client (HttpKubeClient) and cluster mode's delegated authentication (ClusterClient) both sit on it.
import https from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { APIError } from './types.ts';
import type { Connection } from './kubeconfig.ts';

export interface TransportOptions {
  userAgent: string;
  /** Per request, watches excepted. */
  timeoutMs: number;
  /** Accept header of every request; application/json unless given. */
  accept?: string;
  /** Sockets per host; unbounded unless given. */
  maxSockets?: number;
}

export interface Answer {
  status: number;
  body: string;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The APIError a non-2xx answer (ideally a metav1.Status) stands for. */
export function statusError(code: number, body: string): APIError {
  let status: unknown;
  try {
    status = JSON.parse(body);
  } catch {
    status = undefined;
  }
  if (isRecord(status) && status.kind === 'Status') {
    const c = typeof status.code === 'number' && status.code > 0 ? status.code : code;
    return new APIError(c, str(status.reason) ?? REASONS[c] ?? 'Unknown', str(status.message) ?? `the server responded with status ${c}`);
  }
  const text = body.trim().slice(0, 200);
  return new APIError(code, REASONS[code] ?? 'Unknown', text || `the server responded with status ${code}`);
}

/** A 2xx answer's body; a body that is not JSON is the server's fault (500). */
export function decodeJSON<T>(method: string, path: string, body: string): T {
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new APIError(500, 'InternalError', `${method} ${path}: the answer is not JSON`);
  }
}

export class Transport {
  readonly server: URL;
  private readonly conn: Connection;
  private readonly opts: TransportOptions;
  private readonly agent: https.Agent;

  constructor(conn: Connection, opts: TransportOptions) {
    this.server = new URL(conn.server);
    if (this.server.protocol !== 'https:') throw new Error(`kube client: only https servers are supported, got ${conn.server}`);
    this.conn = conn;
    this.opts = opts;
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: opts.maxSockets,
      ca: conn.caPem,
      cert: conn.certPem,
      key: conn.keyPem,
      rejectUnauthorized: !conn.insecureSkipTLSVerify,
    });
  }

  /** Closes idle connections; requests in flight end with an error. */
  close(): void {
    this.agent.destroy();
  }

  /** The decoded 2xx answer; APIError for any other status. */
  async json<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const answer = await this.send(method, path, body, contentType);
    if (answer.status < 200 || answer.status > 299) throw statusError(answer.status, answer.body);
    return decodeJSON<T>(method, path, answer.body);
  }

  /** The whole answer, whatever its status; rejects only when there is none within timeoutMs. */
  send(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = this.request(method, path, text, contentType, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(this.opts.timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out after ${this.opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(text);
    });
  }

  /** A request with credentials and no timeout, for streams (watches); the caller ends it. */
  request(method: string, path: string, body: string | undefined, contentType: string | undefined, onResponse: (res: IncomingMessage) => void): ClientRequest {
    const headers: Record<string, string> = { accept: this.opts.accept ?? 'application/json', 'user-agent': this.opts.userAgent };
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const authorization = this.authorization();
    if (authorization) headers.authorization = authorization;
    return https.request(
      {
        agent: this.agent,
        method,
        hostname: this.server.hostname.replace(/^\[|\]$/g, ''),
        port: this.server.port || 443,
        path: this.server.pathname.replace(/\/$/, '') + path,
        headers,
      },
      onResponse,
    );
  }

  private authorization(): string | undefined {
    // Read per request: a token function follows the rotation of projected service account tokens.
    const token = typeof this.conn.token === 'function' ? this.conn.token() : this.conn.token;
    if (token) return `Bearer ${token}`;
    const basic = this.conn.basicAuth;
    return basic ? `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}` : undefined;
  }
}
