// The field manager: records who owns which fields (metadata.managedFields) on every write, and
// implements server-side apply on top of that ownership, in the manner of structured-merge-diff.

import type { JSONSchemaProps, KubeObject, ManagedFieldsEntry, ObjectMeta } from '../../api/types.ts';
import { conflictError, type Conflict } from './conflict.ts';
import { difference, emptySet, intersection, isEmpty, members, union, withoutMembers, type FieldSet } from './fieldset.ts';
import { capUpdateManagers, decodeManagedFields, encodeManagedFields, managerId, type Manager, type Managers } from './managed.ts';
import { dropAppliedNulls, mergeApplied, prune } from './merge.ts';
import { managedMetadataFields, rootSchema, type Json, type JsonObject } from './schema.ts';
import { compare, toFieldSet } from './walk.ts';

export { conflictError, printManager, type Conflict } from './conflict.ts';
export { decodeManagedFields, encodeManagedFields, managerId } from './managed.ts';

export interface FieldManagerContext {
  /** The whole object's schema (apiVersion, kind, metadata, spec, status). */
  schema: JSONSchemaProps;
  /** The apiVersion of the object, recorded in each entry this write touches. */
  apiVersion: string;
  now: () => string;
  /**
   * Whether the kind has a status subresource (default true): then main-resource writes do not track
   * `status`, and status writes track nothing else, as kube's reset fields for CRDs arrange.
   */
  statusSubresource?: boolean;
}

export const beforeFirstApply = 'before-first-apply';

type Scope = 'main' | 'status';

interface Scoped {
  scope: Scope;
  schema: JSONSchemaProps;
  statusSubresource: boolean;
}

function scoped(ctx: FieldManagerContext, subresource: string | undefined): Scoped {
  const statusSubresource = ctx.statusSubresource ?? true;
  return {
    scope: subresource === 'status' && statusSubresource ? 'status' : 'main',
    schema: rootSchema(ctx.schema),
    statusSubresource,
  };
}

/**
 * `metadata` itself is never owned (kube's stripMeta); only its labels, annotations, finalizers and
 * ownerReferences are, and those are already all the projection keeps of it.
 */
const stripped = [['f:metadata']];

/** The part of an object whose fields the given scope tracks. Shallow: subtrees are shared. */
function project(obj: KubeObject, s: Scoped): JsonObject {
  if (s.scope === 'status') return obj.status === undefined ? {} : { status: obj.status as Json };
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata' || v === undefined) continue;
    if (k === 'status' && s.statusSubresource) continue;
    out[k] = v as Json;
  }
  const meta: JsonObject = {};
  const m = obj.metadata as Record<string, unknown> | undefined;
  for (const k of managedMetadataFields) if (m?.[k] !== undefined) meta[k] = m[k] as Json;
  out.metadata = meta;
  return out;
}

/** Puts a projection computed by `project` back over `base`, keeping everything the scope does not track. */
function unproject(base: KubeObject, proj: JsonObject, s: Scoped): KubeObject {
  if (s.scope === 'status') {
    const out: KubeObject = { ...base };
    if (proj.status === undefined) delete out.status;
    else out.status = proj.status;
    return out;
  }
  const metadata: Record<string, unknown> = { ...base.metadata };
  for (const k of managedMetadataFields) delete metadata[k];
  const projMeta = (proj.metadata ?? {}) as JsonObject;
  for (const k of managedMetadataFields) if (projMeta[k] !== undefined) metadata[k] = projMeta[k];
  const out: KubeObject = { apiVersion: base.apiVersion, kind: base.kind, metadata: metadata as ObjectMeta };
  for (const [k, v] of Object.entries(proj)) if (k !== 'metadata') out[k] = v;
  if (s.statusSubresource && base.status !== undefined) out.status = base.status;
  return out;
}

/**
 * The ownership a write starts from. Clients that do not know managedFields send none or `[]`, which
 * keeps the stored ones; a list of entries without managers (`[{}]`) is kube's way to reset them.
 */
function startingManagers(oldObj: KubeObject | undefined, newObj: KubeObject): Managers {
  const sent = newObj.metadata?.managedFields;
  if (Array.isArray(sent) && sent.length > 0) {
    const decoded = decodeManagedFields(sent);
    if (decoded.size > 0 || sent.every((e) => !e || typeof e !== 'object' || !e.manager)) return decoded;
  }
  return decodeManagedFields(oldObj?.metadata?.managedFields);
}

/** Takes `taken` and `removed` away from every manager but `except`. */
function disown(managers: Managers, taken: FieldSet, removed: FieldSet, except?: string): Managers {
  const out: Managers = new Map();
  for (const [id, m] of managers) {
    out.set(id, id === except ? m : { ...m, fields: difference(difference(m.fields, taken), removed) });
  }
  return out;
}

/**
 * Records an Update-operation write (create, PUT, JSON/merge patch, /status write): fields `manager`
 * added or changed become its own and are taken from every other manager; fields removed from the object
 * are removed from every set. `subresource` is 'status' for /status writes. Returns the new managedFields.
 */
export function updateManagedFields(
  ctx: FieldManagerContext,
  oldObj: KubeObject | undefined,
  newObj: KubeObject,
  manager: string,
  subresource?: string,
): ManagedFieldsEntry[] {
  const s = scoped(ctx, subresource);
  const managers = startingManagers(oldObj, newObj);
  // kube stops tracking an existing object whose managedFields were reset (skipNonAppliedManager);
  // the next apply hands its fields to `before-first-apply`.
  if (oldObj && managers.size === 0) return [];
  const c = compare(oldObj ? project(oldObj, s) : {}, project(newObj, s), s.schema);
  const changed = withoutMembers(union(c.modified, c.added), stripped);
  const next = disown(managers, changed, c.removed);
  // Only a write that changed something moves the entry's time (kube's managedFieldsUpdater).
  if (!isEmpty(changed)) {
    const id = managerId({ manager, operation: 'Update', apiVersion: ctx.apiVersion, subresource });
    const prev = next.get(id);
    const entry: Manager = {
      manager,
      operation: 'Update',
      apiVersion: ctx.apiVersion,
      time: ctx.now(),
      fields: union(prev?.fields ?? emptySet(), changed),
    };
    if (subresource) entry.subresource = subresource;
    next.set(id, entry);
  }
  return encodeManagedFields(capUpdateManagers(next));
}

export interface ApplyOptions {
  force: boolean;
  subresource?: string;
}

/**
 * Server-side apply: `applied` is the manager's whole intent. Returns the merged object with its new
 * managedFields, or throws a 409 Conflict listing the fields other managers own with different values
 * (unless `force`, which takes them over). With no live object the result is the applied object.
 */
export function apply(
  ctx: FieldManagerContext,
  live: KubeObject | undefined,
  applied: KubeObject,
  manager: string,
  opts: ApplyOptions,
): KubeObject {
  const s = scoped(ctx, opts.subresource);
  const managers = live ? decodeManagedFields(live.metadata?.managedFields) : new Map<string, Manager>();
  const id = managerId({ manager, operation: 'Apply', apiVersion: ctx.apiVersion, subresource: opts.subresource });
  const previous = managers.get(id);

  const liveProj = live ? project(live, s) : {};
  if (live && managers.size === 0) {
    // Fields set before anyone tracked ownership belong to a stand-in Update manager, so that the first
    // apply conflicts with them instead of silently overwriting them.
    const fields = withoutMembers(compare({}, liveProj, s.schema).added, stripped);
    const m: Manager = { manager: beforeFirstApply, operation: 'Update', apiVersion: ctx.apiVersion, fields };
    if (opts.subresource) m.subresource = opts.subresource;
    managers.set(managerId(m), m);
  }
  const appliedProj = project(applied, s);
  const appliedSet = withoutMembers(toFieldSet(appliedProj, s.schema), stripped);
  let merged = mergeApplied(liveProj, appliedProj, s.schema) as Json;

  // What the applier owned and no longer applies goes, unless someone (the applier included) still
  // owns it or something beneath it.
  if (previous) {
    let keep = appliedSet;
    for (const [oid, m] of managers) if (oid !== id) keep = union(keep, m.fields);
    merged = prune(merged, difference(previous.fields, keep), keep, s.schema) ?? {};
  }

  const c = compare(liveProj, merged, s.schema);
  const changed = withoutMembers(union(c.modified, c.added), stripped);
  const conflicts: Conflict[] = [];
  for (const [oid, m] of managers) {
    if (oid === id) continue;
    const overlap = intersection(m.fields, changed);
    if (isEmpty(overlap)) continue;
    for (const path of members(overlap)) conflicts.push({ id: oid, owner: m, path });
  }
  if (conflicts.length > 0 && !opts.force) throw conflictError(conflicts);

  const next = disown(managers, changed, c.removed, id);
  const objectChanged = !isEmpty(changed) || !isEmpty(c.removed);
  const entry: Manager = {
    manager,
    operation: 'Apply',
    apiVersion: ctx.apiVersion,
    time: objectChanged || !previous?.time ? ctx.now() : previous.time,
    fields: appliedSet,
  };
  if (opts.subresource) entry.subresource = opts.subresource;
  next.set(id, entry);

  merged = dropAppliedNulls(merged, appliedProj, s.schema);
  const base: KubeObject = live ?? applied;
  const out = unproject(base, merged as JsonObject, s);
  out.metadata = { ...out.metadata, managedFields: encodeManagedFields(capUpdateManagers(next)) };
  return out;
}
