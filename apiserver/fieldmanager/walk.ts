// The two schema-guided walks ownership is computed from: the field set an applied configuration
// claims (ToFieldSet) and the added/removed/modified paths between two versions of an object (Compare).

import type { JSONSchemaProps } from '../../api/types.ts';
import { deepEqual } from '../registry/objects.ts';
import { emptySet, insert, type FieldSet, type PathElement } from './fieldset.ts';
import { fieldOf, isAtomicMap, isObject, itemElement, itemsOf, listKind, type Json, type ListKind } from './schema.ts';

export type Shape = { kind: 'leaf' } | { kind: 'map'; value: { [key: string]: Json } } | { kind: 'list'; value: Json[]; list: ListKind };

export function shapeOf(v: Json, s: JSONSchemaProps | undefined): Shape {
  if (Array.isArray(v)) {
    const list = listKind(s);
    return list === 'atomic' ? { kind: 'leaf' } : { kind: 'list', value: v, list };
  }
  if (isObject(v) && !isAtomicMap(s)) return { kind: 'map', value: v };
  return { kind: 'leaf' };
}

/** Each identified item of a granular list, in order; later duplicates of an identity are ignored. */
export function indexItems(
  items: Json[],
  s: JSONSchemaProps | undefined,
  list: ListKind,
): Map<PathElement, Json> {
  const out = new Map<PathElement, Json>();
  items.forEach((item, i) => {
    const pe = itemElement(s, list, item, i);
    if (!out.has(pe)) out.set(pe, item);
  });
  return out;
}

/**
 * The fields an applied configuration sets: every leaf, every list item, and every map entry that is
 * not a declared field. Declared fields with content are reached only through their children, which is
 * why an applied `spec.online` is recorded as `{"f:spec":{"f:online":{}}}` without `"."` on spec.
 */
export function toFieldSet(v: Json, s: JSONSchemaProps | undefined): FieldSet {
  const set = emptySet();
  const path: PathElement[] = [];
  const walk = (value: Json, schema: JSONSchemaProps | undefined) => {
    const shape = shapeOf(value, schema);
    if (shape.kind === 'leaf') {
      insert(set, path);
      return;
    }
    if (shape.kind === 'map') {
      const keys = Object.keys(shape.value);
      if (keys.length === 0) {
        insert(set, path);
        return;
      }
      for (const k of keys) {
        const cv = shape.value[k];
        if (cv === undefined) continue;
        const f = fieldOf(schema, k);
        path.push(`f:${k}`);
        walk(cv, f.schema);
        if (!f.declared) insert(set, path);
        path.pop();
      }
      return;
    }
    const items = itemsOf(schema);
    for (const [pe, item] of indexItems(shape.value, schema, shape.list)) {
      path.push(pe);
      walk(item, items);
      insert(set, path);
      path.pop();
    }
  };
  walk(v, s);
  // The root path is never a field.
  set.member = false;
  return set;
}

export interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}


/**
 * Paths added, removed and modified going from `lhs` to `rhs`. A container that appears or disappears
 * as a whole is recorded along with everything beneath it, which is how kube's Update entries get
 * `".":{}` on `f:spec`/`f:labels` when they are first set.
 */
export function compare(lhs: Json, rhs: Json, s: JSONSchemaProps | undefined): Comparison {
  const c: Comparison = { added: emptySet(), removed: emptySet(), modified: emptySet() };
  const path: PathElement[] = [];

  const subtree = (set: FieldSet, value: Json, schema: JSONSchemaProps | undefined, self: boolean) => {
    if (self) insert(set, path);
    const shape = shapeOf(value, schema);
    if (shape.kind === 'map') {
      for (const [k, cv] of Object.entries(shape.value)) {
        if (cv === undefined) continue;
        path.push(`f:${k}`);
        subtree(set, cv, fieldOf(schema, k).schema, true);
        path.pop();
      }
    } else if (shape.kind === 'list') {
      const items = itemsOf(schema);
      for (const [pe, item] of indexItems(shape.value, schema, shape.list)) {
        path.push(pe);
        subtree(set, item, items, true);
        path.pop();
      }
    }
  };

  const walk = (l: Json | undefined, r: Json | undefined, schema: JSONSchemaProps | undefined) => {
    if (l === undefined && r === undefined) return;
    if (l === undefined) return subtree(c.added, r as Json, schema, true);
    if (r === undefined) return subtree(c.removed, l, schema, true);
    const ls = shapeOf(l, schema);
    const rs = shapeOf(r, schema);
    // null stands for an empty container of whatever shape the other side has.
    const lm = ls.kind === 'map' ? ls.value : l === null && rs.kind === 'map' ? {} : undefined;
    const rm = rs.kind === 'map' ? rs.value : r === null && ls.kind === 'map' ? {} : undefined;
    if (lm && rm) {
      const lk = Object.keys(lm);
      const rk = Object.keys(rm);
      if (lk.length === 0 && rk.length === 0) {
        if (!deepEqual(l, r)) insert(c.modified, path);
        return;
      }
      for (const k of lk) {
        path.push(`f:${k}`);
        walk(lm[k], rm[k], fieldOf(schema, k).schema);
        path.pop();
      }
      for (const k of rk) {
        if (lm[k] !== undefined) continue;
        path.push(`f:${k}`);
        walk(undefined, rm[k], fieldOf(schema, k).schema);
        path.pop();
      }
      return;
    }
    const list = ls.kind === 'list' ? ls.list : rs.kind === 'list' ? rs.list : undefined;
    const ll = ls.kind === 'list' ? ls.value : l === null && list ? [] : undefined;
    const rl = rs.kind === 'list' ? rs.value : r === null && list ? [] : undefined;
    if (ll && rl && list) {
      if (ll.length === 0 && rl.length === 0) {
        if (!deepEqual(l, r)) insert(c.modified, path);
        return;
      }
      const items = itemsOf(schema);
      const li = indexItems(ll, schema, list);
      const ri = indexItems(rl, schema, list);
      for (const [pe, item] of li) {
        path.push(pe);
        walk(item, ri.get(pe), items);
        path.pop();
      }
      for (const [pe, item] of ri) {
        if (li.has(pe)) continue;
        path.push(pe);
        walk(undefined, item, items);
        path.pop();
      }
      return;
    }
    if (deepEqual(l, r)) return;
    insert(c.modified, path);
    // A container replaced by a scalar (or the reverse): its former contents are gone too.
    if (ls.kind !== 'leaf') subtree(c.removed, l, schema, false);
    if (rs.kind !== 'leaf') subtree(c.added, r, schema, false);
  };

  walk(lhs, rhs, s);
  for (const set of [c.added, c.removed, c.modified]) set.member = false;
  return c;
}
