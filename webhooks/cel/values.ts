// JSON ⇄ CEL values. Kubernetes decodes unstructured JSON integers as int64, so CEL sees `1` as an int
// and `1.5` as a double; @bufbuild/cel would read every JS number as a double, hence the conversion.
//
// Admission evaluates a handful of fields of a large object, many times per request, so JSON is not
// converted up front: objects and arrays are wrapped, and a field is converted the first time an
// expression reads it, then kept for the rest of the request.

// @bufbuild/cel recognises its maps, lists and uints by these registered symbols (see isCelMap,
// isCelList, isCelUint), which lets a wrapper of ours take part in evaluation without being copied into
// a native CelMap, and lets this file read CEL values without loading @bufbuild/cel: requests convert
// JSON here even when no expression is ever compiled (see index.ts).
const CEL_MAP = Symbol.for('@bufbuild/cel/map');
const CEL_LIST = Symbol.for('@bufbuild/cel/list');
const CEL_UINT = Symbol.for('@bufbuild/cel/uint');

const branded = (v: unknown, symbol: symbol): v is object => typeof v === 'object' && v !== null && symbol in v;
const isCelMap = (v: unknown): v is ReadonlyMap<unknown, unknown> => branded(v, CEL_MAP);
const isCelList = (v: unknown): v is Iterable<unknown> => branded(v, CEL_LIST);
const isCelUint = (v: unknown): v is { readonly value: bigint } => branded(v, CEL_UINT);

const brand = (proto: object, symbol: symbol) => Object.defineProperty(proto, symbol, { value: Object.freeze({}) });

type JsonObject = Record<string, unknown>;

/** One JSON value as CEL reads it; objects and arrays come back wrapped, not copied. */
function convert(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      return Number.isInteger(v) ? BigInt(v) : v;
    case 'object':
      if (v === null) return null;
      if (Array.isArray(v)) return new JsonList(v);
      if (isCelMap(v) || isCelList(v) || isCelUint(v) || v instanceof Uint8Array) return v;
      if (v instanceof Map) return new JsonMap(Object.fromEntries(v));
      return new JsonMap(v as JsonObject);
    default:
      // JSON has no undefined or functions; an absent field stays absent so that has() is false.
      return null;
  }
}

/** A JSON object as a CEL map. A null field reads as null but does not count as present for has(). */
export class JsonMap {
  readonly json: JsonObject;
  private converted: Map<string, unknown> | undefined;
  private count = -1;

  constructor(json: JsonObject) {
    this.json = json;
  }

  get size(): number {
    if (this.count < 0) {
      let n = 0;
      for (const k in this.json) if (Object.hasOwn(this.json, k) && this.json[k] !== undefined) n++;
      this.count = n;
    }
    return this.count;
  }

  get(key: unknown): unknown {
    if (typeof key !== 'string' || !Object.hasOwn(this.json, key)) return undefined;
    const raw = this.json[key];
    // Strings and booleans are their own CEL values: nothing to convert or keep.
    if (typeof raw === 'string' || typeof raw === 'boolean' || raw === null) return raw;
    if (raw === undefined) return undefined;
    let cache = this.converted;
    if (cache === undefined) cache = this.converted = new Map();
    else {
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
    }
    const value = convert(raw);
    cache.set(key, value);
    return value;
  }

  has(key: unknown): boolean {
    if (typeof key !== 'string' || !Object.hasOwn(this.json, key)) return false;
    const raw = this.json[key];
    return raw !== null && raw !== undefined;
  }

  *keys(): IterableIterator<string> {
    for (const k in this.json) if (Object.hasOwn(this.json, k) && this.json[k] !== undefined) yield k;
  }

  *values(): IterableIterator<unknown> {
    for (const k of this.keys()) yield this.get(k);
  }

  *entries(): IterableIterator<[string, unknown]> {
    for (const k of this.keys()) yield [k, this.get(k)];
  }

  forEach(callback: (value: unknown, key: string, map: JsonMap) => void, thisArg?: unknown): void {
    for (const k of this.keys()) callback.call(thisArg, this.get(k), k, this);
  }

  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this.entries();
  }
}
brand(JsonMap.prototype, CEL_MAP);

/** A JSON array as a CEL list, converting elements on first read. */
export class JsonList {
  readonly json: readonly unknown[];
  private converted: unknown[] | undefined;

  constructor(json: readonly unknown[]) {
    this.json = json;
  }

  get size(): number {
    return this.json.length;
  }

  get(index: number): unknown {
    if (!Number.isInteger(index) || index < 0 || index >= this.json.length) return undefined;
    const raw = this.json[index];
    if (typeof raw === 'string' || typeof raw === 'boolean' || raw === null) return raw;
    const cache = (this.converted ??= new Array<unknown>(this.json.length));
    let value = cache[index];
    if (value === undefined) value = cache[index] = convert(raw);
    return value;
  }

  *values(): IterableIterator<unknown> {
    for (let i = 0; i < this.json.length; i++) yield this.get(i);
  }

  [Symbol.iterator](): IterableIterator<unknown> {
    return this.values();
  }
}
brand(JsonList.prototype, CEL_LIST);

/** A JSON value as CEL input: objects become (lazy) CEL maps, arrays lists, integral numbers bigints. */
export function toCelValue(v: unknown): unknown {
  return v === undefined ? null : convert(v);
}

/** A CEL result back to JSON-like JS: ints become numbers where safe, maps plain objects. */
export function fromCelValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (isCelUint(v)) return fromCelValue(v.value);
  if (v === null || typeof v !== 'object') return v;
  // The JSON a wrapper stands for is already the answer; a copy, so that no caller edits the request.
  if (v instanceof JsonMap || v instanceof JsonList) return structuredClone(v.json);
  if (isCelList(v)) return [...v].map(fromCelValue);
  if (Array.isArray(v)) return v.map(fromCelValue);
  if (isCelMap(v) || v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of (v as ReadonlyMap<unknown, unknown>).entries()) o[String(k)] = fromCelValue(val);
    return o;
  }
  return v;
}

/**
 * A map whose entries are computed on first read: kube evaluates `variables.<name>` only when used.
 * It is a CEL map itself, so that reading a variable costs no wrapper.
 */
export class LazyMap {
  readonly compute: (name: string) => unknown;
  readonly names: ReadonlySet<string>;
  private computed: Map<string, unknown> | undefined;

  /** `names` may be shared between instances: it is read, never changed. */
  constructor(names: Iterable<string>, compute: (name: string) => unknown) {
    this.names = names instanceof Set ? (names as ReadonlySet<string>) : new Set(names);
    this.compute = compute;
  }

  get size(): number {
    return this.names.size;
  }

  get(key: unknown): unknown {
    if (typeof key !== 'string' || !this.names.has(key)) return undefined;
    const cache = (this.computed ??= new Map());
    if (cache.has(key)) return cache.get(key);
    const value = this.compute(key);
    cache.set(key, value);
    return value;
  }

  has(key: unknown): boolean {
    return typeof key === 'string' && this.names.has(key);
  }

  keys(): IterableIterator<string> {
    return this.names.values();
  }

  *values(): IterableIterator<unknown> {
    for (const k of this.names) yield this.get(k);
  }

  *entries(): IterableIterator<[string, unknown]> {
    for (const k of this.names) yield [k, this.get(k)];
  }

  forEach(callback: (value: unknown, key: string, map: LazyMap) => void, thisArg?: unknown): void {
    for (const k of this.names) callback.call(thisArg, this.get(k), k, this);
  }

  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this.entries();
  }
}
brand(LazyMap.prototype, CEL_MAP);
