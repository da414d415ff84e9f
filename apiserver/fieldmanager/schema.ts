// How the field manager sees a value through its JSONSchemaProps: which object keys are declared
// fields (struct-like) versus map entries, whether a container is atomic, and how list items are
// identified. A missing schema means "deduced": objects granular, lists atomic, as structured-merge-diff
// does for x-kubernetes-preserve-unknown-fields subtrees.

import type { JSONSchemaProps } from '../../api/types.ts';
import type { PathElement } from './fieldset.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Alternatives that may carry the properties of a schema node (structural schemas put them at the top). */
function alternatives(s: JSONSchemaProps): JSONSchemaProps[] {
  // An array, not a generator: this runs for every field of every write, and most nodes have no composition.
  if (!s.allOf && !s.anyOf && !s.oneOf) return [s];
  const out = [s];
  for (const list of [s.allOf, s.anyOf, s.oneOf]) if (list) for (const a of list) out.push(...alternatives(a));
  return out;
}

export interface FieldSchema {
  schema: JSONSchemaProps | undefined;
  /** A field named in `properties`: its own path is not a member of an applied set when it has content. */
  declared: boolean;
}

export function fieldOf(s: JSONSchemaProps | undefined, key: string): FieldSchema {
  if (!s) return { schema: undefined, declared: false };
  for (const a of alternatives(s)) {
    const p = a.properties?.[key];
    if (p) return { schema: p, declared: true };
  }
  for (const a of alternatives(s)) {
    if (typeof a.additionalProperties === 'object') return { schema: a.additionalProperties, declared: false };
  }
  return { schema: undefined, declared: false };
}

export function itemsOf(s: JSONSchemaProps | undefined): JSONSchemaProps | undefined {
  if (!s) return undefined;
  for (const a of alternatives(s)) if (a.items) return a.items;
  return undefined;
}

function extension<K extends keyof JSONSchemaProps>(s: JSONSchemaProps | undefined, k: K): JSONSchemaProps[K] {
  if (!s) return undefined;
  for (const a of alternatives(s)) if (a[k] !== undefined) return a[k];
  return undefined;
}

export const isAtomicMap = (s: JSONSchemaProps | undefined): boolean => extension(s, 'x-kubernetes-map-type') === 'atomic';

export type ListKind = 'atomic' | 'set' | 'map';

export function listKind(s: JSONSchemaProps | undefined): ListKind {
  const t = extension(s, 'x-kubernetes-list-type');
  if (t === 'set') return 'set';
  if (t === 'map' && (extension(s, 'x-kubernetes-list-map-keys')?.length ?? 0) > 0) return 'map';
  return 'atomic';
}

export const isNullable = (s: JSONSchemaProps | undefined): boolean => extension(s, 'nullable') === true;

/** The identity of a list item in a set or map list; undefined when it cannot be identified. */
export function itemElement(s: JSONSchemaProps | undefined, kind: ListKind, item: Json, index: number): PathElement {
  if (kind === 'set') return `v:${JSON.stringify(item)}`;
  if (kind === 'map' && isObject(item)) {
    const keys = [...(extension(s, 'x-kubernetes-list-map-keys') ?? [])].sort();
    const key: JsonObject = {};
    let any = false;
    for (const k of keys) {
      if (item[k] !== undefined) {
        key[k] = item[k];
        any = true;
      }
    }
    if (any) return `k:${JSON.stringify(key)}`;
  }
  return `i:${index}`;
}

/** What kube's ObjectMeta schema says about the metadata fields a manager can own. */
const stringMap: JSONSchemaProps = { type: 'object', additionalProperties: { type: 'string' } };
export const metadataSchema: JSONSchemaProps = {
  type: 'object',
  properties: {
    labels: stringMap,
    annotations: stringMap,
    finalizers: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
    ownerReferences: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['uid'],
      items: {
        type: 'object',
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          name: { type: 'string' },
          uid: { type: 'string' },
          controller: { type: 'boolean' },
          blockOwnerDeletion: { type: 'boolean' },
        },
      },
    },
  },
};

export const managedMetadataFields = ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const;

/** The object's schema with metadata described as ObjectMeta, as kube substitutes it for CRDs. */
export function rootSchema(s: JSONSchemaProps): JSONSchemaProps {
  return { ...s, type: 'object', properties: { ...s.properties, metadata: metadataSchema } };
}
