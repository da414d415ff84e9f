// The few calls delegated authentication and authorization make to kube-apiserver (ConfigMap reads,
// TokenReview, SubjectAccessReview, service-account issuer discovery), over one keep-alive HTTPS agent.

import https from 'node:https';
import type { ClusterConnection } from './kubeconfig.ts';

/** A JSON client for kube-apiserver; the delegated authenticator and authorizer depend on this, not on https. */
export interface ClusterAPI {
  /** The decoded body, or undefined for 404. */
  getJSON(path: string): Promise<unknown>;
  postJSON(path: string, body: unknown): Promise<unknown>;
}

export class ClusterRequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface ClusterClientOptions {
  /** Per attempt; 10 s unless given. */
  timeoutMs?: number;
  /** Further attempts after a 429, a 5xx or a connection error; 3 unless given. */
  retries?: number;
  /** First wait between attempts, doubled each time; 200 ms unless given. */
  backoffMs?: number;
  userAgent?: string;
}

// 429 and 5xx are kube-apiserver shedding load or restarting; k8s.io/apiserver's webhooks retry those too.
const retriable = (e: unknown) => !(e instanceof ClusterRequestError) || e.status === 429 || e.status >= 500;

export class ClusterClient implements ClusterAPI {
  private readonly conn: ClusterConnection;
  private readonly base: URL;
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly userAgent: string;

  constructor(conn: ClusterConnection, opts: ClusterClientOptions = {}) {
    this.conn = conn;
    this.base = new URL(conn.server);
    if (this.base.protocol !== 'https:') throw new Error(`cluster client: only https servers are supported, got ${conn.server}`);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retries = opts.retries ?? 3;
    this.backoffMs = opts.backoffMs ?? 200;
    this.userAgent = opts.userAgent ?? 'metal3-apiserver';
    this.agent = new https.Agent({
      keepAlive: true,
      ca: conn.caPem,
      cert: conn.certPem,
      key: conn.keyPem,
      rejectUnauthorized: !conn.insecureSkipTLSVerify,
    });
  }

  close(): void {
    this.agent.destroy();
  }

  async getJSON(path: string): Promise<unknown> {
    try {
      return await this.withRetries('GET', path);
    } catch (e) {
      if (e instanceof ClusterRequestError && e.status === 404) return undefined;
      throw e;
    }
  }

  postJSON(path: string, body: unknown): Promise<unknown> {
    return this.withRetries('POST', path, JSON.stringify(body));
  }

  private async withRetries(method: string, path: string, body?: string): Promise<unknown> {
    for (let attempt = 0, wait = this.backoffMs; ; attempt++, wait *= 2) {
      try {
        return await this.once(method, path, body);
      } catch (e) {
        if (attempt >= this.retries || !retriable(e)) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private once(method: string, path: string, body?: string): Promise<unknown> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    const token = typeof this.conn.token === 'function' ? this.conn.token() : this.conn.token;
    const headers: Record<string, string> = { Accept: 'application/json, application/jwk-set+json', 'User-Agent': this.userAgent };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new ClusterRequestError(status, `${method} ${url.pathname}: ${status} ${statusMessage(text)}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error(`${method} ${url.pathname}: response is not JSON`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function statusMessage(text: string): string {
  try {
    const s: unknown = JSON.parse(text);
    if (typeof s === 'object' && s !== null && 'message' in s && typeof s.message === 'string') return s.message;
  } catch {
    // not a Status; fall through to the raw text
  }
  return text.slice(0, 200);
}

/** kube-system/extension-apiserver-authentication's data, or undefined when the ConfigMap does not exist. */
export async function fetchAuthenticationConfigMap(api: ClusterAPI): Promise<Record<string, string> | undefined> {
  const cm = await api.getJSON('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication');
  if (cm === undefined) return undefined;
  if (typeof cm !== 'object' || cm === null) throw new Error('extension-apiserver-authentication: not an object');
  const data = 'data' in cm ? cm.data : undefined;
  const out: Record<string, string> = {};
  if (typeof data === 'object' && data !== null) {
    for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}
