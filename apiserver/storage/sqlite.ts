// SQLite backend in the manner of kine: a single append-only log of revisions. Each write appends one row
// whose rowid is the new global revision; the newest row of a key is its current state (or a tombstone).
//
// Durability is a group commit that keeps fsync off the event loop. Everything queued in one event-loop
// turn shares one transaction, committed with synchronous=NORMAL (no sync at COMMIT). An fdatasync of the
// -wal file then runs in libuv's thread pool; one fdatasync covers every transaction committed before it
// started, because a WAL recovers a prefix of its commits. Transactions that commit while it runs wait for
// the next one, so concurrent writers share a sync. Only after a covering sync completes are a group's
// writes published, in revision order: watchers first, then the writers' promises. currentRevision(),
// list() and watch() therefore expose durable writes only, while conditional writes check their
// preconditions against the latest committed rows (committedRevision()).

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { closeSync, fdatasync, fstatSync, fsyncSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
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

export interface SqliteOptions {
  /** Compact periodically; 0 or absent disables it. The server passes 5 minutes. */
  compactionIntervalMs?: number;
  /** Revisions kept by periodic compaction (default 10,000). */
  retainRevisions?: number;
  /** Refuse writes once the database would exceed this size, like etcd's --quota-backend-bytes. */
  quotaBytes?: number;
  /** How the -wal file is made durable; tests inject failures and delays. Defaults to fs.fdatasync. */
  syncWal?: (fd: number, done: (err: Error | null) => void) => void;
}

export interface SqliteStats {
  /** Transactions committed by the write path. */
  commits: number;
  /** Writes (creates, updates, deletes) made durable and published. */
  writes: number;
  /** Batches rolled back because the commit could not be persisted. */
  failedCommits: number;
  /** fdatasync calls on the -wal file that completed; writes / syncs is the group-commit batch size. */
  syncs: number;
  /** fdatasync calls that failed; their writes were rejected. */
  failedSyncs: number;
}

export const DEFAULT_COMPACTION_INTERVAL_MS = 5 * 60 * 1000;
export const DEFAULT_RETAIN_REVISIONS = 10_000;

// Every string sorts below this in SQLite's BINARY collation for the ASCII keys the registry builds.
const PREFIX_END = '\uffff';

interface Row {
  rev: number;
  key: string;
  create_rev: number;
  prev_rev: number;
  deleted: number;
  value: string;
}

type WriteOp =
  | { kind: 'create'; key: string; value: string }
  | { kind: 'update'; key: string; value: string; expected: number }
  | { kind: 'delete'; key: string; expected?: number };

interface PendingWrite {
  op: WriteOp;
  resolve: (kv: KeyValue) => void;
  reject: (err: Error) => void;
}

/** One committed transaction waiting for a sync: its writers, their outcomes, and the events to publish. */
interface Group {
  writes: PendingWrite[];
  outcomes: (KeyValue | Error)[];
  events: StorageEvent[];
  /** The committed revision after this transaction. */
  rev: number;
}


const toKeyValue = (r: Row): KeyValue => ({
  key: r.key,
  value: r.value,
  modRevision: r.rev,
  createRevision: r.create_rev,
});

const asRow = (r: unknown): Row | undefined => (r === undefined ? undefined : (r as Row));

export class SqliteStorage implements Storage {
  readonly backend = 'sqlite';

  private readonly db: DatabaseSync;
  /** The newest committed revision (visible to SQL reads, perhaps not yet durable). */
  private rev: number;
  /** The newest published revision: durable, and delivered to watchers. */
  private durable: number;
  private compacted: number;
  private readonly counters: SqliteStats = { commits: 0, writes: 0, failedCommits: 0, syncs: 0, failedSyncs: 0 };
  private queue: PendingWrite[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  private readonly watchers = new WatcherSet();
  private compactionTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;

  /** The -wal file, or undefined for an in-memory database (nothing to make durable). */
  private readonly walPath: string | undefined;
  private walFd: number | undefined;
  private walIno = 0;
  private readonly syncWal: (fd: number, done: (err: Error | null) => void) => void;
  /** Committed groups no sync has started for yet, in revision order. */
  private unsynced: Group[] = [];
  /** The sync in flight, if any; it resolves once its groups are settled. */
  private inflight: Promise<void> | undefined;
  /** The groups the sync in flight covers. */
  private inflightGroups: Group[] = [];
  /** Set when a sync failed: writes are refused until a later sync succeeds. */
  private syncError: Error | undefined;

  private readonly stLatest: StatementSync;
  private readonly stInsert: StatementSync;
  private readonly stByRev: StatementSync;
  private readonly stList: StatementSync;
  private readonly stListLimit: StatementSync;
  private readonly stSince: StatementSync;
  private readonly stCompact: StatementSync;
  private readonly stSetMeta: StatementSync;

  private constructor(db: DatabaseSync, walPath: string | undefined, syncWal: SqliteStorage['syncWal']) {
    this.db = db;
    this.walPath = walPath;
    this.syncWal = syncWal;
    db.exec(`
      CREATE TABLE IF NOT EXISTS kv (
        rev INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        create_rev INTEGER NOT NULL,
        prev_rev INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        value TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS kv_key_rev ON kv (key, rev);
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.stLatest = db.prepare('SELECT rev, key, create_rev, prev_rev, deleted, value FROM kv WHERE key = ? ORDER BY rev DESC LIMIT 1');
    this.stInsert = db.prepare('INSERT INTO kv (rev, key, create_rev, prev_rev, deleted, value) VALUES (?, ?, ?, ?, ?, ?)');
    this.stByRev = db.prepare('SELECT rev, key, create_rev, prev_rev, deleted, value FROM kv WHERE rev = ?');
    // The correlated MAX lets SQLite walk the (key, rev) index in key order and stop at LIMIT, so a page
    // costs O(page) rather than materialising every key under the prefix.
    const listSql = `
      SELECT rev, key, create_rev, value FROM kv AS k
      WHERE key >= :lo AND key < :hi AND key > :after
        AND rev = (SELECT MAX(rev) FROM kv AS n WHERE n.key = k.key AND n.rev <= :at)
        AND deleted = 0
      ORDER BY key`;
    this.stList = db.prepare(listSql);
    this.stListLimit = db.prepare(`${listSql} LIMIT :limit`);
    this.stSince = db.prepare(
      'SELECT rev, key, create_rev, prev_rev, deleted, value FROM kv WHERE rev > ? AND rev <= ? AND key >= ? AND key < ? ORDER BY rev',
    );
    // A row at or below the target is history once a newer row of its key is also at or below it; a
    // tombstone there is not needed either, since nothing can read at a compacted revision.
    this.stCompact = db.prepare(`
      DELETE FROM kv WHERE rev <= :at AND (deleted = 1 OR EXISTS (
        SELECT 1 FROM kv AS n WHERE n.key = kv.key AND n.rev > kv.rev AND n.rev <= :at))`);
    this.stSetMeta = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');

    const compacted = asRow(db.prepare("SELECT value AS rev FROM meta WHERE name = 'compacted'").get());
    this.compacted = compacted ? compacted.rev : 0;
    const newest = db.prepare('SELECT MAX(rev) AS rev FROM kv').get() as { rev: number | null };
    // Compaction may have removed the newest row (a tombstone); the compacted revision bounds it from below.
    this.rev = Math.max(newest.rev ?? 0, this.compacted);
    this.durable = this.rev;
  }

  static open(path: string, opts: SqliteOptions = {}): SqliteStorage {
    const db = new DatabaseSync(path);
    try {
      const { journal_mode: mode } = db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string };
      // NORMAL: COMMIT does not sync the WAL (the fdatasync after it does); checkpoints still sync first.
      db.exec('PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;');
      if (opts.quotaBytes) {
        const { page_size: pageSize } = db.prepare('PRAGMA page_size').get() as { page_size: number };
        db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(opts.quotaBytes / pageSize))}`);
      }
      const s = new SqliteStorage(db, mode === 'wal' ? `${path}-wal` : undefined, opts.syncWal ?? fdatasync);
      const interval = opts.compactionIntervalMs ?? 0;
      if (interval > 0) s.startCompaction(interval, opts.retainRevisions ?? DEFAULT_RETAIN_REVISIONS);
      return s;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The newest durable revision: what lists, watches and the watch cache reflect. */
  currentRevision(): number {
    return this.durable;
  }

  /** The newest committed revision; above currentRevision() while a group waits for its sync. */
  committedRevision(): number {
    return this.rev;
  }

  compactedRevision(): number {
    return this.compacted;
  }

  stats(): SqliteStats {
    return { ...this.counters };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    const row = asRow(this.stLatest.get(key));
    return row && !row.deleted ? toKeyValue(row) : undefined;
  }

  create(key: string, value: string): Promise<KeyValue> {
    return this.enqueue({ kind: 'create', key, value });
  }

  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    return this.enqueue({ kind: 'update', key, value, expected: expectedModRevision });
  }

  delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return this.enqueue({ kind: 'delete', key, expected: expectedModRevision });
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    const at = opts.revision ?? this.durable;
    if (at < this.compacted) throw new CompactedError(at, this.compacted);
    if (at > this.durable) throw new Error(`required revision ${at} is a future revision (current ${this.durable})`);
    const params = { lo: prefix, hi: prefix + PREFIX_END, after: opts.startAfter ?? '', at };
    const limit = opts.limit ?? 0;
    const rows = (limit > 0 ? this.stListLimit.all({ ...params, limit: limit + 1 }) : this.stList.all(params)) as unknown as Row[];
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    return { items: rows.map(toKeyValue), revision: at, more };
  }

  watch(prefix: string, fromRevision: number, cb: WatchCallback): () => void {
    this.assertOpen();
    if (fromRevision < this.compacted) throw new CompactedError(fromRevision, this.compacted);
    if (fromRevision >= this.durable) return this.watchers.add(prefix, fromRevision, cb);
    // Read the replay now, while it is certainly not compacted; publications meanwhile queue behind it.
    return this.watchers.add(prefix, this.durable, cb, this.eventsSince(prefix, fromRevision, this.durable));
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    this.compactNow(revision);
  }

  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    if (this.flushScheduled) {
      clearImmediate(this.flushScheduled);
      this.flush();
    }
    // Queued writes were committed above: settle them all before the database and the -wal fd go away.
    while (this.inflight) await this.inflight;
    this.closed = true;
    this.watchers.clear();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageUnavailableError('storage is closed');
  }

  private startCompaction(intervalMs: number, retain: number): void {
    this.compactionTimer = setInterval(() => {
      const target = this.durable - retain;
      if (target <= this.compacted) return;
      try {
        this.compactNow(target);
      } catch (err) {
        process.emitWarning(`periodic compaction to ${target} failed: ${(err as Error).message}`);
      }
    }, intervalMs);
    this.compactionTimer.unref();
  }

  private compactNow(revision: number): void {
    // Watches and lists stand at the durable revision: compacting past it would strand them.
    if (revision > this.durable) throw new Error(`cannot compact to ${revision}: a future revision (current ${this.durable})`);
    if (revision <= this.compacted) return;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      this.stCompact.run({ at: revision });
      this.stSetMeta.run('compacted', revision);
      this.db.exec('COMMIT');
    } catch (err) {
      this.rollback();
      throw new StorageUnavailableError(`compaction failed: ${(err as Error).message}`);
    }
    this.compacted = revision;
  }

  private enqueue(op: WriteOp): Promise<KeyValue> {
    if (this.closing) return Promise.reject(new StorageUnavailableError('storage is closed'));
    if (this.syncError) {
      // A fresh sync is the only way back; the write that asked for it is refused all the same.
      this.startSync(true);
      return Promise.reject(this.syncError);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      this.flushScheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Applies every queued write in one transaction; each write's precondition sees the writes before it. */
  private flush(): void {
    this.flushScheduled = undefined;
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return;
    if (this.syncError) {
      for (const w of batch) w.reject(this.syncError);
      return;
    }

    const outcomes: (KeyValue | Error)[] = [];
    const events: StorageEvent[] = [];
    let next = this.rev;
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const { op } of batch) {
        const result = this.apply(op, next + 1);
        if (result instanceof Error) {
          outcomes.push(result);
          continue;
        }
        next += 1;
        events.push(result);
        outcomes.push(result.kv);
      }
      this.db.exec('COMMIT');
    } catch (err) {
      this.rollback();
      this.counters.failedCommits += 1;
      const cause = new StorageUnavailableError(`storage write failed: ${(err as Error).message}`);
      for (const w of batch) w.reject(cause);
      return;
    }

    this.rev = next;
    this.counters.commits += 1;
    const group: Group = { writes: batch, outcomes, events, rev: next };
    // A batch of failed preconditions wrote nothing; with nothing ahead of it there is nothing to wait for.
    if (!events.length && !this.unsynced.length) {
      // Everything its preconditions saw is covered by the sync in flight (if any): settle with that one.
      if (this.inflight) this.inflightGroups.push(group);
      else this.publish(group);
      return;
    }
    this.unsynced.push(group);
    this.startSync(false);
  }

  /**
   * Starts a sync covering every group committed so far, unless one is in flight (its completion starts
   * the next). probe: sync even with nothing new, to find out whether the disk is back after a failure.
   */
  private startSync(probe: boolean): void {
    if (this.inflight || this.closed) return;
    // After a failure only a probe (a write attempt) syncs again, so a broken disk is not hammered.
    if (!probe && (this.syncError || !this.unsynced.length)) return;
    const groups = this.unsynced;
    this.unsynced = [];
    this.inflightGroups = groups;
    this.inflight = new Promise<void>((resolve) => {
      const done = (err: Error | null) => {
        this.inflight = undefined;
        this.synced(groups, err);
        resolve();
        this.startSync(false);
      };
      let fd: number | undefined;
      try {
        fd = this.walDescriptor();
      } catch (err) {
        queueMicrotask(() => done(err as Error));
        return;
      }
      // An in-memory database has no WAL: publish on the next microtask, keeping the ordering contract.
      if (fd === undefined) queueMicrotask(() => done(null));
      else this.syncWal(fd, done);
    });
  }

  /** The -wal file's descriptor, opened on first use and reopened if the file was replaced. */
  private walDescriptor(): number | undefined {
    if (this.walPath === undefined) return undefined;
    if (this.walFd !== undefined) {
      // SQLite removes the -wal only when its last connection closes; a different inode means someone
      // replaced it behind our back, and syncing the old one would prove nothing.
      if (statSync(this.walPath).ino === this.walIno) return this.walFd;
      process.emitWarning(`${this.walPath} was replaced; reopening it`);
      closeSync(this.walFd);
      this.walFd = undefined;
    }
    const fd = openSync(this.walPath, 'r');
    this.walIno = fstatSync(fd).ino;
    this.walFd = fd;
    // The -wal's directory entry must be durable too, or a crash could lose the whole file.
    const dir = openSync(dirname(this.walPath), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return fd;
  }

  /**
   * A sync finished. On success every group it covered is durable: publish them in revision order. On
   * failure their data sits in the WAL but is not known durable, so their writers are refused (the
   * outcome is unknown to them, like an etcd request timeout), and so is every later write until a sync
   * succeeds. The groups are kept: a later successful sync publishes them, because SQL reads (and the
   * preconditions checked against them) already see their rows and the watch cache must not diverge.
   */
  private synced(groups: Group[], err: Error | null): void {
    if (err) {
      this.counters.failedSyncs += 1;
      this.syncError = new StorageUnavailableError(`storage sync failed: ${err.message}`);
      const cause = this.syncError;
      // Groups committed while this sync ran follow the failed ones in the WAL: they cannot be durable alone.
      const all = [...groups, ...this.unsynced];
      for (const g of all) {
        for (const w of g.writes) w.reject(cause);
        g.writes = [];
      }
      this.unsynced = all;
      return;
    }
    this.counters.syncs += 1;
    this.syncError = undefined;
    for (const g of groups) this.publish(g);
  }

  private publish(g: Group): void {
    if (g.rev > this.durable) this.durable = g.rev;
    this.counters.writes += g.events.length;
    // Watchers first, so an in-process cache already reflects a write when its writer hears back.
    if (g.events.length) this.notify(g.events);
    g.writes.forEach((w, i) => {
      const o = g.outcomes[i];
      if (o instanceof Error) w.reject(o);
      else w.resolve(o);
    });
  }

  /** One write inside the open transaction: the event it produced, or the precondition it failed. */
  private apply(op: WriteOp, rev: number): StorageEvent | Error {
    const cur = asRow(this.stLatest.get(op.key));
    const live = cur && !cur.deleted ? cur : undefined;
    switch (op.kind) {
      case 'create': {
        if (live) return new KeyExistsError(op.key);
        this.stInsert.run(rev, op.key, rev, 0, 0, op.value);
        return { type: 'PUT', kv: { key: op.key, value: op.value, modRevision: rev, createRevision: rev }, created: true };
      }
      case 'update': {
        if (!live) return new KeyNotFoundError(op.key);
        if (live.rev !== op.expected) return new RevisionConflictError(op.key, toKeyValue(live));
        this.stInsert.run(rev, op.key, live.create_rev, live.rev, 0, op.value);
        return {
          type: 'PUT',
          kv: { key: op.key, value: op.value, modRevision: rev, createRevision: live.create_rev },
          prevKv: toKeyValue(live),
          created: false,
        };
      }
      case 'delete': {
        if (!live) return new KeyNotFoundError(op.key);
        if (op.expected !== undefined && live.rev !== op.expected) return new RevisionConflictError(op.key, toKeyValue(live));
        // The tombstone keeps the last value so watchers and replays can report what was deleted.
        this.stInsert.run(rev, op.key, live.create_rev, live.rev, 1, live.value);
        return {
          type: 'DELETE',
          kv: { key: op.key, value: live.value, modRevision: rev, createRevision: live.create_rev },
          prevKv: toKeyValue(live),
          created: false,
        };
      }
    }
  }

  private rollback(): void {
    // SQLite may already have rolled back on its own after an I/O or full-disk error.
    if (!this.db.isTransaction) return;
    try {
      this.db.exec('ROLLBACK');
    } catch {
      // Nothing more can be done; the transaction is gone either way.
    }
  }

  private eventsSince(prefix: string, after: number, upTo: number): StorageEvent[] {
    const rows = this.stSince.all(after, upTo, prefix, prefix + PREFIX_END) as unknown as Row[];
    return rows.map((r) => {
      const prev = r.prev_rev ? asRow(this.stByRev.get(r.prev_rev)) : undefined;
      const ev: StorageEvent = { type: r.deleted ? 'DELETE' : 'PUT', kv: toKeyValue(r), created: !r.deleted && !r.prev_rev };
      if (prev) ev.prevKv = toKeyValue(prev);
      return ev;
    });
  }

  private notify(events: StorageEvent[]): void {
    this.watchers.publish(events);
  }
}
