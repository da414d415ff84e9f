// Prometheus metrics under kube-apiserver's names and labels (k8s.io/apiserver pkg/endpoints/metrics), so
// existing dashboards and alerts for aggregated API servers work unchanged.

import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Verb =
  | 'GET'
  | 'LIST'
  | 'WATCH'
  | 'POST'
  | 'PUT'
  | 'PATCH'
  | 'DELETE'
  | 'DELETECOLLECTION'
  | 'APPLY'
  | 'CONNECT';

export type Scope = 'resource' | 'namespace' | 'cluster';

/** Labels the caller knows about a request; `component` is always `apiserver`. */
export interface RequestLabels {
  verb: Verb;
  /** `All` for dry-run requests, empty otherwise (kube's label value). */
  dry_run?: string;
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  scope: Scope;
}

export type LongRunningLabels = Omit<RequestLabels, 'dry_run'>;

/** `readOnly` or `mutating`, the request_kind values of apiserver_current_inflight_requests. */
export type RequestKind = 'readOnly' | 'mutating';

export interface Metrics {
  registry: Registry;
  observeRequest(labels: RequestLabels, seconds: number, code: number, sizeBytes?: number): void;
  watchEvent(group: string, version: string, kind: string): void;
  setStorageObjects(resource: string, n: number): void;
  inflight: { inc(kind: RequestKind): void; dec(kind: RequestKind): void };
  longrunning: { inc(labels: LongRunningLabels): void; dec(labels: LongRunningLabels): void };
  /** Serves the registry in the Prometheus text format. */
  handler: RequestHandler;
  /** Serve another registry's series on the same /metrics (the in-process reconcilers' metal3_* series). */
  include(other: Registry): void;
}

const COMPONENT = 'apiserver';

// kube-apiserver v1.32's buckets for apiserver_request_duration_seconds.
const DURATION_BUCKETS = [
  0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
];
// prometheus.ExponentialBuckets(100, 10, 8), as kube uses for response sizes.
const SIZE_BUCKETS = Array.from({ length: 8 }, (_, i) => 100 * 10 ** i);

const REQUEST_LABELS = ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component'] as const;
const RESOURCE_LABELS = ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'] as const;

const requestLabelValues = (l: RequestLabels) => ({
  verb: l.verb,
  dry_run: l.dry_run ?? '',
  group: l.group,
  version: l.version,
  resource: l.resource,
  subresource: l.subresource ?? '',
  scope: l.scope,
  component: COMPONENT,
});

const resourceLabelValues = (l: LongRunningLabels) => ({
  verb: l.verb,
  group: l.group,
  version: l.version,
  resource: l.resource,
  subresource: l.subresource ?? '',
  scope: l.scope,
  component: COMPONENT,
});

/** A fresh registry (never prom-client's global one, so tests and servers do not share series). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const extra: Registry[] = [];
  collectDefaultMetrics({ register: registry });

  const requestTotal = new Counter({
    name: 'apiserver_request_total',
    help: 'Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.',
    labelNames: [...REQUEST_LABELS, 'code'],
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'apiserver_request_duration_seconds',
    help: 'Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.',
    labelNames: REQUEST_LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const responseSizes = new Histogram({
    name: 'apiserver_response_sizes',
    help: 'Response size distribution in bytes for each group, version, verb, resource, subresource, scope and component.',
    labelNames: RESOURCE_LABELS,
    buckets: SIZE_BUCKETS,
    registers: [registry],
  });
  const longRunning = new Gauge({
    name: 'apiserver_longrunning_requests',
    help: 'Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.',
    labelNames: RESOURCE_LABELS,
    registers: [registry],
  });
  const currentInflight = new Gauge({
    name: 'apiserver_current_inflight_requests',
    help: 'Maximal number of currently used inflight request limit of this apiserver per request kind in last second.',
    labelNames: ['request_kind'],
    registers: [registry],
  });
  const watchEvents = new Counter({
    name: 'apiserver_watch_events_total',
    help: 'Number of events sent in watch clients',
    labelNames: ['group', 'version', 'kind'],
    registers: [registry],
  });
  const storageObjects = new Gauge({
    name: 'apiserver_storage_objects',
    help: 'Number of stored objects at the time of last check split by kind.',
    labelNames: ['resource'],
    registers: [registry],
  });
  // Both request kinds are exported from the start, as kube does, so a scrape sees zeros rather than gaps.
  currentInflight.set({ request_kind: 'readOnly' }, 0);
  currentInflight.set({ request_kind: 'mutating' }, 0);

  return {
    registry,
    observeRequest(labels, seconds, code, sizeBytes) {
      const values = requestLabelValues(labels);
      requestTotal.inc({ ...values, code: String(code) });
      requestDuration.observe(values, seconds);
      if (sizeBytes !== undefined && sizeBytes >= 0) responseSizes.observe(resourceLabelValues(labels), sizeBytes);
    },
    watchEvent(group, version, kind) {
      watchEvents.inc({ group, version, kind });
    },
    setStorageObjects(resource, n) {
      storageObjects.set({ resource }, n);
    },
    inflight: {
      inc: (kind) => currentInflight.inc({ request_kind: kind }),
      dec: (kind) => currentInflight.dec({ request_kind: kind }),
    },
    longrunning: {
      inc: (labels) => longRunning.inc(resourceLabelValues(labels)),
      dec: (labels) => longRunning.dec(resourceLabelValues(labels)),
    },
    include: (other) => {
      extra.push(other);
    },
    handler: async (_req, res, next) => {
      try {
        const body = (await Promise.all([registry, ...extra].map((r) => r.metrics()))).join('\n');
        res.set('Content-Type', registry.contentType);
        res.status(200).end(body);
      } catch (err) {
        next(err);
      }
    },
  };
}
