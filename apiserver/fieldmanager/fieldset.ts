// A set of field paths kept as a trie whose edge labels are FieldsV1 keys (`f:spec`, `k:{"type":"Ready"}`,
// `v:"x"`, `i:0`). Using the wire keys as labels makes FieldsV1 encoding a plain tree walk and keeps
// list-entry identities byte-for-byte stable between what we read back from storage and what we compute.
//
// A node is a member when the path ending there is itself in the set; children hold longer paths.
// Sets returned by the operations below are treated as immutable and may share subtrees with their inputs.

import type { FieldsV1 } from '../../api/types.ts';

export interface FieldSet {
  member: boolean;
  children: Map<string, FieldSet>;
}

export type PathElement = string;
export type FieldPath = readonly PathElement[];

export const emptySet = (): FieldSet => ({ member: false, children: new Map() });

export const isEmpty = (s: FieldSet | undefined): boolean => !s || (!s.member && s.children.size === 0);

/** Adds `path` to a set under construction (mutates; only for sets not yet shared). */
export function insert(set: FieldSet, path: FieldPath): void {
  let node = set;
  for (const pe of path) {
    let next = node.children.get(pe);
    if (!next) {
      next = emptySet();
      node.children.set(pe, next);
    }
    node = next;
  }
  node.member = true;
}

export function has(set: FieldSet, path: FieldPath): boolean {
  let node: FieldSet | undefined = set;
  for (const pe of path) {
    node = node.children.get(pe);
    if (!node) return false;
  }
  return node.member;
}

/** The subtree at `pe`, or undefined. */
export const child = (set: FieldSet | undefined, pe: PathElement): FieldSet | undefined => set?.children.get(pe);

export function union(a: FieldSet, b: FieldSet): FieldSet {
  if (isEmpty(a)) return b;
  if (isEmpty(b)) return a;
  const children = new Map(a.children);
  for (const [pe, bc] of b.children) {
    const ac = children.get(pe);
    children.set(pe, ac ? union(ac, bc) : bc);
  }
  return { member: a.member || b.member, children };
}

export function difference(a: FieldSet, b: FieldSet): FieldSet {
  if (isEmpty(a) || isEmpty(b)) return a;
  const children = new Map<string, FieldSet>();
  for (const [pe, ac] of a.children) {
    const bc = b.children.get(pe);
    const d = bc ? difference(ac, bc) : ac;
    if (!isEmpty(d)) children.set(pe, d);
  }
  return { member: a.member && !b.member, children };
}

export function intersection(a: FieldSet, b: FieldSet): FieldSet {
  const children = new Map<string, FieldSet>();
  if (isEmpty(a) || isEmpty(b)) return emptySet();
  const [small, large] = a.children.size <= b.children.size ? [a, b] : [b, a];
  for (const [pe, sc] of small.children) {
    const lc = large.children.get(pe);
    if (!lc) continue;
    const i = intersection(sc, lc);
    if (!isEmpty(i)) children.set(pe, i);
  }
  return { member: a.member && b.member, children };
}

/** The set without the listed top-level-relative member paths (only those exact members, as kube's stripMeta). */
export function withoutMembers(set: FieldSet, paths: readonly FieldPath[]): FieldSet {
  const strip = emptySet();
  for (const p of paths) insert(strip, p);
  return difference(set, strip);
}

/** Member paths in a stable order: at each level `f:` before `k:` before `v:` before `i:`, then by key. */
export function members(set: FieldSet): PathElement[][] {
  const out: PathElement[][] = [];
  const walk = (node: FieldSet, prefix: PathElement[]) => {
    for (const pe of sortedKeys(node)) {
      const c = node.children.get(pe)!;
      const path = [...prefix, pe];
      if (c.member) out.push(path);
      walk(c, path);
    }
  };
  walk(set, []);
  return out;
}

// A switch, not an object lookup: this runs inside the sort comparator of every managedFields encode.
function kindRank(pe: string): number {
  switch (pe.charCodeAt(0)) {
    case 0x66: // f
      return 0;
    case 0x6b: // k
      return 1;
    case 0x76: // v
      return 2;
    case 0x69: // i
      return 3;
    default:
      return 4;
  }
}

function sortedKeys(node: FieldSet): string[] {
  return [...node.children.keys()].sort((x, y) => kindRank(x) - kindRank(y) || (x < y ? -1 : x > y ? 1 : 0));
}

export function toFieldsV1(set: FieldSet): FieldsV1 {
  return fillFieldsV1({}, set);
}

function fillFieldsV1(out: FieldsV1, set: FieldSet): FieldsV1 {
  for (const pe of sortedKeys(set)) {
    const c = set.children.get(pe)!;
    if (c.children.size === 0) out[pe] = {};
    else out[pe] = fillFieldsV1(c.member ? { '.': {} } : {}, c);
  }
  return out;
}

export function fromFieldsV1(f: FieldsV1 | undefined): FieldSet {
  const set = emptySet();
  if (!f || typeof f !== 'object') return set;
  for (const [pe, sub] of Object.entries(f)) {
    if (pe === '.') {
      set.member = true;
      continue;
    }
    const isLeaf = !sub || typeof sub !== 'object' || Object.keys(sub).length === 0;
    const c = isLeaf ? { member: true, children: new Map() } : fromFieldsV1(sub);
    if (!isEmpty(c)) set.children.set(pe, c);
  }
  return set;
}

/** A path as fieldpath.Path.String() prints it: `.spec.online`, `.status.conditions[type="Ready"]`, `[="x"]`. */
export function pathString(path: FieldPath): string {
  return path.map(elementString).join('');
}

function elementString(pe: PathElement): string {
  const body = pe.slice(2);
  switch (pe.slice(0, 2)) {
    case 'f:':
      return `.${body}`;
    case 'k:': {
      try {
        const key = JSON.parse(body) as Record<string, unknown>;
        return `[${Object.entries(key)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',')}]`;
      } catch {
        return `[${body}]`;
      }
    }
    case 'v:':
      return `[=${body}]`;
    case 'i:':
      return `[${body}]`;
    default:
      return pe;
  }
}
