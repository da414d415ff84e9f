// Strategic merge patch for the core/v1 kinds the standalone server serves (kubectl sends it for them,
// and kube-apiserver accepts it for every built-in type). Their fields are maps and scalars, so the Go
// patch metadata that matters is ObjectMeta's: ownerReferences merge by uid, finalizers merge as a set.
// Directives: $patch (replace, delete, merge), $retainKeys, $setElementOrder/<list> (order only),
// $deleteFromPrimitiveList/<list>.
import { badRequest } from '../status.ts';
import { clone, deepEqual, isPlainObject } from '../registry/objects.ts';

type Json = unknown;
type Obj = Record<string, Json>;

/** Lists merged rather than replaced, by path: a merge key, or `set` for lists of scalars. */
const mergeLists: Record<string, string> = {
  'metadata.ownerReferences': 'uid',
  'metadata.finalizers': 'set',
};

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function mergeList(original: Json, patch: Json[], how: string): Json[] {
  const base = Array.isArray(original) ? [...original] : [];
  if (how === 'set') {
    for (const v of patch) if (!base.some((b) => deepEqual(b, v))) base.push(v);
    return base;
  }
  for (const item of patch) {
    if (!isPlainObject(item)) throw badRequest(`the strategic merge patch list item is not an object: ${JSON.stringify(item).slice(0, 100)}`);
    const i = base.findIndex((b) => isPlainObject(b) && b[how] === item[how]);
    if (item.$patch === 'delete') {
      if (i >= 0) base.splice(i, 1);
    } else if (i >= 0) {
      base[i] = mergeObject(base[i], item, '');
    } else {
      const { $patch: _p, ...rest } = item;
      base.push(rest);
    }
  }
  return base;
}

function mergeObject(original: Json, patch: Obj, path: string): Json {
  if (patch.$patch === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return rest;
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Obj = isPlainObject(original) ? clone(original) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys' || key.startsWith('$setElementOrder/')) continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(value)) out[field] = (out[field] as Json[]).filter((v) => !value.some((d) => deepEqual(d, v)));
      continue;
    }
    const p = join(path, key);
    if (value === null) delete out[key];
    else if (isPlainObject(value)) {
      const merged = mergeObject(out[key], value, p);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else if (Array.isArray(value) && mergeLists[p]) out[key] = mergeList(out[key], value, mergeLists[p]);
    else out[key] = value;
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[]);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

export function applyStrategicMergePatch(doc: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) throw badRequest('the body of a strategic merge patch must be a JSON object');
  return mergeObject(doc, patch, '');
}
