// A minimal HTTPS client for the benchmark: node:https over keep-alive agents with the admin client
// certificate, so every figure measures the server rather than connection setup.
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface Credentials {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface Response {
  status: number;
  body: Buffer;
  /** Milliseconds from issuing the request to its last byte. */
  ms: number;
}

export interface RequestOptions {
  body?: string | Buffer;
  contentType?: string;
  accept?: string;
  /** Skip collecting the body (only its length is kept): for large LISTs where only timing matters. */
  discardBody?: boolean;
}

/** The admin credentials the standalone server writes under DATA_DIR/pki. */
export function adminCredentials(dataDir: string): Credentials {
  const dir = join(dataDir, 'pki');
  return { ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(join(dir, 'admin.crt')), key: readFileSync(join(dir, 'admin.key')) };
}

export class Client {
  readonly url: URL;
  readonly agent: https.Agent;
  private readonly creds: Credentials;
  private readonly secureContext: tls.SecureContext;

  constructor(url: string, creds: Credentials, maxSockets: number) {
    this.url = new URL(url);
    this.creds = creds;
    // One secure context for every connection: otherwise each new socket re-parses the key and CA.
    this.secureContext = tls.createSecureContext(creds);
    this.agent = new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, secureContext: this.secureContext, ca: creds.ca });
  }

  request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { Accept: opts.accept ?? 'application/json', 'User-Agent': 'bench-api/1' };
      if (opts.body !== undefined) {
        headers['Content-Type'] = opts.contentType ?? 'application/json';
        headers['Content-Length'] = Buffer.byteLength(opts.body);
      }
      const req = https.request(
        { hostname: this.url.hostname, port: this.url.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          let length = 0;
          res.on('data', (c: Buffer) => {
            length += c.length;
            if (!opts.discardBody) chunks.push(c);
          });
          res.on('end', () => {
            const body = opts.discardBody ? Buffer.alloc(0) : Buffer.concat(chunks, length);
            resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  /** Like request, but a status other than `expect` is an error carrying the server's message. */
  async expect(expect: number, method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const res = await this.request(method, path, opts);
    if (res.status !== expect) throw new Error(`${method} ${path}: HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
    return res;
  }

  /** A raw streaming request (a watch); the caller reads the response stream itself. */
  stream(path: string, agent: https.Agent): Promise<import('node:http').IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = https.request({ hostname: this.url.hostname, port: this.url.port, method: 'GET', path, agent, headers: { Accept: 'application/json', 'User-Agent': 'bench-api/1' } }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch ${path}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        resolve(res);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** A separate agent for long-running streams, so they never starve the request pool. */
  streamAgent(): https.Agent {
    return new https.Agent({ keepAlive: false, maxSockets: Infinity, secureContext: this.secureContext, ca: this.creds.ca });
  }

  close(): void {
    this.agent.destroy();
  }
}
