// Read-side kubectl commands against the real server: get in every output format, selectors,
// pagination, describe, explain, and discovery as kubectl sees it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNamespace, kubectl, kubectlOK, requireKubectl, startServer, type RunningServer } from './harness.ts';
import { bmhManifest, parseTable } from './kubectl-output.ts';

interface HostJSON {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: { online: boolean; bmc: { address: string } };
  status?: { provisioning?: { state?: string } };
}

const statusFor = (state: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    status: {
      operationalStatus: 'OK',
      provisioning: { state, ID: '' },
      errorMessage: '',
      poweredOn: false,
      errorCount: 0,
      provisioningFailCount: 0,
      ...extra,
    },
  });

describe('kubectl get, describe, explain and discovery', () => {
  let server: RunningServer;
  const k = (...args: string[]) => kubectlOK(server, args);

  before(async () => {
    requireKubectl();
    server = await startServer();
    await createNamespace(server, 'rack-a');
    await createNamespace(server, 'rack-b');
    await createNamespace(server, 'paged');
    const manifests = [
      bmhManifest('host-0', { namespace: 'rack-a', labels: { role: 'control-plane', rack: 'a' }, spec: { consumerRef: { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1', kind: 'Metal3Machine', name: 'cp-0', namespace: 'rack-a' } } }),
      bmhManifest('host-1', { namespace: 'rack-a', labels: { role: 'worker', rack: 'a' }, spec: { online: false } }),
      bmhManifest('host-2', { namespace: 'rack-a', labels: { role: 'worker', rack: 'a' } }),
      bmhManifest('host-3', { namespace: 'rack-b', labels: { role: 'worker', rack: 'b' } }),
    ];
    await kubectlOK(server, ['create', '-f', '-'], { input: manifests.join('\n') });
    await k('-n', 'rack-a', 'patch', 'bmh', 'host-0', '--subresource=status', '--type=merge', '-p', statusFor('provisioned', { poweredOn: true }));
    await k('-n', 'rack-a', 'patch', 'bmh', 'host-1', '--subresource=status', '--type=merge', '-p', statusFor('available'));
    await k('-n', 'rack-a', 'patch', 'bmh', 'host-2', '--subresource=status', '--type=merge', '-p', statusFor('available'));
    await k('-n', 'rack-b', 'patch', 'bmh', 'host-3', '--subresource=status', '--type=merge', '-p',
      statusFor('provisioning', { operationalStatus: 'error', errorType: 'provisioning error', errorMessage: 'image write failed' }));
    const paged = Array.from({ length: 7 }, (_, i) => bmhManifest(`paged-${i}`, { namespace: 'paged' }));
    await kubectlOK(server, ['create', '-f', '-'], { input: paged.join('\n') });
  });
  after(async () => {
    await server?.stop();
  });

  test('get bmh prints the BMO columns NAME STATE CONSUMER ONLINE ERROR AGE', async () => {
    const { headers, rows } = parseTable(await k('-n', 'rack-a', 'get', 'bmh'));
    assert.deepEqual(headers, ['NAME', 'STATE', 'CONSUMER', 'ONLINE', 'ERROR', 'AGE']);
    assert.deepEqual(rows.map((r) => r.NAME), ['host-0', 'host-1', 'host-2']);
    assert.deepEqual(
      rows.map((r) => [r.STATE, r.CONSUMER, r.ONLINE, r.ERROR]),
      [
        ['provisioned', 'cp-0', 'true', ''],
        ['available', '', 'false', ''],
        ['available', '', 'true', ''],
      ],
    );
    for (const r of rows) assert.match(r.AGE, /^\d+s$/);
  });

  test('get bmh -o wide adds STATUS and BMC', async () => {
    const { headers, rows } = parseTable(await k('-n', 'rack-b', 'get', 'bmh', '-o', 'wide'));
    assert.deepEqual(headers, ['NAME', 'STATUS', 'STATE', 'CONSUMER', 'BMC', 'ONLINE', 'ERROR', 'AGE']);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].STATUS, 'error');
    assert.equal(rows[0].STATE, 'provisioning');
    assert.match(rows[0].BMC, /^redfish\+https:\/\/10\.20\.0\.\d+\/redfish\/v1\/Systems\/1$/);
    assert.equal(rows[0].ERROR, 'provisioning error');
  });

  test('get -A lists every namespace with a NAMESPACE column; bmhost is a short name too', async () => {
    const { headers, rows } = parseTable(await k('get', 'bmhost', '-A'));
    assert.deepEqual(headers, ['NAMESPACE', 'NAME', 'STATE', 'CONSUMER', 'ONLINE', 'ERROR', 'AGE']);
    const names = rows.map((r) => `${r.NAMESPACE}/${r.NAME}`);
    for (const n of ['rack-a/host-0', 'rack-a/host-1', 'rack-a/host-2', 'rack-b/host-3', 'paged/paged-6']) assert.ok(names.includes(n), n);
    assert.equal(rows.length, 11);
  });

  test('get -o yaml and -o json print the stored object', async () => {
    const yaml = await k('-n', 'rack-a', 'get', 'bmh', 'host-0', '-o', 'yaml');
    assert.match(yaml, /^apiVersion: metal3\.io\/v1alpha1$/m);
    assert.match(yaml, /^kind: BareMetalHost$/m);
    assert.match(yaml, /^ {2}name: host-0$/m);
    assert.match(yaml, /^ {4}state: provisioned$/m);
    const obj = JSON.parse(await k('-n', 'rack-a', 'get', 'bmh', 'host-0', '-o', 'json')) as HostJSON;
    assert.equal(obj.metadata.name, 'host-0');
    assert.equal(obj.metadata.namespace, 'rack-a');
    assert.equal(obj.status?.provisioning?.state, 'provisioned');
    const list = JSON.parse(await k('-n', 'rack-a', 'get', 'bmh', '-o', 'json')) as { kind: string; items: HostJSON[] };
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['host-0', 'host-1', 'host-2']);
  });

  test('get -o jsonpath', async () => {
    assert.equal(await k('-n', 'rack-a', 'get', 'bmh', '-o', 'jsonpath={.items[*].metadata.name}'), 'host-0 host-1 host-2');
    const lines = await k('-n', 'rack-a', 'get', 'bmh', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.online}{"\\n"}{end}');
    assert.equal(lines, 'host-0=true\nhost-1=false\nhost-2=true\n');
    assert.equal(await k('-n', 'rack-b', 'get', 'bmh', 'host-3', '-o', 'jsonpath={.status.errorMessage}'), 'image write failed');
  });

  test('get -l filters by label selector', async () => {
    const names = async (...args: string[]) => parseTable(await k('get', 'bmh', '-A', ...args)).rows.map((r) => r.NAME);
    assert.deepEqual(await names('-l', 'role=worker'), ['host-1', 'host-2', 'host-3']);
    assert.deepEqual(await names('-l', 'role=worker,rack!=a'), ['host-3']);
    assert.deepEqual(await names('-l', 'role in (control-plane)'), ['host-0']);
    const none = await kubectl(server, ['-n', 'rack-a', 'get', 'bmh', '-l', 'role=storage']);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /No resources found in rack-a namespace\./);
  });

  test('get --field-selector on metadata.name and status.provisioning.state', async () => {
    const names = async (selector: string) => parseTable(await k('get', 'bmh', '-A', '--field-selector', selector)).rows.map((r) => r.NAME);
    assert.deepEqual(await names('metadata.name=host-2'), ['host-2']);
    assert.deepEqual(await names('status.provisioning.state=available'), ['host-1', 'host-2']);
    assert.deepEqual(await names('status.provisioning.state!=available,metadata.namespace!=paged'), ['host-0', 'host-3']);
    const bad = await kubectl(server, ['get', 'bmh', '-A', '--field-selector', 'spec.online=true']);
    assert.notEqual(bad.code, 0, 'a field that is not selectable is refused');
    assert.match(bad.stderr, /field label not supported: spec\.online/);
  });

  test('get --chunk-size=2 pages through the list and still prints every host', async () => {
    const r = await kubectl(server, ['-n', 'paged', 'get', 'bmh', '--chunk-size=2', '-v=6']);
    assert.equal(r.code, 0, r.stderr);
    const requests = r.stderr.split('\n').filter((l) => /GET https:\/\/\S+\/namespaces\/paged\/baremetalhosts\?\S*limit=2/.test(l));
    assert.equal(requests.length, 4, `7 hosts in pages of 2 take 4 requests:\n${requests.join('\n')}`);
    assert.equal(requests.filter((l) => l.includes('continue=')).length, 3);
    const { rows } = parseTable(r.stdout);
    assert.deepEqual(rows.map((row) => row.NAME), Array.from({ length: 7 }, (_, i) => `paged-${i}`));
  });

  test('describe bmh shows metadata, spec and status', async () => {
    const out = await k('-n', 'rack-b', 'describe', 'bmh', 'host-3');
    assert.match(out, /^Name: +host-3$/m);
    assert.match(out, /^Namespace: +rack-b$/m);
    assert.match(out, /^Labels: +rack=b$/m);
    assert.match(out, /^API Version: +metal3\.io\/v1alpha1$/m);
    assert.match(out, /^Kind: +BareMetalHost$/m);
    assert.match(out, /^ {4}Address: +redfish\+https:\/\/10\.20\.0\.\d+\/redfish\/v1\/Systems\/1$/m);
    assert.match(out, /^ {4}State: +provisioning$/m);
    assert.match(out, /^ {2}Error Type: +provisioning error$/m);
    assert.match(out, /^Events: +<none>$/m);
  });

  test('explain bmh and explain bmh.spec.bmc print the field descriptions', async () => {
    const top = await k('explain', 'bmh');
    assert.match(top, /^KIND: +BareMetalHost$/m);
    assert.match(top, /^VERSION: +v1alpha1$/m);
    assert.match(top, /^GROUP: +metal3\.io$/m);
    assert.match(top, /^ {2}spec\t<Object>$/m);
    assert.match(top, /^ {2}status\t<Object>$/m);
    const bmc = await k('explain', 'bmh.spec.bmc');
    assert.match(bmc, /^FIELD: bmc <Object>$/m);
    assert.match(bmc, /How to reach the baseboard management controller/);
    assert.match(bmc, /^ {2}address\t<string> -required-$/m);
    assert.match(bmc, /^ {2}credentialsName\t<string> -required-$/m);
    assert.match(bmc, /^ {2}disableCertificateVerification\t<boolean>$/m);
    const online = await k('explain', 'baremetalhost.spec.online');
    assert.match(online, /^FIELD: online <boolean>$/m);
    assert.match(online, /Whether the host should be powered on/);
  });

  test('api-resources lists baremetalhosts with short names bmh,bmhost; api-versions lists metal3.io/v1alpha1', async () => {
    const { rows } = parseTable(await k('api-resources', '--api-group=metal3.io'));
    const bmh = rows.find((r) => r.NAME === 'baremetalhosts');
    assert.deepEqual(bmh, { NAME: 'baremetalhosts', SHORTNAMES: 'bmh,bmhost', APIVERSION: 'metal3.io/v1alpha1', NAMESPACED: 'true', KIND: 'BareMetalHost' });
    const versions = (await k('api-versions')).split('\n');
    assert.ok(versions.includes('metal3.io/v1alpha1'), versions.join(','));
    assert.ok(versions.includes('v1'));
  });

  test('get --raw serves discovery and the OpenAPI v3 documents', async () => {
    const raw = async (path: string) => JSON.parse(await k('get', '--raw', path)) as Record<string, unknown>;
    const groups = (await raw('/apis')) as { kind: string; groups: { name: string; preferredVersion: { groupVersion: string } }[] };
    assert.equal(groups.kind, 'APIGroupList');
    assert.deepEqual(groups.groups.find((g) => g.name === 'metal3.io')?.preferredVersion.groupVersion, 'metal3.io/v1alpha1');

    const resources = (await raw('/apis/metal3.io/v1alpha1')) as { kind: string; groupVersion: string; resources: { name: string; shortNames?: string[]; verbs: string[] }[] };
    assert.equal(resources.kind, 'APIResourceList');
    assert.equal(resources.groupVersion, 'metal3.io/v1alpha1');
    const bmh = resources.resources.find((r) => r.name === 'baremetalhosts');
    assert.deepEqual(bmh?.shortNames, ['bmh', 'bmhost']);
    assert.ok(bmh?.verbs.includes('watch'));
    assert.ok(resources.resources.some((r) => r.name === 'baremetalhosts/status'));

    const root = (await raw('/openapi/v3')) as { paths: Record<string, { serverRelativeURL: string }> };
    const gv = root.paths['apis/metal3.io/v1alpha1'];
    assert.match(gv?.serverRelativeURL ?? '', /^\/openapi\/v3\/apis\/metal3\.io\/v1alpha1\?hash=[0-9A-F]+$/);
    const doc = (await raw(gv.serverRelativeURL)) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.components.schemas['io.metal3.v1alpha1.BareMetalHost']);
    assert.ok(doc.paths['/apis/metal3.io/v1alpha1/namespaces/{namespace}/baremetalhosts/{name}/status']);
  });

  test('get --subresource=status returns the host', async () => {
    const obj = JSON.parse(await k('-n', 'rack-a', 'get', 'bmh', 'host-1', '--subresource=status', '-o', 'json')) as HostJSON;
    assert.equal(obj.metadata.name, 'host-1');
    assert.equal(obj.status?.provisioning?.state, 'available');
  });
});
