// metadata.managedFields as a map from manager identity to owned field set, and back.

import type { ManagedFieldsEntry } from '../../api/types.ts';
import { fromFieldsV1, isEmpty, toFieldsV1, union, type FieldSet } from './fieldset.ts';

export interface Manager {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  subresource?: string;
  fields: FieldSet;
}

export type Managers = Map<string, Manager>;

/**
 * The identity kube keys ownership by (BuildManagerIdentifier): manager, operation and subresource, plus
 * the apiVersion for Update only, so that an applier keeps one entry whichever version it applies with.
 */
export function managerId(m: Pick<Manager, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  const id: Record<string, string> = { manager: m.manager, operation: m.operation };
  if (m.operation === 'Update' && m.apiVersion) id.apiVersion = m.apiVersion;
  if (m.subresource) id.subresource = m.subresource;
  return JSON.stringify(id);
}

export function decodeManagedFields(entries: readonly ManagedFieldsEntry[] | undefined): Managers {
  const out: Managers = new Map();
  for (const e of entries ?? []) {
    if (!e || typeof e !== 'object' || typeof e.manager !== 'string') continue;
    const m: Manager = {
      manager: e.manager,
      operation: e.operation === 'Apply' ? 'Apply' : 'Update',
      apiVersion: e.apiVersion ?? '',
      fields: fromFieldsV1(e.fieldsV1),
    };
    if (e.time) m.time = e.time;
    if (e.subresource) m.subresource = e.subresource;
    const id = managerId(m);
    const prev = out.get(id);
    out.set(id, prev ? { ...m, fields: union(prev.fields, m.fields) } : m);
  }
  return out;
}

const seconds = (t: string | undefined): number => {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
};

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** kube's order (sortEncodedManagedFields): Apply before Update, then by time to the second, manager, version, subresource. */
function compareManagers(p: Manager, q: Manager): number {
  return (
    cmp(p.operation, q.operation) ||
    seconds(p.time) - seconds(q.time) ||
    cmp(p.manager, q.manager) ||
    cmp(p.apiVersion, q.apiVersion) ||
    cmp(p.subresource ?? '', q.subresource ?? '')
  );
}

/** Entries in kube's wire shape and order; managers that own nothing are dropped. */
export function encodeManagedFields(managers: Managers): ManagedFieldsEntry[] {
  return [...managers.values()]
    .filter((m) => !isEmpty(m.fields))
    .sort(compareManagers)
    .map((m) => {
      const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation, apiVersion: m.apiVersion };
      if (m.time) e.time = m.time;
      e.fieldsType = 'FieldsV1';
      e.fieldsV1 = toFieldsV1(m.fields);
      if (m.subresource) e.subresource = m.subresource;
      return e;
    });
}

export const maxUpdateManagers = 10;
export const ancientChangesManager = 'ancient-changes';

/**
 * Keeps at most `max` Update entries by folding the oldest into one `ancient-changes` entry per
 * apiVersion, as kube's capManagersManager does, so controllers with changing names cannot grow
 * managedFields without bound.
 */
export function capUpdateManagers(managers: Managers, max = maxUpdateManagers): Managers {
  const updaters = [...managers.entries()].filter(([, m]) => m.operation === 'Update' && !isEmpty(m.fields));
  if (updaters.length <= max) return managers;
  updaters.sort(([ia, a], [ib, b]) => seconds(a.time) - seconds(b.time) || cmp(ia, ib));
  const out: Managers = new Map(managers);
  const firstOfVersion = new Map<string, string>();
  let count = updaters.length;
  for (const [id, m] of updaters) {
    if (count <= max) break;
    const bucket: Manager = { manager: ancientChangesManager, operation: 'Update', apiVersion: m.apiVersion, fields: m.fields };
    const bucketId = managerId(bucket);
    const first = firstOfVersion.get(m.apiVersion);
    if (first === undefined) {
      firstOfVersion.set(m.apiVersion, id);
      continue;
    }
    if (!out.has(bucketId)) {
      const f = out.get(first)!;
      out.delete(first);
      out.set(bucketId, { ...bucket, fields: f.fields, time: f.time });
    }
    const b = out.get(bucketId)!;
    out.set(bucketId, { ...b, fields: union(b.fields, m.fields), time: m.time });
    out.delete(id);
    count--;
  }
  return out;
}
