// Small pure helpers over plain JSON objects, shared by the store and the handlers.
import type { KubeObject } from '../../api/types.ts';

/** JSON equality; a key whose value is undefined counts as absent, as it does once serialized. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  if (ak.length !== Object.keys(bo).filter((k) => bo[k] !== undefined).length) return false;
  for (const k of ak) if (!Object.hasOwn(bo, k) || !deepEqual(ao[k], bo[k])) return false;
  return true;
}

/** Deep copy of a JSON value. A plain walk: structuredClone serializes, and costs several times more. */
export function clone<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map((e: unknown) => clone(e)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, e] of Object.entries(v)) {
    // JSON.parse makes "__proto__" an own key; plain assignment would set the prototype instead.
    if (k === '__proto__') Object.defineProperty(out, k, { value: clone(e), enumerable: true, writable: true, configurable: true });
    else out[k] = clone(e);
  }
  return out as T;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON value's type as encoding/json names it in "cannot unmarshal X into ..." errors. */
export function goType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * A request value for an error message. String(v) is not safe on client JSON: an object whose own
 * "toString" key is not a function makes it throw.
 */
export function shown(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? typeof v);
}

/** Everything outside metadata and status: what a generation counts. */
export function specPart(obj: KubeObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k !== 'metadata' && k !== 'status' && k !== 'apiVersion' && k !== 'kind') out[k] = v;
  }
  return out;
}

/** Object equality ignoring resourceVersion and managedFields timestamps: a write that changes nothing else is a no-op. */
export function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const meta = { ...o.metadata };
    delete meta.resourceVersion;
    delete meta.managedFields;
    return { ...o, metadata: meta };
  };
  return deepEqual(strip(a), strip(b));
}

/** RFC 3339 with seconds, as metav1.Time serializes. */
export function nowRFC3339(): string {
  // Several stamps per write, all within one second: format once per second.
  const sec = Math.floor(Date.now() / 1000);
  if (sec !== stampSecond) {
    stampSecond = sec;
    stampText = new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return stampText;
}
let stampSecond = NaN;
let stampText = '';
