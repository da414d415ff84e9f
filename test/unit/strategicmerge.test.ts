import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyStrategicMergePatch } from '../../apiserver/patch/strategicmerge.ts';
import { StatusError } from '../../apiserver/status.ts';

const secret = () => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name: 's',
    labels: { a: '1', b: '2' },
    finalizers: ['f1'],
    ownerReferences: [{ apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', name: 'h1', uid: 'u1' }],
  },
  data: { username: 'YQ==', password: 'Yg==' },
  type: 'Opaque',
});

test('maps merge, null deletes, scalars replace; the input is left alone', () => {
  const doc = secret();
  const out = applyStrategicMergePatch(doc, { metadata: { labels: { a: null, c: '3' } }, data: { password: 'Yw==' } }) as ReturnType<typeof secret>;
  assert.deepEqual(out.metadata.labels, { b: '2', c: '3' });
  assert.deepEqual(out.data, { username: 'YQ==', password: 'Yw==' });
  assert.deepEqual(doc.metadata.labels, { a: '1', b: '2' });
});

test('finalizers merge as a set and $deleteFromPrimitiveList removes; $setElementOrder is ignored', () => {
  const out = applyStrategicMergePatch(secret(), {
    metadata: { finalizers: ['f1', 'f2'], '$setElementOrder/finalizers': ['f2', 'f1'] },
  }) as ReturnType<typeof secret>;
  assert.deepEqual(out.metadata.finalizers, ['f1', 'f2']);
  const removed = applyStrategicMergePatch(out, { metadata: { '$deleteFromPrimitiveList/finalizers': ['f1'] } }) as ReturnType<typeof secret>;
  assert.deepEqual(removed.metadata.finalizers, ['f2']);
});

test('ownerReferences merge by uid; $patch: delete removes one', () => {
  const added = applyStrategicMergePatch(secret(), {
    metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'u2' }] },
  }) as ReturnType<typeof secret>;
  assert.deepEqual(added.metadata.ownerReferences.map((r) => r.uid), ['u1', 'u2']);
  const renamed = applyStrategicMergePatch(added, { metadata: { ownerReferences: [{ uid: 'u1', name: 'h2' }] } }) as ReturnType<typeof secret>;
  assert.equal(renamed.metadata.ownerReferences[0].name, 'h2');
  const deleted = applyStrategicMergePatch(renamed, { metadata: { ownerReferences: [{ uid: 'u1', $patch: 'delete' }] } }) as ReturnType<typeof secret>;
  assert.deepEqual(deleted.metadata.ownerReferences.map((r) => r.uid), ['u2']);
});

test('$patch: replace replaces a map; $retainKeys keeps only the listed keys', () => {
  const replaced = applyStrategicMergePatch(secret(), { data: { $patch: 'replace', token: 'dA==' } }) as ReturnType<typeof secret>;
  assert.deepEqual(replaced.data, { token: 'dA==' });
  const retained = applyStrategicMergePatch(secret(), { data: { $retainKeys: ['username'] } }) as ReturnType<typeof secret>;
  assert.deepEqual(replaced.metadata.labels, { a: '1', b: '2' });
  assert.deepEqual(retained.data, { username: 'YQ==' });
});

test('a body that is not an object is a 400', () => {
  assert.throws(() => applyStrategicMergePatch(secret(), [1]), (e: unknown) => e instanceof StatusError && e.code === 400);
});
