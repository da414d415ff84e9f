// RFC 7386 JSON merge patch as evanphx/json-patch's MergePatch applies it for kube-apiserver's
// application/merge-patch+json, and its inverse, CreateMergePatch.

import { badRequest } from '../status.ts';
import { clone } from '../registry/objects.ts';
import { isPlainObject, jsonEqual, setOwn, type JSONObject } from './jsonpatch.ts';

/**
 * Drops null members from objects, at any depth (arrays keep their null elements): a merge patch
 * cannot store a null, since null means "delete".
 */
function pruneNulls(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (const item of v) pruneNulls(item);
  } else if (isPlainObject(v)) {
    for (const [k, item] of Object.entries(v)) {
      if (item === null) delete v[k];
      else pruneNulls(item);
    }
  }
  return v;
}

/** Merges `patch` into `target` in place. */
function mergeInto(target: JSONObject, patch: JSONObject): void {
  for (const [k, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[k];
      continue;
    }
    const current = Object.hasOwn(target, k) ? target[k] : null;
    if (isPlainObject(current) && isPlainObject(value)) {
      mergeInto(current, value);
    } else if (isPlainObject(current)) {
      // The Go library stores a non-object that replaces an object as it is, nulls and all.
      setOwn(target, k, clone(value));
    } else {
      setOwn(target, k, pruneNulls(clone(value)));
    }
  }
}

/**
 * Applies a merge patch (the JSON-parsed request body) to `doc` and returns the result; neither
 * argument is modified. A patch that is not a JSON object is kube's 400 `Invalid JSON Patch`.
 */
export function applyMergePatch<T = unknown>(doc: T, patch: unknown): T {
  if (!isPlainObject(patch)) throw badRequest('Invalid JSON Patch');
  // RFC 7386: a target that is not an object merges as if it were empty.
  const result: JSONObject = isPlainObject(doc) ? clone(doc) : {};
  mergeInto(result, patch);
  return result as T;
}

/** The merge patch that turns `original` into `modified`: changed members, and null for removed ones. */
export function createMergePatch(original: JSONObject, modified: JSONObject): JSONObject {
  const patch: JSONObject = {};
  for (const [k, after] of Object.entries(modified)) {
    if (!Object.hasOwn(original, k)) {
      setOwn(patch, k, clone(after));
      continue;
    }
    const before = original[k];
    if (isPlainObject(before) && isPlainObject(after)) {
      const nested = createMergePatch(before, after);
      if (Object.keys(nested).length > 0) setOwn(patch, k, nested);
    } else if (!jsonEqual(before, after)) {
      setOwn(patch, k, clone(after));
    }
  }
  for (const k of Object.keys(original)) {
    if (!Object.hasOwn(modified, k)) setOwn(patch, k, null);
  }
  return patch;
}
