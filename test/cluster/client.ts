// A minimal HTTPS client for the harness's own readiness checks and set-up calls, authenticating with a
// client certificate (fetch cannot present one without an extra dispatcher package).
import { request } from 'node:https';

export interface TLSIdentity {
  ca: string;
  cert?: string;
  key?: string;
}

export interface Reply {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

export function httpsRequest(
  url: string,
  identity: TLSIdentity,
  opts: { method?: string; body?: unknown; timeoutMs?: number; contentType?: string; accept?: string } = {},
): Promise<Reply> {
  const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  return new Promise((resolvePromise, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: identity.ca,
        cert: identity.cert,
        key: identity.key,
        timeout: opts.timeoutMs ?? 5000,
        headers: {
          Accept: opts.accept ?? 'application/json',
          ...(payload === undefined ? {} : { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolvePromise({ status: res.statusCode ?? 0, body, json: <T>() => JSON.parse(body) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 5000}ms: ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}
