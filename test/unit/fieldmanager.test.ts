import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchemaProps, KubeObject } from '../../api/types.ts';
import { StatusError } from '../../apiserver/status.ts';
import { apply, updateManagedFields, type FieldManagerContext } from '../../apiserver/fieldmanager/index.ts';
import { difference, fromFieldsV1, insert, emptySet, pathString, toFieldsV1, union } from '../../apiserver/fieldmanager/fieldset.ts';
import { compare, toFieldSet } from '../../apiserver/fieldmanager/walk.ts';
import { mergeApplied } from '../../apiserver/fieldmanager/merge.ts';

const str: JSONSchemaProps = { type: 'string' };
const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    apiVersion: str,
    kind: str,
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      properties: {
        online: { type: 'boolean' },
        description: str,
        image: { type: 'object', properties: { url: str, checksum: str } },
        bmc: { type: 'object', 'x-kubernetes-map-type': 'atomic', properties: { address: str, credentialsName: str } },
        tags: { type: 'array', items: str, 'x-kubernetes-list-type': 'set' },
        args: { type: 'array', items: str },
        taints: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['key', 'effect'],
          items: { type: 'object', properties: { key: str, effect: str, value: str } },
        },
        extra: { type: 'object', additionalProperties: str },
        blob: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
    status: {
      type: 'object',
      properties: {
        operationalStatus: str,
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          items: { type: 'object', properties: { type: str, status: str, reason: str } },
        },
      },
    },
  },
};

const API = 'metal3.io/v1alpha1';

function context(): FieldManagerContext & { tick: () => void } {
  let t = Date.parse('2024-01-01T00:00:00Z');
  return {
    schema,
    apiVersion: API,
    now: () => new Date(t).toISOString().replace('.000Z', 'Z'),
    tick: () => {
      t += 1000;
    },
  };
}

function host(spec: Record<string, unknown>, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: API,
    kind: 'BareMetalHost',
    metadata: { name: 'h1', namespace: 'ns', uid: 'u1', resourceVersion: '7', generation: 1, ...(extra.metadata ?? {}) },
    spec,
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
  };
}

const entry = (obj: KubeObject, manager: string, operation = 'Apply') =>
  obj.metadata.managedFields?.find((e) => e.manager === manager && e.operation === operation);

function conflictOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError);
    return e;
  }
  assert.fail('expected a conflict');
}

test('an Update on create owns every field, with "." on containers that appeared', () => {
  const ctx = context();
  const obj = host({ online: true, image: { url: 'http://i' } }, { metadata: { labels: { a: '1' } } });
  const mf = updateManagedFields(ctx, undefined, obj, 'kubectl-create');
  assert.deepEqual(mf, [
    {
      manager: 'kubectl-create',
      operation: 'Update',
      apiVersion: API,
      time: '2024-01-01T00:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } },
        'f:spec': { '.': {}, 'f:image': { '.': {}, 'f:url': {} }, 'f:online': {} },
      },
    },
  ]);
});

test('a change by another manager moves only the changed field', () => {
  const ctx = context();
  const created = host({ online: true, description: 'x' });
  created.metadata.managedFields = updateManagedFields(ctx, undefined, created, 'creator');
  ctx.tick();
  const changed = host({ online: false, description: 'x' }, { metadata: { managedFields: created.metadata.managedFields } });
  const mf = updateManagedFields(ctx, created, changed, 'editor');
  assert.equal(mf.length, 2);
  assert.deepEqual(mf[0].fieldsV1, { 'f:spec': { '.': {}, 'f:description': {} } });
  assert.equal(mf[0].manager, 'creator');
  assert.equal(mf[0].time, '2024-01-01T00:00:00Z');
  assert.deepEqual(mf[1].fieldsV1, { 'f:spec': { 'f:online': {} } });
  assert.equal(mf[1].manager, 'editor');
  assert.equal(mf[1].time, '2024-01-01T00:00:01Z');
});

test('a field removed from the object leaves every set, and emptied entries are dropped', () => {
  const ctx = context();
  const a = host({ online: true });
  a.metadata.managedFields = updateManagedFields(ctx, undefined, a, 'creator');
  const b = host({ description: 'd' }, { metadata: { managedFields: a.metadata.managedFields } });
  const mf = updateManagedFields(ctx, a, b, 'editor');
  assert.deepEqual(
    mf.map((e) => [e.manager, e.fieldsV1]),
    [
      ['creator', { 'f:spec': {} }],
      ['editor', { 'f:spec': { 'f:description': {} } }],
    ],
  );
  const c = host({}, { metadata: { managedFields: mf } });
  delete c.spec;
  assert.deepEqual(updateManagedFields(ctx, b, c, 'x'), []);
});

test('a write that changes nothing keeps the entries and their times', () => {
  const ctx = context();
  const a = host({ online: true });
  a.metadata.managedFields = updateManagedFields(ctx, undefined, a, 'creator');
  ctx.tick();
  assert.deepEqual(updateManagedFields(ctx, a, { ...a }, 'other'), a.metadata.managedFields);
});

test('managedFields: [] in the body keeps the stored ones, [{}] resets them', () => {
  const ctx = context();
  const a = host({ online: true });
  a.metadata.managedFields = updateManagedFields(ctx, undefined, a, 'creator');
  const keep = host({ online: true }, { metadata: { managedFields: [] } });
  assert.deepEqual(updateManagedFields(ctx, a, keep, 'x'), a.metadata.managedFields);
  const reset = host({ online: true }, { metadata: { managedFields: [{}] } });
  assert.deepEqual(updateManagedFields(ctx, a, reset, 'x'), []);
});

test('apply creates the object and records an Apply entry without "." on declared fields', () => {
  const ctx = context();
  const applied = host({ online: true, bmc: { address: 'ipmi://x' } }, { metadata: { labels: { a: '1' } } });
  const out = apply(ctx, undefined, applied, 'kubectl', { force: false });
  assert.deepEqual(out.spec, applied.spec);
  assert.equal(out.metadata.name, 'h1');
  assert.deepEqual(out.metadata.managedFields, [
    {
      manager: 'kubectl',
      operation: 'Apply',
      apiVersion: API,
      time: '2024-01-01T00:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:labels': { 'f:a': {} } }, 'f:spec': { 'f:bmc': {}, 'f:online': {} } },
    },
  ]);
});

test('the applied object\'s own managedFields are ignored', () => {
  const ctx = context();
  const applied = host({ online: true }, { metadata: { managedFields: [{ manager: 'forged', operation: 'Update', fieldsV1: { 'f:spec': {} } }] } });
  const out = apply(ctx, undefined, applied, 'kubectl', { force: false });
  assert.deepEqual(out.metadata.managedFields?.map((e) => e.manager), ['kubectl']);
});

test('re-applying without a field removes it; fields of other managers stay', () => {
  const ctx = context();
  let live = apply(ctx, undefined, host({ online: true, description: 'd', tags: ['a', 'b'] }), 'kubectl', { force: false });
  const edited = structuredClone(live);
  (edited.spec as Record<string, unknown>).extra = { k: 'v' };
  edited.metadata.managedFields = updateManagedFields(ctx, live, edited, 'editor');
  live = edited;
  ctx.tick();
  const out = apply(ctx, live, host({ online: true, tags: ['a'] }), 'kubectl', { force: false });
  assert.deepEqual(out.spec, { online: true, tags: ['a'], extra: { k: 'v' } });
  assert.deepEqual(entry(out, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:online': {}, 'f:tags': { 'v:"a"': {} } } });
  assert.equal(entry(out, 'kubectl')?.time, '2024-01-01T00:00:01Z');
  assert.ok(entry(out, 'editor', 'Update'));
  // The live object passed in is not mutated.
  assert.equal((live.spec as Record<string, unknown>).description, 'd');
});

test('a dropped field that another manager also owns is kept', () => {
  const ctx = context();
  const first = apply(ctx, undefined, host({ online: true, description: 'd' }), 'a', { force: false });
  const second = apply(ctx, first, host({ description: 'd' }), 'b', { force: false });
  assert.deepEqual(entry(second, 'b')?.fieldsV1, { 'f:spec': { 'f:description': {} } });
  assert.deepEqual(entry(second, 'a')?.fieldsV1, { 'f:spec': { 'f:description': {}, 'f:online': {} } });
  const third = apply(ctx, second, host({ online: true }), 'a', { force: false });
  assert.deepEqual(third.spec, { online: true, description: 'd' });
});

test('conflict with another manager: 409 with kube\'s message and causes', () => {
  const ctx = context();
  const created = host({ online: true, description: 'd' });
  created.metadata.managedFields = updateManagedFields(ctx, undefined, created, 'kubectl-client-side-apply');

  const one = conflictOf(() => apply(ctx, created, host({ online: false }), 'kubectl', { force: false }));
  assert.equal(one.code, 409);
  assert.equal(one.reason, 'Conflict');
  assert.equal(
    one.message,
    'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using metal3.io/v1alpha1: .spec.online',
  );
  assert.deepEqual(one.details, {
    causes: [
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using metal3.io/v1alpha1', field: '.spec.online' },
    ],
  });

  const two = conflictOf(() => apply(ctx, created, host({ online: false, description: 'e' }), 'kubectl', { force: false }));
  assert.equal(
    two.message,
    'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using metal3.io/v1alpha1:\n- .spec.description\n- .spec.online',
  );
  assert.equal(two.details?.causes?.length, 2);
  assert.equal(two.toStatus().code, 409);
});

test('conflicts with an applier name it without a version, and group lines by manager', () => {
  const ctx = context();
  const a = apply(ctx, undefined, host({ online: true }), 'alpha', { force: false });
  const b = apply(ctx, a, host({ description: 'x' }), 'beta', { force: false });
  const err = conflictOf(() => apply(ctx, b, host({ online: false, description: 'y' }), 'gamma', { force: false }));
  assert.equal(
    err.message,
    'Apply failed with 2 conflicts: conflicts with "alpha":\n- .spec.online\nconflicts with "beta":\n- .spec.description',
  );
});

test('force takes ownership from the other manager', () => {
  const ctx = context();
  const created = host({ online: true, description: 'd' });
  created.metadata.managedFields = updateManagedFields(ctx, undefined, created, 'creator');
  const out = apply(ctx, created, host({ online: false }), 'kubectl', { force: true });
  assert.equal((out.spec as Record<string, unknown>).online, false);
  assert.deepEqual(entry(out, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:online': {} } });
  assert.deepEqual(entry(out, 'creator', 'Update')?.fieldsV1, { 'f:spec': { '.': {}, 'f:description': {} } });
});

test('applying an equal value shares ownership without conflict', () => {
  const ctx = context();
  const created = host({ online: true });
  created.metadata.managedFields = updateManagedFields(ctx, undefined, created, 'creator');
  const out = apply(ctx, created, host({ online: true }), 'kubectl', { force: false });
  assert.deepEqual(entry(out, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:online': {} } });
  assert.deepEqual(entry(out, 'creator', 'Update')?.fieldsV1, { 'f:spec': { '.': {}, 'f:online': {} } });
  // Nothing changed, so the applier's first entry takes the current time but the object is the same.
  assert.deepEqual(out.spec, created.spec);
});

test('an Update takes fields from an applier', () => {
  const ctx = context();
  const a = apply(ctx, undefined, host({ online: true, description: 'd' }), 'kubectl', { force: false });
  const b = { ...a, spec: { online: false, description: 'd' } };
  const mf = updateManagedFields(ctx, a, b, 'controller');
  assert.deepEqual(
    mf.map((e) => [e.manager, e.operation, e.fieldsV1]),
    [
      ['kubectl', 'Apply', { 'f:spec': { 'f:description': {} } }],
      ['controller', 'Update', { 'f:spec': { 'f:online': {} } }],
    ],
  );
});

test('list-map conditions are owned per type, with "." on each item', () => {
  const ctx = context();
  const base = host({ online: true });
  base.metadata.managedFields = updateManagedFields(ctx, undefined, base, 'creator');
  const withStatus = {
    ...base,
    status: {
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'Inspected', status: 'False' },
      ],
    },
  };
  const mf = updateManagedFields(ctx, base, withStatus, 'bmo', 'status');
  // Same second, so kube's order falls back to the manager name.
  assert.deepEqual(mf, [
    {
      manager: 'bmo',
      operation: 'Update',
      apiVersion: API,
      time: '2024-01-01T00:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:status': {
          '.': {},
          'f:conditions': {
            '.': {},
            'k:{"type":"Inspected"}': { '.': {}, 'f:status': {}, 'f:type': {} },
            'k:{"type":"Ready"}': { '.': {}, 'f:status': {}, 'f:type': {} },
          },
        },
      },
      subresource: 'status',
    },
    base.metadata.managedFields[0],
  ]);
  const live = { ...withStatus, metadata: { ...withStatus.metadata, managedFields: mf } };
  // Another manager applies only the Ready condition's reason: a different item is not a conflict,
  // a changed status of Ready is.
  const err = conflictOf(() =>
    apply(ctx, live, { ...host({}), status: { conditions: [{ type: 'Ready', status: 'False' }] } } as KubeObject, 'other', {
      force: false,
      subresource: 'status',
    }),
  );
  assert.equal(err.details?.causes?.[0].field, '.status.conditions[type="Ready"].status');
  assert.match(err.message, /conflict with "bmo" with subresource "status" using metal3\.io\/v1alpha1/);
  const out = apply(ctx, live, { ...host({}), status: { conditions: [{ type: 'Provisioned', status: 'True' }] } } as KubeObject, 'other', {
    force: false,
    subresource: 'status',
  });
  assert.deepEqual((out.status as { conditions: { type: string }[] }).conditions.map((c) => c.type), ['Ready', 'Inspected', 'Provisioned']);
  // A status apply leaves spec alone.
  assert.deepEqual(out.spec, { online: true });
});

test('status ownership is separate from the main resource', () => {
  const ctx = context();
  const a = host({ online: true });
  a.metadata.managedFields = updateManagedFields(ctx, undefined, a, 'creator');
  // A main-resource write that carries status does not record status fields.
  const withStatus = { ...a, status: { operationalStatus: 'OK' } };
  assert.deepEqual(updateManagedFields(ctx, a, withStatus, 'creator'), a.metadata.managedFields);
  // A status write records only status, under its own entry, and never spec.
  const statusWrite = { ...a, spec: { online: false }, status: { operationalStatus: 'OK' } };
  const mf = updateManagedFields(ctx, a, statusWrite, 'creator', 'status');
  assert.deepEqual(
    mf.map((e) => [e.manager, e.subresource, e.fieldsV1]),
    [
      ['creator', undefined, { 'f:spec': { '.': {}, 'f:online': {} } }],
      ['creator', 'status', { 'f:status': { '.': {}, 'f:operationalStatus': {} } }],
    ],
  );
  // Main-resource apply does not touch or conflict on status.
  const live = { ...a, status: { operationalStatus: 'OK' }, metadata: { ...a.metadata, managedFields: mf } };
  const out = apply(ctx, live, { ...host({ online: true }), status: { operationalStatus: 'error' } }, 'kubectl', { force: false });
  assert.deepEqual(out.status, { operationalStatus: 'OK' });
});

test('without a status subresource status is tracked with the main resource', () => {
  const ctx = { ...context(), statusSubresource: false };
  const a = { ...host({ online: true }), status: { operationalStatus: 'OK' } };
  const mf = updateManagedFields(ctx, undefined, a, 'creator');
  assert.deepEqual(mf[0].fieldsV1, {
    'f:spec': { '.': {}, 'f:online': {} },
    'f:status': { '.': {}, 'f:operationalStatus': {} },
  });
});

test('only labels, annotations, finalizers and ownerReferences of metadata are owned', () => {
  const ctx = context();
  const obj = host(
    { online: true },
    {
      metadata: {
        generateName: 'h-',
        labels: { a: '1' },
        annotations: { n: 'x' },
        finalizers: ['f1'],
        ownerReferences: [{ apiVersion: 'v1', kind: 'Secret', name: 's', uid: 'abc' }],
      },
    },
  );
  const out = apply(ctx, undefined, obj, 'kubectl', { force: false });
  assert.deepEqual(entry(out, 'kubectl')?.fieldsV1, {
    'f:metadata': {
      'f:annotations': { 'f:n': {} },
      'f:finalizers': { 'v:"f1"': {} },
      'f:labels': { 'f:a': {} },
      'f:ownerReferences': {
        'k:{"uid":"abc"}': { '.': {}, 'f:apiVersion': {}, 'f:kind': {}, 'f:name': {}, 'f:uid': {} },
      },
    },
    'f:spec': { 'f:online': {} },
  });
  // Labels added by another applier merge; dropping our label removes only ours.
  const other = apply(ctx, out, host({}, { metadata: { labels: { b: '2' } } }), 'other', { force: false });
  assert.deepEqual(other.metadata.labels, { a: '1', b: '2' });
  const dropped = apply(ctx, other, host({ online: true }, { metadata: { annotations: { n: 'x' }, finalizers: ['f1'] } }), 'kubectl', {
    force: false,
  });
  assert.deepEqual(dropped.metadata.labels, { b: '2' });
  assert.equal(dropped.metadata.ownerReferences, undefined);
  assert.equal(dropped.metadata.uid, 'u1');
  assert.equal(dropped.metadata.resourceVersion, '7');
});

test('atomic lists and atomic maps are replaced whole and owned as one field', () => {
  const ctx = context();
  const a = apply(ctx, undefined, host({ args: ['x', 'y'], bmc: { address: 'a', credentialsName: 'c' } }), 'm1', { force: false });
  const err = conflictOf(() => apply(ctx, a, host({ args: ['x'] }), 'm2', { force: false }));
  assert.equal(err.details?.causes?.[0].field, '.spec.args');
  const b = apply(ctx, a, host({ bmc: { address: 'b' } }), 'm2', { force: true });
  assert.deepEqual((b.spec as Record<string, unknown>).bmc, { address: 'b' });
});

test('map-list items are identified by all their keys and merged by identity', () => {
  const ctx = context();
  const a = apply(
    ctx,
    undefined,
    host({ taints: [{ key: 'k', effect: 'NoSchedule', value: '1' }, { key: 'k', effect: 'NoExecute' }] }),
    'm1',
    { force: false },
  );
  assert.deepEqual(entry(a, 'm1')?.fieldsV1, {
    'f:spec': {
      'f:taints': {
        'k:{"effect":"NoExecute","key":"k"}': { '.': {}, 'f:effect': {}, 'f:key': {} },
        'k:{"effect":"NoSchedule","key":"k"}': { '.': {}, 'f:effect': {}, 'f:key': {}, 'f:value': {} },
      },
    },
  });
  const b = apply(ctx, a, host({ taints: [{ key: 'z', effect: 'NoSchedule' }] }), 'm2', { force: false });
  assert.equal((b.spec as { taints: unknown[] }).taints.length, 3);
  const err = conflictOf(() => apply(ctx, b, host({ taints: [{ key: 'k', effect: 'NoSchedule', value: '2' }] }), 'm2', { force: false }));
  assert.equal(err.details?.causes?.[0].field, '.spec.taints[effect="NoSchedule",key="k"].value');
});

test('preserve-unknown-fields subtrees are granular objects', () => {
  const set = toFieldSet({ spec: { blob: { a: { b: 1 }, l: [1, 2] } } }, schema);
  assert.deepEqual(toFieldsV1(set), {
    'f:spec': { 'f:blob': { 'f:a': { '.': {}, 'f:b': {} }, 'f:l': {} } },
  });
});

test('applied null removes a non-nullable field but still conflicts with its owner', () => {
  const ctx = context();
  const a = apply(ctx, undefined, host({ online: true, description: 'd' }), 'm1', { force: false });
  const err = conflictOf(() => apply(ctx, a, host({ description: null }), 'm2', { force: false }));
  assert.equal(err.details?.causes?.[0].field, '.spec.description');
  const b = apply(ctx, a, host({ description: null }), 'm2', { force: true });
  assert.deepEqual(b.spec, { online: true });
});

test('managedFields are sorted Apply first, then by time; Update managers are capped at 10', () => {
  const ctx = context();
  let live = apply(ctx, undefined, host({ online: true }), 'kubectl', { force: false });
  for (let i = 0; i < 12; i++) {
    ctx.tick();
    const next = { ...live, spec: { ...(live.spec as object), extra: { ...((live.spec as { extra?: object }).extra ?? {}), [`k${i}`]: 'v' } } };
    next.metadata = { ...live.metadata, managedFields: updateManagedFields(ctx, live, next, `ctl-${i}`) };
    live = next;
  }
  const mf = live.metadata.managedFields ?? [];
  assert.equal(mf[0].operation, 'Apply');
  const updates = mf.filter((e) => e.operation === 'Update');
  assert.equal(updates.length, 10);
  const ancient = updates.find((e) => e.manager === 'ancient-changes');
  assert.ok(ancient);
  assert.deepEqual(Object.keys((ancient.fieldsV1?.['f:spec']?.['f:extra'] ?? {}) as object).sort(), ['.', 'f:k0', 'f:k1', 'f:k2']);
  const times = updates.map((e) => Date.parse(e.time ?? ''));
  assert.deepEqual(times, [...times].sort((x, y) => x - y));
});

test('merge keeps live-only items in place and follows the applied order', () => {
  const set = { type: 'array', items: str, 'x-kubernetes-list-type': 'set' } as JSONSchemaProps;
  assert.deepEqual(mergeApplied(['a', 'b', 'c'], ['c', 'a'], set), ['b', 'c', 'a']);
  assert.deepEqual(mergeApplied(['a', 'b'], ['x'], set), ['a', 'b', 'x']);
  assert.deepEqual(mergeApplied(['a', 'b'], [], set), ['a', 'b']);
});

test('FieldsV1 round-trips and set algebra keeps members distinct from parents', () => {
  const f = { 'f:spec': { '.': {}, 'f:a': {}, 'f:b': { 'f:c': {} } }, 'f:status': {} };
  const s = fromFieldsV1(f);
  assert.deepEqual(toFieldsV1(s), f);
  const only = emptySet();
  insert(only, ['f:spec', 'f:a']);
  insert(only, ['f:spec', 'f:b', 'f:c']);
  assert.deepEqual(toFieldsV1(difference(s, only)), { 'f:spec': {}, 'f:status': {} });
  assert.deepEqual(toFieldsV1(union(only, fromFieldsV1({ 'f:x': {} }))), { 'f:spec': { 'f:a': {}, 'f:b': { 'f:c': {} } }, 'f:x': {} });
  assert.equal(pathString(['f:status', 'k:{"type":"Ready"}', 'f:reason']), '.status[type="Ready"].reason');
  assert.equal(pathString(['f:spec', 'f:tags', 'v:"a"']), '.spec.tags[="a"]');
});

test('compare reports added, removed and modified leaves', () => {
  const c = compare({ spec: { online: true, description: 'd' } }, { spec: { online: false, image: { url: 'u' } } }, schema);
  assert.deepEqual(toFieldsV1(c.modified), { 'f:spec': { 'f:online': {} } });
  assert.deepEqual(toFieldsV1(c.removed), { 'f:spec': { 'f:description': {} } });
  assert.deepEqual(toFieldsV1(c.added), { 'f:spec': { 'f:image': { '.': {}, 'f:url': {} } } });
});

test('an existing object without managedFields is not tracked by Update, and its first apply conflicts', () => {
  const ctx = context();
  const untracked = host({ online: true, description: 'd' });
  const changed = host({ online: false, description: 'd' });
  assert.deepEqual(updateManagedFields(ctx, untracked, changed, 'editor'), []);

  const err = conflictOf(() => apply(ctx, untracked, host({ online: false }), 'kubectl', { force: false }));
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "before-first-apply" using metal3.io/v1alpha1: .spec.online');
  const out = apply(ctx, untracked, host({ online: true }), 'kubectl', { force: false });
  assert.deepEqual(
    out.metadata.managedFields?.map((e) => [e.manager, e.operation, e.fieldsV1]),
    [
      ['kubectl', 'Apply', { 'f:spec': { 'f:online': {} } }],
      ['before-first-apply', 'Update', { 'f:spec': { '.': {}, 'f:description': {}, 'f:online': {} } }],
    ],
  );
});
