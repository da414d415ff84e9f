// Secrets stay secret: unique BMC usernames and passwords, user data, network data and meta data are planted
// in Secrets, hosts go through a whole lifecycle (and through the failure paths that quote their inputs),
// and then every place the server writes for people to read is searched for those values, plain and in
// base64: its log, every object's status, all Events, /metrics, the files beside the database, and the
// error messages of failing requests. Only the Secrets themselves may hold them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createNamespace, kubectl, kubectlOK, requireKubectl, startServer, withReconcilers, type KubectlResult, type RunningServer } from './harness.ts';
import { ironicSkipReason, startIronic, type RunningIronic } from '../ironic/harness.ts';

/** A value that can only come from where it was planted. */
const unique = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;

/**
 * The value and its base64 forms. A value embedded in a longer string is encoded at one of three
 * alignments; the whole 3-byte groups of value.slice(0|1|2) appear in that encoding whatever the rest is.
 */
function forms(value: string): string[] {
  const out = [value];
  for (const shift of [0, 1, 2]) {
    const sub = Buffer.from(value.slice(shift));
    out.push(sub.subarray(0, Math.floor(sub.length / 3) * 3).toString('base64'));
  }
  return out;
}

class Planted {
  values = new Map<string, string>();

  add(label: string, value = unique(label)): string {
    this.values.set(label, value);
    return value;
  }

  /** Which planted values (by label and form) appear in text. */
  leaks(text: string): string[] {
    const found: string[] = [];
    for (const [label, value] of this.values) {
      forms(value).forEach((f, i) => {
        if (text.includes(f)) found.push(i === 0 ? label : `${label} (base64)`);
      });
    }
    return found;
  }

  assertAbsent(where: string, text: string): void {
    assert.deepEqual(this.leaks(text), [], `planted secrets appear in ${where}`);
  }
}

interface Host {
  status?: { errorType?: string; errorMessage?: string; poweredOn?: boolean; provisioning?: { state?: string } };
}

const base64 = (s: string) => Buffer.from(s).toString('base64');

/** Everything the server makes readable, besides the Secrets: searched at the end of each lifecycle. */
async function readableSurfaces(server: RunningServer): Promise<[string, string][]> {
  const surfaces: [string, string][] = [['the server log', server.output()]];
  // Whole objects, not only their status: annotations and spec are as readable.
  surfaces.push(['hosts, hardware data, firmware settings and schemas', await kubectlOK(server, ['get', 'bmh,hardwaredata,hfs,firmwareschema', '-A', '-o', 'json'])]);
  surfaces.push(['events', await kubectlOK(server, ['get', 'events', '-A', '-o', 'json'])]);
  surfaces.push(['kubectl describe bmh', await kubectlOK(server, ['describe', 'bmh', '-A'])]);
  surfaces.push(['/metrics', await kubectlOK(server, ['get', '--raw', '/metrics'])]);
  // Logs and configuration next to the database (the database holds the Secrets, as etcd does).
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  for (const file of walk(server.dataDir)) {
    if (/\.(db|sqlite)(-wal|-shm|-journal)?$/.test(file) || file.includes(`${join(server.dataDir, 'kubecache')}`)) continue;
    surfaces.push([file, readFileSync(file, 'latin1')]);
  }
  return surfaces;
}

const secretManifest = (namespace: string, name: string, data: Record<string, string>) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, base64(v)])) });

const hostManifest = (namespace: string, name: string, address: string, credentialsName: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace },
    spec: { online: true, bootMACAddress: '52:54:00:aa:bb:01', bmc: { address, credentialsName }, ...extra },
  });

async function waitHost(server: RunningServer, namespace: string, name: string, cond: (h: Host) => boolean, what: string, timeoutMs = 30_000): Promise<Host> {
  const start = Date.now();
  let last: Host | undefined;
  while (Date.now() - start < timeoutMs) {
    const r = await kubectl(server, ['-n', namespace, 'get', 'bmh', name, '-o', 'json']);
    last = r.code === 0 ? (JSON.parse(r.stdout) as Host) : undefined;
    if (cond(last ?? {})) return last ?? {};
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`timed out waiting for ${namespace}/${name}: ${what}; last status ${JSON.stringify(last?.status)}`);
}

const state = (h: Host) => h.status?.provisioning?.state;

/** Provision through the subresource with all three cloud-init Secrets. */
async function provision(server: RunningServer, namespace: string, name: string): Promise<void> {
  const body = {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'ProvisionRequest',
    image: { url: 'http://images.example.com/os.qcow2', checksum: 'http://images.example.com/os.qcow2.sha256sum', checksumType: 'sha256', format: 'qcow2' },
    userData: { name: 'user-data' },
    networkData: { name: 'network-data' },
    metaData: { name: 'meta-data' },
  };
  await kubectlOK(server, ['create', '--raw', `/apis/metal3.io/v1alpha1/namespaces/${namespace}/baremetalhosts/${name}/provision`, '-f', '-'], { input: JSON.stringify(body) });
}

/** The cloud-init Secrets, with planted values in each. */
async function createProvisioningSecrets(server: RunningServer, namespace: string, planted: Planted): Promise<void> {
  const userData = `#cloud-config\npassword: ${planted.add('user data')}\nchpasswd: { expire: false }\n`;
  const networkData = JSON.stringify({ links: [{ id: 'eth0', type: 'phy', ethernet_mac_address: '52:54:00:aa:bb:01' }], services: [{ type: 'dns', address: planted.add('network data') }] });
  const metaData = `local-hostname: ${planted.add('meta data')}\n`;
  await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(namespace, 'user-data', { userData }) });
  await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(namespace, 'network-data', { networkData }) });
  await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(namespace, 'meta-data', { metaData }) });
}

function assertNothingLeaks(planted: Planted, surfaces: [string, string][]): void {
  for (const [where, text] of surfaces) planted.assertAbsent(where, text);
}

describe('secrets stay secret on the simulator', () => {
  let server: RunningServer;
  const planted = new Planted();
  const ns = 'secrets';

  before(async () => {
    requireKubectl();
    server = await startServer([withReconcilers, '--simulator-speed', '0.05']);
    await createNamespace(server, ns);
  });
  after(async () => {
    await server?.stop();
  });

  test('a whole lifecycle with planted credentials and cloud-init data', async () => {
    const username = planted.add('BMC username');
    const password = planted.add('BMC password');
    await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(ns, 'bmc-creds', { username, password }) });
    await createProvisioningSecrets(server, ns, planted);
    await kubectlOK(server, ['create', '-f', '-'], { input: hostManifest(ns, 'h1', 'redfish-virtualmedia://10.0.0.9/redfish/v1/Systems/1', 'bmc-creds') });
    await waitHost(server, ns, 'h1', (h) => state(h) === 'available', 'available');
    await provision(server, ns, 'h1');
    await waitHost(server, ns, 'h1', (h) => state(h) === 'provisioned', 'provisioned');
    await kubectlOK(server, ['-n', ns, 'patch', 'bmh', 'h1', '--type', 'merge', '-p', '{"spec":{"online":false}}']);
    await waitHost(server, ns, 'h1', (h) => h.status?.poweredOn === false, 'powered off');
    // New credentials re-register the host; the new password is planted too.
    const newPassword = planted.add('rotated BMC password');
    await kubectlOK(server, ['-n', ns, 'patch', 'secret', 'bmc-creds', '--type', 'merge', '-p', JSON.stringify({ data: { password: base64(newPassword) } })]);
    await kubectlOK(server, ['-n', ns, 'patch', 'bmh', 'h1', '--type', 'json', '-p', '[{"op":"remove","path":"/spec/image"},{"op":"replace","path":"/spec/online","value":true}]']);
    await waitHost(server, ns, 'h1', (h) => state(h) === 'available', 'deprovisioned to available');
    await kubectlOK(server, ['-n', ns, 'delete', 'bmh', 'h1', '--wait=true', '--timeout=60s']);
  });

  test('the failure paths that quote their inputs: bad credentials, malformed cloud-init data', async () => {
    // Credentials without a password, and without a username: registration errors naming the missing key.
    const lonelyUser = planted.add('username without password');
    await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(ns, 'no-password', { username: lonelyUser }) });
    await kubectlOK(server, ['create', '-f', '-'], { input: hostManifest(ns, 'h2', 'ipmi://10.0.0.10', 'no-password') });
    const lonelyPassword = planted.add('password without username');
    await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(ns, 'no-username', { password: lonelyPassword }) });
    await kubectlOK(server, ['create', '-f', '-'], { input: hostManifest(ns, 'h3', 'ipmi://10.0.0.11', 'no-username') });
    const h2 = await waitHost(server, ns, 'h2', (h) => h.status?.errorType === 'registration error', 'a registration error');
    assert.match(h2.status?.errorMessage ?? '', /password/);
    const h3 = await waitHost(server, ns, 'h3', (h) => h.status?.errorType === 'registration error', 'a registration error');
    assert.match(h3.status?.errorMessage ?? '', /username/);
    // Fixed, the host recovers (and the fixed password is planted as well).
    await kubectlOK(server, ['-n', ns, 'patch', 'secret', 'no-password', '--type', 'merge', '-p', JSON.stringify({ data: { password: base64(planted.add('fixed password')) } })]);
    await waitHost(server, ns, 'h2', (h) => state(h) === 'available', 'available once the Secret is fixed');

    // Network data that is not YAML, and meta data that is not a mapping: the errors must not quote them.
    await kubectlOK(server, ['create', '-f', '-'], {
      input: secretManifest(ns, 'bad-network-data', { networkData: `{ "links": [ { "id": "${planted.add('malformed network data')}" ` }),
    });
    await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(ns, 'bad-meta-data', { metaData: `- ${planted.add('non-mapping meta data')}\n` }) });
    const image = { url: 'http://images.example.com/os.img', checksum: 'abc', checksumType: 'md5' };
    // Like BMO, a Secret that cannot be read fails the reconcile (with backoff) rather than the host; the
    // error goes to the log, so the log must not quote the data either.
    const failedReconciles = () => server.output().split('reconcile failed').length;
    for (const [host, field, secret] of [['h4', 'networkData', 'bad-network-data'], ['h5', 'metaData', 'bad-meta-data']] as const) {
      const before = failedReconciles();
      await kubectlOK(server, ['create', '-f', '-'], { input: hostManifest(ns, host, `ipmi://10.0.0.${host === 'h4' ? 14 : 15}`, 'no-password', { image, [field]: { name: secret } }) });
      await waitHost(server, ns, host, (h) => state(h) === 'provisioning' && ((h.status?.errorMessage ?? '').includes(field) || failedReconciles() > before + 1), `a failure over ${field}`);
    }
  });

  test('failing requests do not echo secret values', async () => {
    const p = planted.add('rejected password');
    const secret = (name: string, rest: Record<string, unknown>) => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, ...rest });
    await kubectlOK(server, ['create', '-f', '-'], { input: secretManifest(ns, 'existing', { username: 'u', password: 'p' }) });
    const failures: [string, KubectlResult][] = [
      // Not base64: kube-apiserver says that decoding failed, not what it read.
      ['Secret data that is not base64', await kubectl(server, ['create', '-f', '-'], { input: secret('bad-b64', { data: { password: `${p}!!` } }) })],
      ['an update to data that is not base64', await kubectl(server, ['-n', ns, 'patch', 'secret', 'existing', '--type', 'merge', '-p', JSON.stringify({ data: { password: `${p}!!` } })])],
      // An invalid key: the key is named, its value is not.
      ['an invalid Secret key', await kubectl(server, ['create', '-f', '-'], { input: secret('bad-key', { stringData: { 'bad key!': p } }) })],
      ['a Secret that exists', await kubectl(server, ['create', '-f', '-'], { input: secretManifest(ns, 'existing', { username: 'x', password: p }) })],
      ['an unknown field under strict validation', await kubectl(server, ['create', '--validate=strict', '-f', '-'], { input: secret('strict', { stringData: { password: p }, passwrod: p }) })],
    ];
    for (const [what, f] of failures) assert.notEqual(f.code, 0, `expected ${what} to fail: ${f.stdout}`);
    // All at once, so that one failure shows every request that leaks.
    const leaking = failures.filter(([, f]) => planted.leaks(`${f.stdout}\n${f.stderr}`).length).map(([what, f]) => `${what}: ${f.stderr.trim()}`);
    assert.deepEqual(leaking, [], 'errors quote a planted secret');
  });

  test('no planted value anywhere but in the Secrets', async () => {
    const secrets = await kubectlOK(server, ['-n', ns, 'get', 'secrets', '-o', 'json']);
    // The search finds what is there: the Secrets hold the planted values in base64.
    for (const label of ['user data', 'network data', 'meta data', 'rotated BMC password', 'fixed password']) {
      assert.ok(planted.leaks(secrets).includes(`${label} (base64)`), `the search finds ${label} in the Secrets`);
    }
    assertNothingLeaks(planted, await readableSurfaces(server));
  });
});

const skip = ironicSkipReason();

describe('secrets stay secret against real Ironic', { skip }, () => {
  let ironic: RunningIronic | undefined;
  let server: RunningServer | undefined;
  const planted = new Planted();
  const ns = 'secrets';

  before(async () => {
    requireKubectl();
    ironic = await startIronic({ auth: 'http_basic' });
    server = await startServer([withReconcilers, '--enable-fake-bmc', '--ironic-endpoint', ironic.endpoint], {
      METAL3_AUTH_ROOT_DIR: join(ironic.dir, 'auth'),
      IRONIC_ENDPOINT: '',
      PROVISIONING_LIMIT: '',
      METAL3_IRONIC_POLL_INTERVAL_MS: '500',
    });
    await createNamespace(server, ns);
  });
  after(async () => {
    await server?.stop();
    await ironic?.stop();
  });

  test('register, inspect, provision with cloud-init data, delete; Ironic\'s own credentials are kept out too', async () => {
    const s = server!;
    planted.add('Ironic password', ironic!.basicAuth!.password);
    await kubectlOK(s, ['create', '-f', '-'], { input: secretManifest(ns, 'bmc-creds', { username: planted.add('BMC username'), password: planted.add('BMC password') }) });
    await createProvisioningSecrets(s, ns, planted);
    await kubectlOK(s, ['create', '-f', '-'], { input: hostManifest(ns, 'f1', 'fake://f1', 'bmc-creds') });
    await waitHost(s, ns, 'f1', (h) => state(h) === 'available', 'available', 120_000);
    await provision(s, ns, 'f1');
    await waitHost(s, ns, 'f1', (h) => state(h) === 'provisioned', 'provisioned', 120_000);
    const bad = await kubectl(s, ['create', '--raw', `/apis/metal3.io/v1alpha1/namespaces/${ns}/baremetalhosts/f1/provision`, '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'metal3.io/v1alpha1', kind: 'ProvisionRequest', image: { url: 'http://i/os.img', checksum: 'abc', checksumType: 'sha1' }, userData: { name: 'user-data' } }),
    });
    assert.equal(bad.code, 1);
    planted.assertAbsent('a failing request', bad.stderr);
    assertNothingLeaks(planted, await readableSurfaces(s));
    await kubectlOK(s, ['-n', ns, 'delete', 'bmh', 'f1', '--wait=true', '--timeout=120s']);
    planted.assertAbsent('the server log after deletion', s.output());
  });
});
