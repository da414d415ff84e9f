// The Ironic provisioner against Debian's real Ironic (fake-hardware nodes behind `fake://` BMC addresses):
// the whole lifecycle, the failure paths, and, with [fake] delays, the in-progress answers in between.
// Under CI=true these tests run and fail when Ironic cannot start; elsewhere they skip without it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseBMCAddress } from '../../api/bmc.ts';
import { IronicClient } from '../../reconcilers/ironic/client.ts';
import { IronicProvisioner, nodeName } from '../../reconcilers/ironic/provisioner.ts';
import { fakeHardwareDetails } from '../../reconcilers/ironic/inventory.ts';
import { NeedsRegistrationError, type HostData, type Result } from '../../reconcilers/provisioner/types.ts';
import { ironicSkipReason, startIronic, type RunningIronic } from '../ironic/harness.ts';

const skip = ironicSkipReason();

const PASSWORD = 'bmc-pw-91e0c4d2';
const USER_DATA = '#cloud-config\nusers: [{name: marker-5d1f7a}]\n';

function host(name: string, overrides: Partial<HostData> = {}): HostData {
  const address = `fake://${name}`;
  return {
    namespace: 'itest',
    name,
    uid: randomUUID(),
    provisionerID: '',
    bmc: parseBMCAddress(address, { enableFakeBMC: true }),
    bmcAddress: address,
    credentials: { username: 'admin', password: PASSWORD },
    disableCertificateVerification: false,
    bootMACAddress: undefined,
    bootMode: 'UEFI',
    automatedCleaningMode: 'metadata',
    disablePowerOff: false,
    inspectionMode: 'agent',
    ...overrides,
  };
}

interface Driven<R extends Result> {
  last: R;
  /** Every answer, in order. */
  results: R[];
}

/** Calls step until it is no longer dirty (or fails), sleeping the requeue delay it asks for. */
async function drive<R extends Result>(step: () => Promise<R>, timeoutMs = 60_000): Promise<Driven<R>> {
  const results: R[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await step();
    results.push(r);
    if (!r.dirty || r.errorMessage) return { last: r, results };
    if (Date.now() > deadline) throw new Error(`still in progress after ${timeoutMs} ms: ${JSON.stringify(results.slice(-3))}`);
    await sleep(r.requeueAfterMs ?? 50);
  }
}

const cfg = { pollIntervalMs: { short: 50, long: 100 }, nodeCacheMs: 0, capacityCacheMs: 0 };

/**
 * The config drive Ironic stored, read from its database because the API masks it. Without an object
 * store Ironic keeps the JSON form as given; the deploy interface builds the ISO from it.
 */
function storedConfigDrive(ironic: RunningIronic, uuid: string): unknown {
  const db = new DatabaseSync(join(ironic.dir, 'ironic.sqlite'), { readOnly: true });
  try {
    const row = db.prepare('SELECT instance_info FROM nodes WHERE uuid = ?').get(uuid) as { instance_info?: string } | undefined;
    const info = row?.instance_info ? (JSON.parse(row.instance_info) as Record<string, unknown>) : {};
    return info.configdrive;
  } finally {
    db.close();
  }
}

describe('IronicProvisioner against Debian Ironic (noauth, no delays)', { skip }, () => {
  let ironic: RunningIronic;
  let client: IronicClient;
  let prov: IronicProvisioner;
  let h = host('h1', { bootMACAddress: '52:54:00:00:00:01' });
  const image = { url: 'http://127.0.0.1:8088/images/os.qcow2', checksum: 'a'.repeat(64), checksumType: 'sha256' as const };

  before(async () => {
    ironic = await startIronic({ auth: 'noauth' });
    // An unreachable IPMI BMC fails verification after ipmitool's retries: a minute by default.
    appendFileSync(join(ironic.dir, 'ironic.conf'), '\n[ipmi]\ncommand_retry_timeout = 1\nmin_command_interval = 1\n');
    await ironic.stopProcesses();
    await ironic.startProcesses();
    client = new IronicClient({ endpoint: ironic.endpoint });
    prov = new IronicProvisioner(client, { ...cfg, deployKernelURL: 'http://127.0.0.1:8088/ipa.kernel', deployRamdiskURL: 'http://127.0.0.1:8088/ipa.initramfs' });
  });
  after(async () => {
    client?.close();
    await ironic?.stop();
  });

  it('is ready: 1.82 negotiated, fake-hardware loaded', async () => {
    await prov.ready();
    assert.equal(client.version, '1.82');
  });

  it('registers a fake host: node created, port added, manageable', async () => {
    const { last } = await drive(() => prov.register(h, { credentialsChanged: false, restartOnFailure: false }));
    assert.equal(last.errorMessage, undefined);
    assert.ok(last.provisionerID);
    h = { ...h, provisionerID: last.provisionerID };
    const node = await client.getNode(h.provisionerID);
    assert.equal(node?.name, 'itest~h1');
    assert.equal(node?.driver, 'fake-hardware');
    assert.equal(node?.provision_state, 'manageable');
    assert.equal(node?.inspect_interface, 'fake');
    assert.equal(node?.driver_info?.deploy_kernel, 'http://127.0.0.1:8088/ipa.kernel');
    assert.equal((node?.properties as Record<string, unknown>).capabilities, 'boot_mode:uefi');
    const ports = await client.listPorts({ node_uuid: h.provisionerID });
    assert.deepEqual(ports.map((p) => p.address), ['52:54:00:00:00:01']);
    // Registering again changes nothing and creates nothing.
    const again = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.deepEqual(again, { dirty: false, provisionerID: h.provisionerID });
    assert.equal((await client.listNodes(['uuid'])).length, 1);
  });

  it('inspects: the fake inspection runs, and the details are derived from the node', async () => {
    const { last, results } = await drive(() => prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false }));
    assert.equal(results[0].started, true);
    assert.equal(last.errorMessage, undefined);
    assert.deepEqual(last.details, fakeHardwareDetails(nodeName(h), { bootMAC: h.bootMACAddress }));
    const node = await client.getNode(h.provisionerID);
    assert.ok(node?.inspection_finished_at);
    // Refresh re-runs it.
    const refreshed = await prov.inspectHardware(h, { refresh: true, restartOnFailure: false, forceReboot: false });
    assert.equal(refreshed.started, true);
    assert.ok((await drive(() => prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false }))).last.details);
  });

  it('prepares with nothing to change at once, and applies BIOS settings through manual cleaning', async () => {
    const idle = await prov.prepare(h, {}, { unprepared: true, restartOnFailure: false });
    assert.deepEqual(idle, { dirty: false, started: false });
    const first = await prov.prepare(h, { firmwareSettings: { ProcVirtualization: 'Enabled' } }, { unprepared: true, restartOnFailure: false });
    assert.equal(first.started, true);
    const { last } = await drive(() => prov.prepare(h, {}, { unprepared: false, restartOnFailure: false }));
    assert.equal(last.errorMessage, undefined);
    const { settings } = await prov.getFirmwareSettings(h, true);
    assert.deepEqual(settings, [{ name: 'ProcVirtualization', value: 'Enabled' }]);
  });

  it('provisions with an image and user data: active, instance_info and the config drive', async () => {
    const data = { image, bootMode: 'UEFI' as const, userData: USER_DATA, networkData: { links: [], networks: [], services: [] } };
    const { last } = await drive(() => prov.provision(h, data, { forceReboot: false }));
    assert.equal(last.errorMessage, undefined);
    const node = await client.getNode(h.provisionerID);
    assert.equal(node?.provision_state, 'active');
    assert.equal(node?.instance_uuid, h.uid);
    assert.equal(node?.instance_info?.image_source, image.url);
    assert.equal(node?.instance_info?.image_os_hash_algo, 'sha256');
    assert.equal(node?.instance_info?.image_os_hash_value, image.checksum);
    assert.ok(node?.instance_info?.configdrive, 'config drive in instance_info');
    assert.deepEqual(storedConfigDrive(ironic, h.provisionerID), {
      user_data: USER_DATA,
      network_data: data.networkData,
      meta_data: {
        uuid: h.uid,
        'metal3-namespace': 'itest',
        'metal3-name': 'h1',
        'local-hostname': 'h1',
        local_hostname: 'h1',
        name: 'h1',
      },
    });
  });

  it('powers off and on; a fresh fake node reports no power state until the first change', async () => {
    assert.deepEqual(await prov.updateHardwareState(h), {});
    const off = await drive(() => prov.powerOff(h, { mode: 'hard', force: false }));
    assert.equal(off.last.errorMessage, undefined);
    assert.deepEqual(await prov.updateHardwareState(h), { poweredOn: false });
    const on = await drive(() => prov.powerOn(h, { force: false }));
    assert.equal(on.last.errorMessage, undefined);
    assert.deepEqual(await prov.updateHardwareState(h), { poweredOn: true });
    // Fake power supports soft power off.
    await drive(() => prov.powerOff(h, { mode: 'soft', force: false }));
    assert.deepEqual(await prov.updateHardwareState(h), { poweredOn: false });
    await drive(() => prov.powerOn(h, { force: false }));
  });

  it('deprovisions back to available', async () => {
    const { last } = await drive(() => prov.deprovision(h, { restartOnFailure: false }));
    assert.equal(last.errorMessage, undefined);
    assert.equal((await client.getNode(h.provisionerID))?.provision_state, 'available');
  });

  it('detaches an active host, re-registers it and adopts it', async () => {
    await drive(() => prov.provision(h, { image, bootMode: 'UEFI', userData: USER_DATA }, { forceReboot: false }));
    const detached = await drive(() => prov.detach(h, { force: false }));
    assert.equal(detached.last.errorMessage, undefined);
    assert.equal(await client.getNode(h.provisionerID), undefined);

    const reg = await drive(() => prov.register({ ...h, provisionerID: '' }, { credentialsChanged: false, restartOnFailure: false }));
    assert.equal(reg.last.errorMessage, undefined);
    assert.notEqual(reg.last.provisionerID, h.provisionerID);
    h = { ...h, provisionerID: reg.last.provisionerID ?? '' };
    const adopted = await drive(() => prov.adopt(h, { restartOnFailure: false, image }));
    assert.equal(adopted.last.errorMessage, undefined);
    const node = await client.getNode(h.provisionerID);
    assert.equal(node?.provision_state, 'active');
    assert.equal(node?.instance_uuid, h.uid);
  });

  it('deletes the node, even when active; deleting again is success', async () => {
    const { last } = await drive(() => prov.delete(h));
    assert.equal(last.errorMessage, undefined);
    assert.equal(await client.getNode(h.provisionerID), undefined);
    assert.deepEqual(await prov.delete(h), { dirty: false });
  });

  it('asks for registration when the node is missing', async () => {
    await assert.rejects(prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false }), NeedsRegistrationError);
    await assert.rejects(prov.powerOn(h, { force: false }), NeedsRegistrationError);
  });

  it('refuses a boot MAC that another node owns', async () => {
    const a = host('mac-a', { bootMACAddress: '52:54:00:00:00:aa' });
    const regA = await drive(() => prov.register(a, { credentialsChanged: false, restartOnFailure: false }));
    assert.equal(regA.last.errorMessage, undefined);
    const b = host('mac-b', { bootMACAddress: '52:54:00:00:00:aa' });
    const regB = await prov.register(b, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(regB.errorMessage, 'MAC address 52:54:00:00:00:aa conflicts with existing node itest~mac-a');
    await drive(() => prov.delete({ ...a, provisionerID: regA.last.provisionerID ?? '' }));
  });

  it('surfaces a failed verification (unreachable BMC) without the password, and recovers with new credentials', async () => {
    // An IPMI BMC on a closed port: Ironic's manage fails and the node returns to enroll with last_error.
    const address = 'ipmi://127.0.0.1:9';
    const bad = { ...host('bad-bmc'), bmc: parseBMCAddress(address), bmcAddress: address };
    const { last } = await drive(() => prov.register(bad, { credentialsChanged: false, restartOnFailure: false }), 120_000);
    assert.ok(last.errorMessage, 'registration error');
    assert.ok(!last.errorMessage.includes(PASSWORD));
    assert.equal((await client.getNode(nodeName(bad)))?.provision_state, 'enroll');
    // Fixed: the host's BMC now answers (here: a fake BMC) and credentials changed.
    const fixed = { ...bad, bmc: parseBMCAddress('fake://bad-bmc', { enableFakeBMC: true }), bmcAddress: 'fake://bad-bmc' };
    const again = await drive(() => prov.register(fixed, { credentialsChanged: true, restartOnFailure: false }));
    assert.equal(again.last.errorMessage, undefined);
    assert.equal((await client.getNode(nodeName(bad)))?.provision_state, 'manageable');
    await drive(() => prov.delete(fixed));
  });
});

describe('IronicProvisioner against Debian Ironic with [fake] delays (http_basic)', { skip }, () => {
  let ironic: RunningIronic;
  let client: IronicClient;
  let prov: IronicProvisioner;
  let h = host('slow');

  before(async () => {
    ironic = await startIronic({ auth: 'http_basic', fakeDelays: { power: 1, boot: 1, deploy: 2, inspect: 1 } });
    client = new IronicClient({ endpoint: ironic.endpoint, basicAuth: ironic.basicAuth });
    prov = new IronicProvisioner(client, cfg);
  });
  after(async () => {
    client?.close();
    await ironic?.stop();
  });

  const dirtyCount = (results: Result[]) => results.filter((r) => r.dirty).length;

  it('sees registration, inspection, deployment and power changes in progress', async () => {
    const reg = await drive(() => prov.register(h, { credentialsChanged: false, restartOnFailure: false }));
    assert.equal(reg.last.errorMessage, undefined);
    h = { ...h, provisionerID: reg.last.provisionerID ?? '' };
    assert.ok(dirtyCount(reg.results) >= 2, `verifying seen: ${JSON.stringify(reg.results)}`);

    const started = await prov.inspectHardware(h, { refresh: true, restartOnFailure: false, forceReboot: false });
    assert.equal(started.started, true);
    const insp = await drive(() => prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false }));
    assert.ok(insp.last.details);
    assert.ok(dirtyCount(insp.results) >= 2, 'inspecting seen');

    const prov1 = await drive(() =>
      prov.provision(h, { image: { url: 'http://127.0.0.1:8088/os.img', checksum: 'abc' }, bootMode: 'UEFI', userData: USER_DATA }, { forceReboot: false }),
    );
    assert.equal(prov1.last.errorMessage, undefined);
    assert.ok(dirtyCount(prov1.results) >= 4, `provide and deploy seen: ${prov1.results.length}`);

    const off = await drive(() => prov.powerOff(h, { mode: 'hard', force: false }));
    assert.ok(dirtyCount(off.results) >= 2, 'power change seen in progress');
    assert.deepEqual(await prov.updateHardwareState(h), { poweredOn: false });

    const deleted = await drive(() => prov.delete(h));
    assert.equal(deleted.last.errorMessage, undefined);
    assert.equal(await client.getNode(h.provisionerID), undefined);
  });

  it('answers in progress, not an error, while the conductor holds the node', async () => {
    const x = host('locked');
    const reg = await drive(() => prov.register(x, { credentialsChanged: false, restartOnFailure: false }));
    const hx = { ...x, provisionerID: reg.last.provisionerID ?? '' };
    // A power change holds the node's lock for the 1 s power delay; a provision change meanwhile is refused.
    await client.setPowerState(hx.provisionerID, 'power on');
    const r = await prov.inspectHardware(hx, { refresh: true, restartOnFailure: false, forceReboot: false });
    assert.equal(r.errorMessage, undefined);
    assert.equal(r.dirty, true);
    await drive(() => prov.delete(hx));
  });
});
