// etcd backend in the manner of kube-apiserver's etcd3 store: every key lives under a prefix, the value is
// the object's JSON, and an object's resourceVersion is its key's mod_revision. Writes are single
// transactions whose compare is the precondition (create: create_revision == 0; update and delete:
// mod_revision == expected), with a range of the key as the failure branch so a conflict reports the
// current value in the same round trip. etcd acknowledges a write only after its own fsync and a raft
// quorum, so an acknowledged write is durable.
//
// One watch over the whole prefix (the "hub") feeds every local watcher. A write resolves only after the
// hub has delivered its event, so an in-process watch cache already holds a write when its writer hears
// back, the same ordering SqliteStorage gives. Replicas sharing the etcd learn of each other's writes
// through the same hub, and of each other's compactions through a compaction key, as kube's compactor
// records compact_rev_key.

import { EtcdConnection, type WatchStream } from './etcd-grpc.ts';
import {
  decodeHeaderOnly,
  decodeRangeResponse,
  decodeTxnResponse,
  decodeWatchResponse,
  encodeCompactionRequest,
  encodeRangeRequest,
  encodeTxnRequest,
  encodeWatchCreate,
  watchProgressRequest,
  type EtcdKeyValue,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type TxnRequest,
  type TxnResponse,
  type WatchResponse,
} from './etcd-proto.ts';
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  StorageUnavailableError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Storage,
  type StorageEvent,
  type WatchCallback,
} from './interface.ts';
import { WatcherSet } from './watchers.ts';

export interface EtcdStorageOptions {
  /** Client URLs of the members, e.g. https://10.0.0.1:2379; the client spreads requests and fails over. */
  endpoints: string[];
  /** Every key is stored under this prefix (default /metal3/registry). */
  prefix?: string;
  /** PEM: the CA that signed the members' serving certificates; required for https endpoints. */
  ca?: string | Buffer;
  /** PEM client certificate and key, for members started with --client-cert-auth. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Deadline of each unary request (default 10 s). */
  requestTimeoutMs?: number;
  /** How long a write waits for its own event on the hub before resolving anyway (default 5 s). */
  ackTimeoutMs?: number;
  /** Compact periodically (one replica per interval wins the compaction key); 0 or absent disables it. */
  compactionIntervalMs?: number;
  /** Revisions kept by periodic compaction (default 10,000). */
  retainRevisions?: number;
  /** Events the hub keeps for watches that start a little in the past (default 1,000). */
  historySize?: number;
}

export const DEFAULT_ETCD_PREFIX = '/metal3/registry';
const DEFAULT_RETAIN_REVISIONS = 10_000;
// The watch cache above keeps its own 10,000 changes for clients; the hub's history only bridges the cache's
// start and the odd watcher just behind it, and each event holds two values (prev_kv), so it stays short.
const DEFAULT_HISTORY = 1_000;

const COMPACTED = /required revision has been compacted/;
const FUTURE = /required revision is a future revision/;

/** The first key after every key starting with prefix, as clientv3.GetPrefixRangeEnd computes it. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i] += 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: to the end of the keyspace.
  return Buffer.from([0]);
}


interface WatchRange {
  key: Buffer;
  rangeEnd: Buffer;
}

interface WatchHandlers {
  /** Events of one response, in revision order; progress notifications arrive with none. */
  onResponse(res: WatchResponse): void;
  /** etcd canceled the watch because its start revision was compacted. */
  onCompacted(compactRevision: number): void;
  onConnected?(): void;
  onDisconnected?(err: Error): void;
}

/**
 * A watch on its own gRPC stream that survives member failures: after an error it reconnects (to any
 * endpoint) and resumes after the newest revision it delivered, so nothing is lost or repeated.
 */
class ResumableWatch {
  private readonly client: EtcdConnection;
  private readonly range: WatchRange;
  private readonly handlers: WatchHandlers;
  private stream: WatchStream | undefined;
  /** The next revision to ask for. */
  private next: number;
  private stopped = false;
  private backoffMs = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(client: EtcdConnection, range: WatchRange, startRevision: number, handlers: WatchHandlers, progressEveryMs = 0) {
    this.client = client;
    this.range = range;
    this.next = startRevision;
    this.handlers = handlers;
    void this.connect();
    if (progressEveryMs > 0) {
      // etcd's own progress notifications come every 10 minutes; asking keeps the revision fresh.
      this.progressTimer = setInterval(() => this.stream?.write(watchProgressRequest), progressEveryMs);
      this.progressTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.progressTimer);
    this.stream?.cancel();
    this.stream = undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let stream: WatchStream | undefined;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      if (this.stream === stream) this.stream = undefined;
      stream?.cancel();
      this.retry(err);
    };
    try {
      stream = await this.client.stream('/etcdserverpb.Watch/Watch', {
        onMessage: (m) => {
          if (failed || this.stream !== stream) return;
          let res: WatchResponse;
          try {
            res = decodeWatchResponse(m);
          } catch (err) {
            fail(err as Error);
            return;
          }
          this.onResponse(res, stream as WatchStream);
        },
        onEnd: (err) => fail(err),
      });
    } catch (err) {
      this.retry(err as Error);
      return;
    }
    if (this.stopped || failed) {
      stream.cancel();
      return;
    }
    this.stream = stream;
    stream.write(encodeWatchCreate({ key: this.range.key, rangeEnd: this.range.rangeEnd, startRevision: this.next, progressNotify: true, prevKv: true }));
  }

  private onResponse(res: WatchResponse, stream: WatchStream): void {
    if (res.created && !res.canceled) {
      this.backoffMs = 100;
      this.handlers.onConnected?.();
      return;
    }
    if (res.canceled) {
      this.stopped = true;
      this.stream = undefined;
      stream.cancel();
      if (res.compactRevision) this.handlers.onCompacted(res.compactRevision);
      else this.handlers.onDisconnected?.(new Error(`etcd canceled the watch: ${res.cancelReason || 'no reason given'}`));
      return;
    }
    const last = res.events.at(-1);
    // A progress notification (no events) vouches for every revision up to its header's.
    this.next = Math.max(this.next, last ? last.kv.modRevision + 1 : res.header.revision + 1);
    this.handlers.onResponse(res);
  }

  private retry(err: Error): void {
    if (this.stopped) return;
    this.handlers.onDisconnected?.(err);
    this.retryTimer = setTimeout(() => void this.connect(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
  }
}

export class EtcdStorage implements Storage {
  readonly backend = 'etcd';

  private readonly client: EtcdConnection;
  private readonly root: Buffer;
  private readonly rootText: string;
  /** Records the newest compaction so every replica refuses compacted revisions up front. */
  private readonly compactKey: Buffer;
  private readonly ackTimeoutMs: number;
  private readonly historySize: number;
  /** The newest revision any etcd response reported: what get() and preconditions see. */
  private committed = 0;
  /** Every event under the prefix up to this revision has reached the local watchers. */
  private delivered = 0;
  private compacted = 0;
  /** mod_revision of the compaction key when last seen: the lock periodic compactions take. */
  private compactKeyRevision = 0;
  /** The revision the compaction key records. */
  private compactedInKey = 0;
  /** Recent hub events, for watches that start slightly in the past; complete above historyFloor. */
  private history: StorageEvent[] = [];
  private historyFloor = 0;
  private hub: ResumableWatch | undefined;
  private hubError: Error | undefined;
  private readonly watchers = new WatcherSet();
  private readonly replays = new Set<ResumableWatch>();
  private waiters: { rev: number; resolve: () => void }[] = [];
  private compactionTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(opts: EtcdStorageOptions) {
    // A deadline for unary calls only: the watch stream lives as long as the storage.
    this.client = new EtcdConnection({ endpoints: opts.endpoints, ca: opts.ca, cert: opts.cert, key: opts.key, requestTimeoutMs: opts.requestTimeoutMs ?? 10_000 });
    this.rootText = (opts.prefix ?? DEFAULT_ETCD_PREFIX).replace(/\/+$/, '');
    this.root = Buffer.from(this.rootText);
    // ':' sorts right after the digits that follow '/', outside the data range but inside the hub's.
    this.compactKey = Buffer.from(`${this.rootText}:compact_rev_key`);
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5_000;
    this.historySize = Math.max(1, opts.historySize ?? DEFAULT_HISTORY);
  }

  /** Connects, reads the current and compacted revisions, and starts the hub watch. */
  static async open(opts: EtcdStorageOptions): Promise<EtcdStorage> {
    const s = new EtcdStorage(opts);
    try {
      await s.start(opts);
      return s;
    } catch (err) {
      s.client.close();
      throw err;
    }
  }

  private async start(opts: EtcdStorageOptions): Promise<void> {
    const res = await this.range({ key: this.compactKey });
    const ck = res.kvs[0];
    if (ck) {
      this.noteCompaction(Number(ck.value.toString()), ck.modRevision);
    }
    const rev = res.header.revision;
    this.committed = rev;
    this.delivered = rev;
    this.historyFloor = rev;
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StorageUnavailableError(`etcd watch did not start: ${this.hubError?.message ?? 'timeout'}`)), opts.requestTimeoutMs ?? 10_000);
      this.hub = new ResumableWatch(
        this.client,
        { key: Buffer.from(`${this.rootText}/`), rangeEnd: Buffer.concat([this.compactKey, Buffer.from([0])]) },
        rev + 1,
        {
          onResponse: (r) => this.onHubResponse(r),
          onCompacted: (c) => this.onHubLost(c),
          onConnected: () => {
            this.hubError = undefined;
            clearTimeout(timer);
            resolve();
          },
          onDisconnected: (err) => {
            this.hubError = err;
          },
        },
        1_000,
      );
    });
    await connected;
    const interval = opts.compactionIntervalMs ?? 0;
    if (interval > 0) this.startCompaction(interval, opts.retainRevisions ?? DEFAULT_RETAIN_REVISIONS);
  }

  /** The newest revision every local watcher has been told about; lists and watches stand here. */
  currentRevision(): number {
    if (this.lost) throw this.lost;
    return this.delivered;
  }

  /** The newest revision etcd reported in any response; above currentRevision() while the hub catches up. */
  committedRevision(): number {
    return Math.max(this.committed, this.delivered);
  }

  compactedRevision(): number {
    return this.compacted;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.range({ key: this.etcdKey(key) });
    const kv = res.kvs[0];
    return kv ? this.toKeyValue(kv) : undefined;
  }

  async create(key: string, value: string): Promise<KeyValue> {
    const k = this.etcdKey(key);
    const res = await this.txn({
      compare: [{ key: k, target: 'Create', result: 'Equal', revision: 0 }],
      success: [{ put: { key: k, value: Buffer.from(value) } }],
      failure: [],
    });
    if (!res.succeeded) throw new KeyExistsError(key);
    const rev = res.header.revision;
    await this.acknowledged(rev);
    return { key, value, modRevision: rev, createRevision: rev };
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    const k = this.etcdKey(key);
    const res = await this.txn({
      // A missing key has mod_revision 0: require it to exist so expected 0 cannot create it.
      compare: [
        { key: k, target: 'Create', result: 'Greater', revision: 0 },
        { key: k, target: 'Mod', result: 'Equal', revision: expectedModRevision },
      ],
      success: [{ put: { key: k, value: Buffer.from(value), prevKv: true } }],
      failure: [{ range: { key: k } }],
    });
    if (!res.succeeded) throw this.preconditionFailed(key, res.responses[0]?.range?.kvs[0]);
    const rev = res.header.revision;
    const prev = res.responses[0]?.put?.prevKv;
    await this.acknowledged(rev);
    return { key, value, modRevision: rev, createRevision: prev ? prev.createRevision : rev };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    const k = this.etcdKey(key);
    const compare: TxnRequest['compare'] = [{ key: k, target: 'Create', result: 'Greater', revision: 0 }];
    if (expectedModRevision !== undefined) compare.push({ key: k, target: 'Mod', result: 'Equal', revision: expectedModRevision });
    const res = await this.txn({
      compare,
      success: [{ deleteRange: { key: k, prevKv: true } }],
      failure: [{ range: { key: k } }],
    });
    if (!res.succeeded) throw this.preconditionFailed(key, res.responses[0]?.range?.kvs[0]);
    const prev = res.responses[0]?.deleteRange?.prevKvs[0];
    if (!prev) throw new KeyNotFoundError(key);
    const rev = res.header.revision;
    await this.acknowledged(rev);
    // The tombstone: the last value, stamped with the delete's revision.
    return { key, value: prev.value.toString(), modRevision: rev, createRevision: prev.createRevision };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const { lo, hi } = this.keyRange(prefix);
    // Pagination resumes right after the last key returned, as kube's continue token does with "\x00".
    const start = opts.startAfter !== undefined && opts.startAfter >= prefix ? Buffer.concat([this.etcdKey(opts.startAfter), Buffer.from([0])]) : lo;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    if (opts.revision !== undefined && opts.revision < this.compacted) throw new CompactedError(opts.revision, this.compacted);
    const res = await this.range({ key: start, rangeEnd: hi, limit, revision: opts.revision ?? 0, sortByKey: true }, opts.revision);
    return {
      items: res.kvs.map((kv) => this.toKeyValue(kv)),
      revision: opts.revision ?? res.header.revision,
      more: res.more,
    };
  }

  watch(prefix: string, fromRevision: number, cb: WatchCallback): () => void {
    if (this.closed) throw new StorageUnavailableError('storage is closed');
    if (this.lost) throw this.lost;
    if (fromRevision < this.compacted) throw new CompactedError(fromRevision, this.compacted);
    if (fromRevision < this.historyFloor) return this.watchFromEtcd(prefix, fromRevision, cb);
    if (fromRevision >= this.delivered) return this.watchers.add(prefix, fromRevision, cb);
    // Replay from the hub's history; live events meanwhile queue behind the replay.
    const replay = this.history.filter((e) => e.kv.modRevision > fromRevision && e.kv.key.startsWith(prefix));
    return this.watchers.add(prefix, this.delivered, cb, replay);
  }


  async compact(revision: number): Promise<void> {
    if (revision <= this.compacted) return;
    // etcd first: it refuses a future revision, which must not be recorded.
    await this.compactEtcd(revision);
    // Then tell the other replicas; a concurrent recorder moves the key on, so retry while ours is newer.
    for (let i = 0; i < 5 && !(await this.recordCompaction(revision)) && this.compactedInKey < revision; i++);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.compactionTimer);
    this.hub?.stop();
    for (const r of this.replays) r.stop();
    this.replays.clear();
    this.watchers.clear();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    this.client.close();
  }

  // ---- internals ----

  /** Set when the hub lost events it can never get back (its resume revision was compacted). */
  private lost: StorageUnavailableError | undefined;

  private etcdKey(key: string): Buffer {
    return Buffer.from(this.rootText + key);
  }

  private keyRange(prefix: string): { lo: Buffer; hi: Buffer } {
    // Registry keys all begin with '/'; the empty prefix means all of them, never the compaction key.
    const lo = Buffer.from(this.rootText + (prefix === '' ? '/' : prefix));
    return { lo, hi: prefixEnd(lo) };
  }

  private toKeyValue(kv: EtcdKeyValue): KeyValue {
    return {
      key: kv.key.toString().slice(this.rootText.length),
      value: kv.value.toString(),
      modRevision: kv.modRevision,
      createRevision: kv.createRevision,
    };
  }

  private preconditionFailed(key: string, current: EtcdKeyValue | undefined): Error {
    return current ? new RevisionConflictError(key, this.toKeyValue(current)) : new KeyNotFoundError(key);
  }

  private range(req: RangeRequest, requested?: number): Promise<RangeResponse> {
    return this.call(async () => decodeRangeResponse(await this.client.unary('/etcdserverpb.KV/Range', encodeRangeRequest(req), true)), requested);
  }

  private txn(req: TxnRequest): Promise<TxnResponse> {
    return this.call(async () => decodeTxnResponse(await this.client.unary('/etcdserverpb.KV/Txn', encodeTxnRequest(req))));
  }

  /**
   * Runs one request, records its header revision, and maps etcd's failures onto the storage contract.
   * requested: the revision a read asked for, to report in a CompactedError.
   */
  private async call<T extends { header: ResponseHeader }>(fn: () => Promise<T>, requested?: number): Promise<T> {
    if (this.closed) throw new StorageUnavailableError('storage is closed');
    let res: T;
    try {
      res = await fn();
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (COMPACTED.test(message)) {
        // etcd refuses revisions below its compaction, so the compaction is at least one past the request.
        const at = requested ?? this.compacted;
        this.compacted = Math.max(this.compacted, at + 1);
        throw new CompactedError(at, this.compacted);
      }
      if (FUTURE.test(message)) throw new Error(`required revision ${requested} is a future revision`);
      throw new StorageUnavailableError(`etcd: ${message}`);
    }
    this.observe(res.header.revision);
    return res;
  }

  private observe(rev: number): void {
    if (rev > this.committed) this.committed = rev;
  }

  /** Resolves once the hub delivered revision rev to every local watcher, or after ackTimeoutMs. */
  private acknowledged(rev: number): Promise<void> {
    if (this.delivered >= rev || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        rev,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      // The write is durable in etcd either way; only the local ordering guarantee is given up.
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        process.emitWarning(`etcd write at revision ${rev} acknowledged before its watch event arrived (${this.hubError?.message ?? 'slow watch'})`);
        resolve();
      }, this.ackTimeoutMs);
      this.waiters.push(waiter);
    });
  }

  private onHubResponse(res: WatchResponse): void {
    const header = res.header.revision;
    this.observe(header);
    const events: StorageEvent[] = [];
    for (const e of res.events) {
      const rev = e.kv.modRevision;
      if (e.kv.key.equals(this.compactKey)) {
        if (e.type === 'Put') this.noteCompaction(Number(e.kv.value.toString()), rev);
        continue;
      }
      events.push(this.toEvent(e.type, e.kv, e.prevKv));
    }
    // Events end at the last one's revision; a response without events is a progress notification.
    const last = res.events.at(-1);
    const upTo = last ? last.kv.modRevision : header;
    if (events.length) {
      this.remember(events);
      this.watchers.publish(events);
    }
    if (upTo > this.delivered) this.delivered = upTo;
    if (this.waiters.length) {
      const ready = this.waiters.filter((w) => w.rev <= this.delivered);
      this.waiters = this.waiters.filter((w) => w.rev > this.delivered);
      for (const w of ready) w.resolve();
    }
  }

  private toEvent(type: 'Put' | 'Delete', kv: EtcdKeyValue, prev: EtcdKeyValue | undefined): StorageEvent {
    const prevKv = prev ? this.toKeyValue(prev) : undefined;
    if (type === 'Delete') {
      // etcd's delete event carries only the key; the tombstone is the previous value at the delete's revision.
      const rev = kv.modRevision;
      const last = prevKv ?? { key: this.toKeyValue(kv).key, value: '', modRevision: rev, createRevision: 0 };
      const ev: StorageEvent = { type: 'DELETE', kv: { ...last, modRevision: rev }, created: false };
      if (prevKv) ev.prevKv = prevKv;
      return ev;
    }
    const ev: StorageEvent = { type: 'PUT', kv: this.toKeyValue(kv), created: kv.version === 1 };
    if (prevKv) ev.prevKv = prevKv;
    return ev;
  }

  private remember(events: StorageEvent[]): void {
    this.history.push(...events);
    // Trim in chunks so the amortised cost per event stays O(1).
    if (this.history.length >= this.historySize * 2) {
      const drop = this.history.length - this.historySize;
      this.historyFloor = this.history[drop - 1].kv.modRevision;
      this.history = this.history.slice(drop);
    }
  }

  /** The hub's resume revision was compacted while it was disconnected: events are gone for good. */
  private onHubLost(compactRevision: number): void {
    this.compacted = Math.max(this.compacted, compactRevision);
    this.lost = new StorageUnavailableError(
      `etcd watch lost history: revisions after ${this.delivered} were compacted (at ${compactRevision}) while disconnected; restart to resynchronise`,
    );
    process.emitWarning(this.lost.message);
  }

  /** A watch further back than the hub remembers reads etcd's own history on a stream of its own. */
  private watchFromEtcd(prefix: string, fromRevision: number, cb: WatchCallback): () => void {
    const { lo, hi } = this.keyRange(prefix);
    let stopped = false;
    const replay: ResumableWatch = new ResumableWatch(this.client, { key: lo, rangeEnd: hi }, fromRevision + 1, {
      onResponse: (res) => {
        if (stopped || !res.events.length) return;
        cb(res.events.map((e) => this.toEvent(e.type, e.kv, e.prevKv)));
      },
      onCompacted: (c) => {
        // Storage.watch has no error channel: the watch ends; the compaction is recorded for the next caller.
        this.compacted = Math.max(this.compacted, c);
        process.emitWarning(`etcd watch from ${fromRevision} under ${prefix} ended: compacted at ${c}`);
        this.replays.delete(replay);
      },
    });
    this.replays.add(replay);
    return () => {
      stopped = true;
      replay.stop();
      this.replays.delete(replay);
    };
  }

  private noteCompaction(revision: number, keyRevision: number): void {
    if (revision > this.compacted) this.compacted = revision;
    if (revision > this.compactedInKey) this.compactedInKey = revision;
    if (keyRevision > this.compactKeyRevision) this.compactKeyRevision = keyRevision;
  }

  /** Writes the compaction key, only if no other replica wrote it since we last saw it. */
  private async recordCompaction(revision: number): Promise<boolean> {
    const res = await this.txn({
      compare: [{ key: this.compactKey, target: 'Mod', result: 'Equal', revision: this.compactKeyRevision }],
      success: [{ put: { key: this.compactKey, value: Buffer.from(String(revision)) } }],
      failure: [{ range: { key: this.compactKey } }],
    });
    if (res.succeeded) {
      this.noteCompaction(revision, res.header.revision);
      return true;
    }
    const cur = res.responses[0]?.range?.kvs[0];
    if (cur) this.noteCompaction(Number(cur.value.toString()), cur.modRevision);
    return false;
  }

  private async compactEtcd(revision: number): Promise<void> {
    try {
      await this.call(async () => decodeHeaderOnly(await this.client.unary('/etcdserverpb.KV/Compact', encodeCompactionRequest(revision, true))), revision);
    } catch (err) {
      // Someone compacted further already: nothing left to do.
      if (err instanceof CompactedError) return;
      throw err;
    }
    if (revision > this.compacted) this.compacted = revision;
  }

  private startCompaction(intervalMs: number, retain: number): void {
    this.compactionTimer = setInterval(() => {
      const target = this.delivered - retain;
      if (target <= this.compacted) return;
      // Every replica ticks; the compaction key's revision lets exactly one of them compact per round.
      this.recordCompaction(target)
        .then((won) => (won ? this.compactEtcd(target) : undefined))
        .catch((err: unknown) => process.emitWarning(`periodic etcd compaction to ${target} failed: ${(err as Error).message}`));
    }, intervalMs);
    this.compactionTimer.unref();
  }
}
