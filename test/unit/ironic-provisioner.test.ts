// The Ironic provisioner against an in-memory Ironic that models node provision and power states, so every
// branch of bmo.md §3 is reachable without a conductor.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseBMCAddress } from '../../api/bmc.ts';
import { IronicProvisioner, nodeName } from '../../reconcilers/ironic/provisioner.ts';
import { IronicError, type IronicClientAPI, type IronicNode, type IronicPort, type JSONPatchOp } from '../../reconcilers/ironic/types.ts';
import { NeedsRegistrationError, ProvisionerNotReadyError, type HostData } from '../../reconcilers/provisioner/types.ts';
import { fakeHardwareDetails, hardwareDetails } from '../../reconcilers/ironic/inventory.ts';
import { rootDeviceHints } from '../../reconcilers/ironic/roothints.ts';
import { bootModeCapabilities } from '../../reconcilers/ironic/capabilities.ts';
import { buildConfigDrive } from '../../reconcilers/ironic/configdrive.ts';
import { planRAID } from '../../reconcilers/ironic/raid.ts';

const PASSWORD = 'pw-7f3a9c-unique';

interface Call {
  method: string;
  args: unknown[];
}

function cmpVersion(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

const abortedTo: Record<string, string> = {
  'inspect wait': 'inspect failed',
  'clean wait': 'clean failed',
  'wait call-back': 'deploy failed',
};

/** What a target moves a node through: [transient state, final state]. */
const transitions: Record<string, (n: IronicNode) => [string, string] | undefined> = {
  manage: (n) => (n.provision_state === 'enroll' ? ['verifying', 'manageable'] : [n.provision_state ?? '', 'manageable']),
  inspect: () => ['inspecting', 'manageable'],
  provide: () => ['cleaning', 'available'],
  clean: () => ['cleaning', 'manageable'],
  active: () => ['deploying', 'active'],
  deleted: () => ['deleting', 'available'],
  adopt: () => ['adopting', 'active'],
  abort: (n) => {
    const next = abortedTo[n.provision_state ?? ''];
    return next ? [n.provision_state ?? '', next] : undefined;
  },
};

class FakeIronic implements IronicClientAPI {
  version = '';
  serverMax = '1.82';
  drivers = ['fake-hardware', 'redfish', 'ipmi'];
  nodes = new Map<string, IronicNode>();
  ports: IronicPort[] = [];
  inventories = new Map<string, Record<string, unknown>>();
  bios = new Map<string, Record<string, unknown>[]>();
  calls: Call[] = [];
  /** Leave nodes in the transient state until finish(). */
  hold = false;
  /** The next call of this method fails with this error. */
  failNext = new Map<string, IronicError>();
  failManageWith?: string;
  failDeployWith?: string;
  softPowerUnsupported = false;
  private seq = 0;
  private requests = 0;

  private record(method: string, ...args: unknown[]) {
    this.requests++;
    this.calls.push({ method, args });
    const err = this.failNext.get(method);
    if (err) {
      this.failNext.delete(method);
      throw err;
    }
  }

  callsOf(method: string): Call[] {
    return this.calls.filter((c) => c.method === method);
  }

  node(uuid: string): IronicNode {
    const n = this.nodes.get(uuid);
    if (!n) throw new IronicError(404, `Node ${uuid} could not be found.`);
    return n;
  }

  addNode(fields: Partial<IronicNode>): IronicNode {
    const uuid = fields.uuid ?? `uuid-${++this.seq}`;
    const node: IronicNode = {
      uuid,
      name: null,
      driver: 'fake-hardware',
      driver_info: {},
      provision_state: 'enroll',
      target_provision_state: null,
      power_state: null,
      target_power_state: null,
      last_error: null,
      maintenance: false,
      fault: null,
      instance_uuid: null,
      instance_info: {},
      properties: {},
      automated_clean: null,
      deploy_interface: 'fake',
      raid_interface: 'fake',
      boot_interface: 'fake',
      inspect_interface: 'fake',
      ...fields,
    };
    this.nodes.set(uuid, node);
    return node;
  }

  /** Completes every held transition. */
  finish(): void {
    for (const n of this.nodes.values()) {
      const final = n.target_provision_state;
      if (!final) continue;
      if (final === 'manageable' && n.provision_state === 'verifying' && this.failManageWith) {
        Object.assign(n, { provision_state: 'enroll', target_provision_state: null, last_error: this.failManageWith });
        continue;
      }
      if (n.provision_state === 'inspecting') n.inspection_finished_at = '2024-01-01T00:00:00Z';
      if (final === 'active' && this.failDeployWith) {
        Object.assign(n, { provision_state: 'deploy failed', target_provision_state: null, last_error: this.failDeployWith });
        continue;
      }
      Object.assign(n, { provision_state: final, target_provision_state: null, last_error: null });
    }
  }

  async negotiate(): Promise<string> {
    this.record('negotiate');
    this.version = cmpVersion(this.serverMax, '1.110') < 0 ? this.serverMax : '1.110';
    return this.version;
  }
  atLeast(v: string): boolean {
    return this.version !== '' && cmpVersion(this.version, v) >= 0;
  }
  async listDrivers(): Promise<string[]> {
    this.record('listDrivers');
    return this.drivers;
  }
  async getNode(ident: string): Promise<IronicNode | undefined> {
    this.record('getNode', ident);
    const n = this.nodes.get(ident) ?? [...this.nodes.values()].find((x) => x.name === ident);
    return n ? structuredClone(n) : undefined;
  }
  async listNodes(fields?: string[]): Promise<IronicNode[]> {
    this.record('listNodes', fields);
    return [...this.nodes.values()].map((n) => structuredClone(n));
  }
  async createNode(body: Record<string, unknown>): Promise<IronicNode> {
    this.record('createNode', body);
    if (body.name && [...this.nodes.values()].some((n) => n.name === body.name)) {
      throw new IronicError(409, `A node with name ${String(body.name)} already exists.`);
    }
    const { driver_info, properties, ...rest } = body;
    const n = this.addNode({
      ...(rest as Partial<IronicNode>),
      driver_info: mask(driver_info as Record<string, unknown>),
      properties: properties as Record<string, unknown>,
    });
    return structuredClone(n);
  }
  async patchNode(uuid: string, ops: JSONPatchOp[]): Promise<IronicNode> {
    this.record('patchNode', uuid, ops);
    const n = this.node(uuid);
    for (const op of ops) {
      const parts = op.path.split('/').slice(1);
      let target: Record<string, unknown> = n;
      for (const p of parts.slice(0, -1)) {
        target[p] ??= {};
        target = target[p] as Record<string, unknown>;
      }
      const key = parts[parts.length - 1];
      if (op.op === 'remove') delete target[key];
      else target[key] = key === 'driver_info' ? mask(op.value as Record<string, unknown>) : structuredClone(op.value);
    }
    return structuredClone(n);
  }
  async deleteNode(uuid: string): Promise<void> {
    this.record('deleteNode', uuid);
    const n = this.nodes.get(uuid);
    if (n && !['enroll', 'manageable', 'available'].includes(n.provision_state ?? '') && !n.maintenance) {
      throw new IronicError(400, `Can not delete node ${uuid} while it is in state ${n.provision_state}`);
    }
    this.nodes.delete(uuid);
    this.ports = this.ports.filter((p) => p.node_uuid !== uuid);
  }
  validateResult: Record<string, { result: boolean | null; reason?: string | null }> = {
    boot: { result: true },
    deploy: { result: true },
  };
  async validateNode(uuid: string) {
    this.record('validateNode', uuid);
    return this.validateResult;
  }
  async setProvisionState(uuid: string, target: string, extra?: Record<string, unknown>): Promise<void> {
    this.record('setProvisionState', uuid, target, extra);
    const n = this.node(uuid);
    if (n.maintenance) throw new IronicError(400, 'node is in maintenance');
    const t = transitions[target]?.(n);
    if (!t) throw new IronicError(400, `The requested action "${target}" can not be performed on node "${uuid}" while it is in state "${n.provision_state}".`);
    if (target === 'active' && extra?.configdrive) n.instance_info = { ...n.instance_info, configdrive: '******' };
    Object.assign(n, { provision_state: t[0], target_provision_state: t[1] });
    if (!this.hold) this.finish();
  }
  async setPowerState(uuid: string, target: string, timeoutSeconds?: number): Promise<void> {
    this.record('setPowerState', uuid, target, timeoutSeconds);
    const n = this.node(uuid);
    if (target.startsWith('soft') && this.softPowerUnsupported) throw new IronicError(400, 'soft power off is not supported');
    const final = target === 'soft power off' ? 'power off' : target.includes('reboot') ? 'power on' : target;
    if (this.hold) n.target_power_state = final;
    else n.power_state = final;
  }
  async setRAIDConfig(uuid: string, logicalDisks: Record<string, unknown>[]): Promise<void> {
    this.record('setRAIDConfig', uuid, logicalDisks);
    this.node(uuid).target_raid_config = { logical_disks: logicalDisks };
  }
  async setMaintenance(uuid: string, reason: string): Promise<void> {
    this.record('setMaintenance', uuid, reason);
    Object.assign(this.node(uuid), { maintenance: true, maintenance_reason: reason });
  }
  async clearMaintenance(uuid: string): Promise<void> {
    this.record('clearMaintenance', uuid);
    Object.assign(this.node(uuid), { maintenance: false, maintenance_reason: null });
  }
  async getInventory(uuid: string): Promise<Record<string, unknown> | undefined> {
    this.record('getInventory', uuid);
    return this.inventories.get(uuid);
  }
  async getBIOS(uuid: string, detail: boolean): Promise<Record<string, unknown>[]> {
    this.record('getBIOS', uuid, detail);
    return this.bios.get(uuid) ?? [];
  }
  async listPorts(query: { address?: string; node_uuid?: string }): Promise<IronicPort[]> {
    this.record('listPorts', query);
    return this.ports.filter((p) => (!query.address || p.address === query.address) && (!query.node_uuid || p.node_uuid === query.node_uuid));
  }
  async createPort(nodeUUID: string, address: string, pxeEnabled: boolean): Promise<IronicPort> {
    this.record('createPort', nodeUUID, address, pxeEnabled);
    if (this.ports.some((p) => p.address === address)) throw new IronicError(409, `A port with MAC address ${address} already exists.`);
    const port = { uuid: `port-${++this.seq}`, address, node_uuid: nodeUUID, pxe_enabled: pxeEnabled };
    this.ports.push(port);
    return port;
  }
  requestCount(): number {
    return this.requests;
  }
}

/** Ironic reads passwords back masked. */
function mask(info: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(info ?? {}).map(([k, v]) => [k, /password/.test(k) ? '******' : v]));
}

function host(overrides: Partial<HostData> = {}, address = 'fake://h1'): HostData {
  return {
    namespace: 'ns',
    name: 'h1',
    uid: 'uid-1111',
    provisionerID: '',
    bmc: parseBMCAddress(address, { enableFakeBMC: true }),
    bmcAddress: address,
    credentials: { username: 'admin', password: PASSWORD },
    disableCertificateVerification: false,
    bootMACAddress: '00:11:22:33:44:55',
    bootMode: 'UEFI',
    automatedCleaningMode: 'metadata',
    disablePowerOff: false,
    inspectionMode: 'agent',
    ...overrides,
  };
}

const fast = { pollIntervalMs: { short: 100, long: 1000 }, nodeCacheMs: 0 };

function setup(config = {}) {
  const ironic = new FakeIronic();
  const prov = new IronicProvisioner(ironic, { ...fast, deployKernelURL: 'http://x/k', deployRamdiskURL: 'http://x/r', ...config });
  return { ironic, prov };
}

/** Registers and returns the host with its provisioner ID. */
async function registered(prov: IronicProvisioner, h = host(), pauseMs = 0): Promise<HostData> {
  for (let i = 0; i < 5; i++) {
    const r = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r.errorMessage, undefined);
    if (!r.dirty) return { ...h, provisionerID: r.provisionerID ?? '' };
    // With the node cache on, a waiting node's new state arrives with the next list poll.
    if (pauseMs > 0) await sleep(pauseMs);
  }
  throw new Error('registration did not settle');
}

const assertShortDelay = (ms: number | undefined) => assert.ok(ms !== undefined && ms >= 100 && ms <= 125, `short delay, got ${ms}`);
const assertLongDelay = (ms: number | undefined) => assert.ok(ms !== undefined && ms >= 1000 && ms <= 1250, `long delay, got ${ms}`);

describe('IronicProvisioner.ready', () => {
  it('negotiates and checks drivers', async () => {
    const { prov, ironic } = setup();
    await prov.ready();
    assert.equal(ironic.version, '1.82');
  });
  it('refuses an Ironic older than the minimum', async () => {
    const { prov, ironic } = setup();
    ironic.serverMax = '1.80';
    await assert.rejects(prov.ready(), (e) => e instanceof ProvisionerNotReadyError && /1\.80/.test(e.message));
  });
  it('is not ready without drivers or when unreachable', async () => {
    const a = setup();
    a.ironic.drivers = [];
    await assert.rejects(a.prov.ready(), ProvisionerNotReadyError);
    const b = setup();
    b.ironic.failNext.set('negotiate', new IronicError(0, 'connect ECONNREFUSED'));
    await assert.rejects(b.prov.ready(), /not reachable/);
  });
  it('caches a successful check', async () => {
    const { prov, ironic } = setup();
    await prov.ready();
    await prov.ready();
    assert.equal(ironic.callsOf('listDrivers').length, 1);
  });
});

describe('IronicProvisioner.register', () => {
  it('creates the node from the BMC details, adds the boot port, and manages it', async () => {
    const { prov, ironic } = setup();
    ironic.hold = true;
    const h = host({ architecture: 'x86_64' });
    const r1 = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r1.dirty, true);
    assertShortDelay(r1.requeueAfterMs);
    const [create] = ironic.callsOf('createNode');
    const body = create.args[0] as Record<string, unknown>;
    assert.equal(body.driver, 'fake-hardware');
    assert.equal(body.name, 'ns~h1');
    assert.deepEqual(body.driver_info, { fake_name: 'h1', deploy_kernel: 'http://x/k', deploy_ramdisk: 'http://x/r' });
    assert.deepEqual(body.properties, { capabilities: 'boot_mode:uefi', cpu_arch: 'x86_64' });
    assert.equal(body.inspect_interface, 'fake');
    assert.equal(body.automated_clean, true);
    assert.equal(body.boot_interface, 'fake');
    // 1.82 has neither disable_power_off (1.95) nor firmware_interface (1.86).
    assert.equal('disable_power_off' in body, false);
    assert.equal('firmware_interface' in body, false);
    assert.deepEqual(ironic.ports.map((p) => [p.address, p.pxe_enabled]), [['00:11:22:33:44:55', true]]);
    assert.deepEqual(ironic.callsOf('setProvisionState').map((c) => c.args[1]), ['manage']);
    // Verifying: wait.
    const r2 = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r2.dirty, true);
    assert.equal(ironic.callsOf('setProvisionState').length, 1);
    ironic.finish();
    const r3 = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r3.dirty, false);
    assert.equal(r3.provisionerID, r1.provisionerID);
    assert.equal(ironic.nodes.size, 1);
  });

  it('sends disable_power_off only when the negotiated version has it', async () => {
    const { prov, ironic } = setup();
    ironic.serverMax = '1.95';
    await prov.register(host({ disablePowerOff: true }), { credentialsChanged: false, restartOnFailure: false });
    assert.equal((ironic.callsOf('createNode')[0].args[0] as Record<string, unknown>).disable_power_off, true);

    const old = setup();
    const r = await old.prov.register(host({ disablePowerOff: true }), { credentialsChanged: false, restartOnFailure: false });
    assert.match(r.errorMessage ?? '', /disablePowerOff/);
    assert.equal(old.ironic.callsOf('createNode').length, 0);
  });

  it('uses the agent inspect interface from 1.84 and the OOB one for fast inspection', async () => {
    const { prov, ironic } = setup();
    ironic.serverMax = '1.90';
    await prov.register(host({ name: 'a' }, 'redfish://bmc.example/redfish/v1/Systems/1'), { credentialsChanged: false, restartOnFailure: false });
    await prov.register(host({ name: 'b', inspectionMode: 'fast', bootMACAddress: '00:11:22:33:44:66' }, 'redfish://bmc.example/redfish/v1/Systems/2'), {
      credentialsChanged: false,
      restartOnFailure: false,
    });
    const [a, b] = ironic.callsOf('createNode').map((c) => c.args[0] as Record<string, unknown>);
    assert.equal(a.inspect_interface, 'agent');
    assert.equal(b.inspect_interface, 'redfish');
    assert.equal((a.driver_info as Record<string, unknown>).redfish_password, PASSWORD);
  });

  it('does not patch or list ports again once the node is as wanted', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const before = ironic.calls.length;
    const r = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r.dirty, false);
    assert.deepEqual(ironic.calls.slice(before).map((c) => c.method), ['getNode']);
  });

  it('surfaces last_error of a failed manage, and retries after new credentials', async () => {
    const { prov, ironic } = setup();
    ironic.failManageWith = 'Failed to get power state: authentication failed';
    const h = host();
    await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    const r = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r.dirty, false);
    assert.match(r.errorMessage ?? '', /authentication failed/);
    ironic.failManageWith = undefined;
    const fixed = { ...h, credentials: { username: 'admin', password: 'new-secret-1' } };
    const r2 = await prov.register(fixed, { credentialsChanged: true, restartOnFailure: false });
    assert.equal(r2.errorMessage, undefined);
    const patch = ironic.callsOf('patchNode').at(-1)?.args[1] as JSONPatchOp[];
    assert.ok(patch.some((op) => op.path === '/driver_info'), 'driver_info replaced on new credentials');
    assert.equal([...ironic.nodes.values()][0].provision_state, 'manageable');
  });

  it('replaces driver_info when the BMC address changes', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const moved = { ...h, bmc: parseBMCAddress('fake://h1-new', { enableFakeBMC: true }) };
    await prov.register(moved, { credentialsChanged: false, restartOnFailure: false });
    assert.equal([...ironic.nodes.values()][0].driver_info?.fake_name, 'h1-new');
  });

  it('fails when the boot MAC belongs to another node', async () => {
    const { prov, ironic } = setup();
    const other = ironic.addNode({ name: 'ns~other', provision_state: 'manageable' });
    ironic.ports.push({ uuid: 'p0', address: '00:11:22:33:44:55', node_uuid: other.uuid });
    const r = await prov.register(host(), { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r.errorMessage, 'MAC address 00:11:22:33:44:55 conflicts with existing node ns~other');
    assert.equal(ironic.nodes.size, 1);
  });

  it('reports a NIC MAC owned by another node as a conflict', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const other = ironic.addNode({ name: 'ns~other', provision_state: 'manageable' });
    ironic.ports.push({ uuid: 'p9', address: 'aa:bb:cc:dd:ee:ff', node_uuid: other.uuid });
    const r = await prov.register(h, {
      credentialsChanged: false,
      restartOnFailure: false,
      nicMACs: [{ mac: 'AA:BB:CC:DD:EE:FF', pxe: false }],
    });
    assert.equal(r.errorMessage, 'MAC address aa:bb:cc:dd:ee:ff conflicts with existing node ns~other');
  });

  it('requires a boot MAC when the driver needs one', async () => {
    const { prov } = setup();
    const r = await prov.register(host({ bootMACAddress: undefined }, 'libvirt://192.168.122.1'), {
      credentialsChanged: false,
      restartOnFailure: false,
    });
    assert.match(r.errorMessage ?? '', /requires a BootMACAddress/);
  });

  it('finds the node by name when the stored ID is stale', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const r = await prov.register({ ...h, provisionerID: 'gone' }, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r.provisionerID, h.provisionerID);
    assert.equal(ironic.callsOf('createNode').length, 1);
  });
});

describe('IronicProvisioner error handling', () => {
  it('turns 409 NodeLocked into a short requeue and 503 into a long one', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    ironic.failNext.set('setProvisionState', new IronicError(409, 'Node uuid-1 is locked by host localhost'));
    const r = await prov.inspectHardware(h, { refresh: true, restartOnFailure: false, forceReboot: false });
    assert.equal(r.dirty, true);
    assert.equal(r.started, false);
    assertShortDelay(r.requeueAfterMs);
    ironic.failNext.set('setProvisionState', new IronicError(503, 'Service Unavailable'));
    const r2 = await prov.provision(h, { image: { url: 'http://i/x.img', checksum: 'abc' }, bootMode: 'UEFI' }, { forceReboot: false });
    assertLongDelay(r2.requeueAfterMs);
  });

  it('asks for registration when the node is gone', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    ironic.nodes.clear();
    await assert.rejects(prov.powerOn(h, { force: false }), NeedsRegistrationError);
    await assert.rejects(prov.updateHardwareState(h), NeedsRegistrationError);
  });

  it('waits on a node with a fault and lifts maintenance before a state change', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    node.fault = 'power failure';
    const r = await prov.provision(h, { image: { url: 'http://i/x.img', checksum: 'abc' }, bootMode: 'UEFI' }, { forceReboot: false });
    assertLongDelay(r.requeueAfterMs);
    assert.equal(ironic.callsOf('setProvisionState').length, 1); // only the registration's manage
    node.fault = null;
    node.maintenance = true;
    await prov.provision(h, { image: { url: 'http://i/x.img', checksum: 'abc' }, bootMode: 'UEFI' }, { forceReboot: false });
    assert.equal(ironic.callsOf('clearMaintenance').length, 1);
    assert.equal(node.provision_state, 'available');
  });

  it('never lets the BMC password into an error', async () => {
    const { prov, ironic } = setup();
    const h = host({}, 'redfish://bmc.example/redfish/v1/Systems/1');
    ironic.failManageWith = `Redfish login failed for admin:${PASSWORD}`;
    await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    const r = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.ok(r.errorMessage);
    assert.ok(!r.errorMessage.includes(PASSWORD), r.errorMessage);
    ironic.failNext.set('getNode', new IronicError(400, `bad request with ${PASSWORD}`));
    await assert.rejects(prov.powerOn({ ...h, provisionerID: r.provisionerID ?? '' }, { force: false }), (e: Error) => !e.message.includes(PASSWORD));
  });
});

describe('IronicProvisioner.inspectHardware', () => {
  it('starts inspection on refresh and reports details from the inventory', async () => {
    const { prov, ironic } = setup();
    ironic.hold = true;
    const h = await (async () => {
      ironic.hold = false;
      const r = await registered(prov);
      ironic.hold = true;
      return r;
    })();
    const started = await prov.inspectHardware(h, { refresh: true, restartOnFailure: false, forceReboot: false });
    assert.equal(started.started, true);
    assertLongDelay(started.requeueAfterMs);
    const waiting = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    assert.deepEqual([waiting.dirty, waiting.started], [true, false]);
    ironic.finish();
    // A node whose inspect interface stores an inventory (the agent's): its details are read.
    ironic.node(h.provisionerID).inspect_interface = 'agent';
    ironic.inventories.set(h.provisionerID, { inventory: sampleInventory, plugin_data: {} });
    const complete = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    assert.equal(complete.dirty, false);
    assert.equal(complete.details?.cpu?.model, 'Intel Xeon');
  });

  it('never asks for the inventory of a node inspected by the fake interface', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    const r = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    assert.equal(r.dirty, false);
    assert.ok(r.details?.cpu);
    assert.equal(ironic.callsOf('getInventory').length, 0);
  });

  it('makes up deterministic details for fake-hardware nodes whose inspection stored nothing', async () => {
    const { prov } = setup();
    const h = await registered(prov);
    // Never inspected: inventory 404 starts an inspection.
    const first = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    assert.equal(first.started, true);
    const second = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    assert.equal(second.dirty, false);
    assert.deepEqual(second.details, fakeHardwareDetails('ns~h1', { bootMAC: '00:11:22:33:44:55' }));
    assert.equal(second.details?.nics?.[0].mac, '00:11:22:33:44:55');
  });

  it('manages an available node first and aborts a waiting inspection on a forced reboot', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    node.provision_state = 'available';
    await prov.inspectHardware(h, { refresh: true, restartOnFailure: false, forceReboot: false });
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'manage');
    Object.assign(node, { provision_state: 'inspect wait', target_provision_state: 'manageable' });
    const r = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: true });
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'abort');
    assert.equal(r.dirty, true);
  });

  it('fails on inspect failed unless restarting, and restarts after an abort', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    Object.assign(node, { provision_state: 'inspect failed', last_error: 'timeout waiting for the agent' });
    const r = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    assert.equal(r.errorMessage, 'timeout waiting for the agent');
    Object.assign(node, { provision_state: 'inspect failed', last_error: 'inspection was aborted by request' });
    const r2 = await prov.inspectHardware(h, { refresh: false, restartOnFailure: false, forceReboot: false });
    assert.equal(r2.started, true);
  });
});

const sampleInventory = {
  cpu: { model_name: 'Intel Xeon', frequency: '2399.998', count: 16, architecture: 'x86_64', flags: ['vmx', 'fpu', 'lm'] },
  memory: { total: 68719476736, physical_mb: 65536 },
  interfaces: [
    { name: 'eno1', mac_address: 'aa:aa:aa:aa:aa:01', ipv4_address: '10.0.0.5', ipv6_address: 'fd00::5', vendor: '0x8086', product: '0x1572', speed_mbps: 25000, pci_address: '0000:3b:00.0' },
    { name: 'eno2', mac_address: 'aa:aa:aa:aa:aa:02' },
  ],
  disks: [
    { name: '/dev/sda', rotational: true, size: 1000204886016, model: 'HDD1', serial: 'S1', by_path: '/dev/disk/by-path/pci-0000:00:17.0-ata-1' },
    { name: '/dev/sdb', rotational: false, size: 480103981056, wwn: '0x5000' },
    { name: '/dev/nvme0n1', rotational: false, size: 960197124096 },
  ],
  system_vendor: { manufacturer: 'Dell Inc.', product_name: 'PowerEdge R640', serial_number: 'ABC123', firmware: { vendor: 'Dell', version: '2.1', build_date: '03/01/2023' } },
  boot: { current_boot_mode: 'uefi', pxe_interface: 'aa:aa:aa:aa:aa:01' },
  hostname: 'node-1',
};

describe('inventory → HardwareDetails', () => {
  it('converts CPU, memory, system vendor, firmware and hostname', () => {
    const d = hardwareDetails({ inventory: sampleInventory, plugin_data: {} });
    assert.deepEqual(d.cpu, { arch: 'x86_64', model: 'Intel Xeon', clockMegahertz: 2400, flags: ['fpu', 'lm', 'vmx'], count: 16 });
    assert.equal(d.ramMebibytes, 65536);
    assert.deepEqual(d.systemVendor, { manufacturer: 'Dell Inc.', productName: 'PowerEdge R640', serialNumber: 'ABC123' });
    assert.deepEqual(d.firmware, { bios: { date: '03/01/2023', vendor: 'Dell', version: '2.1' } });
    assert.equal(d.hostname, 'node-1');
  });
  it('gives one NIC entry per address family, with PXE, model, speed and LLDP', () => {
    const d = hardwareDetails({
      inventory: sampleInventory,
      plugin_data: { parsed_lldp: { eno1: { switch_chassis_id: 'sw1', switch_port_id: 'Eth1/1', switch_system_name: 'leaf1', switch_port_vlans: [{ id: 100, name: 'prov' }] } } },
    });
    assert.equal(d.nics?.length, 3);
    const [v4, v6, bare] = d.nics ?? [];
    assert.equal(v4.ip, '10.0.0.5');
    assert.equal(v6.ip, 'fd00::5');
    assert.equal(v4.model, '0x8086 0x1572');
    assert.equal(v4.speedGbps, 25);
    assert.equal(v4.pxe, true);
    assert.deepEqual(v4.lldp, { switchID: 'sw1', portID: 'Eth1/1', switchSystemName: 'leaf1' });
    assert.deepEqual(v4.vlans, [{ id: 100, name: 'prov' }]);
    assert.equal(bare.ip, undefined);
    assert.equal(bare.pxe, false);
  });
  it('types disks HDD, SSD and NVME and prefers the by-path name', () => {
    const d = hardwareDetails(sampleInventory);
    assert.deepEqual(d.storage?.map((s) => [s.name, s.type]), [
      ['/dev/disk/by-path/pci-0000:00:17.0-ata-1', 'HDD'],
      ['/dev/sdb', 'SSD'],
      ['/dev/nvme0n1', 'NVME'],
    ]);
    assert.deepEqual(d.storage?.[0].alternateNames, ['/dev/sda', '/dev/disk/by-path/pci-0000:00:17.0-ata-1']);
    assert.equal(d.storage?.[0].sizeBytes, 1000204886016);
  });
  it('fake details depend on the node name only', () => {
    assert.deepEqual(fakeHardwareDetails('ns~a'), fakeHardwareDetails('ns~a'));
    assert.notDeepEqual(fakeHardwareDetails('ns~a').systemVendor, fakeHardwareDetails('ns~b').systemVendor);
  });
});

describe('IronicProvisioner.prepare', () => {
  it('sets a hardware RAID target and runs manual cleaning with RAID steps', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov, host({}, 'redfish://bmc.example/redfish/v1/Systems/1'));
    ironic.node(h.provisionerID).raid_interface = 'redfish';
    ironic.hold = true;
    const r = await prov.prepare(
      h,
      { targetRAID: { hardwareRAIDVolumes: [{ level: '1', sizeGibibytes: 100, name: 'root', rotational: false }] } },
      { unprepared: true, restartOnFailure: false },
    );
    assert.equal(r.started, true);
    assert.deepEqual(ironic.callsOf('setRAIDConfig')[0].args[1], [
      { size_gb: 100, raid_level: '1', volume_name: 'root', disk_type: 'ssd', is_root_volume: true },
    ]);
    const clean = ironic.callsOf('setProvisionState').at(-1);
    assert.equal(clean?.args[1], 'clean');
    assert.deepEqual(clean?.args[2], {
      clean_steps: [
        { interface: 'raid', step: 'delete_configuration' },
        { interface: 'raid', step: 'create_configuration' },
      ],
    });
    const waiting = await prov.prepare(h, {}, { unprepared: false, restartOnFailure: false });
    assertLongDelay(waiting.requeueAfterMs);
    ironic.finish();
    const finished = await prov.prepare(h, {}, { unprepared: false, restartOnFailure: false });
    assert.deepEqual([finished.dirty, finished.started], [false, false]);
  });

  it('sends BIOS settings to the fake BIOS interface; nothing to do is done at once', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const idle = await prov.prepare(h, {}, { unprepared: true, restartOnFailure: false });
    assert.equal(idle.dirty, false);
    assert.equal(ironic.callsOf('setProvisionState').length, 1);
    await prov.prepare(h, { firmwareSettings: { ProcVirtualization: 'Enabled' } }, { unprepared: true, restartOnFailure: false });
    assert.deepEqual(ironic.callsOf('setProvisionState').at(-1)?.args[2], {
      clean_steps: [{ interface: 'bios', step: 'apply_configuration', args: { settings: [{ name: 'ProcVirtualization', value: 'Enabled' }] } }],
    });
  });

  it('refuses firmware updates on an Ironic without the firmware interface', async () => {
    const { prov } = setup();
    const h = await registered(prov);
    const r = await prov.prepare(h, { firmwareUpdates: [{ component: 'bmc', url: 'http://fw/bmc.bin' }] }, { unprepared: true, restartOnFailure: false });
    assert.match(r.errorMessage ?? '', /1\.86/);
  });

  it('reports clean failed, or re-manages it when restarting', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    Object.assign(ironic.node(h.provisionerID), { provision_state: 'clean failed', last_error: 'step failed', maintenance: true });
    const r = await prov.prepare(h, {}, { unprepared: false, restartOnFailure: false });
    assert.equal(r.errorMessage, 'step failed');
    await prov.prepare(h, {}, { unprepared: false, restartOnFailure: true });
    assert.equal(ironic.callsOf('clearMaintenance').length, 1);
    assert.equal(ironic.node(h.provisionerID).provision_state, 'manageable');
  });
});

describe('IronicProvisioner.provision', () => {
  const image = { url: 'http://images/os.qcow2', checksum: 'f'.repeat(64), checksumType: 'sha256' as const, format: 'qcow2' as const };

  it('provides, then deploys with image, root hints, instance UUID and the config drive', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    // A boot interface that validates something (the fake one's answer is always yes, and is not asked).
    ironic.node(h.provisionerID).boot_interface = 'ipxe';
    const data = {
      image,
      bootMode: 'UEFISecureBoot' as const,
      rootDeviceHints: { deviceName: '/dev/sda' },
      userData: '#cloud-config\npassword: user-secret',
      networkData: { links: [] },
      metaData: { name: 'custom', extra: 'x' },
    };
    const r1 = await prov.provision(h, data, { forceReboot: false });
    assert.equal(r1.dirty, true);
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'provide');
    const r2 = await prov.provision(h, data, { forceReboot: false });
    assertLongDelay(r2.requeueAfterMs);
    const node = ironic.node(h.provisionerID);
    assert.equal(node.instance_uuid, 'uid-1111');
    assert.equal(node.instance_info?.image_source, image.url);
    assert.equal(node.instance_info?.image_os_hash_algo, 'sha256');
    assert.equal(node.instance_info?.image_os_hash_value, image.checksum);
    assert.equal(node.instance_info?.image_checksum, undefined);
    assert.equal(node.instance_info?.image_disk_format, 'qcow2');
    assert.deepEqual(node.instance_info?.root_device, { name: 's== /dev/sda' });
    assert.deepEqual(node.instance_info?.capabilities, { secure_boot: 'true' });
    assert.equal(ironic.callsOf('validateNode').length, 1);
    const active = ironic.callsOf('setProvisionState').at(-1);
    assert.equal(active?.args[1], 'active');
    assert.deepEqual(active?.args[2], {
      configdrive: {
        user_data: data.userData,
        network_data: { links: [] },
        meta_data: {
          uuid: 'uid-1111',
          'metal3-namespace': 'ns',
          'metal3-name': 'h1',
          'local-hostname': 'h1',
          local_hostname: 'h1',
          name: 'custom',
          extra: 'x',
        },
      },
    });
    const r3 = await prov.provision(h, data, { forceReboot: false });
    assert.deepEqual(r3, { dirty: false });
  });

  it('uses a plain image_checksum without a type', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    ironic.node(h.provisionerID).provision_state = 'available';
    await prov.provision(h, { image: { url: 'http://i/x', checksum: 'abc' }, bootMode: 'UEFI' }, { forceReboot: false });
    const info = ironic.node(h.provisionerID).instance_info ?? {};
    assert.equal(info.image_checksum, 'abc');
    assert.equal(info.image_os_hash_algo, undefined);
  });

  it('boots a live ISO with the ramdisk interface and no config drive', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov, host({}, 'redfish-virtualmedia://bmc.example/redfish/v1/Systems/1'));
    const node = ironic.node(h.provisionerID);
    Object.assign(node, { provision_state: 'available', deploy_interface: 'direct', instance_info: { image_source: 'old', image_checksum: 'x' } });
    await prov.provision(h, { image: { url: 'http://i/live.iso', format: 'live-iso' }, bootMode: 'UEFI', userData: 'x' }, { forceReboot: false });
    assert.equal(node.deploy_interface, 'ramdisk');
    assert.equal(node.instance_info?.boot_iso, 'http://i/live.iso');
    assert.equal(node.instance_info?.image_source, undefined);
    assert.deepEqual(ironic.callsOf('setProvisionState').at(-1)?.args[2], {});
  });

  it('runs a custom deploy step with the custom-agent interface', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov, host({}, 'redfish://bmc.example/redfish/v1/Systems/1'));
    const node = ironic.node(h.provisionerID);
    node.provision_state = 'available';
    await prov.provision(h, { customDeploy: { method: 'install_coreos' }, bootMode: 'UEFI' }, { forceReboot: false });
    assert.equal(node.deploy_interface, 'custom-agent');
    const extra = ironic.callsOf('setProvisionState').at(-1)?.args[2] as Record<string, unknown>;
    assert.deepEqual(extra.deploy_steps, [{ interface: 'deploy', step: 'install_coreos', args: {}, priority: 80 }]);
  });

  it('fails on validation errors and on a failed deployment of the same image', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    node.provision_state = 'available';
    node.boot_interface = 'ipxe';
    ironic.validateResult = { boot: { result: true }, deploy: { result: false, reason: 'missing image_source' } };
    const r = await prov.provision(h, { image, bootMode: 'UEFI' }, { forceReboot: false });
    assert.equal(r.errorMessage, 'host validation error: deploy: missing image_source');
    ironic.validateResult = { boot: { result: true }, deploy: { result: true } };
    ironic.failDeployWith = 'image write failed';
    await prov.provision(h, { image, bootMode: 'UEFI' }, { forceReboot: false });
    assert.equal(node.provision_state, 'deploy failed');
    const r2 = await prov.provision(h, { image, bootMode: 'UEFI' }, { forceReboot: false });
    assert.equal(r2.errorMessage, `Image provisioning failed (url: ${image.url}, checksum: ${image.checksum}): image write failed`);
    // Another image is a new attempt.
    ironic.failDeployWith = undefined;
    const r3 = await prov.provision(h, { image: { ...image, url: 'http://images/other.qcow2' }, bootMode: 'UEFI' }, { forceReboot: false });
    assert.equal(r3.errorMessage, undefined);
    assert.equal(node.provision_state, 'active');
  });

  it('rejects an image without checksum', async () => {
    const { prov } = setup();
    const h = await registered(prov);
    const r = await prov.provision(h, { image: { url: 'http://i/x' }, bootMode: 'UEFI' }, { forceReboot: false });
    assert.match(r.errorMessage ?? '', /^Validation failed: /);
  });
});

describe('IronicProvisioner.deprovision and adopt', () => {
  it('undeploys an active node, syncing automated_clean, until available', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    Object.assign(node, { provision_state: 'active', automated_clean: true });
    ironic.hold = true;
    const r = await prov.deprovision({ ...h, automatedCleaningMode: 'disabled' }, { restartOnFailure: false });
    assert.equal(r.dirty, true);
    assert.equal(node.automated_clean, false);
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'deleted');
    assertLongDelay((await prov.deprovision(h, { restartOnFailure: false })).requeueAfterMs);
    ironic.finish();
    assert.deepEqual(await prov.deprovision(h, { restartOnFailure: false }), { dirty: false });
  });

  it('fails on error and clean failed unless restarting; provides a manageable node', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    Object.assign(node, { provision_state: 'error', last_error: null });
    assert.equal((await prov.deprovision(h, { restartOnFailure: false })).errorMessage, 'Deprovisioning failed');
    Object.assign(node, { provision_state: 'clean failed', last_error: 'disk erase failed' });
    assert.equal((await prov.deprovision(h, { restartOnFailure: false })).errorMessage, 'Cleaning failed: disk erase failed');
    Object.assign(node, { provision_state: 'manageable', last_error: null });
    await prov.deprovision(h, { restartOnFailure: false });
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'provide');
  });

  it('adopts a manageable node with the image it runs, and reports adopt failures', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    const r = await prov.adopt(h, { restartOnFailure: false, image: { url: 'http://i/x', checksum: 'abc' } });
    assert.equal(r.dirty, true);
    assert.equal(node.provision_state, 'active');
    assert.equal(node.instance_uuid, 'uid-1111');
    assert.equal(node.instance_info?.image_source, 'http://i/x');
    assert.deepEqual(await prov.adopt(h, { restartOnFailure: false }), { dirty: false });
    Object.assign(node, { provision_state: 'adopt failed', last_error: 'no image' });
    assert.equal((await prov.adopt(h, { restartOnFailure: false })).errorMessage, 'Host adoption failed: no image');
    Object.assign(node, { provision_state: 'active', maintenance: true });
    await prov.adopt(h, { restartOnFailure: false });
    assert.equal(node.maintenance, false);
    Object.assign(node, { provision_state: 'manageable', instance_info: {} });
    assert.deepEqual(await prov.adopt(h, { restartOnFailure: false, deprovisioning: true }), { dirty: false });
  });
});

describe('IronicProvisioner power', () => {
  it('powers a fake node on from power_state null, then reports it', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    assert.deepEqual(await prov.updateHardwareState(h), {});
    const r = await prov.powerOn(h, { force: false });
    assertShortDelay(r.requeueAfterMs);
    assert.deepEqual(ironic.callsOf('setPowerState')[0].args.slice(1, 2), ['power on']);
    assert.deepEqual(await prov.powerOn(h, { force: false }), { dirty: false });
    assert.deepEqual(await prov.updateHardwareState(h), { poweredOn: true });
  });

  it('soft power off with a timeout, hard when soft is unsupported', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    ironic.node(h.provisionerID).power_state = 'power on';
    await prov.powerOff(h, { mode: 'soft', force: false });
    assert.deepEqual(ironic.callsOf('setPowerState').at(-1)?.args.slice(1), ['soft power off', 180]);
    ironic.node(h.provisionerID).power_state = 'power on';
    ironic.softPowerUnsupported = true;
    await prov.powerOff(h, { mode: 'soft', force: false });
    assert.equal(ironic.callsOf('setPowerState').at(-1)?.args[1], 'power off');
    assert.deepEqual(await prov.updateHardwareState(h), { poweredOn: false });
  });

  it('waits while a power or provision change is under way, and surfaces last_error unless forced', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    Object.assign(node, { power_state: 'power off', target_power_state: 'power on' });
    assertShortDelay((await prov.powerOn(h, { force: false })).requeueAfterMs);
    Object.assign(node, { target_power_state: null, target_provision_state: 'active' });
    assertShortDelay((await prov.powerOn(h, { force: false })).requeueAfterMs);
    assert.equal(ironic.callsOf('setPowerState').length, 0);
    Object.assign(node, { target_provision_state: null, last_error: 'BMC unreachable' });
    assert.equal((await prov.powerOn(h, { force: false })).errorMessage, 'BMC unreachable');
    await prov.powerOn(h, { force: true });
    assert.equal(ironic.callsOf('setPowerState').length, 1);
  });

  it('reboots instead of powering off a node with disable_power_off', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    Object.assign(ironic.node(h.provisionerID), { power_state: 'power on', disable_power_off: true });
    assert.equal((await prov.powerOff(h, { mode: 'hard', force: false })).dirty, false);
    assert.equal(ironic.callsOf('setPowerState').at(-1)?.args[1], 'rebooting');
  });

  it('aborts a waiting inspection before powering off', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    Object.assign(ironic.node(h.provisionerID), { provision_state: 'inspect wait', target_provision_state: 'manageable', power_state: 'power on' });
    await prov.powerOff(h, { mode: 'hard', force: false });
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'abort');
    assert.equal(ironic.callsOf('setPowerState').length, 0);
  });
});

describe('IronicProvisioner detach and delete', () => {
  it('puts an active node in maintenance and deletes it; a missing node is success', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    ironic.node(h.provisionerID).provision_state = 'active';
    assert.deepEqual(await prov.detach(h, { force: false }), { dirty: false });
    assert.equal(ironic.callsOf('setMaintenance')[0].args[1], 'forcing deletion in baremetal-operator');
    assert.equal(ironic.nodes.size, 0);
    assert.deepEqual(await prov.delete(h), { dirty: false });
  });

  it('drops a stale instance_uuid before deleting an available node', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    Object.assign(ironic.node(h.provisionerID), { provision_state: 'available', instance_uuid: 'old' });
    await prov.delete(h);
    assert.deepEqual(ironic.callsOf('patchNode').at(-1)?.args[1], [{ op: 'remove', path: '/instance_uuid' }]);
    assert.equal(ironic.nodes.size, 0);
  });

  it('waits on busy nodes and aborts waits only when forced', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    Object.assign(node, { provision_state: 'clean wait', target_provision_state: 'available' });
    assertLongDelay((await prov.detach(h, { force: false })).requeueAfterMs);
    await prov.detach(h, { force: true });
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'abort');
    Object.assign(node, { provision_state: 'wait call-back', target_provision_state: 'active' });
    await prov.detach(h, { force: true });
    // Before 1.110 Ironic cannot abort a deployment: it is undeployed instead.
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'deleted');
  });

  it('aborts a waiting deployment from 1.110', async () => {
    const { prov, ironic } = setup();
    ironic.serverMax = '1.110';
    const h = await registered(prov);
    Object.assign(ironic.node(h.provisionerID), { provision_state: 'wait call-back', target_provision_state: 'active' });
    await prov.detach(h, { force: true });
    assert.equal(ironic.callsOf('setProvisionState').at(-1)?.args[1], 'abort');
  });
});

describe('IronicProvisioner.hasCapacity', () => {
  it('counts busy non-virtual-media nodes against the limit', async () => {
    const { prov, ironic } = setup({ provisioningLimit: 2, capacityCacheMs: 0 });
    const h = host({}, 'ipmi://10.0.0.1');
    await prov.ready();
    ironic.addNode({ name: 'ns~a', provision_state: 'deploying', boot_interface: 'ipxe' });
    ironic.addNode({ name: 'ns~b', provision_state: 'clean wait', boot_interface: 'redfish-virtual-media' });
    assert.equal(await prov.hasCapacity(h), true);
    ironic.addNode({ name: 'ns~c', provision_state: 'inspecting', boot_interface: 'pxe' });
    assert.equal(await prov.hasCapacity(h), false);
    // A host that is itself busy keeps its slot.
    ironic.addNode({ name: 'ns~h1', provision_state: 'deploying', boot_interface: 'ipxe' });
    assert.equal(await prov.hasCapacity(h), true);
    // Virtual media BMCs are never limited.
    assert.equal(await prov.hasCapacity(host({ name: 'z' }, 'redfish-virtualmedia://bmc.example/x')), true);
  });

  it('tells when a polled node leaves a counted state, and counts a host it let in before the next list', async () => {
    const { prov, ironic } = setup({ provisioningLimit: 1, nodeCacheMs: 1000, nodePollIntervalMs: 20 });
    try {
      const [a, b] = [host({ name: 'a', uid: 'uid-a', bootMACAddress: '00:11:22:33:44:0a' }, 'ipmi://10.0.0.1'), host({ name: 'b', uid: 'uid-b', bootMACAddress: '00:11:22:33:44:0b' }, 'ipmi://10.0.0.2')];
      const ra = await registered(prov, a, 40);
      const rb = await registered(prov, b, 40);
      let freed = 0;
      prov.onCapacityFreed(() => freed++);
      ironic.node(ra.provisionerID).provision_state = 'available';
      ironic.node(rb.provisionerID).provision_state = 'available';
      ironic.hold = true;
      const data = { image: { url: 'http://x/img', checksum: 'abc', checksumType: 'md5' as const }, bootMode: 'UEFI' as const };
      await sleep(60);
      assert.equal(await prov.hasCapacity(ra), true);
      assert.equal((await prov.provision(ra, data, { forceReboot: false })).dirty, true);
      // a is deploying as far as Ironic said when it accepted; no list has shown that yet.
      assert.equal(await prov.hasCapacity(rb), false, 'the one slot is taken');
      await sleep(60);
      assert.equal(freed, 0);
      ironic.finish();
      await sleep(80);
      assert.equal(freed, 1, 'a left deploying: one slot free');
      assert.equal(await prov.hasCapacity(rb), true);
    } finally {
      prov.close();
    }
  });
});

describe('IronicProvisioner.getFirmwareSettings', () => {
  it('reads BIOS settings, with the schema when the version allows detail', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    ironic.bios.set(h.provisionerID, [
      { name: 'ProcVirtualization', value: 'Enabled', attribute_type: 'Enumeration', allowable_values: ['Enabled', 'Disabled'], read_only: false },
      { name: 'Empty', value: null },
    ]);
    const r = await prov.getFirmwareSettings(h, true);
    assert.deepEqual(r.settings, [
      { name: 'ProcVirtualization', value: 'Enabled' },
      { name: 'Empty', value: '' },
    ]);
    assert.deepEqual(r.schema?.ProcVirtualization, { attribute_type: 'Enumeration', allowable_values: ['Enabled', 'Disabled'], read_only: false });
    assert.equal(ironic.callsOf('getBIOS')[0].args[1], true);
    assert.equal((await prov.getFirmwareSettings(h, false)).schema, undefined);
  });
});

describe('Ironic mapping helpers', () => {
  it('root device hints', () => {
    assert.deepEqual(
      rootDeviceHints({ deviceName: '/dev/disk/by-path/pci-1', model: 'Samsung', minSizeGigabytes: 100, rotational: false, serialNumber: 'S1', wwnWithExtension: 'w' }),
      { by_path: 's== /dev/disk/by-path/pci-1', model: '<in> Samsung', size: '>= 100', rotational: 'false', serial: 's== S1', wwn_with_extension: 's== w' },
    );
    assert.equal(rootDeviceHints({}), undefined);
  });
  it('boot mode capabilities keep foreign items', () => {
    assert.equal(bootModeCapabilities('cpu_vt:true,boot_mode:bios', 'UEFISecureBoot'), 'cpu_vt:true,boot_mode:uefi,secure_boot:true');
    assert.equal(bootModeCapabilities(undefined, 'legacy'), 'boot_mode:bios');
  });
  it('config drive meta data defaults are overlaid', () => {
    const d = buildConfigDrive({ namespace: 'n', name: 'm', uid: 'u' }, { metaData: { 'local-hostname': 'x' } });
    assert.equal(d.meta_data['local-hostname'], 'x');
    assert.equal(d.meta_data.uuid, 'u');
    assert.equal('user_data' in d, false);
  });
  it('software RAID goes to the agent and first volume is root', () => {
    const plan = planRAID({ softwareRAIDVolumes: [{ level: '1' }, { level: '0', sizeGibibytes: 10 }] }, undefined, {
      raidInterface: 'redfish',
      fake: false,
      rootHintsSet: false,
    });
    assert.equal(plan.raidInterface, 'agent');
    assert.deepEqual(plan.steps.map((s) => s.step), ['delete_configuration', 'erase_devices_metadata', 'create_configuration']);
    assert.deepEqual(plan.logicalDisks?.map((d) => [d.is_root_volume, d.size_gb]), [[true, 'MAX'], [false, 10]]);
    assert.deepEqual(planRAID({ hardwareRAIDVolumes: null }, undefined, { raidInterface: 'redfish', fake: false, rootHintsSet: false }), { steps: [] });
  });
  it('node names are namespace~name', () => {
    assert.equal(nodeName({ namespace: 'a', name: 'b' }), 'a~b');
  });
});

describe('IronicProvisioner.getFirmwareSettings while Ironic is busy', () => {
  it('throws rather than reporting no settings', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    ironic.failNext.set('getNode', new IronicError(409, 'Node is locked'));
    await assert.rejects(prov.getFirmwareSettings(h, false), /busy/);
  });
});

describe('IronicProvisioner with the node cache and its poller', () => {
  const opts = { refresh: false, restartOnFailure: false, forceReboot: false };
  const many = (prov: IronicProvisioner) =>
    Promise.all(
      ['a', 'b', 'c'].map((n, i) => registered(prov, host({ name: n, uid: `uid-${n}`, bootMACAddress: `00:11:22:33:44:0${i}` }, `fake://${n}`), 40)),
    );

  it('serves hosts waiting on Ironic from one node list instead of a GET each', async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 1000, nodePollIntervalMs: 20 });
    try {
      const hosts = await many(prov);
      ironic.hold = true;
      for (const h of hosts) assert.equal((await prov.inspectHardware(h, { ...opts, refresh: true })).started, true);
      await sleep(60);
      const gets = ironic.callsOf('getNode').length;
      const lists = ironic.callsOf('listNodes').length;
      assert.ok(lists >= 1, 'the waiting nodes are polled by list');
      for (let round = 0; round < 3; round++) {
        for (const h of hosts) {
          const r = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
          assert.equal(r.errorMessage, undefined);
          assert.equal((await prov.inspectHardware(h, opts)).dirty, true);
        }
      }
      assert.equal(ironic.callsOf('getNode').length, gets, 'no single-node GET while the list is fresh');
      assert.equal(ironic.callsOf('patchNode').length, 0);
      ironic.finish();
      await sleep(60);
      for (const h of hosts) assert.equal((await prov.inspectHardware(h, opts)).dirty, false);
    } finally {
      prov.close();
    }
  });

  it('reads a polled node in full and patches it when the host changed', async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 1000, nodePollIntervalMs: 20 });
    try {
      const [h] = await many(prov);
      ironic.hold = true;
      await prov.inspectHardware(h, { ...opts, refresh: true });
      await sleep(60);
      const gets = ironic.callsOf('getNode').length;
      const r = await prov.register({ ...h, bootMode: 'legacy' }, { credentialsChanged: false, restartOnFailure: false });
      assert.equal(r.errorMessage, undefined);
      assert.equal(ironic.callsOf('getNode').length, gets + 1, 'one complete read');
      // Inspecting: the properties wait, but the registration is compared against the complete node.
      assert.equal(ironic.node(h.provisionerID).name, 'ns~a');
    } finally {
      prov.close();
    }
  });

  it('stops polling once nothing waits, and reads steady hosts with one GET each', async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 50, nodePollIntervalMs: 10, pollIntervalMs: { short: 5, long: 5 } });
    try {
      const hosts = await many(prov);
      // Registration waited on manage: the nodes stay watched for the long delay with its jitter plus a second.
      await sleep(1100);
      const lists = ironic.callsOf('listNodes').length;
      await sleep(100);
      assert.equal(ironic.callsOf('listNodes').length, lists, 'no list polls in the steady state');
      const gets = ironic.callsOf('getNode').length;
      for (const h of hosts) await prov.updateHardwareState(h);
      assert.equal(ironic.callsOf('getNode').length, gets + hosts.length);
    } finally {
      prov.close();
    }
  });

  it('serves provisioned hosts at rest from the slow list: no GET per host, and a power change wakes its host', async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 50, nodePollIntervalMs: 10, heldNodePollIntervalMs: 100, pollIntervalMs: { short: 5, long: 5 } });
    try {
      const hosts = await many(prov);
      for (const h of hosts) Object.assign(ironic.node(h.provisionerID), { provision_state: 'active', power_state: 'power on', instance_uuid: h.uid });
      const woken: string[] = [];
      prov.onNodeChange((h) => woken.push(h.name));
      await sleep(100);
      // The first steady reconcile reads each node and holds it.
      assert.equal(prov.reportsChanges(hosts[0]), false, 'not yet held');
      for (const h of hosts) assert.equal((await prov.adopt(h, { restartOnFailure: false })).dirty, false);
      for (const h of hosts) assert.equal(prov.reportsChanges(h), true, 'held: its moves are reported');
      await sleep(1300);
      const gets = ironic.callsOf('getNode').length;
      const lists = ironic.callsOf('listNodes').length;
      for (let round = 0; round < 3; round++) {
        for (const h of hosts) {
          assert.equal((await prov.adopt(h, { restartOnFailure: false })).dirty, false);
          assert.deepEqual(await prov.updateHardwareState(h), { poweredOn: true });
        }
        await sleep(100);
      }
      assert.equal(ironic.callsOf('getNode').length, gets, 'steady hosts read the held list, not Ironic');
      const slow = ironic.callsOf('listNodes').length - lists;
      assert.ok(slow >= 1 && slow <= 5, `slow lists in 300 ms at 100 ms: ${slow}`);
      woken.length = 0;
      ironic.node(hosts[1].provisionerID).power_state = 'power off';
      await sleep(250);
      assert.deepEqual(woken, ['b']);
      assert.deepEqual(await prov.updateHardwareState(hosts[1]), { poweredOn: false });
      // Powering it on again changes the node: no longer at rest until the next steady reconcile holds it.
      await prov.powerOn(hosts[1], { force: false });
      assert.equal(prov.reportsChanges(hosts[1]), false);
    } finally {
      prov.close();
    }
  });

  it('knows the transition Ironic accepted, so the reconcile that follows needs no GET', async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 1000, nodePollIntervalMs: 1000 });
    try {
      const h = await registered(prov, host(), 1100);
      ironic.node(h.provisionerID).provision_state = 'available';
      await sleep(1100);
      ironic.hold = true;
      const data = { image: { url: 'http://x/img', checksum: 'abc', checksumType: 'md5' as const }, bootMode: 'UEFI' as const };
      // Nothing waits now, so this read is a GET; the deploy is accepted; the next call reads no node.
      assert.equal((await prov.provision(h, data, { forceReboot: false })).dirty, true);
      const gets = ironic.callsOf('getNode').length;
      const again = await prov.provision(h, data, { forceReboot: false });
      assert.equal(again.dirty, true);
      assertLongDelay(again.requeueAfterMs);
      assert.equal(ironic.callsOf('getNode').length, gets);
      assert.equal(ironic.callsOf('setProvisionState').filter((c) => c.args[1] === 'active').length, 1);
    } finally {
      prov.close();
    }
  });

  it("leaves a fake node's new cpu_arch to the deploy PATCH, so Ironic has it before it deploys", async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 1000, nodePollIntervalMs: 20 });
    try {
      const h = await registered(prov, host(), 40);
      const node = ironic.node(h.provisionerID);
      assert.equal(node.properties?.cpu_arch, undefined);
      node.provision_state = 'available';
      ironic.hold = true;
      // Something waits, so the node is served from the list.
      await prov.provision(h, { bootMode: 'UEFI' }, { forceReboot: false });
      await sleep(60);
      // Inspection reported the architecture: the host now asks for it.
      const inspected = { ...h, architecture: 'aarch64' };
      const before = ironic.calls.length;
      const r = await prov.register(inspected, { credentialsChanged: false, restartOnFailure: false });
      assert.equal(r.errorMessage, undefined);
      assert.deepEqual(
        ironic.calls.slice(before).filter((c) => c.method !== 'listNodes').map((c) => c.method),
        [],
        'no read and no PATCH of its own',
      );
      const data = { image: { url: 'http://x/img', checksum: 'abc', checksumType: 'md5' as const }, bootMode: 'UEFI' as const };
      assert.equal((await prov.provision(inspected, data, { forceReboot: false })).dirty, true);
      const order = ironic.calls.slice(before).map((c) => c.method);
      const patchAt = order.indexOf('patchNode');
      assert.ok(patchAt >= 0 && patchAt < order.indexOf('setProvisionState'), `the PATCH comes before the deploy: ${order.join(', ')}`);
      const ops = ironic.callsOf('patchNode').at(-1)?.args[1] as JSONPatchOp[];
      assert.deepEqual(ops.find((op) => op.path === '/properties/cpu_arch'), { op: 'add', path: '/properties/cpu_arch', value: 'aarch64' });
      assert.ok(ops.some((op) => op.path.startsWith('/instance_info')), 'in the same PATCH as the instance info');
      assert.equal(ironic.callsOf('patchNode').length, 1);
      assert.equal(node.properties?.cpu_arch, 'aarch64');
      // Deployed, the node is as registered: no read or PATCH for the architecture again.
      ironic.finish();
      await sleep(60);
      const after = ironic.calls.length;
      await prov.register(inspected, { credentialsChanged: false, restartOnFailure: false });
      assert.equal(ironic.calls.slice(after).filter((c) => c.method === 'patchNode').length, 0);
    } finally {
      prov.close();
    }
  });

  it('writes a new cpu_arch at registration for a node that boots a ramdisk (cleaning needs it)', async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 1000, nodePollIntervalMs: 20 });
    try {
      const h = await registered(prov, host({}, 'redfish://bmc.example/redfish/v1/Systems/1'), 40);
      const node = ironic.node(h.provisionerID);
      assert.notEqual(node.boot_interface, 'fake');
      ironic.hold = true;
      await prov.inspectHardware(h, { refresh: true, restartOnFailure: false, forceReboot: false });
      ironic.finish();
      await sleep(60);
      assert.equal(node.provision_state, 'manageable');
      await prov.register({ ...h, architecture: 'aarch64' }, { credentialsChanged: false, restartOnFailure: false });
      assert.equal(node.properties?.cpu_arch, 'aarch64', 'written before provide starts cleaning');
    } finally {
      prov.close();
    }
  });

  it('looks up, rather than creates again, the node it made for a host that could not record its ID', async () => {
    const { prov, ironic } = setup({ nodeCacheMs: 200, nodePollIntervalMs: 20 });
    try {
      // No boot MAC (fake hardware needs none): nothing but the name leads back to the node.
      const h = host({ bootMACAddress: undefined });
      // Created, then the manage that follows fails: the host saves no provisioner ID this time.
      ironic.failNext.set('setProvisionState', new IronicError(503, 'No free conductor workers available'));
      await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
      assert.equal(ironic.callsOf('createNode').length, 1);
      // Long enough for anything cached of the node to be stale.
      await sleep(400);
      const r = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
      assert.equal(ironic.callsOf('createNode').length, 1, 'no second create (Ironic would answer 409)');
      assert.equal(r.provisionerID, [...ironic.nodes.keys()][0]);
    } finally {
      prov.close();
    }
  });

  it('creates the node of a new host without looking it up first, and adopts one that has its name', async () => {
    const { prov, ironic } = setup();
    const h = host({ bootMACAddress: undefined, inspectionMode: 'agent' });
    await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(ironic.callsOf('getNode').length, 0);
    assert.equal(ironic.nodes.size, 1);
    // The host lost its provisioner ID: the node by its name is found, not duplicated.
    const r = await prov.register(h, { credentialsChanged: false, restartOnFailure: false });
    assert.equal(r.errorMessage, undefined);
    assert.equal(ironic.nodes.size, 1);
    assert.equal(r.provisionerID, [...ironic.nodes.keys()][0]);
  });

  it('validates a deployment once while nothing it depends on changes, and fake interfaces never', async () => {
    const { prov, ironic } = setup();
    const h = await registered(prov);
    const node = ironic.node(h.provisionerID);
    node.provision_state = 'available';
    node.boot_interface = 'ipxe';
    const data = { image: { url: 'http://x/img', checksum: 'abc', checksumType: 'md5' as const, format: 'qcow2' as const }, bootMode: 'UEFI' as const };
    ironic.failNext.set('setProvisionState', new IronicError(409, 'Node is locked by host conductor'));
    assert.equal((await prov.provision(h, data, { forceReboot: false })).dirty, true, 'NodeLocked: try again');
    assert.equal((await prov.provision(h, data, { forceReboot: false })).dirty, true, 'deploying');
    assert.equal((await prov.provision(h, data, { forceReboot: false })).dirty, false);
    assert.equal(ironic.callsOf('setProvisionState').filter((c) => c.args[1] === 'active').length, 2);
    assert.equal(ironic.callsOf('validateNode').length, 1);

    const fake = setup();
    const f = await registered(fake.prov);
    fake.ironic.node(f.provisionerID).provision_state = 'available';
    fake.ironic.validateResult = { boot: { result: false, reason: 'never asked' }, deploy: { result: true } };
    assert.equal((await fake.prov.provision(f, data, { forceReboot: false })).errorMessage, undefined);
    assert.equal(fake.ironic.callsOf('validateNode').length, 0);
  });
});
