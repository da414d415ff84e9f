// A watch cache over any Storage, after k8s.io/apiserver's cacher: one storage watch keeps every object
// in memory, in key order, plus a window of recent events, so LIST and WATCH rarely touch the backend.
//
// Objects handed out (CachedObject.object, CacheEvent.object) are shared by every reader and are NOT
// frozen (deep-freezing is too slow): callers must clone before changing anything.

import type { KubeObject } from '../../api/types.ts';
import type { KeyValue, Storage, StorageEvent } from './interface.ts';

export interface CachedObject {
  readonly key: string;
  readonly modRevision: number;
  /** metadata.resourceVersion = String(modRevision). Never mutated: callers clone before changing. */
  readonly object: KubeObject;
  /** Memoized JSON.stringify(object). */
  json(): string;
}

export interface CacheEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  revision: number;
  object: CachedObject;
}

export type Predicate = (obj: KubeObject) => boolean;

export interface CacheListOptions {
  revision?: number;
  startAfter?: string;
  limit?: number;
  predicate?: Predicate;
}

export interface CacheListResult {
  items: CachedObject[];
  revision: number;
  /** Set when more items match after the last one returned: the key to continue after. */
  continueKey?: string;
  /** How many more items follow; only when no predicate is given (as kube does without selectors). */
  remainingItemCount?: number;
}

export interface CacheWatchOptions {
  fromRevision?: number;
  predicate?: Predicate;
  onEvent: (ev: CacheEvent) => void;
}

export interface CacherOptions {
  /**
   * Cache only keys under this prefix (one kind's), as kube runs one cacher per resource. Revisions of
   * writes elsewhere still advance revision(), so resourceVersions stay global.
   */
  prefix?: string;
  /** Most events kept in memory for watches that resume from a revision (default 10,000). */
  historySize?: number;
  /**
   * Events older than this leave the history (default 75 s, kube's eventFreshDuration), down to
   * historyMinSize (default 100). A resume from further back reads storage instead.
   */
  historyFreshMs?: number;
  historyMinSize?: number;
  now?: () => number;
  /** How long list() waits for a revision the cache has not reached yet (default 3 s). */
  waitTimeoutMs?: number;
}

/** The cache did not reach a requested revision in time (kube answers 504 "Too large resource version"). */
export class TooLargeResourceVersionError extends Error {
  readonly requested: number;
  readonly current: number;
  constructor(requested: number, current: number) {
    super(`Too large resource version: ${requested}, current: ${current}`);
    this.requested = requested;
    this.current = current;
  }
}

export const DEFAULT_HISTORY_SIZE = 10_000;
const DEFAULT_HISTORY_FRESH_MS = 75_000;
const DEFAULT_HISTORY_MIN_SIZE = 100;
/** How often an idle cache lets its stale history go (nothing is recorded to trigger it). */
const HISTORY_SWEEP_MS = 15_000;
const DEFAULT_WAIT_MS = 3_000;

class Entry implements CachedObject {
  readonly key: string;
  readonly modRevision: number;
  readonly object: KubeObject;
  private text: string | undefined;
  constructor(key: string, modRevision: number, object: KubeObject) {
    this.key = key;
    this.modRevision = modRevision;
    this.object = object;
  }
  json(): string {
    this.text ??= JSON.stringify(this.object);
    return this.text;
  }
}

/** Parses a stored value; resourceVersion is not stored, it is the revision of the row. */
export function decode(key: string, value: string, revision: number): CachedObject {
  const object = JSON.parse(value) as KubeObject;
  object.metadata ??= {};
  object.metadata.resourceVersion = String(revision);
  return new Entry(key, revision, object);
}

const fromKeyValue = (kv: KeyValue): CachedObject => decode(kv.key, kv.value, kv.modRevision);

/** The last state of a deleted object, stamped with the delete's revision, without re-parsing. */
function tombstone(last: CachedObject, revision: number): CachedObject {
  const object: KubeObject = { ...last.object, metadata: { ...last.object.metadata, resourceVersion: String(revision) } };
  return new Entry(last.key, revision, object);
}

/** A change as the cache saw it; prev is the state before (absent for a create). */
interface Change {
  type: CacheEvent['type'];
  revision: number;
  /** When the cache recorded it. */
  at: number;
  object: CachedObject;
  prev?: CachedObject;
}

/**
 * What a watcher with this predicate sees of a change, as kube's cacher filters: entering the selection
 * is ADDED, leaving it is DELETED (carrying the new state), staying outside is nothing.
 */
function visible(c: Change, predicate: Predicate | undefined): CacheEvent | undefined {
  if (!predicate) return { type: c.type, revision: c.revision, object: c.object };
  if (c.type !== 'MODIFIED') {
    return predicate(c.object.object) ? { type: c.type, revision: c.revision, object: c.object } : undefined;
  }
  const now = predicate(c.object.object);
  const before = c.prev ? predicate(c.prev.object) : false;
  if (now && before) return { type: 'MODIFIED', revision: c.revision, object: c.object };
  if (now) return { type: 'ADDED', revision: c.revision, object: c.object };
  if (before) return { type: 'DELETED', revision: c.revision, object: c.object };
  return undefined;
}

/** First index i with keys[i] >= key (or > key when strict). */
function lowerBound(keys: readonly string[], key: string, strict = false): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key || (strict && keys[mid] === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface CacheWatcher {
  prefix: string;
  predicate?: Predicate;
  onEvent: (ev: CacheEvent) => void;
  /** Only changes above this revision are delivered live (a watch may start from a revision not yet seen). */
  after: number;
  /** Events not yet delivered because the initial ones are still pending; null once live. */
  backlog: CacheEvent[] | null;
  stopped: boolean;
}

export class Cacher {
  private readonly storage: Storage;
  private readonly historySize: number;
  private readonly historyFreshMs: number;
  private readonly historyMinSize: number;
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly waitTimeoutMs: number;
  private readonly prefix: string;
  private readonly objects = new Map<string, CachedObject>();
  /** Every cached key, sorted, so a prefix or a page is a binary search plus a slice. */
  private keys: string[] = [];
  /** Recent changes in revision order; they cover every revision above historyFloor. */
  private history: Change[] = [];
  private historyFloor = 0;
  private rev = 0;
  private started = false;
  private stopStorageWatch: (() => void) | undefined;
  private readonly watchers = new Set<CacheWatcher>();
  private waiters: { rev: number; resolve: () => void }[] = [];

  constructor(storage: Storage, opts: CacherOptions = {}) {
    this.storage = storage;
    this.historySize = Math.max(1, opts.historySize ?? DEFAULT_HISTORY_SIZE);
    this.historyFreshMs = opts.historyFreshMs ?? DEFAULT_HISTORY_FRESH_MS;
    this.historyMinSize = Math.min(this.historySize, Math.max(1, opts.historyMinSize ?? DEFAULT_HISTORY_MIN_SIZE));
    this.now = opts.now ?? Date.now;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? DEFAULT_WAIT_MS;
    this.prefix = opts.prefix ?? '';
  }

  /** Lists everything, then watches from that revision. */
  async start(): Promise<void> {
    if (this.started) return;
    const all = await this.storage.list(this.prefix);
    this.objects.clear();
    this.history = [];
    const entries = all.items.map(fromKeyValue);
    // Storage lists in key order already; sorting again costs little and protects against backends that don't.
    this.keys = entries.map((e) => e.key).sort();
    for (const e of entries) this.objects.set(e.key, e);
    this.rev = all.revision;
    this.historyFloor = all.revision;
    this.stopStorageWatch = this.storage.watch('', all.revision, (events) => this.apply(events));
    this.sweepTimer = setInterval(() => this.trimHistory(true), HISTORY_SWEEP_MS);
    this.sweepTimer.unref();
    this.started = true;
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    this.stopStorageWatch?.();
    this.stopStorageWatch = undefined;
    this.started = false;
    for (const w of this.watchers) w.stopped = true;
    this.watchers.clear();
  }

  /** The newest revision the cache reflects. */
  revision(): number {
    return this.rev;
  }

  /**
   * The revision of the last change under this cache's prefix (or of the initial list): unlike
   * revision(), it stays put while other kinds are written, so it tells whether this kind changed.
   */
  changeRevision(): number {
    return this.history.at(-1)?.revision ?? this.historyFloor;
  }

  /** Resolves once revision() >= rev; rejects with TooLargeResourceVersionError after timeoutMs. */
  waitForRevision(rev: number, timeoutMs = this.waitTimeoutMs): Promise<void> {
    if (this.rev >= rev) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        rev,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new TooLargeResourceVersionError(rev, this.rev));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  get(key: string): CachedObject | undefined {
    return this.objects.get(key);
  }

  /** The current state under prefix, synchronously: for in-process readers such as admission. */
  listCurrent(prefix: string, predicate?: Predicate): CachedObject[] {
    this.assertStarted();
    return this.listMemory(prefix, { predicate }).items;
  }

  async list(prefix: string, opts: CacheListOptions = {}): Promise<CacheListResult> {
    this.assertStarted();
    const { revision } = opts;
    if (revision !== undefined && revision > this.rev) await this.waitForRevision(revision);
    if (revision === undefined || revision === this.rev) return this.listMemory(prefix, opts);
    return this.listStorage(prefix, revision, opts);
  }

  /**
   * Without fromRevision: ADDED for every current object under prefix, then live events. With it: every
   * event after that revision, from memory when the history reaches back that far, else from storage.
   * Throws CompactedError (synchronously) when storage no longer has that revision.
   */
  watch(prefix: string, opts: CacheWatchOptions): () => void {
    this.assertStarted();
    const { fromRevision, predicate, onEvent } = opts;
    if (fromRevision !== undefined && fromRevision < this.historyFloor) {
      return this.watchStorage(prefix, fromRevision, predicate, onEvent);
    }

    const initial: CacheEvent[] = [];
    if (fromRevision === undefined) {
      for (let i = lowerBound(this.keys, prefix); i < this.keys.length && this.keys[i].startsWith(prefix); i++) {
        const o = this.objects.get(this.keys[i]) as CachedObject;
        if (!predicate || predicate(o.object)) initial.push({ type: 'ADDED', revision: o.modRevision, object: o });
      }
    } else {
      for (let i = this.historyIndexAfter(fromRevision); i < this.history.length; i++) {
        const c = this.history[i];
        if (!c.object.key.startsWith(prefix)) continue;
        const ev = visible(c, predicate);
        if (ev) initial.push(ev);
      }
    }

    const w: CacheWatcher = { prefix, predicate, onEvent, after: fromRevision ?? this.rev, backlog: initial, stopped: false };
    this.watchers.add(w);
    // Deliver after watch() returns so the caller holds the stop function; live events queue behind.
    queueMicrotask(() => {
      const backlog = w.backlog ?? [];
      w.backlog = null;
      for (const ev of backlog) {
        if (w.stopped) return;
        this.emit(w, ev);
      }
    });
    return () => {
      w.stopped = true;
      this.watchers.delete(w);
    };
  }

  private assertStarted(): void {
    if (!this.started) throw new Error('cacher is not started');
  }

  private listMemory(prefix: string, opts: CacheListOptions): CacheListResult {
    const { startAfter, predicate } = opts;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    const begin =
      startAfter !== undefined && startAfter >= prefix ? lowerBound(this.keys, startAfter, true) : lowerBound(this.keys, prefix);
    const end = lowerBound(this.keys, prefix + '\uffff');
    const items: CachedObject[] = [];
    let i = begin;
    for (; i < end && items.length < limit; i++) {
      const o = this.objects.get(this.keys[i]) as CachedObject;
      if (!predicate || predicate(o.object)) items.push(o);
    }
    const result: CacheListResult = { items, revision: this.rev };
    if (i >= end || items.length === 0) return result;
    if (!predicate) {
      result.continueKey = items[items.length - 1].key;
      result.remainingItemCount = end - i;
      return result;
    }
    // Only hand out a continue token when something further actually matches.
    for (; i < end; i++) {
      if (predicate((this.objects.get(this.keys[i]) as CachedObject).object)) {
        result.continueKey = items[items.length - 1].key;
        break;
      }
    }
    return result;
  }

  /** A snapshot read at an older revision (a continue token's), page by page until enough items match. */
  private async listStorage(prefix: string, revision: number, opts: CacheListOptions): Promise<CacheListResult> {
    const { predicate } = opts;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const items: CachedObject[] = [];
    const pageSize = limit && predicate ? Math.max(limit, 500) : limit;
    let cursor = opts.startAfter;
    let continueKey: string | undefined;
    for (;;) {
      const page = await this.storage.list(prefix, { revision, startAfter: cursor, limit: pageSize });
      for (const kv of page.items) {
        const o = fromKeyValue(kv);
        if (predicate && !predicate(o.object)) continue;
        if (limit && items.length === limit) {
          continueKey = items[items.length - 1].key;
          break;
        }
        items.push(o);
      }
      if (continueKey !== undefined || !page.more || page.items.length === 0) break;
      if (!predicate && limit && items.length === limit) {
        // Storage says more keys follow; without a predicate each of them is a match.
        continueKey = items[items.length - 1].key;
        break;
      }
      cursor = page.items[page.items.length - 1].key;
    }
    const result: CacheListResult = { items, revision };
    if (continueKey !== undefined) result.continueKey = continueKey;
    return result;
  }

  /** History no longer reaches back to fromRevision: read the events from storage, parsing each. */
  private watchStorage(prefix: string, fromRevision: number, predicate: Predicate | undefined, onEvent: (ev: CacheEvent) => void) {
    let stopped = false;
    const stop = this.storage.watch(prefix, fromRevision, (events) => {
      for (const e of events) {
        if (stopped) return;
        const ev = visible(changeOf(e, 0), predicate);
        if (ev) deliverSafely(onEvent, ev);
      }
    });
    return () => {
      stopped = true;
      stop();
    };
  }

  /** First history index whose revision is above rev. */
  private historyIndexAfter(rev: number): number {
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid].revision <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private apply(events: StorageEvent[]): void {
    const at = this.now();
    for (const e of events) {
      if (!e.kv.key.startsWith(this.prefix)) {
        // Another kind's write: nothing to cache or deliver, but the cache has now seen that revision.
        this.rev = e.kv.modRevision;
        continue;
      }
      const prev = this.objects.get(e.kv.key);
      const change = changeOf(e, at, prev);
      if (change.type === 'DELETED') {
        if (prev) {
          this.objects.delete(e.kv.key);
          this.keys.splice(lowerBound(this.keys, e.kv.key), 1);
        }
      } else {
        if (!prev) this.keys.splice(lowerBound(this.keys, e.kv.key), 0, e.kv.key);
        this.objects.set(e.kv.key, change.object);
      }
      this.record(change);
      this.rev = change.revision;
      for (const w of this.watchers) {
        if (change.revision <= w.after || !change.object.key.startsWith(w.prefix)) continue;
        const ev = visible(change, w.predicate);
        if (!ev) continue;
        if (w.backlog) w.backlog.push(ev);
        else this.emit(w, ev);
      }
    }
    if (this.waiters.length) {
      const ready = this.waiters.filter((w) => w.rev <= this.rev);
      this.waiters = this.waiters.filter((w) => w.rev > this.rev);
      for (const w of ready) w.resolve();
    }
  }

  private record(change: Change): void {
    this.history.push(change);
    this.trimHistory(false);
  }

  /**
   * Keeps the changes of the last historyFreshMs, between historyMinSize and historySize of them, as kube's
   * watch cache sizes itself. A fixed 10,000 held every host's last versions, objects and JSON, long after
   * any watcher could want them: 250 of 416 MB of heap with 1,000 idle hosts, all of it for the GC to mark.
   * Unforced, it trims only in chunks (a quarter of the history, or the cap overshot by a quarter), so the
   * amortised cost per event stays O(1).
   */
  private trimHistory(force: boolean): void {
    const len = this.history.length;
    const cutoff = this.now() - this.historyFreshMs;
    let lo = Math.max(0, len - this.historySize);
    let hi = len - this.historyMinSize;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid].at < cutoff) lo = mid + 1;
      else hi = mid;
    }
    const drop = lo;
    if (drop === 0 || (!force && drop < len / 4 && len <= this.historySize * 1.25)) return;
    this.historyFloor = this.history[drop - 1].revision;
    this.history = this.history.slice(drop);
  }

  private emit(w: CacheWatcher, ev: CacheEvent): void {
    if (!w.stopped) deliverSafely(w.onEvent, ev);
  }
}

/** Turns a storage event into a cache change; prev is the cached state, when the caller has it. */
function changeOf(e: StorageEvent, at: number, prev?: CachedObject): Change {
  const before = prev ?? (e.prevKv ? fromKeyValue(e.prevKv) : undefined);
  if (e.type === 'DELETE') {
    const object = before ? tombstone(before, e.kv.modRevision) : fromKeyValue(e.kv);
    return { type: 'DELETED', revision: e.kv.modRevision, at, object, prev: before };
  }
  const object = fromKeyValue(e.kv);
  if (e.created || !before) return { type: 'ADDED', revision: e.kv.modRevision, at, object };
  return { type: 'MODIFIED', revision: e.kv.modRevision, at, object, prev: before };
}

function deliverSafely(onEvent: (ev: CacheEvent) => void, ev: CacheEvent): void {
  try {
    onEvent(ev);
  } catch (err) {
    // A consumer that throws must not stop the others from hearing about the change.
    process.emitWarning(`cache watch consumer threw: ${(err as Error).message}`);
  }
}
