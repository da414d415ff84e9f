// json-patch, merge-patch and apply patches with random operations, paths and values on existing objects
// of every kind. Never a 5xx, every 4xx a Status, and a refused patch leaves the object as it was.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify as yamlStringify } from 'yaml';
import { assertSane, createTargets, isObj, stopFuzzServer, params, startFuzzServer, type FuzzServer, type Reply } from './harness.ts';
import { dnsName, kindName, kindNamed, nastyString, objectFor, objectPath, serialize, wrongValue } from './arbitraries.ts';
import type { ResourceDefinition } from '../../api/types.ts';

let s: FuzzServer;
const ns = 'fuzz';
const target = 'target';

before(async () => {
  s = await startFuzzServer();
  await createTargets(s, ns, target, { app: 'fuzz', tier: 'a' });
});
after(() => stopFuzzServer(s));

/** JSON pointers near the object's real fields, and some that are not pointers at all. */
const pointer = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.oneof(fc.constantFrom('metadata', 'labels', 'annotations', 'spec', 'status', 'finalizers', 'name', 'resourceVersion', 'uid', 'app', 'data', 'bmc', 'online', '-', '0', '1', '-1', '~0', '~1', '~', '__proto__', 'constructor'), dnsName), { minLength: 1, maxLength: 4 }).map((ps) => `/${ps.join('/')}`) },
  fc.constantFrom('', '/', '//', 'metadata/labels', '/metadata/labels/', '/metadata/managedFields/0/fieldsV1', '/metadata/labels/a~1b', '/spec/~2'),
  nastyString,
);

const jsonPatchOp = fc.oneof(
  fc.record({ op: fc.constantFrom('add', 'replace', 'test'), path: pointer, value: wrongValue }),
  fc.record({ op: fc.constant('remove'), path: pointer }),
  fc.record({ op: fc.constantFrom('move', 'copy'), from: pointer, path: pointer }),
  fc.record({ op: fc.oneof(fc.constantFrom('Add', 'delete', '', 'x'), nastyString), path: pointer, value: wrongValue }, { requiredKeys: [] }),
  fc.dictionary(fc.constantFrom('op', 'path', 'from', 'value'), wrongValue),
);

const jsonPatch = fc.oneof(
  { weight: 6, arbitrary: fc.array(jsonPatchOp, { maxLength: 5 }) },
  wrongValue,
  fc.constant(Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/kind', value: 'x' }))),
);

/** A merge patch: a mutated object of the kind (so most paths are real), or any JSON at all. */
const mergePatch = (def: ResourceDefinition) =>
  fc.oneof(
    { weight: 4, arbitrary: objectFor(def, ns).map((o) => o.body) },
    { weight: 2, arbitrary: fc.record({ metadata: fc.record({ labels: fc.dictionary(nastyString, fc.oneof(nastyString, fc.constant(null))), resourceVersion: fc.constantFrom('1', 'x') }, { requiredKeys: [] }), spec: wrongValue, status: wrongValue }, { requiredKeys: [] }) },
    wrongValue,
  );

async function patchCase(type: 'json' | 'merge' | 'apply', kind: string, patch: unknown, sub: string, query: string): Promise<void> {
  const def = kindNamed(kind);
  const was: Reply = await s.request('GET', objectPath(def, ns, target));
  assert.equal(was.status, 200, was.text);
  const rev = s.storage.currentRevision();
  const contentType = { json: 'application/json-patch+json', merge: 'application/merge-patch+json', apply: 'application/apply-patch+yaml' }[type];
  // Apply bodies go as YAML now and then: that is a second decoder to get through.
  const body = type === 'apply' && typeof patch === 'object' && patch !== null && !serialize(patch).includes('[[[[') && rev % 3 === 0 ? yamlStringify(patch) : serialize(patch);
  const path = objectPath(def, ns, target) + (def.subresources.status ? sub : '') + query;
  const what = `PATCH (${type}) ${path} ${body.slice(0, 300)}`;
  const reply = await s.request('PATCH', path, { body, contentType });
  assertSane(reply, what);
  if (reply.status >= 300 || query.includes('dryRun=All')) {
    assert.equal(s.storage.currentRevision(), rev, `${what}: a refused patch moved the store's revision`);
    const now = await s.request('GET', objectPath(def, ns, target));
    assert.deepEqual(now.body, was.body, `${what}: the object changed after a refused patch`);
    return;
  }
  if (!isObj(reply.body)) assert.fail(`${what}: a ${reply.status} without an object`);
  const now = await s.request('GET', objectPath(def, ns, target));
  assert.equal(now.status, 200, `${what}: the patched object cannot be read back`);
  assert.deepEqual(now.body, reply.body, `${what}: the object read back differs from the one the patch returned`);
}

const sub = fc.constantFrom('', '', '', '/status');
const query = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, fc.constantFrom('?dryRun=All', '?fieldValidation=Strict', '?force=true', '?fieldManager=x'));

test('json-patch with random operations, paths and values', async () => {
  await fc.assert(
    fc.asyncProperty(kindName, jsonPatch, sub, query, async (kind, patch, sr, q) => patchCase('json', kind, patch, sr, q)),
    params('jsonPatch'),
  );
  s.assertNoCrash();
});

test('merge-patch with mutated objects and random values', async () => {
  const arb = kindName.chain((kind) => fc.tuple(fc.constant(kind), mergePatch(kindNamed(kind)), sub, query));
  await fc.assert(
    fc.asyncProperty(arb, async ([kind, patch, sr, q]) => patchCase('merge', kind, patch, sr, q)),
    params('mergePatch'),
  );
  s.assertNoCrash();
});

test('apply patches (server-side apply) with mutated objects, as JSON and YAML', async () => {
  const applyQuery = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('?fieldManager=fuzz', '?fieldManager=other&force=true', '?fieldManager=fuzz&force=false') }, fc.constantFrom('', '?fieldManager=fuzz&dryRun=All', '?fieldManager=', `?fieldManager=${'m'.repeat(129)}`, '?fieldManager=fuzz&force=maybe'));
  const arb = kindName.chain((kind) =>
    fc.tuple(
      fc.constant(kind),
      fc.oneof({ weight: 4, arbitrary: objectFor(kindNamed(kind), ns).map((o) => ({ ...o.body, metadata: isObj(o.body.metadata) ? { ...o.body.metadata, name: target } : o.body.metadata })) }, wrongValue),
      sub,
      applyQuery,
    ),
  );
  await fc.assert(
    fc.asyncProperty(arb, async ([kind, patch, sr, q]) => patchCase('apply', kind, patch, sr, q)),
    params('applyPatch'),
  );
  s.assertNoCrash();
});
