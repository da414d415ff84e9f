// The storage contract, after etcd3/kine: a revisioned key-value log. Values are opaque JSON text of an
// object *without* metadata.resourceVersion; the object's resourceVersion is the modRevision of its row.
// Every backend (SQLite now, etcd later) implements exactly this, so the cacher and registry above are
// backend-neutral.

export interface KeyValue {
  key: string;
  /** JSON text of the object, resourceVersion not included. */
  value: string;
  /** Revision of the write that produced this value (becomes metadata.resourceVersion). */
  modRevision: number;
  /** Revision at which the key was created. */
  createRevision: number;
}

export interface StorageEvent {
  type: 'PUT' | 'DELETE';
  /** For PUT: the new value. For DELETE: the last value, with modRevision = the delete's revision. */
  kv: KeyValue;
  /** The value before this event; absent for a create. */
  prevKv?: KeyValue;
  /** true when the PUT created the key. */
  created: boolean;
}

export interface ListOptions {
  /** Read at this revision (a consistent snapshot); absent = latest. Throws CompactedError if compacted. */
  revision?: number;
  /** Only keys strictly greater than this (pagination). */
  startAfter?: string;
  /** At most this many items; 0 or absent = no limit. */
  limit?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list reflects. */
  revision: number;
  /** true when the limit cut the result. */
  more: boolean;
}

export type WatchCallback = (events: StorageEvent[]) => void;

export interface Storage {
  readonly backend: string;
  /** The newest revision written and durable (0 for an empty store); lists and watches stand here. */
  currentRevision(): number;
  /**
   * The newest revision committed, which get() and preconditions already see; above currentRevision()
   * while a write awaits durability. Backends without that gap omit it.
   */
  committedRevision?(): number;
  /** Revisions at or below this have been compacted away. */
  compactedRevision(): number;
  get(key: string): Promise<KeyValue | undefined>;
  /** Throws KeyExistsError when the key exists. Resolves only after the write is durable. */
  create(key: string, value: string): Promise<KeyValue>;
  /** Conditional on expectedModRevision. Throws RevisionConflictError or KeyNotFoundError. Durable on resolve. */
  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue>;
  /** Conditional when expectedModRevision is given. Resolves to the tombstone (last value, delete revision). */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;
  /** Keys starting with prefix, sorted by key. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /**
   * Events for keys under prefix with revision > fromRevision, in revision order, delivered in batches.
   * Throws CompactedError when fromRevision < compactedRevision(). Returns a function that stops the watch.
   */
  watch(prefix: string, fromRevision: number, cb: WatchCallback): () => void;
  /** Drop history at or below revision (the newest value of each live key is kept). */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

export class KeyExistsError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`key exists: ${key}`);
    this.key = key;
  }
}

export class KeyNotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`key not found: ${key}`);
    this.key = key;
  }
}

export class RevisionConflictError extends Error {
  readonly key: string;
  readonly current: KeyValue;
  constructor(key: string, current: KeyValue) {
    super(`revision conflict on ${key}: now at ${current.modRevision}`);
    this.key = key;
    this.current = current;
  }
}

export class CompactedError extends Error {
  readonly requested: number;
  readonly compacted: number;
  constructor(requested: number, compacted: number) {
    super(`required revision ${requested} has been compacted (compacted revision ${compacted})`);
    this.requested = requested;
    this.compacted = compacted;
  }
}

/** The write path could not persist (disk full, I/O error): the API answers 5xx and nothing changes. */
export class StorageUnavailableError extends Error {}
