// Building the object an apply produces: the applied configuration merged over the live object, then
// the applier's abandoned fields pruned. Both are copy-on-write: untouched subtrees of the live object are
// shared with the result rather than cloned.

import type { JSONSchemaProps } from '../../api/types.ts';
import { child, isEmpty, type FieldSet, type PathElement } from './fieldset.ts';
import { fieldOf, isNullable, isObject, itemsOf, type Json, type JsonObject, type ListKind } from './schema.ts';
import { indexItems, shapeOf } from './walk.ts';

/**
 * Merges `applied` into `live`: maps recursively, set and map lists by item identity, everything else
 * (scalars, atomic lists and maps) replaced by the applied value. Applied nulls are kept so that the
 * ownership comparison sees the change; `dropAppliedNulls` removes them afterwards.
 */
export function mergeApplied(live: Json | undefined, applied: Json | undefined, s: JSONSchemaProps | undefined): Json | undefined {
  if (applied === undefined) return live;
  const shape = shapeOf(applied, s);
  if (shape.kind === 'map' && (live === undefined || live === null || isObject(live))) {
    const out: JsonObject = { ...(live ?? {}) };
    for (const [k, rv] of Object.entries(shape.value)) {
      if (rv === undefined) continue;
      out[k] = mergeApplied(out[k], rv, fieldOf(s, k).schema) as Json;
    }
    return out;
  }
  if (shape.kind === 'list' && (live === undefined || live === null || Array.isArray(live))) {
    return mergeList(live ?? [], shape.value, s, shape.list);
  }
  return applied;
}

/**
 * Item order follows structured-merge-diff: live-only items stay where they were, applied items come in
 * the applied order, and a shared item is emitted where the applied list puts it.
 */
function mergeList(live: Json[], applied: Json[], s: JSONSchemaProps | undefined, kind: ListKind): Json[] {
  const items = itemsOf(s);
  const l = indexItems(live, s, kind);
  const r = indexItems(applied, s, kind);
  const lOrder = [...l.keys()];
  const rOrder = [...r.keys()];
  const shared = rOrder.filter((pe) => l.has(pe));
  let nextShared = 0;
  const out: Json[] = [];
  const emit = (pe: PathElement) => out.push(mergeApplied(l.get(pe), r.get(pe), items) as Json);

  let li = 0;
  let ri = 0;
  while (li < lOrder.length || ri < rOrder.length) {
    if (li < lOrder.length && ri < rOrder.length) {
      const pe = lOrder[li];
      if (pe === rOrder[ri]) {
        emit(pe);
        li++;
        ri++;
        nextShared++;
        continue;
      }
      // A shared item the applied list places later: wait for it there.
      if (r.has(pe) && nextShared < shared.length && shared[nextShared] !== pe) {
        li++;
        continue;
      }
    }
    if (li < lOrder.length && !r.has(lOrder[li])) {
      out.push(l.get(lOrder[li]) as Json);
      li++;
      continue;
    }
    if (ri < rOrder.length) {
      const pe = rOrder[ri];
      emit(pe);
      ri++;
      if (nextShared < shared.length && shared[nextShared] === pe) nextShared++;
      continue;
    }
    // Only shared live items already emitted remain.
    li++;
  }
  return out;
}

/**
 * Removes from `value` each member of `drop` that nobody in `keep` owns, neither the path itself nor
 * anything beneath it. Items whose descendants someone still owns are kept and pruned inside. A map or
 * list emptied this way is removed too (undefined), as structured-merge-diff nulls it and kube then
 * prunes the null.
 */
export function prune(
  value: Json,
  drop: FieldSet,
  keep: FieldSet | undefined,
  s: JSONSchemaProps | undefined,
): Json | undefined {
  if (drop.children.size === 0) return value;
  const shape = shapeOf(value, s);
  if (shape.kind === 'map') {
    let out: JsonObject | undefined;
    for (const [pe, dc] of drop.children) {
      if (!pe.startsWith('f:')) continue;
      const k = pe.slice(2);
      const cv = shape.value[k];
      if (cv === undefined) continue;
      const kc = child(keep, pe);
      if (dc.member && isEmpty(kc)) {
        out ??= { ...shape.value };
        delete out[k];
        continue;
      }
      const nv = prune(cv, dc, kc, fieldOf(s, k).schema);
      if (nv !== cv) {
        out ??= { ...shape.value };
        if (nv === undefined) delete out[k];
        else out[k] = nv;
      }
    }
    if (!out) return value;
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (shape.kind === 'list') {
    const items = itemsOf(s);
    const index = indexItems(shape.value, s, shape.list);
    let changed = false;
    const out: Json[] = [];
    for (const [pe, item] of index) {
      const dc = drop.children.get(pe);
      if (!dc) {
        out.push(item);
        continue;
      }
      const kc = child(keep, pe);
      if (dc.member && isEmpty(kc)) {
        changed = true;
        continue;
      }
      const nv = prune(item, dc, kc, items);
      if (nv !== item) changed = true;
      if (nv !== undefined) out.push(nv);
    }
    if (!changed) return value;
    return out.length === 0 ? undefined : out;
  }
  return value;
}

/** Drops fields the applied configuration set to null where the schema does not allow null. */
export function dropAppliedNulls(merged: Json, applied: Json, s: JSONSchemaProps | undefined): Json {
  if (!isObject(applied) || !isObject(merged)) return merged;
  let out: JsonObject | undefined;
  for (const [k, av] of Object.entries(applied)) {
    const cs = fieldOf(s, k).schema;
    if (av === null && !isNullable(cs) && k in merged) {
      out ??= { ...merged };
      delete out[k];
    } else if (isObject(av) && merged[k] !== undefined) {
      const nv = dropAppliedNulls(merged[k], av, cs);
      if (nv !== merged[k]) {
        out ??= { ...merged };
        out[k] = nv;
      }
    }
  }
  return out ?? merged;
}
