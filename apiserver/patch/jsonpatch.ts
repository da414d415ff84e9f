// RFC 6902 JSON patch with the semantics of gopkg.in/evanphx/json-patch.v4, the library behind
// kube-apiserver's application/json-patch+json: negative array indices count from the end, a path is
// split on '/' without requiring a leading one, and `test` of null passes on a missing member.
// kube's answers: a body that does not decode is 400, more than 10,000 operations 413, an operation
// that does not apply 422 with a fixed message (the library's own message is not sent; we keep it as
// the error's `cause` for logs).

import { badRequest, requestEntityTooLarge, StatusError } from '../status.ts';
import { clone, deepEqual as jsonEqual, isPlainObject } from '../registry/objects.ts';

export { jsonEqual, isPlainObject };

export const MAX_JSON_PATCH_OPERATIONS = 10000;

export type JSONObject = { [key: string]: unknown };
type Container = JSONObject | unknown[];


/** Assigns an own property even for keys such as `__proto__`, which plain assignment would not. */
export function setOwn(obj: JSONObject, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}


/** Failure of one operation: the message is the Go library's, which ends up as the 422's cause. */
class OperationFailed extends Error {}

const MISSING = 'missing value';
const INVALID_INDEX = 'invalid index referenced';

/** Go's encoding/json name for a JSON value's type, as it appears in unmarshal errors. */
function goJSONType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // object, string, number
}

/** The 422 kube answers when an operation does not apply. */
export function jsonPatchRejected(libraryMessage: string): StatusError {
  const err = new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
  err.cause = libraryMessage;
  return err;
}

/** The operations of a json-patch body (already JSON-parsed); 400 or 413 as kube answers. */
export function decodeJSONPatch(patch: unknown): JSONObject[] {
  // Go decodes a JSON null into an empty patch.
  if (patch === null) return [];
  if (!Array.isArray(patch)) {
    throw badRequest(`json: cannot unmarshal ${goJSONType(patch)} into Go value of type jsonpatch.Patch`);
  }
  const ops = patch.map((op) => {
    if (op === null) return {};
    if (!isPlainObject(op)) {
      throw badRequest(`json: cannot unmarshal ${goJSONType(op)} into Go value of type jsonpatch.Operation`);
    }
    return op;
  });
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw requestEntityTooLarge(
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`,
    );
  }
  return ops;
}

// ---- pointers and containers ---------------------------------------------------------------------

const decodeKey = (k: string) => k.replaceAll('~1', '/').replaceAll('~0', '~');

/** Reads `path` or `from`; a string, or the reason it is not one. */
function readPointer(op: JSONObject, field: 'path' | 'from'): { pointer: string } | { error: string } {
  const v = op[field];
  if (!Object.hasOwn(op, field) || v === null) {
    return { error: field === 'path' ? `operation missing path field: ${MISSING}` : `operation, missing from field: ${MISSING}` };
  }
  if (typeof v !== 'string') return { error: `json: cannot unmarshal ${goJSONType(v)} into Go value of type string` };
  return { pointer: v };
}

/** The container holding the pointer's last token, and that token; undefined when the parent is missing. */
function resolveParent(root: Container, pointer: string): { container: Container; key: string } | undefined {
  const parts = pointer.split('/');
  if (parts.length < 2) return undefined;
  let container: Container = root;
  for (const part of parts.slice(1, -1)) {
    let next: unknown;
    try {
      next = get(container, decodeKey(part));
    } catch {
      return undefined;
    }
    if (!Array.isArray(next) && !isPlainObject(next)) return undefined;
    container = next;
  }
  return { container, key: decodeKey(parts[parts.length - 1]) };
}

/** strconv.Atoi, with its error text. */
function atoi(key: string): number {
  if (!/^[+-]?[0-9]+$/.test(key)) throw new OperationFailed(`strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`);
  return Number(key);
}

const invalidIndex = (idx: number) => new OperationFailed(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);

/** An existing element's index; negative counts from the end. */
function existingIndex(arr: unknown[], key: string): number {
  let idx = atoi(key);
  if (idx < 0) {
    if (idx < -arr.length) throw invalidIndex(idx);
    idx += arr.length;
  }
  if (idx >= arr.length) throw invalidIndex(idx);
  return idx;
}

function get(c: Container, key: string): unknown {
  if (Array.isArray(c)) return c[existingIndex(c, key)];
  if (!Object.hasOwn(c, key)) throw new OperationFailed(`unable to get nonexistent key: ${key}: ${MISSING}`);
  return c[key];
}

function has(c: Container, key: string): boolean {
  try {
    get(c, key);
    return true;
  } catch {
    return false;
  }
}

function set(c: Container, key: string, value: unknown): void {
  if (Array.isArray(c)) c[existingIndex(c, key)] = value;
  else setOwn(c, key, value);
}

function add(c: Container, key: string, value: unknown): void {
  if (!Array.isArray(c)) {
    setOwn(c, key, value);
    return;
  }
  if (key === '-') {
    c.push(value);
    return;
  }
  let idx: number;
  try {
    idx = atoi(key);
  } catch (err) {
    throw new OperationFailed(`value was not a proper array index: '${key}': ${(err as Error).message}`);
  }
  const size = c.length + 1;
  if (idx >= size) throw invalidIndex(idx);
  if (idx < 0) {
    if (idx < -size) throw invalidIndex(idx);
    idx += size;
  }
  c.splice(idx, 0, value);
}

function remove(c: Container, key: string): void {
  if (Array.isArray(c)) {
    c.splice(existingIndex(c, key), 1);
    return;
  }
  if (!Object.hasOwn(c, key)) throw new OperationFailed(`Unable to remove nonexistent key: ${key}: ${MISSING}`);
  delete c[key];
}

/** Runs `fn`, prefixing any failure the way the library wraps errors. */
function wrapped<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OperationFailed) throw new OperationFailed(`${prefix}: ${err.message}`);
    throw err;
  }
}

const fail = (message: string) => new OperationFailed(message);

// ---- operations ----------------------------------------------------------------------------------

/** Applies one operation to `doc` in place; returns the document, which `replace` of "" swaps. */
function applyOperation(doc: Container, op: JSONObject): Container {
  const kind = typeof op.op === 'string' ? op.op : 'unknown';
  // Cloned so that later operations cannot reach into the caller's patch body.
  const value = Object.hasOwn(op, 'value') ? clone(op.value) : undefined;
  const path = readPointer(op, 'path');
  switch (kind) {
    case 'add': {
      if ('error' in path) throw fail(`add operation failed to decode path: ${MISSING}`);
      const at = resolveParent(doc, path.pointer);
      if (!at) throw fail(`add operation does not apply: doc is missing path: "${path.pointer}": ${MISSING}`);
      wrapped(`error in add for path: '${path.pointer}'`, () => add(at.container, at.key, value ?? null));
      return doc;
    }
    case 'remove': {
      if ('error' in path) throw fail(`remove operation failed to decode path: ${MISSING}`);
      const at = resolveParent(doc, path.pointer);
      if (!at) throw fail(`remove operation does not apply: doc is missing path: "${path.pointer}": ${MISSING}`);
      wrapped(`error in remove for path: '${path.pointer}'`, () => remove(at.container, at.key));
      return doc;
    }
    case 'replace': {
      if ('error' in path) throw fail(`replace operation failed to decode path: ${path.error}`);
      if (path.pointer === '') {
        // The library silently ignores a root replacement by a scalar.
        return Array.isArray(value) || isPlainObject(value) ? value : doc;
      }
      const at = resolveParent(doc, path.pointer);
      if (!at) throw fail(`replace operation does not apply: doc is missing path: ${path.pointer}: ${MISSING}`);
      if (!has(at.container, at.key)) {
        throw fail(`replace operation does not apply: doc is missing key: ${path.pointer}: ${MISSING}`);
      }
      set(at.container, at.key, value ?? null);
      return doc;
    }
    case 'move': {
      const from = readPointer(op, 'from');
      if ('error' in from) throw fail(`move operation failed to decode from: ${from.error}`);
      const src = resolveParent(doc, from.pointer);
      if (!src) throw fail(`move operation does not apply: doc is missing from path: ${from.pointer}: ${MISSING}`);
      const moved = wrapped(`error in move for path: '${src.key}'`, () => get(src.container, src.key));
      wrapped(`error in move for path: '${src.key}'`, () => remove(src.container, src.key));
      if ('error' in path) throw fail(`move operation failed to decode path: ${path.error}`);
      const dst = resolveParent(doc, path.pointer);
      if (!dst) throw fail(`move operation does not apply: doc is missing destination path: ${path.pointer}: ${MISSING}`);
      wrapped(`error in move for path: '${path.pointer}'`, () => add(dst.container, dst.key, moved));
      return doc;
    }
    case 'copy': {
      const from = readPointer(op, 'from');
      if ('error' in from) throw fail(`copy operation failed to decode from: ${from.error}`);
      const src = resolveParent(doc, from.pointer);
      if (!src) throw fail(`copy operation does not apply: doc is missing from path: ${from.pointer}: ${MISSING}`);
      const copied = wrapped(`error in copy for from: '${from.pointer}'`, () => get(src.container, src.key));
      if ('error' in path) throw fail(`copy operation failed to decode path: ${MISSING}`);
      const dst = resolveParent(doc, path.pointer);
      if (!dst) throw fail(`copy operation does not apply: doc is missing destination path: ${path.pointer}: ${MISSING}`);
      wrapped('error while adding value during copy', () => add(dst.container, dst.key, clone(copied)));
      return doc;
    }
    case 'test': {
      if ('error' in path) throw fail(`test operation failed to decode path: ${path.error}`);
      const failed = () => fail(`testing value ${path.pointer} failed: test failed`);
      if (path.pointer === '') {
        if (!jsonEqual(doc, value)) throw failed();
        return doc;
      }
      const at = resolveParent(doc, path.pointer);
      if (!at) throw fail(`test operation does not apply: is missing path: ${path.pointer}: ${MISSING}`);
      let actual: unknown = null;
      if (Array.isArray(at.container) || Object.hasOwn(at.container, at.key)) {
        actual = wrapped(`error in test for path: '${path.pointer}'`, () => get(at.container, at.key));
      }
      // The library cannot tell a missing member from a null one, and a missing `value` reads as null.
      if (actual === null) {
        if (value === undefined || value === null) return doc;
        throw failed();
      }
      if (value === undefined || !jsonEqual(actual, value)) throw failed();
      return doc;
    }
    default:
      throw fail(`Unexpected kind: ${kind}`);
  }
}

/**
 * Applies an RFC 6902 patch (the JSON-parsed request body) to a JSON document and returns the result;
 * `doc` is not modified. Throws kube's StatusErrors: 400 for a body that is not a list of
 * operations, 413 past 10,000 operations, 422 when an operation does not apply.
 */
export function applyJSONPatch<T = unknown>(doc: T, patch: unknown): T {
  const ops = decodeJSONPatch(patch);
  if (!Array.isArray(doc) && !isPlainObject(doc)) throw new TypeError('a JSON patch applies to an object or an array');
  let result: Container = clone(doc);
  for (const op of ops) {
    try {
      result = applyOperation(result, op);
    } catch (err) {
      if (err instanceof OperationFailed) throw jsonPatchRejected(err.message);
      throw err;
    }
  }
  return result as T;
}
