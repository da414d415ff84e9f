// The reconcilers' Kubernetes client over HTTPS: the same code talks to the standalone server (through its
// kubeconfig) and to a cluster (in-cluster service account), as client-go's rest client does.
import https from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { parse as parseYAML } from 'yaml';
import type { KubeObject } from '../types.ts';
import { APIError, type KubeClient, type ResourceType, type WatchEvent, type WatchOptions } from './types.ts';

export interface ClientConfig {
  /** https://host:port, optionally with a path prefix. */
  server: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  /** A bearer token, or a function re-reading it (projected service account tokens rotate). */
  token?: string | (() => string);
  basicAuth?: { username: string; password: string };
  insecureSkipTLSVerify?: boolean;
  /** The kubeconfig context's namespace, or the service account's. */
  namespace?: string;
  userAgent?: string;
  /** Per-request timeout for everything but watches; 30 s unless given. */
  timeoutMs?: number;
  /** Client-side rate limit (BMO's -kube-api-qps / -kube-api-burst); unlimited when absent. */
  qps?: number;
  burst?: number;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const DEFAULT_USER_AGENT = 'metal3-baremetal-controller';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Finds `name` in a kubeconfig list of `{name, <field>: {...}}` entries. */
function named(list: unknown, name: string | undefined, field: string): Record<string, unknown> {
  if (!Array.isArray(list)) return {};
  const entry: unknown = list.find((e) => isRecord(e) && e.name === name);
  return isRecord(entry) && isRecord(entry[field]) ? entry[field] : {};
}

/** The ClientConfig a kubeconfig document describes; file references are resolved against baseDir. */
export function configFromKubeconfig(text: string, baseDir: string, context?: string): ClientConfig {
  const doc: unknown = parseYAML(text);
  if (!isRecord(doc)) throw new Error('kubeconfig: not a YAML mapping');
  const ctxName = context ?? str(doc['current-context']);
  const ctx = named(doc.contexts, ctxName, 'context');
  if (ctxName === undefined || Object.keys(ctx).length === 0) throw new Error(`kubeconfig: context ${JSON.stringify(ctxName ?? '')} not found`);
  const cluster = named(doc.clusters, str(ctx.cluster), 'cluster');
  const user = named(doc.users, str(ctx.user), 'user');
  const server = str(cluster.server);
  if (!server) throw new Error(`kubeconfig: cluster ${JSON.stringify(ctx.cluster)} has no server`);
  const file = (p: unknown) => (str(p) ? readFileSync(resolvePath(baseDir, p as string), 'utf8') : undefined);
  const data = (d: unknown) => (str(d) ? Buffer.from(d as string, 'base64').toString('utf8') : undefined);
  const tokenFile = str(user.tokenFile);
  const username = str(user.username);
  return {
    server,
    caPem: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    certPem: data(user['client-certificate-data']) ?? file(user['client-certificate']),
    keyPem: data(user['client-key-data']) ?? file(user['client-key']),
    token: str(user.token) ?? (tokenFile ? () => readFileSync(resolvePath(baseDir, tokenFile), 'utf8').trim() : undefined),
    basicAuth: username ? { username, password: str(user.password) ?? '' } : undefined,
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: str(ctx.namespace),
  };
}

/** A token file re-read at most once a minute, as client-go's cachingTokenSource does for projected tokens. */
function cachedTokenFile(path: string): () => string {
  let token = '';
  let readAt = 0;
  return () => {
    const now = Date.now();
    if (now - readAt > 60_000) {
      token = readFileSync(path, 'utf8').trim();
      readAt = now;
    }
    return token;
  };
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

interface Answer {
  status: number;
  body: string;
}

export class HttpKubeClient implements KubeClient {
  readonly server: URL;
  readonly namespace: string;
  private readonly config: ClientConfig;
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;
  private tokens: number;
  private lastRefill = performance.now();
  private readonly watches = new Set<() => void>();

  constructor(config: ClientConfig) {
    this.config = config;
    this.server = new URL(config.server);
    if (this.server.protocol !== 'https:') throw new Error(`kube client: only https servers are supported, got ${this.server.protocol}`);
    this.namespace = config.namespace ?? 'default';
    this.timeoutMs = config.timeoutMs ?? 30_000;
    this.tokens = config.burst ?? config.qps ?? 0;
    this.agent = new https.Agent({
      keepAlive: true,
      // Watches hold a socket each; leave room for the ordinary requests beside them.
      maxSockets: 64,
      ca: config.caPem,
      cert: config.certPem,
      key: config.keyPem,
      rejectUnauthorized: !config.insecureSkipTLSVerify,
    });
  }

  static fromKubeconfig(path: string, context?: string): HttpKubeClient {
    return new HttpKubeClient(configFromKubeconfig(readFileSync(path, 'utf8'), dirname(resolvePath(path)), context));
  }

  /** The pod's service account, as client-go's rest.InClusterConfig. */
  static inCluster(dir = SERVICE_ACCOUNT_DIR): HttpKubeClient {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) throw new Error('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
    let namespace: string | undefined;
    try {
      namespace = readFileSync(`${dir}/namespace`, 'utf8').trim();
    } catch {
      namespace = undefined;
    }
    return new HttpKubeClient({
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      caPem: readFileSync(`${dir}/ca.crt`, 'utf8'),
      token: cachedTokenFile(`${dir}/token`),
      namespace,
    });
  }

  /** Ends every watch and closes idle connections. */
  close(): void {
    for (const stop of [...this.watches]) stop();
    this.agent.destroy();
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
    const req = this.request('GET', path, undefined, undefined, (res) => {
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

  private async json<T = KubeObject>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    await this.throttle();
    const answer = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body), contentType);
    if (answer.status < 200 || answer.status >= 300) throw statusError(answer.status, answer.body);
    try {
      return JSON.parse(answer.body) as T;
    } catch {
      throw new APIError(500, 'InternalError', `${method} ${path}: the answer is not JSON`);
    }
  }

  private send(method: string, path: string, body: string | undefined, contentType: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = this.request(method, path, body, contentType, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  private request(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    onResponse: (res: IncomingMessage) => void,
  ): ClientRequest {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.config.userAgent ?? DEFAULT_USER_AGENT };
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const token = typeof this.config.token === 'function' ? this.config.token() : this.config.token;
    if (token) headers.authorization = `Bearer ${token}`;
    else if (this.config.basicAuth) {
      headers.authorization = `Basic ${Buffer.from(`${this.config.basicAuth.username}:${this.config.basicAuth.password}`).toString('base64')}`;
    }
    const prefix = this.server.pathname.replace(/\/$/, '');
    return https.request(
      {
        agent: this.agent,
        method,
        hostname: this.server.hostname.replace(/^\[|\]$/g, ''),
        port: this.server.port || 443,
        path: prefix + path,
        headers,
      },
      onResponse,
    );
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
