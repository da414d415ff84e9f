// The BareMetalHost action subresources, inspect and provision, against the real server: discovery and
// OpenAPI entries, the atomic spec write through the admission chain, consumer conflicts, dry-run, and
// the state rules of inspection. kubectl reaches them with `create --raw`, as users will.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, kubectlOK, requireKubectl, startServer, type RunningServer } from './harness.ts';
import { closeClient, request } from './client.ts';

const base = '/apis/metal3.io/v1alpha1/namespaces/default/baremetalhosts';
const json = { 'Content-Type': 'application/json' };

const host = (name: string, spec: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name },
    spec: { online: false, bmc: { address: 'redfish-virtualmedia://10.0.0.9/redfish/v1/Systems/1', credentialsName: 'creds' }, ...spec },
  });

const provisionRequest = (extra: Record<string, unknown> = {}) => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'ProvisionRequest',
  image: { url: 'http://images.example.com/os.qcow2', checksum: 'http://images.example.com/os.qcow2.sha256sum', checksumType: 'sha256', format: 'qcow2' },
  userData: { name: 'worker-user-data' },
  ...extra,
});

const inspectionRequest = (extra: Record<string, unknown> = {}) => ({ apiVersion: 'metal3.io/v1alpha1', kind: 'InspectionRequest', ...extra });

/** Put a host in a provisioning state through /status, as the reconciler would. */
async function setState(server: RunningServer, name: string, state: string): Promise<void> {
  const status = { operationalStatus: 'OK', errorMessage: '', poweredOn: false, provisioning: { ID: '', state } };
  const r = await request(server, 'PATCH', `${base}/${name}/status`, {
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ status }),
  });
  assert.equal(r.status, 200, r.body);
}

describe('BareMetalHost inspect and provision subresources', () => {
  let server: RunningServer;
  const post = (name: string, action: string, body: unknown, query = '') =>
    request(server, 'POST', `${base}/${name}/${action}${query}`, { headers: json, body: JSON.stringify(body) });
  const get = async (name: string) => JSON.parse((await request(server, 'GET', `${base}/${name}`)).body) as Record<string, Record<string, unknown>>;

  before(async () => {
    requireKubectl();
    server = await startServer();
  });
  after(async () => {
    closeClient(server);
    await server?.stop();
  });

  test('discovery lists both subresources with their request kinds, and OpenAPI documents them', async () => {
    const out = await kubectlOK(server, ['get', '--raw', '/apis/metal3.io/v1alpha1']);
    const resources = (JSON.parse(out) as { resources: { name: string; kind: string; verbs: string[] }[] }).resources;
    const find = (n: string) => resources.find((r) => r.name === n);
    assert.deepEqual(find('baremetalhosts/inspect'), { name: 'baremetalhosts/inspect', singularName: '', namespaced: true, kind: 'InspectionRequest', verbs: ['create'] });
    assert.deepEqual(find('baremetalhosts/provision')?.verbs, ['create']);
    const root = JSON.parse(await kubectlOK(server, ['get', '--raw', '/openapi/v3'])) as { paths: Record<string, { serverRelativeURL: string }> };
    const doc = JSON.parse(await kubectlOK(server, ['get', '--raw', root.paths['apis/metal3.io/v1alpha1'].serverRelativeURL])) as {
      paths: Record<string, { post?: { 'x-kubernetes-group-version-kind': { kind: string } } }>;
      components: { schemas: Record<string, unknown> };
    };
    const p = doc.paths['/apis/metal3.io/v1alpha1/namespaces/{namespace}/baremetalhosts/{name}/provision'];
    assert.equal(p?.post?.['x-kubernetes-group-version-kind'].kind, 'ProvisionRequest');
    assert.ok(doc.components.schemas['io.metal3.v1alpha1.ProvisionRequest']);
    assert.ok(doc.components.schemas['io.metal3.v1alpha1.InspectionRequest']);
  });

  test('provision through kubectl create --raw sets image, userData and online in one write', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('p1') });
    const file = join(server.dataDir, 'provision.json');
    writeFileSync(file, JSON.stringify(provisionRequest()));
    const out = JSON.parse(await kubectlOK(server, ['create', '--raw', `${base}/p1/provision`, '-f', file])) as Record<string, Record<string, unknown>>;
    assert.equal(out.kind as unknown, 'BareMetalHost');
    assert.deepEqual(out.spec.image, provisionRequest().image);
    assert.deepEqual(out.spec.userData, { name: 'worker-user-data' });
    assert.equal(out.spec.online, true);
    assert.equal(out.metadata.generation, 2, 'a spec change bumps generation once');
    const stored = await get('p1');
    assert.deepEqual(stored.spec.image, provisionRequest().image);
    const entry = (stored.metadata.managedFields as { manager: string; subresource?: string }[]).find((m) => m.subresource === 'provision');
    assert.ok(entry, 'the write is recorded as made through the provision subresource');
  });

  test('a bad checksum type is a 422 naming the field; nothing changes', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('p2') });
    const before = await get('p2');
    const bad = provisionRequest({ image: { ...provisionRequest().image, checksumType: 'sha1' } });
    const r = await post('p2', 'provision', bad);
    assert.equal(r.status, 422);
    const status = JSON.parse(r.body) as { reason: string; details: { causes: { field: string }[] } };
    assert.equal(status.reason, 'Invalid');
    assert.deepEqual(status.details.causes.map((c) => c.field), ['image.checksumType']);
    assert.equal((await get('p2')).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  test('the host is validated with its own rules: an image without checksum is refused with the spec field named', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('p3') });
    const r = await post('p3', 'provision', provisionRequest({ image: { url: 'http://images.example.com/os.qcow2' } }));
    assert.equal(r.status, 422, r.body);
    assert.match(r.body, /spec\.image\.checksum/);
  });

  test('neither image nor customDeploy is a 422; a wrong kind or a non-object body is a 400', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('p4') });
    const { image: _image, ...noImage } = provisionRequest();
    const r = await post('p4', 'provision', noImage);
    assert.equal(r.status, 422);
    assert.match(r.body, /one of image or customDeploy is required/);
    assert.equal((await post('p4', 'provision', { ...provisionRequest(), kind: 'BareMetalHost' })).status, 400);
    assert.equal((await post('p4', 'provision', [1, 2])).status, 400);
    assert.equal((await post('p4', 'provision', provisionRequest({ bogus: 1 }), '?fieldValidation=Strict')).status, 400);
  });

  test('a host consumed by someone else is a 409 unless the request names the same consumer', async () => {
    const consumer = { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1', kind: 'Metal3Machine', namespace: 'default', name: 'm1' };
    await kubectlOK(server, ['create', '-f', '-'], { input: host('p5', { consumerRef: consumer }) });
    const other = await post('p5', 'provision', provisionRequest({ consumerRef: { ...consumer, name: 'm2' } }));
    assert.equal(other.status, 409);
    assert.match(other.body, /consumed by Metal3Machine default\/m1/);
    assert.equal((await post('p5', 'provision', provisionRequest())).status, 409, 'no consumerRef at all is someone else too');
    const same = await post('p5', 'provision', provisionRequest({ consumerRef: consumer }));
    assert.equal(same.status, 201, same.body);
  });

  test('dryRun=All validates and answers without storing', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('p6') });
    const before = await get('p6');
    const r = await post('p6', 'provision', provisionRequest(), '?dryRun=All');
    assert.equal(r.status, 201, r.body);
    assert.equal((JSON.parse(r.body) as { spec: { online: boolean } }).spec.online, true);
    const after = await get('p6');
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.equal(after.spec.image, undefined);
  });

  test('a missing host is a 404', async () => {
    const r = await post('nope', 'provision', provisionRequest());
    assert.equal(r.status, 404);
    assert.match(r.body, /baremetalhosts.metal3.io \\"nope\\" not found/);
  });

  test('inspect: 409 with the reason for a host that cannot inspect, accepted for an available host', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('i1') });
    const early = await post('i1', 'inspect', inspectionRequest());
    assert.equal(early.status, 409);
    assert.match(early.body, /cannot be inspected; only available hosts can/);

    await setState(server, 'i1', 'provisioned');
    assert.match((await post('i1', 'inspect', inspectionRequest())).body, /in state \\"provisioned\\" cannot be inspected/);

    await setState(server, 'i1', 'available');
    const ok = await post('i1', 'inspect', inspectionRequest());
    assert.equal(ok.status, 201, ok.body);
    assert.deepEqual(JSON.parse(ok.body), {
      apiVersion: 'metal3.io/v1alpha1',
      kind: 'InspectionRequest',
      metadata: { name: 'i1', namespace: 'default' },
      status: { accepted: true, hostState: 'available' },
    });
    assert.equal((await get('i1')).metadata.annotations?.['inspect.metal3.io' as keyof object], '');

    const again = await post('i1', 'inspect', inspectionRequest());
    assert.equal(again.status, 409);
    assert.match(again.body, /already requested; set force/);
    assert.equal((await post('i1', 'inspect', inspectionRequest({ force: true }))).status, 201);
  });

  test('inspect: disabled inspection is a 409; dryRun stores nothing', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('i2', { inspectionMode: 'disabled', bootMACAddress: '00:11:22:33:44:55' }) });
    await setState(server, 'i2', 'available');
    const r = await post('i2', 'inspect', inspectionRequest());
    assert.equal(r.status, 409);
    assert.match(r.body, /inspection is disabled/);

    await kubectlOK(server, ['create', '-f', '-'], { input: host('i3') });
    await setState(server, 'i3', 'available');
    const before = await get('i3');
    assert.equal((await post('i3', 'inspect', inspectionRequest(), '?dryRun=All')).status, 201);
    assert.equal((await get('i3')).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  test('kubectl reports the 409 of inspect as a Conflict error', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('i4') });
    const file = join(server.dataDir, 'inspect.json');
    writeFileSync(file, JSON.stringify(inspectionRequest()));
    const r = await kubectl(server, ['create', '--raw', `${base}/i4/inspect`, '-f', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error from server \(Conflict\)/);
  });
});
