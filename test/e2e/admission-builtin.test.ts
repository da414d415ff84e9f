// Built-in admission for BareMetalHost seen from outside: BMO's validation through kubectl and through the
// AdmissionReview endpoint alike, the defaults a user sees and their stability under repeated apply, and
// the update rules that depend on the host's status.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { kubectl, kubectlOK, requireKubectl, startServer, type RunningServer } from './harness.ts';
import { bmhManifest } from './kubectl-output.ts';

const NS = 'default';

/** One host with many of BMO's create-time mistakes at once. */
const invalidHost = {
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { name: 'many-mistakes', namespace: NS },
  spec: {
    online: false,
    disablePowerOff: true,
    bootMACAddress: '00:11:22:33:44',
    bmc: { address: 'ilo4://10.0.0.1', credentialsName: 'many-mistakes-bmc' },
    image: { url: 'http://images.example.com/ubuntu.qcow2', checksumType: 'sha256' },
    userData: { name: 'user-data', namespace: 'elsewhere' },
    rootDeviceHints: { deviceName: 'sda' },
    raid: { hardwareRAIDVolumes: [{ level: '1' }], softwareRAIDVolumes: [{ level: '1' }] },
  },
};

/** Each expected cause: field, then the message as kubectl prints it after "field: ". */
const expectedCauses: [string, string][] = [
  ['spec.bmc.address', `Invalid value: "ilo4://10.0.0.1": Unknown BMC type 'ilo4' for address ilo4://10.0.0.1`],
  ['spec.bootMACAddress', 'Invalid value: "00:11:22:33:44": address 00:11:22:33:44: invalid MAC address'],
  ['spec.image.checksum', 'Required value: checksum is required for normal images'],
  ['spec.userData.namespace', 'Forbidden: userData: cross-namespace Secret references are not allowed'],
  ['spec.disablePowerOff', "Forbidden: node can't simultaneously have online set to false and have power off disabled"],
  ['spec.rootDeviceHints.deviceName', 'Invalid value: "sda": device name of root device hint must be a /dev/ path, not "sda"'],
  ['spec.raid', 'Forbidden: hardwareRAIDVolumes and softwareRAIDVolumes can not be set at the same time'],
];

interface StatusCause {
  field?: string;
  reason?: string;
  message?: string;
}

interface ReviewResponse {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    status?: { code?: number; message?: string; details?: { causes?: StatusCause[] } };
  };
}

/** POST an AdmissionReview to the server's webhook listener (its own CA, so verification is off). */
function postReview(base: string, path: string, review: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(review);
    const req = https.request(`${base}${path}`, { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function statusPatch(state: string, operationalStatus = 'OK'): string {
  // The status schema requires these fields, as BMO's CRD does; a controller always writes them all.
  return JSON.stringify({ status: { errorMessage: '', operationalStatus, poweredOn: false, provisioning: { ID: '', state } } });
}

describe('built-in BareMetalHost admission, through kubectl and the AdmissionReview endpoint', () => {
  let server: RunningServer;
  let webhookBase: string;
  const k = (...args: string[]) => kubectl(server, ['-n', NS, ...args]);
  const kOK = (...args: string[]) => kubectlOK(server, ['-n', NS, ...args]);
  const patchSpec = (name: string, spec: Record<string, unknown>) => k('patch', 'bmh', name, '--type=merge', '-p', JSON.stringify({ spec }));
  const setStatus = (name: string, state: string, operationalStatus?: string) =>
    kOK('patch', 'bmh', name, '--subresource=status', '--type=merge', '-p', statusPatch(state, operationalStatus));

  before(async () => {
    requireKubectl();
    server = await startServer(['--webhook-port', '0']);
    const m = /AdmissionReview endpoints on (https:\/\/\S+)/.exec(server.output());
    assert.ok(m, `the server announces its AdmissionReview endpoints:\n${server.output()}`);
    webhookBase = m[1];
  });
  after(async () => {
    await server?.stop();
  });

  test('kubectl create lists every cause of an invalid host in one 422', async () => {
    const r = await kubectl(server, ['create', '-f', '-', '-v=6'], { input: JSON.stringify(invalidHost) });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /POST https:\/\/\S+\/apis\/metal3\.io\/v1alpha1\/namespaces\/default\/baremetalhosts\?fieldManager=kubectl-create\S* 422 Unprocessable Entity/);
    assert.match(r.stderr, /The BareMetalHost "many-mistakes" is invalid: \n/);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('* '));
    for (const [field, message] of expectedCauses) {
      assert.ok(lines.includes(`* ${field}: ${message}`), `missing cause "${field}: ${message}" in:\n${lines.join('\n')}`);
    }
    const get = await k('get', 'bmh', 'many-mistakes');
    assert.match(get.stderr, /not found/);
  });

  test('the AdmissionReview endpoint denies the same host with the same causes', async () => {
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: '6f2c1d0e-4b8a-4c1e-9d55-0a1b2c3d4e5f',
        kind: { group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' },
        resource: { group: 'metal3.io', version: 'v1alpha1', resource: 'baremetalhosts' },
        requestKind: { group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' },
        requestResource: { group: 'metal3.io', version: 'v1alpha1', resource: 'baremetalhosts' },
        name: invalidHost.metadata.name,
        namespace: NS,
        operation: 'CREATE',
        userInfo: { username: 'kubernetes-admin', groups: ['system:masters'] },
        object: invalidHost,
        dryRun: false,
      },
    };
    const res = await postReview(webhookBase, '/validate-metal3-io-v1alpha1-baremetalhost', review);
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as ReviewResponse;
    assert.equal(body.kind, 'AdmissionReview');
    assert.equal(body.response.uid, review.request.uid);
    assert.equal(body.response.allowed, false);
    const causes = body.response.status?.details?.causes ?? [];
    for (const [field, message] of expectedCauses) {
      assert.ok(
        causes.some((c) => c.field === field && c.message === message),
        `missing cause ${field}: ${message} in ${JSON.stringify(causes, null, 1)}`,
      );
      assert.ok(body.response.status?.message?.includes(`${field}: ${message}`), `the status message names ${field}`);
    }

    // The same review with the mistakes fixed is allowed.
    const fixed = structuredClone(review);
    fixed.request.object = JSON.parse(bmhManifest('fixed', { namespace: NS, spec: { online: false } })) as typeof invalidHost;
    const ok = JSON.parse((await postReview(webhookBase, '/validate-metal3-io-v1alpha1-baremetalhost', fixed)).body) as ReviewResponse;
    assert.equal(ok.response.allowed, true, JSON.stringify(ok.response));
  });

  test('the defaults are visible in a server dry run and stable under repeated apply', async () => {
    const manifest = bmhManifest('defaulted', { namespace: NS });
    const dry = JSON.parse(await kubectlOK(server, ['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: manifest })) as { spec: Record<string, unknown> };
    assert.equal(dry.spec.bootMode, 'UEFI');
    assert.equal(dry.spec.automatedCleaningMode, 'metadata');
    assert.equal(dry.spec.online, true);
    const dryYaml = await kubectlOK(server, ['create', '--dry-run=server', '-o', 'yaml', '-f', '-'], { input: manifest });
    assert.match(dryYaml, /^ {2}bootMode: UEFI$/m);
    assert.match(dryYaml, /^ {2}automatedCleaningMode: metadata$/m);

    const apply = () => kubectlOK(server, ['apply', '-f', '-'], { input: manifest });
    assert.equal((await apply()).trim(), 'baremetalhost.metal3.io/defaulted created');
    assert.equal((await apply()).trim(), 'baremetalhost.metal3.io/defaulted unchanged');
    const diff = await kubectl(server, ['diff', '-f', '-'], { input: manifest });
    assert.equal(diff.code, 0, `kubectl diff shows a perpetual diff:\n${diff.stdout}${diff.stderr}`);
    assert.equal(diff.stdout, '');

    const ssaManifest = bmhManifest('defaulted-ssa', { namespace: NS });
    const rv = async () => (await kOK('get', 'bmh', 'defaulted-ssa', '-o', 'jsonpath={.metadata.resourceVersion}')).trim();
    const ssa = () => kubectlOK(server, ['apply', '--server-side', '-f', '-'], { input: ssaManifest });
    await ssa();
    const first = await rv();
    await ssa();
    assert.equal(await rv(), first, 'a repeated server-side apply writes nothing');
    const ssaDiff = await kubectl(server, ['diff', '--server-side', '-f', '-'], { input: ssaManifest });
    assert.equal(ssaDiff.code, 0, `server-side diff:\n${ssaDiff.stdout}${ssaDiff.stderr}`);
    const stored = JSON.parse(await kOK('get', 'bmh', 'defaulted-ssa', '-o', 'json')) as { spec: Record<string, unknown> };
    assert.equal(stored.spec.bootMode, 'UEFI');
    assert.equal(stored.spec.automatedCleaningMode, 'metadata');
  });

  test('bootMACAddress is immutable once set', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: bmhManifest('mac', { namespace: NS }) });
    // Setting it the first time is allowed.
    assert.equal((await patchSpec('mac', { bootMACAddress: '00:11:22:33:44:55' })).code, 0);
    const r = await patchSpec('mac', { bootMACAddress: '00:11:22:33:44:66' });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), 'The BareMetalHost "mac" is invalid: spec.bootMACAddress: Forbidden: bootMACAddress can not be changed once it is set');
    assert.equal((await kOK('get', 'bmh', 'mac', '-o', 'jsonpath={.spec.bootMACAddress}')).trim(), '00:11:22:33:44:55');
  });

  test('bmc.address changes only while the host is registering or detached', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: bmhManifest('bmc', { namespace: NS }) });
    const address = (n: number) => ({ bmc: { address: `redfish-virtualmedia://10.9.0.${n}/redfish/v1/Systems/1`, credentialsName: 'bmc-bmc-secret' } });
    const denied = 'The BareMetalHost "bmc" is invalid: spec.bmc.address: Forbidden: BMC address can not be changed if the BMH is not in the Registering state, or if the BMH is not detached';

    await setStatus('bmc', 'provisioned');
    let r = await patchSpec('bmc', address(1));
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), denied);

    await setStatus('bmc', 'registering');
    r = await patchSpec('bmc', address(2));
    assert.equal(r.code, 0, r.stderr);

    await setStatus('bmc', 'provisioned', 'detached');
    r = await patchSpec('bmc', address(3));
    assert.equal(r.code, 0, r.stderr);

    await setStatus('bmc', 'provisioned', 'OK');
    r = await patchSpec('bmc', address(4));
    assert.equal(r.stderr.trim(), denied);
    assert.match(await kOK('get', 'bmh', 'bmc', '-o', 'jsonpath={.spec.bmc.address}'), /10\.9\.0\.3\//);
  });

  test('externallyProvisioned turns on only from available', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: bmhManifest('ext', { namespace: NS }) });
    await setStatus('ext', 'preparing');
    const r = await patchSpec('ext', { externallyProvisioned: true });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), 'The BareMetalHost "ext" is invalid: spec.externallyProvisioned: Forbidden: externallyProvisioned can only be enabled when in Available state, currently in preparing');
    await setStatus('ext', 'available');
    const ok = await patchSpec('ext', { externallyProvisioned: true });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await kOK('get', 'bmh', 'ext', '-o', 'jsonpath={.spec.externallyProvisioned}')).trim(), 'true');
  });
});
