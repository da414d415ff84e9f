// The simulated provisioner: deterministic hardware, delays scaled by speed, power, failures, capacity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBMCAddress } from '../../api/bmc.ts';
import type { HostData } from '../../reconcilers/provisioner/types.ts';
import { SimulatedProvisioner } from '../../reconcilers/simulator/provisioner.ts';
import { simulatedHardware } from '../../reconcilers/simulator/hardware.ts';

function hostData(name: string, extra: Partial<HostData> = {}): HostData {
  const address = `fake://${name}`;
  return {
    namespace: 'ns',
    name,
    uid: 'u',
    provisionerID: '',
    bmc: parseBMCAddress(address, { enableFakeBMC: true }),
    bmcAddress: address,
    credentials: { username: 'admin', password: 'pw' },
    disableCertificateVerification: false,
    bootMode: 'UEFI',
    automatedCleaningMode: 'metadata',
    disablePowerOff: false,
    inspectionMode: 'agent',
    ...extra,
  };
}

test('hardware is deterministic per host and differs between hosts', () => {
  const a = simulatedHardware('ns', 'a');
  assert.deepEqual(simulatedHardware('ns', 'a'), a);
  assert.notDeepEqual(simulatedHardware('ns', 'b'), a);
  assert.ok((a.nics ?? []).length >= 2 && (a.storage ?? []).length >= 1);
  for (const nic of a.nics ?? []) assert.match(nic.mac ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  assert.equal(a.nics?.[0]?.pxe, true);
  assert.equal(simulatedHardware('ns', 'a', { bootMAC: 'AA:BB:CC:DD:EE:FF' }).nics?.[0]?.mac, 'aa:bb:cc:dd:ee:ff');
  assert.equal(simulatedHardware('ns', 'a', { architecture: 'aarch64' }).cpu?.arch, 'aarch64');
  assert.equal(a.hostname, 'a');
});

test('operations take their configured time, scaled by speed', async () => {
  let now = 0;
  const sim = new SimulatedProvisioner({ speed: 0.5, now: () => now });
  const h = hostData('h');
  const r1 = await sim.register(h, { credentialsChanged: true, restartOnFailure: false });
  assert.equal(r1.dirty, true);
  assert.equal(r1.requeueAfterMs, 1000, 'register ~2 s at speed 0.5');
  now = 999;
  assert.equal((await sim.register(h, { credentialsChanged: true, restartOnFailure: false })).dirty, true);
  now = 1000;
  const r2 = await sim.register(h, { credentialsChanged: true, restartOnFailure: false });
  assert.equal(r2.dirty, false);
  assert.ok(r2.provisionerID);
  const i1 = await sim.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
  assert.deepEqual([i1.dirty, i1.started, i1.requeueAfterMs], [true, true, 2500]);
  now += 2500;
  const i2 = await sim.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
  assert.equal(i2.dirty, false);
  assert.deepEqual(i2.details, simulatedHardware('ns', 'h'));
  assert.deepEqual(await sim.updateHardwareState(h), { poweredOn: false });
  assert.equal((await sim.powerOn(h, { force: false })).dirty, true);
  now += 500;
  assert.equal((await sim.powerOn(h, { force: false })).dirty, false);
  assert.deepEqual(await sim.updateHardwareState(h), { poweredOn: true });
});

test('a fresh node reports unknown power', async () => {
  const sim = new SimulatedProvisioner({ speed: 0 });
  const h = hostData('h');
  await sim.register(h, { credentialsChanged: true, restartOnFailure: false });
  assert.deepEqual(await sim.updateHardwareState(h), {});
});

test('failure injection: registration, provisioning', async () => {
  const sim = new SimulatedProvisioner({ speed: 0 });
  const bad = await sim.register(hostData('x', { credentials: { username: 'bad', password: 'pw' } }), { credentialsChanged: true, restartOnFailure: false });
  assert.match(bad.errorMessage ?? '', /authentication/);
  assert.ok(!(bad.errorMessage ?? '').includes('pw'));
  const failHost = hostData('y', { bmc: parseBMCAddress('redfish://fail-register.example/redfish/v1/Systems/1') });
  assert.ok((await sim.register(failHost, { credentialsChanged: true, restartOnFailure: false })).errorMessage);

  const h = hostData('h');
  while ((await sim.register(h, { credentialsChanged: true, restartOnFailure: false })).dirty);
  const data = { image: { url: 'http://x/fail.img' }, bootMode: 'UEFI' as const };
  assert.equal((await sim.provision(h, data, { forceReboot: false })).dirty, true);
  assert.match((await sim.provision(h, data, { forceReboot: false })).errorMessage ?? '', /Deploy step failed/);
  assert.equal(sim.node('ns', 'h')?.state, 'deploy failed');
  while ((await sim.deprovision(h, { restartOnFailure: false })).dirty);
  assert.equal(sim.node('ns', 'h')?.state, 'available');
});

test('capacity counts hosts busy inspecting or provisioning', async () => {
  let now = 0;
  const sim = new SimulatedProvisioner({ now: () => now, capacity: 1 });
  const a = hostData('a');
  const b = hostData('b');
  for (const h of [a, b]) {
    await sim.register(h, { credentialsChanged: true, restartOnFailure: false });
    now += 2000;
    await sim.register(h, { credentialsChanged: true, restartOnFailure: false });
  }
  assert.equal(await sim.hasCapacity(b), true);
  await sim.inspectHardware(a, { refresh: false, restartOnFailure: false, forceReboot: false });
  assert.equal(await sim.hasCapacity(b), false);
  assert.equal(await sim.hasCapacity(a), true, 'the busy host itself passes');
  now += 5000;
  await sim.inspectHardware(a, { refresh: false, restartOnFailure: false, forceReboot: false });
  assert.equal(await sim.hasCapacity(b), true);
});

test('firmware settings come with a schema; detach and delete forget the node', async () => {
  const sim = new SimulatedProvisioner({ speed: 0 });
  const h = hostData('h');
  await sim.register(h, { credentialsChanged: true, restartOnFailure: false });
  const fw = await sim.getFirmwareSettings(h, true);
  assert.ok(fw.settings.length > 0 && fw.schema && Object.keys(fw.schema).length > 0);
  assert.equal((await sim.getFirmwareSettings(h, false)).schema, undefined);
  await sim.detach(h, { force: false });
  assert.equal(sim.node('ns', 'h'), undefined);
  sim.setNotReady('down');
  await assert.rejects(sim.ready());
});
