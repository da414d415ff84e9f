// The few messages of etcd's v3 API the storage speaks (etcdserverpb/rpc.proto, mvccpb/kv.proto), encoded
// and decoded by hand. A generic protobuf runtime (etcd3 → grpc-js → protobufjs) cost about 0.85 ms of CPU
// per create on the server and ~60 MB of resident memory; these messages are small and fixed.
//
// Revisions are int64 on the wire and numbers here: etcd would need 2^53 writes to overflow them.

export interface EtcdKeyValue {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface ResponseHeader {
  revision: number;
}

export interface RangeRequest {
  key: Buffer;
  rangeEnd?: Buffer;
  limit?: number;
  revision?: number;
  /** Ascending by key; etcd's default (no sort) is also key order, but only when a limit is not given. */
  sortByKey?: boolean;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: EtcdKeyValue[];
  more: boolean;
}

export type CompareTarget = 'Create' | 'Mod';
export type CompareResult = 'Equal' | 'Greater';

export interface Compare {
  key: Buffer;
  target: CompareTarget;
  result: CompareResult;
  /** create_revision or mod_revision, as target says. */
  revision: number;
}

export type RequestOp =
  | { put: { key: Buffer; value: Buffer; prevKv?: boolean } }
  | { range: RangeRequest }
  | { deleteRange: { key: Buffer; prevKv?: boolean } };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface ResponseOp {
  range?: RangeResponse;
  put?: { prevKv?: EtcdKeyValue };
  deleteRange?: { deleted: number; prevKvs: EtcdKeyValue[] };
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface WatchCreateRequest {
  key: Buffer;
  rangeEnd: Buffer;
  startRevision: number;
  progressNotify: boolean;
  prevKv: boolean;
}

export interface WatchEvent {
  type: 'Put' | 'Delete';
  kv: EtcdKeyValue;
  prevKv?: EtcdKeyValue;
}

export interface WatchResponse {
  header: ResponseHeader;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: WatchEvent[];
}

// ---- encoding ----

const VARINT = 0;
const LEN = 2;

/** Appends fields to a growing list of chunks; lengths of nested messages are known before they are written. */
class Writer {
  private readonly parts: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(64);
  private used = 0;
  length = 0;

  private room(n: number): void {
    if (this.scratch.length - this.used >= n) return;
    this.flush();
    this.scratch = Buffer.allocUnsafe(Math.max(64, n));
  }

  private flush(): void {
    if (this.used) this.parts.push(this.scratch.subarray(0, this.used));
    this.scratch = this.scratch.subarray(this.used);
    this.used = 0;
  }

  varint(v: number): this {
    this.room(10);
    const start = this.used;
    // Non-negative values up to 2^53: division instead of shifts, which stop at 32 bits.
    while (v >= 0x80) {
      this.scratch[this.used++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.scratch[this.used++] = v;
    this.length += this.used - start;
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  bytes(field: number, b: Buffer): this {
    this.tag(field, LEN).varint(b.length);
    this.flush();
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  /** A field that proto3 leaves out when it is zero or false. */
  uint(field: number, v: number | boolean | undefined): this {
    const n = typeof v === 'boolean' ? Number(v) : (v ?? 0);
    return n ? this.tag(field, VARINT).varint(n) : this;
  }

  message(field: number, inner: Writer): this {
    this.tag(field, LEN).varint(inner.length);
    this.flush();
    this.parts.push(...inner.finish());
    this.length += inner.length;
    return this;
  }

  finish(): Buffer[] {
    this.flush();
    return this.parts;
  }
}

function rangeRequest(r: RangeRequest): Writer {
  const w = new Writer().bytes(1, r.key);
  if (r.rangeEnd) w.bytes(2, r.rangeEnd);
  w.uint(3, r.limit).uint(4, r.revision);
  // sort_order ASCEND (1), sort_target KEY (0).
  if (r.sortByKey) w.uint(5, 1);
  return w;
}

function requestOp(op: RequestOp): Writer {
  if ('put' in op) {
    const put = new Writer().bytes(1, op.put.key).bytes(2, op.put.value).uint(4, op.put.prevKv);
    return new Writer().message(2, put);
  }
  if ('range' in op) return new Writer().message(1, rangeRequest(op.range));
  return new Writer().message(3, new Writer().bytes(1, op.deleteRange.key).uint(3, op.deleteRange.prevKv));
}

const compareResults: Record<CompareResult, number> = { Equal: 0, Greater: 1 };
const compareTargets: Record<CompareTarget, number> = { Create: 1, Mod: 2 };

function compare(c: Compare): Writer {
  const w = new Writer().uint(1, compareResults[c.result]).uint(2, compareTargets[c.target]).bytes(3, c.key);
  // A oneof member is sent even when zero: create_revision == 0 is the create precondition.
  return w.tag(c.target === 'Create' ? 5 : 6, VARINT).varint(c.revision);
}

const concat = (w: Writer) => {
  const parts = w.finish();
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, w.length);
};

export function encodeRangeRequest(r: RangeRequest): Buffer {
  return concat(rangeRequest(r));
}

export function encodeTxnRequest(t: TxnRequest): Buffer {
  const w = new Writer();
  for (const c of t.compare) w.message(1, compare(c));
  for (const op of t.success) w.message(2, requestOp(op));
  for (const op of t.failure) w.message(3, requestOp(op));
  return concat(w);
}

export function encodeCompactionRequest(revision: number, physical: boolean): Buffer {
  return concat(new Writer().uint(1, revision).uint(2, physical));
}

export function encodeWatchCreate(c: WatchCreateRequest): Buffer {
  const inner = new Writer().bytes(1, c.key).bytes(2, c.rangeEnd).uint(3, c.startRevision).uint(4, c.progressNotify).uint(6, c.prevKv);
  return concat(new Writer().message(1, inner));
}

/** WatchRequest{progress_request: {}}: an empty message is a tag and a zero length. */
export const watchProgressRequest = Buffer.from([0x1a, 0x00]);

// ---- decoding ----

/** Reads fields of one message within [pos, end) of buf. */
class Reader {
  pos: number;
  readonly buf: Buffer;
  readonly end: number;
  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** A length-delimited field: its [start, end) within buf. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error('truncated field');
    return [start, this.pos];
  }

  sub(): Reader {
    const [s, e] = this.span();
    return new Reader(this.buf, s, e);
  }

  bytes(): Buffer {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === LEN) this.span();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }

  /** Calls onField(field, wire) for each field; the callback reads the value or returns false to skip it. */
  fields(onField: (field: number, wire: number) => boolean): void {
    while (this.more()) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (!onField(field, wire)) this.skip(wire);
    }
  }
}

function header(r: Reader): ResponseHeader {
  const h: ResponseHeader = { revision: 0 };
  r.fields((f, w) => (f === 3 && w === VARINT ? ((h.revision = r.varint()), true) : false));
  return h;
}

function keyValue(r: Reader): EtcdKeyValue {
  const kv: EtcdKeyValue = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 };
  r.fields((f, w) => {
    if (w === LEN && f === 1) kv.key = r.bytes();
    else if (w === LEN && f === 5) kv.value = r.bytes();
    else if (w === VARINT && f === 2) kv.createRevision = r.varint();
    else if (w === VARINT && f === 3) kv.modRevision = r.varint();
    else if (w === VARINT && f === 4) kv.version = r.varint();
    else return false;
    return true;
  });
  return kv;
}

const EMPTY = Buffer.alloc(0);

function rangeResponse(r: Reader): RangeResponse {
  const res: RangeResponse = { header: { revision: 0 }, kvs: [], more: false };
  r.fields((f, w) => {
    if (w === LEN && f === 1) res.header = header(r.sub());
    else if (w === LEN && f === 2) res.kvs.push(keyValue(r.sub()));
    else if (w === VARINT && f === 3) res.more = r.varint() !== 0;
    else return false;
    return true;
  });
  return res;
}

function responseOp(r: Reader): ResponseOp {
  const op: ResponseOp = {};
  r.fields((f, w) => {
    if (w !== LEN) return false;
    const m = r.sub();
    if (f === 1) op.range = rangeResponse(m);
    else if (f === 2) {
      const put: { prevKv?: EtcdKeyValue } = {};
      m.fields((pf, pw) => (pf === 2 && pw === LEN ? ((put.prevKv = keyValue(m.sub())), true) : false));
      op.put = put;
    } else if (f === 3) {
      const del = { deleted: 0, prevKvs: [] as EtcdKeyValue[] };
      m.fields((df, dw) => {
        if (df === 2 && dw === VARINT) del.deleted = m.varint();
        else if (df === 3 && dw === LEN) del.prevKvs.push(keyValue(m.sub()));
        else return false;
        return true;
      });
      op.deleteRange = del;
    }
    return true;
  });
  return op;
}

const whole = (b: Buffer) => new Reader(b, 0, b.length);

export function decodeRangeResponse(b: Buffer): RangeResponse {
  return rangeResponse(whole(b));
}

export function decodeTxnResponse(b: Buffer): TxnResponse {
  const r = whole(b);
  const res: TxnResponse = { header: { revision: 0 }, succeeded: false, responses: [] };
  r.fields((f, w) => {
    if (w === LEN && f === 1) res.header = header(r.sub());
    else if (w === VARINT && f === 2) res.succeeded = r.varint() !== 0;
    else if (w === LEN && f === 3) res.responses.push(responseOp(r.sub()));
    else return false;
    return true;
  });
  return res;
}

/** CompactionResponse, and any other response of which only the header matters. */
export function decodeHeaderOnly(b: Buffer): { header: ResponseHeader } {
  const r = whole(b);
  let h: ResponseHeader = { revision: 0 };
  r.fields((f, w) => (f === 1 && w === LEN ? ((h = header(r.sub())), true) : false));
  return { header: h };
}

export function decodeWatchResponse(b: Buffer): WatchResponse {
  const r = whole(b);
  const res: WatchResponse = { header: { revision: 0 }, created: false, canceled: false, compactRevision: 0, cancelReason: '', events: [] };
  r.fields((f, w) => {
    if (w === LEN && f === 1) res.header = header(r.sub());
    else if (w === VARINT && f === 3) res.created = r.varint() !== 0;
    else if (w === VARINT && f === 4) res.canceled = r.varint() !== 0;
    else if (w === VARINT && f === 5) res.compactRevision = r.varint();
    else if (w === LEN && f === 6) res.cancelReason = r.bytes().toString('utf8');
    else if (w === LEN && f === 11) {
      const m = r.sub();
      const ev: WatchEvent = { type: 'Put', kv: { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 } };
      m.fields((ef, ew) => {
        if (ef === 1 && ew === VARINT) ev.type = m.varint() === 1 ? 'Delete' : 'Put';
        else if (ef === 2 && ew === LEN) ev.kv = keyValue(m.sub());
        else if (ef === 3 && ew === LEN) ev.prevKv = keyValue(m.sub());
        else return false;
        return true;
      });
      res.events.push(ev);
    } else return false;
    return true;
  });
  return res;
}
