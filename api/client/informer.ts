// An informer: list, then watch from the list's resourceVersion, keeping a local cache that handlers and
// reconcilers read instead of the API server, as client-go's reflector + indexer do.
import type { KubeObject } from '../types.ts';
import { APIError, type KubeClient, type ResourceType, type WatchEvent } from './types.ts';

export interface InformerHandlers {
  onAdd?(obj: KubeObject): void;
  onUpdate?(oldObj: KubeObject, newObj: KubeObject): void;
  onDelete?(obj: KubeObject): void;
}

export interface InformerOptions {
  client: KubeClient;
  type: ResourceType;
  /** Watch one namespace; all namespaces when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Whether an update is worth telling the handlers about; the cache takes every update regardless. */
  updatePredicate?: (oldObj: KubeObject, newObj: KubeObject) => boolean;
  /** Backoff between failed lists and lost watches: initial 800 ms, capped at 30 s, as client-go's reflector. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Server-side watch timeout; random 5–10 min unless given. */
  watchTimeoutSeconds?: number;
  onError?: (err: Error) => void;
}

/** The cache key: `namespace/name`, or `name` for cluster-scoped objects. */
export const objectKey = (obj: KubeObject): string =>
  obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}` : (obj.metadata.name ?? '');

const sameStrings = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && a.every((v, i) => v === b[i]);
const sameMap = (a: Record<string, string> = {}, b: Record<string, string> = {}) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
};

/**
 * BMO's update filter: react to spec changes (generation), finalizers, annotations, labels and deletion,
 * not to status writes, so the controller's own status updates do not retrigger it in a loop.
 */
export function specOrMetadataChanged(oldObj: KubeObject, newObj: KubeObject): boolean {
  const o = oldObj.metadata;
  const n = newObj.metadata;
  return (
    o.generation !== n.generation ||
    o.deletionTimestamp !== n.deletionTimestamp ||
    !sameStrings(o.finalizers, n.finalizers) ||
    !sameMap(o.annotations, n.annotations) ||
    !sameMap(o.labels, n.labels)
  );
}

export class Informer {
  readonly type: ResourceType;
  private readonly opts: InformerOptions;
  private readonly cache = new Map<string, KubeObject>();
  private readonly handlers: InformerHandlers[] = [];
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private running = false;
  private resourceVersion = '';
  private stopWatch?: () => void;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private watchStartedAt = 0;

  constructor(opts: InformerOptions) {
    this.opts = opts;
    this.type = opts.type;
  }

  /** Handlers added after the initial list get synthetic onAdd calls for the cached objects. */
  addHandler(h: InformerHandlers): void {
    this.handlers.push(h);
    if (this.synced) for (const obj of this.cache.values()) h.onAdd?.(obj);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.relist();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.cache.get(namespace && this.type.namespaced ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): KubeObject[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata.namespace ?? '') === namespace);
  }

  /** The resourceVersion the next watch resumes from. */
  lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  private async relist(): Promise<void> {
    if (!this.running) return;
    let listed: { items: KubeObject[]; resourceVersion: string };
    try {
      listed = await this.opts.client.list(this.type, this.opts.namespace, {
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
      });
    } catch (e) {
      this.retry(() => void this.relist(), e);
      return;
    }
    if (!this.running) return;
    this.failures = 0;
    this.replace(listed.items);
    this.resourceVersion = listed.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    this.watch();
  }

  /** Replaces the cache by a fresh list, telling handlers what changed while nobody was watching. */
  private replace(items: KubeObject[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      this.upsert(key, obj);
    }
    for (const [key, obj] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.emit((h) => h.onDelete?.(obj));
    }
  }

  private upsert(key: string, obj: KubeObject): void {
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    if (!old) {
      this.emit((h) => h.onAdd?.(obj));
      return;
    }
    if (old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    if (this.opts.updatePredicate && !this.opts.updatePredicate(old, obj)) return;
    this.emit((h) => h.onUpdate?.(old, obj));
  }

  private watch(): void {
    if (!this.running) return;
    this.watchStartedAt = performance.now();
    this.stopWatch = this.opts.client.watch(
      this.type,
      this.opts.namespace,
      this.resourceVersion,
      (ev) => this.onEvent(ev),
      (err) => this.onWatchClosed(err),
      { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, timeoutSeconds: this.opts.watchTimeoutSeconds },
    );
  }

  private onEvent(ev: WatchEvent): void {
    this.failures = 0;
    const rv = ev.object.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const key = objectKey(ev.object);
    if (ev.type === 'DELETED') {
      this.cache.delete(key);
      this.emit((h) => h.onDelete?.(ev.object));
    } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      this.upsert(key, ev.object);
    }
    if (rv) this.resourceVersion = rv;
  }

  private onWatchClosed(err?: Error): void {
    this.stopWatch = undefined;
    if (!this.running) return;
    if (err instanceof APIError && err.code === 410) {
      // Our resourceVersion was compacted away: only a fresh list can tell what we missed.
      this.failures = 0;
      void this.relist();
      return;
    }
    if (!err) {
      // A clean end (the server's timeout): resume where we were. A watch that ends at once, again and
      // again, is a failure in disguise and backs off like one.
      if (performance.now() - this.watchStartedAt > 1000) {
        this.failures = 0;
        this.watch();
        return;
      }
      this.retry(() => this.watch(), new Error('watch closed immediately'));
      return;
    }
    // Stream lost: resume from the last resourceVersion after a backoff; if that version is gone by then,
    // the server answers 410 and we relist.
    this.retry(() => this.watch(), err);
  }

  /** A handler that throws must neither stop the others nor the informer. */
  private emit(call: (h: InformerHandlers) => void): void {
    for (const h of this.handlers) {
      try {
        call(h);
      } catch (e) {
        this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  private retry(fn: () => void, err: unknown): void {
    if (!this.running) return;
    this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    const initial = this.opts.backoffInitialMs ?? 800;
    const max = this.opts.backoffMaxMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** this.failures);
    this.failures++;
    // Jitter, so that many informers losing the same server do not return in lockstep.
    const delay = base * (1 + Math.random() * 0.2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) fn();
    }, delay);
  }
}
