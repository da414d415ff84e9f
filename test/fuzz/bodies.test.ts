// Request bodies for every kind: POST and PUT of schema-shaped objects with random mutations, and raw
// bodies that are not objects at all. Never a 5xx, every 4xx a Status, and a refused write leaves the store
// exactly as it was.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertSane, createTargets, isObj, stopFuzzServer, params, startFuzzServer, type FuzzServer, type Reply } from './harness.ts';
import { collectionPath, kindName, kindNamed, nastyString, objectFor, objectPath, serialize } from './arbitraries.ts';
import type { ResourceDefinition } from '../../api/types.ts';

let s: FuzzServer;
const ns = 'fuzz';
const target = 'target';

before(async () => {
  s = await startFuzzServer();
  await createTargets(s, ns, target);
});
after(() => stopFuzzServer(s));

const writeQuery = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  fc.constantFrom('?dryRun=All', '?dryRun=Bogus', '?fieldValidation=Strict', '?fieldValidation=Ignore', '?fieldValidation=strict', '?fieldManager=%E2%80%AE', `?fieldManager=${'m'.repeat(200)}`, '?pretty=true&dryRun=All&dryRun=All'),
);

const contentType = fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, fc.constantFrom('application/yaml', 'text/plain', '', 'application/json; charset=utf-16', 'application/vnd.kubernetes.protobuf'));

async function current(def: ResourceDefinition, name: string): Promise<Reply> {
  return s.request('GET', objectPath(def, ns, name));
}

/** After a refused write: nothing was written anywhere, and the object reads back unchanged. */
async function assertUntouched(revBefore: number, def: ResourceDefinition, name: string, was: Reply | undefined, what: string): Promise<void> {
  assert.equal(s.storage.currentRevision(), revBefore, `${what}: a refused write moved the store's revision`);
  if (!was) return;
  const now = await current(def, name);
  assert.equal(now.status, was.status, `${what}: the object's existence changed after a refused write`);
  assert.deepEqual(now.body, was.body, `${what}: the object changed after a refused write`);
}

/** After an accepted write: the answer is what the store now holds (not for dry runs, which hold nothing). */
async function assertStored(reply: Reply, def: ResourceDefinition, what: string): Promise<void> {
  if (!isObj(reply.body) || !isObj(reply.body.metadata)) assert.fail(`${what}: a ${reply.status} without an object`);
  const name = String(reply.body.metadata.name);
  const now = await current(def, name);
  assert.equal(now.status, 200, `${what}: an accepted object cannot be read back: ${now.text.slice(0, 300)}`);
  assert.deepEqual(now.body, reply.body, `${what}: the object read back differs from the one the write returned`);
}

test('POST of schema-shaped, mutated objects for every kind', async () => {
  const arb = kindName.chain((kind) => fc.record({ kind: fc.constant(kind), obj: objectFor(kindNamed(kind), ns), query: writeQuery, ct: contentType }));
  await fc.assert(
    fc.asyncProperty(arb, async ({ kind, obj, query, ct }) => {
      const def = kindNamed(kind);
      const rev = s.storage.currentRevision();
      const body = serialize(obj.body);
      const what = `POST ${def.kind}${query} (${ct}) ${body.slice(0, 300)}`;
      const reply = await s.request('POST', collectionPath(def, ns) + query, { body, contentType: ct });
      assertSane(reply, what);
      const dryRun = query.includes('dryRun=All');
      if (reply.status >= 300 || dryRun) await assertUntouched(rev, def, target, undefined, what);
      else await assertStored(reply, def, what);
    }),
    params('createBodies'),
  );
  s.assertNoCrash();
});

test('PUT of schema-shaped, mutated objects over an existing object of every kind', async () => {
  const arb = kindName.chain((kind) =>
    fc.record({
      kind: fc.constant(kind),
      obj: objectFor(kindNamed(kind), ns),
      keepName: fc.boolean(),
      rv: fc.constantFrom('current', 'current', 'absent', 'stale', 'junk'),
      sub: fc.constantFrom('', '', '', '/status'),
      query: writeQuery,
      ct: contentType,
    }),
  );
  await fc.assert(
    fc.asyncProperty(arb, async ({ kind, obj, keepName, rv, sub, query, ct }) => {
      const def = kindNamed(kind);
      const was = await current(def, target);
      assert.equal(was.status, 200, was.text);
      const meta = isObj(obj.body.metadata) ? obj.body.metadata : undefined;
      if (meta && keepName) meta.name = target;
      const wasMeta = (was.body as { metadata: { resourceVersion: string } }).metadata;
      if (meta) {
        if (rv === 'current') meta.resourceVersion = wasMeta.resourceVersion;
        else if (rv === 'absent') delete meta.resourceVersion;
        else if (rv === 'stale') meta.resourceVersion = String(Number(wasMeta.resourceVersion) - 1);
        else meta.resourceVersion = 'x1';
      }
      const rev = s.storage.currentRevision();
      const body = serialize(obj.body);
      const path = objectPath(def, ns, target) + (def.subresources.status ? sub : '') + query;
      const what = `PUT ${path} (${ct}) ${body.slice(0, 300)}`;
      const reply = await s.request('PUT', path, { body, contentType: ct });
      assertSane(reply, what);
      if (reply.status >= 300 || query.includes('dryRun=All')) await assertUntouched(rev, def, target, was, what);
      else await assertStored(reply, def, what);
    }),
    params('updateBodies'),
  );
  s.assertNoCrash();
});

/** Texts that are not a well-formed object: broken JSON, YAML bombs, duplicate keys, binary. */
const rawBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat()).map(([v, n]) => {
    const t = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'raw' }, data: v });
    return t.slice(0, n % (t.length + 1));
  }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    '[]',
    '"a"',
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"},"data":{"a":"1","a":"2"}}',
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bom"}}\ufeff',
    '\ufeff{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bom2"}}',
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"\\ud800"}}',
    '{"metadata":{"name":"x"}}',
    '{"apiVersion":1,"kind":{},"metadata":[]}',
    'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: !!binary aGVsbG8=',
    '--- !<tag:yaml.org,2002:js/function> "function(){}"',
    // Expanded by `expand`, so that a counterexample stays printable.
    'DEEP:100000',
    'OPEN:1000000',
  ),
  nastyString,
);

test('raw bodies that are not objects, in every content type, to create and update', async () => {
  const expand = (t: string) =>
    t === 'DEEP:100000' ? '{"a":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}' : t === 'OPEN:1000000' ? '['.repeat(1_000_000) : t;
  const arb = fc.record({
    kind: kindName,
    text: rawBody,
    ct: fc.constantFrom('application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf', 'text/html', ''),
    put: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ kind, text: short, ct, put }) => {
      const def = kindNamed(kind);
      const text = expand(short);
      const was = put ? await current(def, target) : undefined;
      const rev = s.storage.currentRevision();
      const path = put ? objectPath(def, ns, target) : collectionPath(def, ns);
      const what = `${put ? 'PUT' : 'POST'} ${path} (${ct}) ${JSON.stringify(text.slice(0, 200))}`;
      const reply = await s.request(put ? 'PUT' : 'POST', path, { body: text, contentType: ct });
      assertSane(reply, what);
      if (reply.status >= 300) await assertUntouched(rev, def, target, was, what);
    }),
    params('rawBodies'),
  );
  s.assertNoCrash();
});
