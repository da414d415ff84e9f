// Wire-level conformance of the real server with kube-apiserver's behaviour for a custom resource:
// the things kubectl alone does not prove (exact headers, caching, list snapshots, watch semantics,
// server-owned metadata, subresource and dry-run rules).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from './harness.ts';
import { closeClient, request, watch, type RawResponse, type WatchEvent } from './client.ts';

type Obj = Record<string, unknown>;

const group = '/apis/metal3.io/v1alpha1';
const nsPath = (ns: string) => `${group}/namespaces/${ns}/baremetalhosts`;
const hosts = nsPath('default');
const tableAccept = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const aggregatedAccept =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const mergePatch = { 'Content-Type': 'application/merge-patch+json' };

const obj = (v: unknown, what = 'value'): Obj => {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what} is not an object: ${JSON.stringify(v)}`);
  return v as Obj;
};
const arr = (v: unknown, what = 'value'): unknown[] => {
  assert.ok(Array.isArray(v), `${what} is not an array: ${JSON.stringify(v)}`);
  return v;
};
const meta = (o: unknown): Obj => obj(obj(o).metadata, 'metadata');
const names = (list: unknown): string[] => arr(obj(list).items, 'items').map((i) => String(meta(i).name));

function bmh(name: string, opts: { labels?: Record<string, string>; spec?: Obj; metadata?: Obj; namespace?: string } = {}): string {
  return JSON.stringify({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, ...(opts.namespace ? { namespace: opts.namespace } : {}), ...(opts.labels ? { labels: opts.labels } : {}), ...opts.metadata },
    spec: opts.spec ?? { online: true },
  });
}

/** A status the BareMetalHost schema accepts, in the given provisioning state. */
const statusIn = (state: string, extra: Obj = {}): Obj => ({
  errorMessage: '',
  operationalStatus: 'OK',
  poweredOn: false,
  provisioning: { ID: '', state },
  ...extra,
});

function ok(r: RawResponse, code = 200): unknown {
  assert.equal(r.status, code, `HTTP ${r.status}: ${r.body.slice(0, 600)}`);
  return r.json();
}

let server: RunningServer;
const get = async (path: string, headers: Record<string, string> = {}) => request(server, 'GET', path, { headers });
const create = async (body: string, path = hosts, query = '') => obj(ok(await request(server, 'POST', path + query, { body }), 201));
const patch = async (path: string, body: unknown, query = '') =>
  obj(ok(await request(server, 'PATCH', path + query, { headers: mergePatch, body: JSON.stringify(body) })));
const listRV = async (path = hosts) => String(meta(ok(await get(path))).resourceVersion);

before(async () => {
  server = await startServer();
  ok(await request(server, 'POST', '/api/v1/namespaces', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lab' } }) }), 201);
});

after(async () => {
  closeClient(server);
  await server.stop();
});

describe('discovery', () => {
  test('/api, /apis, /apis/metal3.io', async () => {
    const api = obj(ok(await get('/api')));
    assert.equal(api.kind, 'APIVersions');
    assert.deepEqual(api.versions, ['v1']);

    const apis = obj(ok(await get('/apis')));
    assert.equal(apis.kind, 'APIGroupList');
    const metal3 = arr(apis.groups).map((g) => obj(g)).find((g) => g.name === 'metal3.io');
    assert.ok(metal3, 'metal3.io is listed');
    assert.deepEqual(metal3.preferredVersion, { groupVersion: 'metal3.io/v1alpha1', version: 'v1alpha1' });

    const g = obj(ok(await get('/apis/metal3.io')));
    assert.equal(g.kind, 'APIGroup');
    assert.equal(g.name, 'metal3.io');
    assert.deepEqual(g.versions, [{ groupVersion: 'metal3.io/v1alpha1', version: 'v1alpha1' }]);
  });

  test('/apis/metal3.io/v1alpha1 lists baremetalhosts with verbs, names and the status subresource', async () => {
    const list = obj(ok(await get(group)));
    assert.equal(list.kind, 'APIResourceList');
    assert.equal(list.groupVersion, 'metal3.io/v1alpha1');
    const resources = arr(list.resources).map((r) => obj(r));
    const main = resources.find((r) => r.name === 'baremetalhosts');
    assert.ok(main);
    assert.equal(main.singularName, 'baremetalhost');
    assert.equal(main.namespaced, true);
    assert.equal(main.kind, 'BareMetalHost');
    assert.deepEqual([...arr(main.verbs)].sort(), ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
    assert.deepEqual(main.shortNames, ['bmh', 'bmhost']);
    const status = resources.find((r) => r.name === 'baremetalhosts/status');
    assert.ok(status, 'baremetalhosts/status is listed');
    assert.equal(status.kind, 'BareMetalHost');
    assert.deepEqual([...arr(status.verbs)].sort(), ['get', 'patch', 'update']);
  });

  for (const version of ['v2', 'v2beta1'] as const) {
    test(`aggregated discovery ${version}: exact Content-Type, ETag and 304`, async () => {
      const accept = `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
      const r = await get('/apis', { Accept: version === 'v2' ? aggregatedAccept : accept });
      const doc = obj(ok(r));
      assert.equal(r.headers['content-type'], `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`);
      assert.equal(doc.kind, 'APIGroupDiscoveryList');
      assert.equal(doc.apiVersion, `apidiscovery.k8s.io/${version}`);
      const etag = String(r.headers.etag);
      assert.match(etag, /^"[^"]+"$/);
      assert.match(String(r.headers.vary), /Accept/);

      const item = arr(doc.items).map((i) => obj(i)).find((i) => meta(i).name === 'metal3.io');
      assert.ok(item);
      const v = obj(arr(item.versions)[0]);
      assert.equal(v.version, 'v1alpha1');
      assert.equal(v.freshness ?? 'Current', 'Current');
      const res = arr(v.resources).map((x) => obj(x)).find((x) => x.resource === 'baremetalhosts');
      assert.ok(res);
      assert.equal(res.scope, 'Namespaced');
      assert.equal(res.singularResource, 'baremetalhost');
      assert.deepEqual(res.responseKind, { group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' });
      assert.deepEqual(res.shortNames, ['bmh', 'bmhost']);
      const subs = arr(res.subresources).map((s) => obj(s));
      const st = subs.find((s) => s.subresource === 'status');
      assert.ok(st);
      assert.deepEqual([...arr(st.verbs)].sort(), ['get', 'patch', 'update']);

      const again = await get('/apis', { Accept: accept, 'If-None-Match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.body, '');
      const stale = await get('/apis', { Accept: accept, 'If-None-Match': '"stale"' });
      assert.equal(stale.status, 200);
    });
  }
});

describe('version, health and metrics', () => {
  test('/version', async () => {
    const v = obj(ok(await get('/version')));
    for (const k of ['major', 'minor', 'gitVersion', 'platform']) assert.equal(typeof v[k], 'string', k);
  });

  test('/healthz, /livez?verbose, /readyz/ping', async () => {
    const h = await get('/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body, 'ok');
    assert.match(String(h.headers['content-type']), /^text\/plain/);
    const l = await get('/livez?verbose');
    assert.equal(l.status, 200);
    assert.match(l.body, /^\[\+\]ping ok$/m);
    assert.match(l.body, /^livez check passed$/m);
    const p = await get('/readyz/ping');
    assert.equal(p.status, 200);
    assert.equal(p.body, 'ok');
  });

  test('/metrics counts requests by verb, resource and code', async () => {
    ok(await get(hosts));
    assert.equal((await get(`${hosts}/no-such-host`)).status, 404);
    const m = await get('/metrics');
    assert.equal(m.status, 200);
    const lines = m.body.split('\n').filter((l) => l.startsWith('apiserver_request_total{'));
    const has = (labels: Record<string, string>) =>
      lines.some((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
    assert.ok(has({ verb: 'LIST', group: 'metal3.io', resource: 'baremetalhosts', code: '200' }), lines.join('\n'));
    assert.ok(has({ verb: 'GET', resource: 'baremetalhosts', scope: 'resource', code: '404' }), lines.join('\n'));
  });
});

describe('OpenAPI', () => {
  test('/openapi/v2 carries the BareMetalHost definition and honours If-None-Match', async () => {
    const r = await get('/openapi/v2');
    const doc = obj(ok(r));
    assert.equal(doc.swagger, '2.0');
    const def = obj(obj(doc.definitions)['io.metal3.v1alpha1.BareMetalHost']);
    assert.deepEqual(def['x-kubernetes-group-version-kind'], [{ group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' }]);
    const etag = String(r.headers.etag);
    assert.ok(etag.length > 2);
    assert.equal((await get('/openapi/v2', { 'If-None-Match': etag })).status, 304);
  });

  test('/openapi/v3 GV document through its ?hash= URL: ETag, immutable caching, 301 on a wrong hash', async () => {
    const root = obj(ok(await get('/openapi/v3')));
    const entry = obj(obj(root.paths)['apis/metal3.io/v1alpha1'], 'GV entry');
    const url = String(entry.serverRelativeURL);
    const m = /^\/openapi\/v3\/apis\/metal3\.io\/v1alpha1\?hash=([0-9A-Za-z]+)$/.exec(url);
    assert.ok(m, url);
    const hash = m[1];

    const r = await get(url);
    const doc = obj(ok(r));
    assert.equal(r.headers.etag, `"${hash}"`);
    assert.match(String(r.headers['cache-control']), /public/);
    assert.match(String(r.headers['cache-control']), /immutable/);
    const expires = Date.parse(String(r.headers.expires));
    assert.ok(expires > Date.now() + 300 * 24 * 3600 * 1000, `Expires ${r.headers.expires}`);
    assert.equal((await get(url, { 'If-None-Match': `"${hash}"` })).status, 304);

    const wrong = await get('/openapi/v3/apis/metal3.io/v1alpha1?hash=0123456789ABCDEF');
    assert.equal(wrong.status, 301);
    assert.equal(wrong.headers.location, url);

    const schema = obj(obj(obj(doc.components).schemas)['io.metal3.v1alpha1.BareMetalHost']);
    assert.deepEqual(schema['x-kubernetes-group-version-kind'], [{ group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' }]);
    const item = obj(obj(doc.paths)['/apis/metal3.io/v1alpha1/namespaces/{namespace}/baremetalhosts/{name}']);
    const patchOp = obj(item.patch);
    assert.deepEqual(patchOp['x-kubernetes-group-version-kind'], { group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' });
    assert.equal(patchOp['x-kubernetes-action'], 'patch');
    const params = [...arr(patchOp.parameters ?? []), ...arr(item.parameters ?? [])].map((p) => obj(p));
    assert.ok(params.some((p) => p.name === 'fieldValidation' && p.in === 'query'), JSON.stringify(params));
    const content = Object.keys(obj(obj(patchOp.requestBody).content));
    assert.deepEqual(content.sort(), ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json']);
  });
});

describe('server-owned metadata', () => {
  test('generateName, uid and creationTimestamp are set by the server', async () => {
    const created = await create(
      JSON.stringify({
        apiVersion: 'metal3.io/v1alpha1',
        kind: 'BareMetalHost',
        metadata: { generateName: 'worker-', uid: 'client-uid', creationTimestamp: '2001-01-01T00:00:00Z', generation: 7 },
        spec: { online: true },
      }),
    );
    const m = meta(created);
    assert.match(String(m.name), /^worker-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(m.generateName, 'worker-');
    assert.match(String(m.uid), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual(m.uid, 'client-uid');
    assert.match(String(m.creationTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Math.abs(Date.parse(String(m.creationTimestamp)) - Date.now()) < 60_000);
    assert.equal(m.generation, 1);
    assert.match(String(m.resourceVersion), /^\d+$/);
    const fetched = meta(ok(await get(`${hosts}/${String(m.name)}`)));
    assert.equal(fetched.uid, m.uid);
  });

  test('generation follows spec changes only; resourceVersion changes on every write', async () => {
    const c = meta(await create(bmh('gen')));
    const path = `${hosts}/gen`;
    const seen = new Set([String(c.resourceVersion)]);

    const labelled = meta(await patch(path, { metadata: { labels: { rack: 'r1' } } }));
    assert.equal(labelled.generation, 1, 'a label change does not bump generation');
    assert.ok(!seen.has(String(labelled.resourceVersion)));
    seen.add(String(labelled.resourceVersion));

    const annotated = meta(await patch(path, { metadata: { annotations: { note: 'x' } } }));
    assert.equal(annotated.generation, 1, 'an annotation change does not bump generation');
    seen.add(String(annotated.resourceVersion));

    const status = meta(await patch(`${path}/status`, { status: statusIn('available') }));
    assert.equal(status.generation, 1, 'a status change does not bump generation');
    assert.ok(!seen.has(String(status.resourceVersion)));
    seen.add(String(status.resourceVersion));

    const spec = meta(await patch(path, { spec: { online: false } }));
    assert.equal(spec.generation, 2, 'a spec change bumps generation');
    assert.ok(!seen.has(String(spec.resourceVersion)));
    assert.ok(Number(spec.resourceVersion) > Number(status.resourceVersion));

    const same = meta(await patch(path, { spec: { online: false } }));
    assert.equal(same.generation, 2);
    assert.equal(same.resourceVersion, spec.resourceVersion, 'a no-op patch writes nothing');
  });

  test('managedFields records each manager with its operation', async () => {
    await create(bmh('managed'), hosts, '?fieldManager=creator');
    await patch(`${hosts}/managed`, { metadata: { labels: { rack: 'r2' } } }, '?fieldManager=labeler');
    const applied = await request(server, 'PATCH', `${hosts}/managed?fieldManager=applier`, {
      headers: { 'Content-Type': 'application/apply-patch+yaml' },
      body: 'apiVersion: metal3.io/v1alpha1\nkind: BareMetalHost\nmetadata:\n  name: managed\n  annotations:\n    owner: team-a\n',
    });
    const m = meta(ok(applied));
    const entries = arr(m.managedFields).map((e) => obj(e));
    const by = (manager: string) => entries.find((e) => e.manager === manager);
    assert.equal(by('creator')?.operation, 'Update');
    assert.equal(by('labeler')?.operation, 'Update');
    assert.equal(by('applier')?.operation, 'Apply');
    assert.deepEqual(obj(obj(obj(by('labeler')?.fieldsV1)['f:metadata'])['f:labels'])['f:rack'], {});
    assert.equal(obj(obj(by('creator')?.fieldsV1)['f:spec'])['f:online'] !== undefined, true);
    assert.equal(obj(obj(by('applier')?.fieldsV1)['f:metadata'])['f:annotations'] !== undefined, true);
    for (const e of entries) {
      assert.equal(e.apiVersion, 'metal3.io/v1alpha1');
      assert.equal(e.fieldsType, 'FieldsV1');
    }
  });

  test('ownerReferences are accepted and returned', async () => {
    const ref = { apiVersion: 'v1', kind: 'Secret', name: 'owner', uid: '6b2c1b36-7b5c-4b36-9d2a-5c5a4f1e2d3c', controller: true };
    const c = meta(await create(bmh('owned', { metadata: { ownerReferences: [ref] } })));
    assert.deepEqual(c.ownerReferences, [ref]);
    assert.deepEqual(meta(ok(await get(`${hosts}/owned`))).ownerReferences, [ref]);
  });
});

describe('list', () => {
  before(async () => {
    await create(bmh('sel-a', { labels: { app: 'sel', tier: 'web', env: 'prod' } }));
    await create(bmh('sel-b', { labels: { app: 'sel', tier: 'db', env: 'dev' } }));
    await create(bmh('sel-c', { labels: { app: 'sel', tier: 'cache' } }));
    await create(bmh('sel-a', { labels: { app: 'sel', tier: 'web' } }), nsPath('lab'));
    await patch(`${hosts}/sel-a/status`, { status: statusIn('provisioned') });
    await patch(`${hosts}/sel-b/status`, { status: statusIn('available') });
  });

  const select = async (query: string, path = hosts) => names(ok(await get(`${path}?${query}`))).sort();
  const ls = (s: string) => `labelSelector=${encodeURIComponent(`app=sel,${s}`)}`;
  const fs = (s: string) => `fieldSelector=${encodeURIComponent(s)}`;

  test('labelSelector: =, !=, in, notin, exists and !exists', async () => {
    assert.deepEqual(await select(ls('tier=web')), ['sel-a']);
    assert.deepEqual(await select(ls('tier==web')), ['sel-a']);
    assert.deepEqual(await select(ls('tier!=web')), ['sel-b', 'sel-c']);
    assert.deepEqual(await select(ls('tier in (web,db)')), ['sel-a', 'sel-b']);
    assert.deepEqual(await select(ls('tier notin (web,db)')), ['sel-c']);
    assert.deepEqual(await select(ls('env')), ['sel-a', 'sel-b']);
    assert.deepEqual(await select(ls('!env')), ['sel-c']);
    assert.deepEqual(await select(ls('env,tier in (db)')), ['sel-b']);
  });

  test('fieldSelector on metadata.name, metadata.namespace and status.provisioning.state', async () => {
    assert.deepEqual(await select(fs('metadata.name=sel-b')), ['sel-b']);
    assert.deepEqual(await select(`${ls('tier')}&${fs('metadata.name!=sel-b')}`), ['sel-a', 'sel-c']);
    const all = ok(await get(`${group}/baremetalhosts?${ls('tier')}&${fs('metadata.namespace=lab')}`));
    assert.deepEqual(
      arr(obj(all).items).map((i) => `${String(meta(i).namespace)}/${String(meta(i).name)}`),
      ['lab/sel-a'],
    );
    assert.deepEqual(await select(fs('status.provisioning.state=provisioned')), ['sel-a']);
    assert.deepEqual(await select(`${ls('tier')}&${fs('status.provisioning.state!=provisioned')}`), ['sel-b', 'sel-c']);
  });

  test('limit and continue page through one consistent snapshot', async () => {
    // A namespace of its own, so the pages are unfiltered and carry remainingItemCount.
    ok(await request(server, 'POST', '/api/v1/namespaces', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'paging' } }) }), 201);
    const paging = nsPath('paging');
    for (const n of [1, 2, 3, 4, 5]) await create(bmh(`page-${n}`), paging);
    const first = obj(ok(await get(`${paging}?limit=2`)));
    assert.deepEqual(names(first), ['page-1', 'page-2']);
    const m1 = meta(first);
    assert.equal(typeof m1.continue, 'string');
    assert.equal(m1.remainingItemCount, 3);
    const snapshotRV = String(m1.resourceVersion);
    const before3 = meta(ok(await get(`${paging}/page-3`)));
    // kube counts the remainder only for unfiltered lists.
    const filtered = meta(ok(await get(`${paging}?limit=2&labelSelector=missing!%3Dx`)));
    assert.equal(typeof filtered.continue, 'string');
    assert.equal(filtered.remainingItemCount, undefined);

    // Change the world between pages: the next pages must still show the first page's snapshot.
    await patch(`${paging}/page-3`, { metadata: { labels: { changed: 'yes' } } });
    ok(await request(server, 'DELETE', `${paging}/page-4`));
    await create(bmh('page-6'), paging);

    const second = obj(ok(await get(`${paging}?limit=2&continue=${encodeURIComponent(String(m1.continue))}`)));
    assert.deepEqual(names(second), ['page-3', 'page-4']);
    const items = arr(second.items).map((i) => meta(i));
    assert.equal(items[0].resourceVersion, before3.resourceVersion, 'page-3 as it was in the snapshot');
    assert.equal((items[0].labels as Obj | undefined)?.changed, undefined);
    assert.equal(meta(second).resourceVersion, snapshotRV);
    assert.equal(typeof meta(second).continue, 'string');

    const third = obj(ok(await get(`${paging}?limit=2&continue=${encodeURIComponent(String(meta(second).continue))}`)));
    assert.deepEqual(names(third), ['page-5']);
    assert.equal(meta(third).continue ?? '', '');
    assert.equal(meta(third).resourceVersion, snapshotRV);

    const fresh = obj(ok(await get(paging)));
    assert.deepEqual(names(fresh), ['page-1', 'page-2', 'page-3', 'page-5', 'page-6']);
    assert.ok(Number(meta(fresh).resourceVersion) > Number(snapshotRV));
  });

  test('resourceVersion=0, NotOlderThan and Exact', async () => {
    await create(bmh('rv-host', { labels: { rv: 'one' } }));
    const rv1 = await listRV();
    const zero = obj(ok(await get(`${hosts}?resourceVersion=0`)));
    assert.ok(names(zero).includes('rv-host'));
    assert.ok(Number(meta(zero).resourceVersion) >= Number(rv1));

    await patch(`${hosts}/rv-host`, { metadata: { labels: { rv: 'two' } } });
    const newer = obj(ok(await get(`${hosts}?resourceVersion=${rv1}&resourceVersionMatch=NotOlderThan&${fs('metadata.name=rv-host')}`)));
    assert.ok(Number(meta(newer).resourceVersion) > Number(rv1));
    assert.equal(obj(meta(arr(newer.items)[0]).labels).rv, 'two');

    const exact = obj(ok(await get(`${hosts}?resourceVersion=${rv1}&resourceVersionMatch=Exact&${fs('metadata.name=rv-host')}`)));
    assert.equal(meta(exact).resourceVersion, rv1);
    assert.equal(obj(meta(arr(exact.items)[0]).labels).rv, 'one', 'Exact shows the state at that revision');
  });
});

describe('watch over HTTP', () => {
  const watchLabel = (v: string) => `labelSelector=${encodeURIComponent(`watch=${v}`)}`;

  test('ADDED, MODIFIED and DELETED, then resuming from a resourceVersion gives only later events', async () => {
    const rv = await listRV();
    const w = await watch(server, `${hosts}?watch=true&resourceVersion=${rv}&${watchLabel('a')}`);
    let addedRV = '';
    try {
      assert.equal(w.status, 200);
      assert.match(String(w.headers['content-type']), /^application\/json/);
      assert.equal(w.headers['transfer-encoding'], 'chunked');
      addedRV = String(meta(await create(bmh('w-1', { labels: { watch: 'a' } }))).resourceVersion);
      await patch(`${hosts}/w-1`, { spec: { online: false } });
      ok(await request(server, 'DELETE', `${hosts}/w-1`));
      const events = await w.waitForEvents(3);
      assert.deepEqual(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
      for (const e of events) assert.equal(meta(e.object).name, 'w-1');
      assert.equal(obj(events[1].object.spec).online, false);
      const rvs = events.map((e) => Number(meta(e.object).resourceVersion));
      assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], `increasing: ${rvs.join(',')}`);
    } finally {
      w.close();
    }
    const resumed = await watch(server, `${hosts}?watch=true&resourceVersion=${addedRV}&${watchLabel('a')}`);
    try {
      const events = await resumed.waitForEvents(2);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(resumed.events.map((e) => e.type), ['MODIFIED', 'DELETED']);
      assert.equal(events.length, 2);
    } finally {
      resumed.close();
    }
  });

  test('a watch without resourceVersion starts with ADDED for existing objects', async () => {
    await create(bmh('w-existing', { labels: { watch: 'existing' } }));
    const w = await watch(server, `${hosts}?watch=true&${watchLabel('existing')}`);
    try {
      const [first] = await w.waitForEvents(1);
      assert.equal(first.type, 'ADDED');
      assert.equal(meta(first.object).name, 'w-existing');
    } finally {
      w.close();
    }
  });

  test('allowWatchBookmarks delivers a BOOKMARK', async () => {
    const w = await watch(server, `${hosts}?watch=true&resourceVersion=${await listRV()}&allowWatchBookmarks=true&${watchLabel('none')}`);
    try {
      const events = await w.waitForEvents(1, 35_000);
      const b = events[0];
      assert.equal(b.type, 'BOOKMARK');
      assert.equal(b.object.kind, 'BareMetalHost');
      assert.equal(b.object.apiVersion, 'metal3.io/v1alpha1');
      assert.match(String(meta(b.object).resourceVersion), /^\d+$/);
    } finally {
      w.close();
    }
  });

  test('timeoutSeconds ends the stream', async () => {
    const started = Date.now();
    const w = await watch(server, `${hosts}?watch=true&resourceVersion=${await listRV()}&timeoutSeconds=1`);
    await w.ended;
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 5000, `ended after ${took} ms`);
  });

  test('timeoutSeconds of 0, or past what a timer holds, leaves the stream open', async () => {
    // setTimeout turns a delay past 2^31-1 ms into 1 ms, and kube reads 0 as "no timeout given".
    for (const t of ['0', '99999999999']) {
      const w = await watch(server, `${hosts}?watch=true&resourceVersion=${await listRV()}&timeoutSeconds=${t}`);
      try {
        const ended = await Promise.race([w.ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1500))]);
        assert.equal(ended, false, `timeoutSeconds=${t} ended the watch within 1.5 s`);
      } finally {
        w.close();
      }
    }
  });

  test('a change that leaves a label selector is a DELETED event', async () => {
    await create(bmh('w-sel', { labels: { watch: 'sel' } }));
    const w = await watch(server, `${hosts}?watch=true&resourceVersion=${await listRV()}&${watchLabel('sel')}`);
    try {
      await patch(`${hosts}/w-sel`, { metadata: { labels: { watch: 'gone' } } });
      const [ev] = await w.waitForEvents(1);
      assert.equal(ev.type, 'DELETED');
      assert.equal(meta(ev.object).name, 'w-sel');
      assert.equal(obj(meta(ev.object).labels).watch, 'gone', 'the DELETED event carries the new state');
      await patch(`${hosts}/w-sel`, { metadata: { labels: { watch: 'sel' } } });
      const events = await w.waitForEvents(2);
      assert.equal(events[1].type, 'ADDED');
    } finally {
      w.close();
    }
  });
});

describe('Table output', () => {
  before(async () => {
    await create(bmh('tbl', { labels: { table: 'yes' }, spec: { online: true, bmc: { address: 'ipmi://10.0.0.1', credentialsName: 'bmc-secret' } } }));
  });

  function assertTable(t: Obj, rows: number): Obj[] {
    assert.equal(t.kind, 'Table');
    assert.equal(t.apiVersion, 'meta.k8s.io/v1');
    const r = arr(t.rows).map((x) => obj(x));
    assert.equal(r.length, rows);
    return r;
  }

  function assertColumns(t: Obj): string[] {
    const cols = arr(t.columnDefinitions).map((c) => obj(c));
    assert.deepEqual(
      cols.map((c) => c.name),
      ['Name', 'Status', 'State', 'Consumer', 'BMC', 'Online', 'Error', 'Age'],
    );
    assert.equal(cols[0].format, 'name');
    const wide = cols.filter((c) => c.priority === 1).map((c) => c.name);
    assert.deepEqual(wide, ['Status', 'BMC'], '-o wide columns have priority 1');
    assert.equal(cols.find((c) => c.name === 'Age')?.type, 'date');
    return cols.map((c) => String(c.name));
  }

  test('list as Table', async () => {
    const t = obj(ok(await get(`${hosts}?labelSelector=table%3Dyes`, { Accept: `${tableAccept},application/json` })));
    const cols = assertColumns(t);
    const [row] = assertTable(t, 1);
    const cells = arr(row.cells);
    assert.equal(cells.length, cols.length);
    assert.equal(cells[0], 'tbl');
    assert.equal(cells[cols.indexOf('BMC')], 'ipmi://10.0.0.1');
    assert.equal(cells[cols.indexOf('Online')], 'true');
    const o = obj(row.object);
    assert.equal(o.kind, 'PartialObjectMetadata');
    assert.equal(meta(o).name, 'tbl');
    assert.deepEqual(meta(o).labels, { table: 'yes' });
    assert.match(String(meta(t).resourceVersion), /^\d+$/);
  });

  test('single get as Table, and on /status', async () => {
    for (const path of [`${hosts}/tbl`, `${hosts}/tbl/status`]) {
      const t = obj(ok(await get(path, { Accept: tableAccept })));
      assertColumns(t);
      const [row] = assertTable(t, 1);
      assert.equal(arr(row.cells)[0], 'tbl');
    }
  });

  test('watch as Table: one-row tables, column definitions on the first event only', async () => {
    const w = await watch(server, `${hosts}?watch=true&labelSelector=table%3Dyes`, { Accept: tableAccept });
    try {
      const [first] = await w.waitForEvents(1);
      assert.equal(first.type, 'ADDED');
      assertColumns(first.object);
      assertTable(first.object, 1);
      await patch(`${hosts}/tbl`, { spec: { online: false } });
      const events: WatchEvent[] = await w.waitForEvents(2);
      const second = events[1];
      assert.equal(second.type, 'MODIFIED');
      const [row] = assertTable(second.object, 1);
      assert.equal(arr(second.object.columnDefinitions).length, 0);
      assert.equal(arr(row.cells)[0], 'tbl');
    } finally {
      w.close();
    }
  });
});

describe('the status subresource', () => {
  test('PUT and PATCH on /status change only status; main-resource writes leave status alone', async () => {
    await create(bmh('st', { labels: { v: '1' } }));
    const path = `${hosts}/st`;

    // PATCH /status with spec and label changes: only status lands.
    const p = obj(await patch(`${path}/status`, { metadata: { labels: { v: '2' } }, spec: { online: false }, status: statusIn('inspecting') }));
    assert.equal(obj(obj(p.status).provisioning).state, 'inspecting');
    assert.equal(obj(p.spec).online, true);
    assert.deepEqual(meta(p).labels, { v: '1' });

    // PUT /status likewise.
    const current = obj(ok(await get(path)));
    const put = obj(
      ok(
        await request(server, 'PUT', `${path}/status`, {
          body: JSON.stringify({ ...current, metadata: { ...meta(current), labels: { v: '3' } }, spec: { online: false }, status: statusIn('available') }),
        }),
      ),
    );
    assert.equal(obj(obj(put.status).provisioning).state, 'available');
    assert.equal(obj(put.spec).online, true);
    assert.deepEqual(meta(put).labels, { v: '1' });
    assert.equal(meta(put).generation, 1);

    // PUT and PATCH on the main resource ignore status.
    const latest = obj(ok(await get(path)));
    const mainPut = obj(
      ok(await request(server, 'PUT', path, { body: JSON.stringify({ ...latest, spec: { online: false }, status: statusIn('provisioned') }) })),
    );
    assert.equal(obj(mainPut.spec).online, false);
    assert.equal(obj(obj(mainPut.status).provisioning).state, 'available');
    const mainPatch = obj(await patch(path, { status: statusIn('deprovisioning') }));
    assert.equal(obj(obj(mainPatch.status).provisioning).state, 'available');
    assert.equal(obj(obj(obj(ok(await get(path))).status).provisioning).state, 'available');
  });

  test('a create ignores status', async () => {
    const c = await create(
      JSON.stringify({ apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: { name: 'st-create' }, spec: { online: true }, status: statusIn('provisioned') }),
    );
    assert.equal(c.status, undefined);
  });
});

describe('dryRun=All', () => {
  async function state(): Promise<string> {
    return JSON.stringify(obj(ok(await get(`${group}/baremetalhosts`))));
  }

  test('create, update, patch and delete persist nothing', async () => {
    await create(bmh('dry', { labels: { dry: 'run' } }));
    const before = await state();
    const beforeRV = await listRV();

    const c = await request(server, 'POST', `${hosts}?dryRun=All`, { body: bmh('dry-new') });
    assert.equal(c.status, 201, c.body);
    assert.equal(meta(c.json()).name, 'dry-new');
    assert.equal((await get(`${hosts}/dry-new`)).status, 404);

    const current = obj(ok(await get(`${hosts}/dry`)));
    const u = await request(server, 'PUT', `${hosts}/dry?dryRun=All`, { body: JSON.stringify({ ...current, spec: { online: false } }) });
    assert.equal(obj(obj(ok(u)).spec).online, false, 'the response shows the would-be result');

    const p = await request(server, 'PATCH', `${hosts}/dry?dryRun=All`, { headers: mergePatch, body: JSON.stringify({ metadata: { labels: { dry: 'changed' } } }) });
    assert.equal(obj(meta(ok(p)).labels).dry, 'changed');

    ok(await request(server, 'DELETE', `${hosts}/dry`, { body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] }) }));
    ok(await request(server, 'DELETE', `${hosts}/dry?dryRun=All`));
    ok(await request(server, 'DELETE', `${hosts}?dryRun=All&labelSelector=dry%3Drun`));

    assert.equal(await state(), before, 'nothing was stored');
    assert.equal(await listRV(), beforeRV);
    const stored = obj(ok(await get(`${hosts}/dry`)));
    assert.equal(obj(stored.spec).online, true);
    assert.equal(obj(meta(stored).labels).dry, 'run');
  });
});

describe('collections and bodies', () => {
  test('deletecollection deletes only what the label selector matches', async () => {
    for (const [n, team] of [['dc-1', 'x'], ['dc-2', 'x'], ['dc-3', 'y']]) await create(bmh(n, { labels: { team } }));
    const r = obj(ok(await request(server, 'DELETE', `${hosts}?labelSelector=team%3Dx`)));
    assert.equal(r.kind, 'BareMetalHostList');
    assert.deepEqual(names(r).sort(), ['dc-1', 'dc-2']);
    assert.deepEqual(names(ok(await get(`${hosts}?labelSelector=team`))), ['dc-3']);
  });

  test('a chunked request body is accepted', async () => {
    const r = await request(server, 'POST', hosts, { body: bmh('chunked', { labels: { via: 'chunks' } }), chunked: true });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(meta(ok(await get(`${hosts}/chunked`))).labels, { via: 'chunks' });
    const p = await request(server, 'PATCH', `${hosts}/chunked`, { headers: mergePatch, body: JSON.stringify({ spec: { online: false } }), chunked: true });
    assert.equal(obj(obj(ok(p)).spec).online, false);
  });
});
