import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../api/types.ts';
import { startStandalone, type Standalone } from '../../apiserver/standalone.ts';
import { HttpKubeClient, resourcePath } from '../../api/client/kubeclient.ts';
import { Informer } from '../../api/client/informer.ts';
import { EventRecorder, eventType } from '../../reconcilers/runtime/events.ts';
import { APIError, type ResourceType, type WatchEvent } from '../../api/client/types.ts';

const bmhType: ResourceType = { group: 'metal3.io', version: 'v1alpha1', plural: 'baremetalhosts', kind: 'BareMetalHost', namespaced: true };
const secretType: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
const nsType: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

let dir: string;
let server: Standalone;
let client: HttpKubeClient;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'runtime-kubeclient-'));
  server = await startStandalone({ dataDir: dir, port: 0, bindAddress: '127.0.0.1', enableFakeBMC: true });
  client = HttpKubeClient.fromKubeconfig(server.kubeconfig);
});

after(async () => {
  client?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const host = (name: string): KubeObject => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { namespace: 'default', name },
  spec: { online: false, bmc: { address: `fake://${name}`, credentialsName: `${name}-bmc` } },
});

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
};

test('paths: core group under /api, others under /apis, namespaces only for namespaced kinds', () => {
  assert.equal(resourcePath(secretType, 'ns', 's'), '/api/v1/namespaces/ns/secrets/s');
  assert.equal(resourcePath(bmhType, 'ns', 'h', 'status'), '/apis/metal3.io/v1alpha1/namespaces/ns/baremetalhosts/h/status');
  assert.equal(resourcePath(bmhType), '/apis/metal3.io/v1alpha1/baremetalhosts');
  assert.equal(resourcePath(nsType, 'ignored', 'default'), '/api/v1/namespaces/default');
});

test('a Secret: create, get, list, update, patch, delete against the standalone server', async () => {
  const created = await client.create(secretType, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace: 'default', name: 'h1-bmc', labels: { 'environment.metal3.io': 'baremetal' } },
    data: { username: Buffer.from('admin').toString('base64'), password: Buffer.from('pw').toString('base64') },
  }, { fieldManager: 'test' });
  assert.ok(created.metadata.uid);
  const got = await client.get(secretType, 'default', 'h1-bmc');
  assert.equal(got?.metadata.uid, created.metadata.uid);
  assert.equal(await client.get(secretType, 'default', 'absent'), undefined);

  const listed = await client.list(secretType, 'default', { labelSelector: 'environment.metal3.io=baremetal' });
  assert.deepEqual(listed.items.map((s) => s.metadata.name), ['h1-bmc']);
  assert.equal(listed.items[0].kind, 'Secret');
  assert.ok(listed.resourceVersion);
  assert.deepEqual((await client.list(secretType, 'default', { labelSelector: 'environment.metal3.io=other' })).items, []);

  const updated = await client.update(secretType, { ...created, data: { ...(created.data as object), password: Buffer.from('pw2').toString('base64') } });
  assert.notEqual(updated.metadata.resourceVersion, created.metadata.resourceVersion);
  await assert.rejects(client.update(secretType, created), (e: unknown) => e instanceof APIError && e.code === 409 && e.reason === 'Conflict');

  const patched = await client.patch(secretType, 'default', 'h1-bmc', 'merge', { metadata: { annotations: { a: 'b' } } });
  assert.equal(patched.metadata.annotations?.a, 'b');
  const jpatched = await client.patch(secretType, 'default', 'h1-bmc', 'json', [{ op: 'remove', path: '/metadata/annotations/a' }]);
  assert.equal(jpatched.metadata.annotations?.a, undefined);

  await client.delete(secretType, 'default', 'h1-bmc');
  assert.equal(await client.get(secretType, 'default', 'h1-bmc'), undefined);
  await assert.rejects(client.delete(secretType, 'default', 'h1-bmc'), (e: unknown) => e instanceof APIError && e.code === 404);
});

test('a BareMetalHost: create, get, list, update, status, patch, delete, and errors as APIError', async () => {
  const h = await client.create(bmhType, host('h2'));
  assert.equal(h.metadata.generation, 1);
  await assert.rejects(client.create(bmhType, host('h2')), (e: unknown) => e instanceof APIError && e.code === 409 && e.reason === 'AlreadyExists');
  const bad = host('h-bad');
  (bad.spec as Record<string, unknown>).bmc = { address: 'nonsense://x', credentialsName: 'c' };
  await assert.rejects(client.create(bmhType, bad), (e: unknown) => e instanceof APIError && e.code >= 400 && e.code < 500 && e.message.length > 0);

  const all = await client.list(bmhType);
  assert.ok(all.items.some((o) => o.metadata.name === 'h2' && o.kind === 'BareMetalHost'));

  const withFinalizer = await client.update(bmhType, { ...h, metadata: { ...h.metadata, finalizers: ['baremetalhost.metal3.io'] } }, { fieldManager: 'metal3-baremetal-controller' });
  assert.deepEqual(withFinalizer.metadata.finalizers, ['baremetalhost.metal3.io']);

  const status = await client.update(bmhType, { ...withFinalizer, status: { operationalStatus: 'discovered', errorMessage: '', poweredOn: false, provisioning: { state: 'registering', ID: '' } } }, { subresource: 'status' });
  assert.equal((status.status as { provisioning: { state: string } }).provisioning.state, 'registering');
  assert.equal(status.metadata.generation, withFinalizer.metadata.generation, 'status writes do not bump generation');

  const patched = await client.patch(bmhType, 'default', 'h2', 'merge', { spec: { online: true } }, { fieldManager: 'test' });
  assert.equal((patched.spec as { online: boolean }).online, true);
  assert.equal(patched.metadata.generation, 2);
  const sp = await client.patch(bmhType, 'default', 'h2', 'merge', { status: { operationalStatus: 'OK' } }, { subresource: 'status' });
  assert.equal((sp.status as { operationalStatus: string }).operationalStatus, 'OK');

  // With a finalizer, delete only marks the host; removing the finalizer lets it go.
  await client.delete(bmhType, 'default', 'h2');
  const deleting = await client.get(bmhType, 'default', 'h2');
  assert.ok(deleting?.metadata.deletionTimestamp);
  await client.patch(bmhType, 'default', 'h2', 'json', [{ op: 'remove', path: '/metadata/finalizers' }]);
  assert.equal(await client.get(bmhType, 'default', 'h2'), undefined);
});

test('watch streams changes after a resourceVersion; stop ends it without onClose', async () => {
  const { resourceVersion } = await client.list(bmhType, 'default');
  const events: WatchEvent[] = [];
  let closed = false;
  const stop = client.watch(bmhType, 'default', resourceVersion, (ev) => events.push(ev), () => (closed = true));
  await client.create(bmhType, host('h3'));
  await client.patch(bmhType, 'default', 'h3', 'merge', { metadata: { annotations: { 'inspect.metal3.io': '' } } });
  await client.delete(bmhType, 'default', 'h3');
  await until(() => events.filter((e) => e.type !== 'BOOKMARK').length >= 3);
  assert.deepEqual(
    events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.object.metadata.name}`),
    ['ADDED h3', 'MODIFIED h3', 'DELETED h3'],
  );
  stop();
  await sleep(50);
  assert.equal(closed, false);
});

test('a watch the server ends calls onClose without an error', async () => {
  const { resourceVersion } = await client.list(secretType, 'default');
  let result: Error | undefined | 'open' = 'open';
  client.watch(secretType, 'default', resourceVersion, () => {}, (err) => (result = err), { timeoutSeconds: 1 });
  await until(() => result !== 'open', 5000);
  assert.equal(result, undefined);
});

test('410 Gone, as an HTTP answer or as an ERROR event, ends the watch with APIError 410', async () => {
  // A stand-in server under the same CA: the real one keeps enough revisions that "too old" is hard to provoke.
  const gone = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 1 (50)', reason: 'Expired', code: 410 };
  const fake = https.createServer({ key: server.pki.serverKey, cert: server.pki.serverCert }, (req, res) => {
    if (req.url?.includes('/secrets?')) {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify(gone));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`${JSON.stringify({ type: 'ADDED', object: host('x') })}\n{"type":"ERR`);
    setTimeout(() => res.end(`OR","object":${JSON.stringify(gone)}}\n`), 20);
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const c = new HttpKubeClient({ server: `https://127.0.0.1:${(fake.address() as AddressInfo).port}`, caPem: server.pki.caCert });
  try {
    const watchOnce = (type: ResourceType) =>
      new Promise<{ events: WatchEvent[]; err?: Error }>((resolve) => {
        const events: WatchEvent[] = [];
        c.watch(type, 'default', '1', (ev) => events.push(ev), (err) => resolve({ events, err }));
      });
    const http410 = await watchOnce(secretType);
    assert.ok(http410.err instanceof APIError);
    assert.deepEqual([http410.err.code, http410.err.reason], [410, 'Expired']);
    const event410 = await watchOnce(bmhType);
    assert.deepEqual(event410.events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED x'], 'an event split across chunks still decodes');
    assert.ok(event410.err instanceof APIError);
    assert.equal(event410.err.code, 410);
  } finally {
    c.close();
    fake.close();
    fake.closeAllConnections();
  }
});

test('an Informer over the real server keeps its cache in step', async () => {
  const inf = new Informer({ client, type: bmhType, namespace: 'default' });
  const adds: string[] = [];
  inf.addHandler({ onAdd: (o) => adds.push(o.metadata.name ?? '') });
  inf.start();
  await inf.waitForSync();
  await client.create(bmhType, host('h4'));
  await until(() => inf.get('default', 'h4') !== undefined);
  await client.patch(bmhType, 'default', 'h4', 'merge', { spec: { online: true } });
  await until(() => (inf.get('default', 'h4')?.spec as { online?: boolean }).online === true);
  await client.delete(bmhType, 'default', 'h4');
  await until(() => inf.get('default', 'h4') === undefined);
  assert.ok(adds.includes('h4'));
  inf.stop();
});

test('EventRecorder writes through the client, aggregated, and the Events are listable by involvedObject', async () => {
  const h = await client.create(bmhType, host('h5'));
  const rec = new EventRecorder({ client });
  rec.registerSecret('sup3r-secret-pw');
  await rec.eventf(h, 'Warning', 'RegistrationError', 'bad credentials sup3r-secret-pw');
  await rec.eventf(h, 'Warning', 'RegistrationError', 'bad credentials sup3r-secret-pw');
  const { items } = await client.list(eventType, 'default', { fieldSelector: 'involvedObject.name=h5' });
  assert.equal(items.length, 1);
  assert.equal(items[0].count, 2);
  assert.equal(items[0].message, 'bad credentials [redacted]');
});
