// Assembles the API server: storage and watch caches per kind, the generic handlers, discovery, OpenAPI,
// health, metrics and authentication, on one express app.
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { ResourceDefinition } from '../api/types.ts';
import type { Storage } from './storage/interface.ts';
import { Cacher } from './storage/cacher.ts';
import { Store, storagePrefix } from './registry/store.ts';
import type { Admission, Strategy, UserInfo } from './registry/strategy.ts';
import { requestInfoFor, type RequestInfo } from './requestinfo.ts';
import { resourceHandler, resourceKey, send, sendError, type ActionHandler, type ServedResource } from './handlers/resource.ts';
import {
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  etagOf,
  type GroupVersion,
} from './discovery.ts';
import { discoveryContentType, negotiateDiscovery } from './negotiation.ts';
import { groupVersionDocument, openAPIHash, swaggerDocument, type ExtraSchemas } from './openapi.ts';
import { healthRouter, pingCheck, type HealthCheck } from './health.ts';
import { createMetrics, type Metrics, type Scope, type Verb } from './metrics.ts';
import { versionInfo } from './version.ts';
import { notFoundPath } from './status.ts';
import { inFlightLimiter, overloadOptions, type InFlightLimiter, type OverloadOptions } from './overload.ts';
import type { WatchBounds } from './handlers/watch.ts';

export interface ServedKind {
  def: ResourceDefinition;
  strategy?: Strategy;
}

export interface APIServerOptions {
  storage: Storage;
  kinds: ServedKind[];
  /** Authenticates every request; sets res.locals.user or answers 401 itself. */
  authenticate: RequestHandler;
  /** host:port clients reach us at, for /api's serverAddressByClientCIDRs; a function when the port is chosen at listen time. */
  serverAddress: string | (() => string);
  /** Admission plugins; given the stores, since plugins such as policies read their configuration from them. */
  admission?: (stores: Map<string, Store>) => Admission[];
  actions?: Map<string, ActionHandler>;
  /** Schemas of action request kinds, per `group/version`, for OpenAPI. */
  extraSchemas?: Record<string, ExtraSchemas>;
  readyChecks?: HealthCheck[];
  /** Whether a namespace exists (kube's NamespaceLifecycle); standalone mode answers from its own store. */
  namespaceExists?: (ns: string) => boolean;
  /** Max-in-flight limits and watches per client; kube-apiserver's defaults when absent. */
  overload?: Partial<OverloadOptions>;
  /** When a watcher counts as too slow and is dropped; watch.ts's defaults when absent. */
  watchBounds?: WatchBounds;
}

export interface APIServer {
  app: express.Express;
  stores: Map<string, Store>;
  metrics: Metrics;
  inFlight: InFlightLimiter;
  start(): Promise<void>;
  stop(): Promise<void>;
  markShuttingDown(): void;
}

function groupVersions(kinds: ServedKind[]): GroupVersion[] {
  const out: GroupVersion[] = [];
  for (const { def } of kinds) {
    let gv = out.find((g) => g.group === def.group && g.version === def.version);
    if (!gv) out.push((gv = { group: def.group, version: def.version, defs: [] }));
    gv.defs.push(def);
  }
  return out;
}

const metricVerb = (info: RequestInfo, contentType: string): Verb => {
  if (info.verb === 'patch' && contentType.startsWith('application/apply-patch')) return 'APPLY';
  const map: Record<string, Verb> = {
    get: 'GET',
    list: 'LIST',
    watch: 'WATCH',
    create: 'POST',
    update: 'PUT',
    patch: 'PATCH',
    delete: 'DELETE',
    deletecollection: 'DELETECOLLECTION',
  };
  return map[info.verb] ?? 'GET';
};

const scopeOf = (info: RequestInfo): Scope => (info.name ? 'resource' : info.namespace ? 'namespace' : 'cluster');

export function createAPIServer(opts: APIServerOptions): APIServer {
  const actionNames = new Set([...(opts.actions?.keys() ?? [])]);
  // Advertise only the action subresources that have a handler.
  const kinds = opts.kinds.map((k) => ({
    ...k,
    def: {
      ...k.def,
      subresources: {
        ...k.def.subresources,
        actions: (k.def.subresources.actions ?? []).filter((a) => actionNames.has(`${k.def.plural}/${a.name}`)),
      },
    },
  }));
  const cachers: Cacher[] = [];
  const stores = new Map<string, Store>();
  const resources = new Map<string, ServedResource>();
  // Shared by every store and filled once the stores exist.
  const admission: Admission[] = [];
  for (const { def, strategy } of kinds) {
    // One cache per kind, as kube has: a cache over every key would hold (and parse) each object once per kind.
    const cacher = new Cacher(opts.storage, { prefix: storagePrefix(def) });
    cachers.push(cacher);
    const store = new Store({ def, storage: opts.storage, cacher, strategy, admission });
    stores.set(resourceKey(def.group, def.version, def.plural), store);
    resources.set(resourceKey(def.group, def.version, def.plural), { def, store, strategy });
  }
  admission.push(...(opts.admission?.(stores) ?? []));

  const gvs = groupVersions(kinds);
  const nsStore = stores.get(resourceKey('', 'v1', 'namespaces'));
  const handle = resourceHandler({
    resources,
    actions: opts.actions,
    namespaceExists: opts.namespaceExists ?? (nsStore ? (ns) => nsStore.hasCached('', ns) : undefined),
    watchBounds: opts.watchBounds,
  });

  // Discovery and OpenAPI documents are immutable for the life of the process: render them once.
  const legacy = {
    apis: JSON.stringify(apiGroupList(gvs)),
    api: () => JSON.stringify(apiVersions(typeof opts.serverAddress === 'string' ? opts.serverAddress : opts.serverAddress())),
    groups: new Map<string, string>(),
    versions: new Map<string, string>(),
  };
  for (const gv of gvs) {
    const key = gv.group ? `/apis/${gv.group}/${gv.version}` : `/api/${gv.version}`;
    legacy.versions.set(key, JSON.stringify(apiResourceList(gv)));
    if (gv.group) legacy.groups.set(`/apis/${gv.group}`, JSON.stringify(apiGroup(gv.group, gvs.filter((g) => g.group === gv.group))));
  }
  const aggregated = (version: 'v2' | 'v2beta1', core: boolean) => {
    const body = JSON.stringify(aggregatedDiscovery(gvs, version, core));
    return { body, etag: etagOf(body) };
  };
  const aggregatedDocs = {
    v2: { apis: aggregated('v2', false), api: aggregated('v2', true) },
    v2beta1: { apis: aggregated('v2beta1', false), api: aggregated('v2beta1', true) },
  };
  const openapiV3 = new Map<string, { body: string; hash: string }>();
  for (const gv of gvs) {
    const path = gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`;
    const body = JSON.stringify(groupVersionDocument(gv, opts.extraSchemas?.[`${gv.group}/${gv.version}`]));
    openapiV3.set(path, { body, hash: openAPIHash(body) });
  }
  const openapiV3Root = JSON.stringify({
    paths: Object.fromEntries([...openapiV3].map(([p, d]) => [p, { serverRelativeURL: `/openapi/v3/${p}?hash=${d.hash}` }])),
  });
  const swaggerBody = JSON.stringify(swaggerDocument(gvs, opts.extraSchemas));
  const swaggerETag = etagOf(swaggerBody);

  const metrics = createMetrics();
  const health = healthRouter({
    livez: [pingCheck],
    readyz: [
      pingCheck,
      { name: 'informer-sync', check: () => undefined },
      {
        name: 'storage',
        check: () => {
          opts.storage.currentRevision();
        },
      },
      ...(opts.readyChecks ?? []),
    ],
  });

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(opts.authenticate);
  // After authentication, as in kube's handler chain: a watcher's client identity includes its user.
  const inFlight = inFlightLimiter(overloadOptions(opts.overload));
  app.use(inFlight.handler);

  app.use(health);
  app.get('/version', (_req, res) => send(res, 200, versionInfo()));
  app.get('/metrics', metrics.handler);

  const sendDiscovery = (req: Request, res: Response, path: 'api' | 'apis') => {
    const r = negotiateDiscovery(req.headers.accept);
    if (r === 'legacy') {
      const body = path === 'api' ? legacy.api() : legacy.apis;
      res.writeHead(200, { 'Content-Type': 'application/json', Vary: 'Accept' });
      res.end(body);
      return;
    }
    const doc = aggregatedDocs[r][path];
    const headers = { 'Content-Type': discoveryContentType(r), ETag: doc.etag, Vary: 'Accept', 'Cache-Control': 'public' };
    if (req.headers['if-none-match'] === doc.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, headers);
    res.end(doc.body);
  };
  app.get('/api', (req, res) => sendDiscovery(req, res, 'api'));
  app.get('/apis', (req, res) => sendDiscovery(req, res, 'apis'));

  app.get('/openapi/v2', (req, res) => {
    if (req.headers['if-none-match'] === swaggerETag) {
      res.writeHead(304, { ETag: swaggerETag });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', ETag: swaggerETag, Vary: 'Accept' });
    res.end(swaggerBody);
  });
  app.get('/openapi/v3', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(openapiV3Root);
  });
  app.get(/^\/openapi\/v3\/(.+)$/, (req, res) => {
    const path = req.path.slice('/openapi/v3/'.length);
    const doc = openapiV3.get(path);
    if (!doc) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
      return;
    }
    const etag = `"${doc.hash}"`;
    const hash = typeof req.query.hash === 'string' ? req.query.hash : undefined;
    if (hash !== undefined && hash !== doc.hash) {
      res.writeHead(301, { Location: `/openapi/v3/${path}?hash=${doc.hash}` });
      res.end();
      return;
    }
    const headers: Record<string, string> = { 'Content-Type': 'application/json', ETag: etag, Vary: 'Accept' };
    if (hash !== undefined) {
      headers['Cache-Control'] = 'public, immutable';
      headers.Expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, headers);
    res.end(doc.body);
  });

  app.use((req, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.originalUrl, 'https://localhost');
    const info = requestInfoFor(req.method, url.pathname, url.searchParams);
    const user = res.locals.user as UserInfo;
    const mutating = !['get', 'list', 'watch'].includes(info.verb);
    metrics.inflight.inc(mutating ? 'mutating' : 'readOnly');
    const labels = {
      verb: metricVerb(info, req.headers['content-type'] ?? ''),
      dry_run: url.searchParams.has('dryRun') ? 'All' : '',
      group: info.apiGroup,
      version: info.apiVersion,
      resource: info.resource,
      subresource: info.subresource,
      scope: scopeOf(info),
    };
    if (info.verb === 'watch') metrics.longrunning.inc(labels);
    res.on('finish', () => {
      metrics.inflight.dec(mutating ? 'mutating' : 'readOnly');
      if (info.verb === 'watch') metrics.longrunning.dec(labels);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeRequest(labels, seconds, res.statusCode, Number(res.getHeader('content-length') ?? 0));
    });
    const done = (err: unknown) => {
      if (res.headersSent) {
        if (!res.writableEnded) res.end();
        return;
      }
      sendError(res, err);
    };
    try {
      if (!info.isResourceRequest) {
        const doc = legacy.groups.get(url.pathname) ?? legacy.versions.get(url.pathname.replace(/\/$/, ''));
        if (doc && req.method === 'GET') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(doc);
          return;
        }
        throw notFoundPath();
      }
      handle(req, res, info, url.searchParams, user).catch(done);
    } catch (e) {
      done(e);
    }
  });

  return {
    app,
    stores,
    metrics,
    inFlight,
    async start() {
      await Promise.all(cachers.map((c) => c.start()));
    },
    async stop() {
      for (const c of cachers) c.stop();
      await opts.storage.close();
    },
    markShuttingDown() {
      health.markShuttingDown();
    },
  };
}
