// The reconcilers' Kubernetes client over HTTPS: the same code talks to the standalone server (through its
// kubeconfig) and to a cluster (in-cluster service account), as client-go's rest client does.
import type { KubeObject } from '../types.ts';
import { APIError, type KubeClient, type ResourceType, type WatchEvent, type WatchOptions } from './types.ts';
import { inClusterConnection, readKubeconfig, SERVICE_ACCOUNT_DIR, type Connection } from './kubeconfig.ts';
import { statusError, Transport } from './transport.ts';

export interface ClientConfig extends Connection {
  userAgent?: string;
  /** Per-request timeout for everything but watches; 30 s unless given. */
  timeoutMs?: number;
  /** Client-side rate limit (BMO's -kube-api-qps / -kube-api-burst); unlimited when absent. */
  qps?: number;
  burst?: number;
}

const DEFAULT_USER_AGENT = 'metal3-baremetal-controller';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The REST path of a collection, item or subresource; cluster-scoped types ignore namespace. */
export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${type.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

const query = (params: Record<string, string | undefined>): string => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
};

export class HttpKubeClient implements KubeClient {
  readonly server: URL;
  readonly namespace: string;
  private readonly config: ClientConfig;
  private readonly transport: Transport;
  private tokens: number;
  private lastRefill = performance.now();
  private readonly watches = new Set<() => void>();

  constructor(config: ClientConfig) {
    this.config = config;
    this.transport = new Transport(config, {
      userAgent: config.userAgent ?? DEFAULT_USER_AGENT,
      timeoutMs: config.timeoutMs ?? 30_000,
      // Watches hold a socket each; leave room for the ordinary requests beside them.
      maxSockets: 64,
    });
    this.server = this.transport.server;
    this.namespace = config.namespace ?? 'default';
    this.tokens = config.burst ?? config.qps ?? 0;
  }

  static fromKubeconfig(path: string, context?: string): HttpKubeClient {
    return new HttpKubeClient(readKubeconfig(path, context));
  }

  /** The pod's service account, as client-go's rest.InClusterConfig. */
  static inCluster(dir = SERVICE_ACCOUNT_DIR): HttpKubeClient {
    return new HttpKubeClient(inClusterConnection(dir));
  }

  /** Ends every watch and closes idle connections. */
  close(): void {
    for (const stop of [...this.watches]) stop();
    this.transport.close();
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.json('GET', resourcePath(type, namespace, name));
    } catch (e) {
      if (e instanceof APIError && e.code === 404) return undefined;
      throw e;
    }
  }

  async list(
    type: ResourceType,
    namespace?: string,
    opts: { labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    // Pages of 500, as client-go's pager: all pages come from the first page's snapshot.
    do {
      const page: unknown = await this.json(
        'GET',
        resourcePath(type, namespace) + query({ labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: '500', continue: cont }),
      );
      if (!isRecord(page) || !Array.isArray(page.items)) throw new APIError(500, 'InternalError', `list ${type.plural}: the answer is not a list`);
      const meta = isRecord(page.metadata) ? page.metadata : {};
      if (!resourceVersion) resourceVersion = str(meta.resourceVersion) ?? '';
      const apiVersion = type.group === '' ? type.version : `${type.group}/${type.version}`;
      // Items in a list may omit apiVersion and kind; the cache and handlers want them.
      for (const item of page.items as KubeObject[]) items.push({ ...item, apiVersion: item.apiVersion ?? apiVersion, kind: item.kind ?? type.kind });
      cont = str(meta.continue);
    } while (cont);
    return { items, resourceVersion };
  }

  watch(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (ev: WatchEvent) => void,
    onClose: (err?: Error) => void,
    opts: WatchOptions = {},
  ): () => void {
    // A random 5–10 min server-side timeout, as client-go's reflector: watches end and resume regularly
    // rather than sit on a connection an intermediary may have silently dropped.
    const timeoutSeconds = opts.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
    const path =
      resourcePath(type, namespace) +
      query({
        watch: 'true',
        resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(timeoutSeconds),
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
      });
    let closed = false;
    const finish = (err?: Error) => {
      if (closed) return;
      closed = true;
      this.watches.delete(stop);
      req.destroy();
      onClose(err);
    };
    const stop = () => {
      // Stopping is the caller's decision: it is not told about the close it asked for.
      if (closed) return;
      closed = true;
      this.watches.delete(stop);
      req.destroy();
    };
    const req = this.transport.request('GET', path, undefined, undefined, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => finish(statusError(res.statusCode ?? 500, body)));
        res.on('error', (e) => finish(e));
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while (!closed && (nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line) this.watchLine(line, onEvent, finish);
        }
      });
      res.on('end', () => {
        const rest = buffer.trim();
        if (rest && !closed) this.watchLine(rest, onEvent, finish);
        finish();
      });
      res.on('error', (e) => finish(e));
      res.on('aborted', () => finish(new Error('watch stream aborted')));
    });
    req.on('error', (e) => finish(e));
    req.end();
    this.watches.add(stop);
    return stop;
  }

  private watchLine(line: string, onEvent: (ev: WatchEvent) => void, finish: (err?: Error) => void): void {
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      finish(new Error('watch: undecodable event'));
      return;
    }
    if (!isRecord(ev) || typeof ev.type !== 'string' || !isRecord(ev.object)) {
      finish(new Error('watch: malformed event'));
      return;
    }
    if (ev.type === 'ERROR') {
      const s = ev.object;
      finish(statusError(typeof s.code === 'number' ? s.code : 500, JSON.stringify(s)));
      return;
    }
    onEvent({ type: ev.type as WatchEvent['type'], object: ev.object as KubeObject });
  }

  create(type: ResourceType, obj: KubeObject, opts: { fieldManager?: string } = {}): Promise<KubeObject> {
    return this.json('POST', resourcePath(type, obj.metadata.namespace) + query({ fieldManager: opts.fieldManager }), obj);
  }

  update(type: ResourceType, obj: KubeObject, opts: { subresource?: 'status'; fieldManager?: string } = {}): Promise<KubeObject> {
    const name = obj.metadata.name;
    if (!name) return Promise.reject(new APIError(400, 'BadRequest', 'update: the object has no name'));
    return this.json('PUT', resourcePath(type, obj.metadata.namespace, name, opts.subresource) + query({ fieldManager: opts.fieldManager }), obj);
  }

  patch(
    type: ResourceType,
    namespace: string,
    name: string,
    patchType: 'merge' | 'json',
    patch: unknown,
    opts: { subresource?: string; fieldManager?: string } = {},
  ): Promise<KubeObject> {
    const contentType = patchType === 'merge' ? 'application/merge-patch+json' : 'application/json-patch+json';
    return this.json('PATCH', resourcePath(type, namespace, name, opts.subresource) + query({ fieldManager: opts.fieldManager }), patch, contentType);
  }

  async delete(type: ResourceType, namespace: string, name: string): Promise<void> {
    await this.json('DELETE', resourcePath(type, namespace, name), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' });
  }

  private async json<T = KubeObject>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    await this.throttle();
    return this.transport.json<T>(method, path, body, contentType);
  }

  /** A token bucket before every request but watches, when qps is configured. */
  private async throttle(): Promise<void> {
    const qps = this.config.qps;
    if (!qps) return;
    const burst = this.config.burst ?? qps;
    const now = performance.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) / 1000) * qps);
    this.lastRefill = now;
    this.tokens -= 1;
    if (this.tokens < 0) await new Promise((r) => setTimeout(r, (-this.tokens / qps) * 1000));
  }
}
