// The full lifecycle of a BareMetalHost on the simulator, through the controller and a fake API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHarness, ns } from './bmh-harness.ts';
import { hardwareDataType, hostFirmwareSettingsType, secretType } from '../../reconcilers/baremetalhost/resources.ts';

test('a host registers, inspects, becomes available, provisions, deprovisions and is deleted', async () => {
  const h = newHarness();
  await h.createManagedHost('h1');
  await h.reconcile('h1');
  assert.deepEqual((await h.host('h1')).metadata.finalizers, ['baremetalhost.metal3.io']);
  await h.runUntilState('h1', 'registering');
  await h.runUntilState('h1', 'inspecting');
  let host = await h.host('h1');
  assert.ok(host.status.provisioning.ID, 'provisioner ID recorded');
  assert.equal(host.status.goodCredentials?.credentials?.name, 'h1-bmc');
  assert.ok(host.status.operationHistory?.register?.end, 'register operation ended');
  const secret = await h.kube.get(secretType, ns, 'h1-bmc');
  assert.equal(secret?.metadata.labels?.['environment.metal3.io'], 'baremetal');
  assert.ok(secret?.metadata.finalizers?.includes('baremetalhost.metal3.io/secret'));
  assert.equal(secret?.metadata.ownerReferences?.[0]?.kind, 'BareMetalHost');
  const hfs = await h.kube.get(hostFirmwareSettingsType, ns, 'h1');
  assert.ok(hfs, 'HostFirmwareSettings created at registration');

  host = await h.runUntilState('h1', 'available');
  assert.ok(host.status.hardware?.cpu?.count, 'hardware details in status');
  const hd = await h.kube.get(hardwareDataType, ns, 'h1');
  assert.deepEqual((hd?.spec as { hardware: unknown }).hardware, host.status.hardware);
  assert.equal((await h.host('h1')).spec?.architecture, 'x86_64', 'architecture copied into spec from HardwareData');

  await h.patchHost('h1', { spec: { image: { url: 'http://images.example/os.qcow2', checksum: 'abc', checksumType: 'sha256' } } });
  await h.runUntilState('h1', 'provisioning');
  host = await h.runUntilState('h1', 'provisioned');
  assert.equal(host.status.provisioning.image?.url, 'http://images.example/os.qcow2');
  await h.runUntil('h1', (x) => x.status.poweredOn === true);
  assert.equal(h.sim.node(ns, 'h1')?.state, 'active');

  await h.patchHost('h1', { spec: { image: null } });
  await h.runUntilState('h1', 'deprovisioning');
  host = await h.runUntilState('h1', 'available');
  assert.equal(host.status.provisioning.image, undefined);

  await h.deleteHost('h1');
  await h.runUntilState('h1', 'powering off before delete').catch(() => undefined);
  for (let i = 0; i < 20 && (await h.exists('h1')); i++) await h.reconcile('h1');
  assert.equal(await h.exists('h1'), false, 'host deleted');
  assert.equal(h.sim.node(ns, 'h1'), undefined, 'simulator node removed');
  const after = await h.kube.get(secretType, ns, 'h1-bmc');
  assert.ok(!after?.metadata.finalizers?.includes('baremetalhost.metal3.io/secret'), 'secret finalizer released');
});
