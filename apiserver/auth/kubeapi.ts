// The few calls delegated authentication and authorization make to kube-apiserver (ConfigMap reads,
// TokenReview, SubjectAccessReview, service-account issuer discovery): api/client's Transport, with retries.

import { APIError } from '../../api/client/types.ts';
import type { Connection } from '../../api/client/kubeconfig.ts';
import { decodeJSON, statusError, Transport } from '../../api/client/transport.ts';

/** A JSON client for kube-apiserver; the delegated authenticator and authorizer depend on this, not on https. */
export interface ClusterAPI {
  /** The decoded body, or undefined for 404. */
  getJSON(path: string): Promise<unknown>;
  postJSON(path: string, body: unknown): Promise<unknown>;
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
const retriable = (e: unknown) => !(e instanceof APIError) || e.code === 429 || e.code >= 500;

export class ClusterClient implements ClusterAPI {
  private readonly transport: Transport;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(conn: Connection, opts: ClusterClientOptions = {}) {
    this.transport = new Transport(conn, {
      userAgent: opts.userAgent ?? 'metal3-apiserver',
      timeoutMs: opts.timeoutMs ?? 10_000,
      // Service-account issuer discovery answers its key set as application/jwk-set+json.
      accept: 'application/json, application/jwk-set+json',
    });
    this.retries = opts.retries ?? 3;
    this.backoffMs = opts.backoffMs ?? 200;
  }

  close(): void {
    this.transport.close();
  }

  async getJSON(path: string): Promise<unknown> {
    try {
      return await this.withRetries('GET', path);
    } catch (e) {
      if (e instanceof APIError && e.code === 404) return undefined;
      throw e;
    }
  }

  postJSON(path: string, body: unknown): Promise<unknown> {
    return this.withRetries('POST', path, body);
  }

  private async withRetries(method: string, path: string, body?: unknown): Promise<unknown> {
    for (let attempt = 0, wait = this.backoffMs; ; attempt++, wait *= 2) {
      try {
        return await this.once(method, path, body);
      } catch (e) {
        if (attempt >= this.retries || !retriable(e)) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async once(method: string, path: string, body?: unknown): Promise<unknown> {
    const answer = await this.transport.send(method, path, body);
    if (answer.status < 200 || answer.status > 299) {
      const e = statusError(answer.status, answer.body);
      // These errors reach logs and 500 answers far from the call: say which call it was.
      throw new APIError(e.code, e.reason, `${method} ${path}: ${e.code} ${e.message}`);
    }
    return decodeJSON(method, path, answer.body);
  }
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
