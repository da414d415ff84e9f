// The simulated provisioner: the embedded default when no Ironic endpoint is configured. Hosts really move
// through registering, inspecting, preparing, provisioning and back, with realistic (scalable) delays,
// deterministic hardware, power state, a capacity limit and injectable failures, all in memory.
import { randomUUID } from 'node:crypto';
import type { HardwareDetails } from '../../api/kinds/common.ts';
import {
  done,
  failed,
  inProgress,
  ProvisionerNotReadyError,
  type FirmwareSchemaEntry,
  type FirmwareSetting,
  type HostData,
  type InspectOptions,
  type InspectResult,
  type PowerMode,
  type PrepareData,
  type PrepareResult,
  type ProvisionData,
  type Provisioner,
  type RegisterOptions,
  type Result,
} from '../provisioner/types.ts';
import { simulatedFirmware, simulatedHardware } from './hardware.ts';

export interface SimulatorDelays {
  register: number;
  inspect: number;
  prepare: number;
  provision: number;
  deprovision: number;
  power: number;
  adopt: number;
}

export const defaultSimulatorDelays: SimulatorDelays = {
  register: 2000,
  inspect: 5000,
  prepare: 2000,
  provision: 8000,
  deprovision: 4000,
  power: 1000,
  adopt: 1000,
};

export interface SimulatorOptions {
  /** Multiplies every delay: 0 completes each operation on the next call, 0.01 runs 100 times faster. */
  speed?: number;
  delays?: Partial<SimulatorDelays>;
  /** Hosts that may inspect, prepare, provision or deprovision at once (PROVISIONING_LIMIT). */
  capacity?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

type Operation = 'register' | 'inspect' | 'prepare' | 'provision' | 'deprovision' | 'adopt' | 'powerOn' | 'powerOff';

/** Ironic-like provision states, so the simulator's node reads like a real one. */
type NodeState = 'enroll' | 'manageable' | 'available' | 'active' | 'deploy failed';

interface SimNode {
  id: string;
  state: NodeState;
  /** undefined: unknown, as Ironic's fake nodes report power_state null until first set. */
  poweredOn?: boolean;
  hardware?: HardwareDetails;
  /** What the last preparation applied (JSON), so a repeated prepare is a no-op. */
  prepared?: string;
  image?: string;
  userData?: string;
  op?: { kind: Operation; until: number; key?: string; finish: () => string | void };
}

// Failure injection, by convention in the inputs, so end-to-end runs can exercise the error paths.
const failRegisterHost = 'fail-register.example';
const failInspectHost = 'fail-inspect.example';
const failPowerHost = 'fail-power.example';
const badUsername = 'bad';

const hostKey = (h: HostData) => `${h.namespace}/${h.name}`;
const busyOps: Operation[] = ['inspect', 'prepare', 'provision', 'deprovision'];

export class SimulatedProvisioner implements Provisioner {
  private readonly nodes = new Map<string, SimNode>();
  private readonly delays: SimulatorDelays;
  private readonly speed: number;
  private readonly capacity: number;
  private readonly clock: () => number;
  private notReadyReason: string | undefined;
  private readonly changeListeners: ((host: { namespace: string; name: string }) => void)[] = [];

  constructor(opts: SimulatorOptions = {}) {
    this.speed = opts.speed ?? 1;
    this.delays = { ...defaultSimulatorDelays, ...opts.delays };
    this.capacity = opts.capacity ?? 20;
    this.clock = opts.now ?? Date.now;
  }

  /** Make ready() fail (a reason) or succeed again (undefined): the "Ironic unreachable" path. */
  setNotReady(reason: string | undefined): void {
    this.notReadyReason = reason;
    this.changedAll();
  }

  onNodeChange(listener: (host: { namespace: string; name: string }) => void): void {
    this.changeListeners.push(listener);
  }

  private readonly capacityListeners: (() => void)[] = [];

  onCapacityFreed(listener: () => void): void {
    this.capacityListeners.push(listener);
  }

  /** An operation ended: if it counted against the capacity, its slot is free. */
  private ended(kind: Operation): void {
    if (busyOps.includes(kind)) for (const listener of this.capacityListeners) listener();
  }

  /** Nothing changes a simulated node but our own calls and the out-of-band calls here, which report it. */
  reportsChanges(host: HostData): boolean {
    const node = this.nodes.get(hostKey(host));
    return this.changeListeners.length > 0 && node !== undefined && node.op === undefined;
  }

  private changedAll(): void {
    for (const key of this.nodes.keys()) {
      const at = key.indexOf('/');
      for (const listener of this.changeListeners) listener({ namespace: key.slice(0, at), name: key.slice(at + 1) });
    }
  }

  /** The simulated node of a host (tests and demos look at power, image, user data). */
  node(namespace: string, name: string): Readonly<SimNode> | undefined {
    return this.nodes.get(`${namespace}/${name}`);
  }

  /** Forget every node, as if the provisioner lost its database. */
  reset(): void {
    this.changedAll();
    this.nodes.clear();
  }

  async ready(): Promise<void> {
    if (this.notReadyReason !== undefined) throw new ProvisionerNotReadyError(this.notReadyReason);
  }

  private delay(op: keyof SimulatorDelays): number {
    return Math.round(this.delays[op] * this.speed);
  }

  /**
   * Runs `kind` on the node: starts it when idle, reports progress while it runs, and applies `finish`
   * once its time is up. Another operation in flight makes this one wait (like Ironic's node lock).
   */
  private step(node: SimNode, kind: Operation, duration: number, finish: () => string | void, key?: string): Result & { started: boolean } {
    const now = this.clock();
    if (node.op && (node.op.kind !== kind || node.op.key !== key)) {
      if (node.op.until > now) return { ...inProgress(node.op.until - now), started: false };
      // Another operation has run its time: it completes before this one starts.
      const other = node.op;
      node.op = undefined;
      other.finish();
      this.ended(other.kind);
    }
    if (!node.op) {
      node.op = { kind, until: now + duration, key, finish };
      return { ...inProgress(duration), started: true };
    }
    if (node.op.until > now) return { ...inProgress(node.op.until - now), started: false };
    const op = node.op;
    node.op = undefined;
    const error = op.finish();
    this.ended(op.kind);
    return error ? { ...failed(error), started: false } : { ...done(), started: false };
  }

  private mustNode(host: HostData): SimNode {
    const node = this.nodes.get(hostKey(host));
    if (!node) throw new Error(`host ${hostKey(host)} is not registered with the simulator`);
    return node;
  }

  async register(host: HostData, opts: RegisterOptions): Promise<Result & { provisionerID?: string }> {
    if (host.bmc.address.hostname === failRegisterHost || host.credentials.username === badUsername) {
      return failed(`Failed to validate power driver interface for host ${host.name}: BMC authentication failed`);
    }
    let node = this.nodes.get(hostKey(host));
    if (!node) {
      node = { id: host.provisionerID || randomUUID(), state: 'enroll' };
      this.nodes.set(hostKey(host), node);
    }
    if (node.state !== 'enroll' && !opts.credentialsChanged && node.op?.kind !== 'register') return { ...done(), provisionerID: node.id };
    const n = node;
    const res = this.step(n, 'register', this.delay('register'), () => {
      if (n.state === 'enroll') n.state = 'manageable';
    });
    return { dirty: res.dirty, requeueAfterMs: res.requeueAfterMs, errorMessage: res.errorMessage, provisionerID: n.id };
  }

  async inspectHardware(host: HostData, opts: InspectOptions): Promise<InspectResult> {
    const node = this.mustNode(host);
    if (node.hardware && !opts.refresh && node.op?.kind !== 'inspect') return { ...done(), started: false, details: node.hardware };
    const res = this.step(node, 'inspect', this.delay('inspect'), () => {
      if (host.bmc.address.hostname === failInspectHost) return 'Inspection failed: the ramdisk did not call back';
      node.hardware = simulatedHardware(host.namespace, host.name, { architecture: host.architecture, bootMAC: host.bootMACAddress });
      node.poweredOn = false;
    });
    return { ...res, ...(node.hardware && !res.dirty && !res.errorMessage ? { details: node.hardware } : {}) };
  }

  async updateHardwareState(host: HostData): Promise<{ poweredOn?: boolean }> {
    const node = this.nodes.get(hostKey(host));
    return node?.poweredOn === undefined ? {} : { poweredOn: node.poweredOn };
  }

  async prepare(host: HostData, data: PrepareData, opts: { unprepared: boolean; restartOnFailure: boolean }): Promise<PrepareResult> {
    const node = this.mustNode(host);
    const want = JSON.stringify([data.targetRAID ?? null, data.rootDeviceHints ?? null, data.firmwareSettings ?? null]);
    if (node.prepared === want && !opts.unprepared && node.op?.kind !== 'prepare') return { ...done(), started: false };
    return this.step(node, 'prepare', this.delay('prepare'), () => {
      node.prepared = want;
      node.state = 'available';
      node.poweredOn = false;
    });
  }

  async provision(host: HostData, data: ProvisionData, _opts: { forceReboot: boolean }): Promise<Result> {
    const node = this.mustNode(host);
    const target = data.image?.url ?? `custom:${data.customDeploy?.method ?? ''}`;
    if (node.state === 'active' && node.image === target && node.op?.kind !== 'provision') return done();
    if (node.state === 'deploy failed' && node.image === target && node.op?.kind !== 'provision') {
      return failed('Deploy step failed: image could not be written to disk');
    }
    return this.step(
      node,
      'provision',
      this.delay('provision'),
      () => {
        node.image = target;
        if (target.includes('fail')) {
          node.state = 'deploy failed';
          return 'Deploy step failed: image could not be written to disk';
        }
        node.state = 'active';
        node.poweredOn = true;
        node.userData = data.userData;
      },
      target,
    );
  }

  async deprovision(host: HostData, _opts: { restartOnFailure: boolean }): Promise<Result> {
    const node = this.mustNode(host);
    if ((node.state === 'available' || node.state === 'manageable') && node.op?.kind !== 'deprovision') return done();
    return this.step(node, 'deprovision', this.delay('deprovision'), () => {
      node.state = 'available';
      node.image = undefined;
      node.userData = undefined;
      node.poweredOn = false;
    });
  }

  async adopt(host: HostData, _opts: { restartOnFailure: boolean }): Promise<Result> {
    const node = this.mustNode(host);
    if ((node.state === 'active' || node.state === 'deploy failed') && node.op?.kind !== 'adopt') return done();
    return this.step(node, 'adopt', this.delay('adopt'), () => {
      node.state = 'active';
      node.poweredOn ??= true;
    });
  }

  async powerOn(host: HostData, _opts: { force: boolean }): Promise<Result> {
    return this.power(host, true, 'hard');
  }

  async powerOff(host: HostData, opts: { mode: PowerMode; force: boolean }): Promise<Result> {
    if (host.disablePowerOff) {
      // Without power-off a reboot stands in for it: the host ends up on.
      return this.power(host, true, opts.mode, true);
    }
    return this.power(host, false, opts.mode);
  }

  private power(host: HostData, on: boolean, mode: PowerMode, reboot = false): Result {
    const node = this.mustNode(host);
    if (host.bmc.address.hostname === failPowerHost) return failed(`Power ${on ? 'on' : 'off'} failed: the BMC did not answer`);
    const kind = on ? 'powerOn' : 'powerOff';
    if (!reboot && node.poweredOn === on && node.op?.kind !== kind) return done();
    // A hard power change is quicker than a soft one, which waits for the OS.
    const duration = mode === 'soft' ? this.delay('power') * 2 : this.delay('power');
    return this.step(node, kind, duration, () => {
      node.poweredOn = on;
    }, reboot ? 'reboot' : undefined);
  }

  async detach(host: HostData, _opts: { force: boolean }): Promise<Result> {
    this.nodes.delete(hostKey(host));
    return done();
  }

  async delete(host: HostData): Promise<Result> {
    this.nodes.delete(hostKey(host));
    return done();
  }

  async hasCapacity(host: HostData): Promise<boolean> {
    const mine = this.nodes.get(hostKey(host));
    if (mine?.op && busyOps.includes(mine.op.kind)) return true;
    let busy = 0;
    for (const node of this.nodes.values()) {
      if (node.op && busyOps.includes(node.op.kind)) busy++;
    }
    return busy < this.capacity;
  }

  async getFirmwareSettings(host: HostData, withSchema: boolean): Promise<{ settings: FirmwareSetting[]; schema?: Record<string, FirmwareSchemaEntry> }> {
    const node = this.nodes.get(hostKey(host));
    const hardware = node?.hardware ?? simulatedHardware(host.namespace, host.name, { architecture: host.architecture });
    const fw = simulatedFirmware(hardware);
    return withSchema ? fw : { settings: fw.settings };
  }

  /** Nodes the simulator knows, for diagnostics. */
  get size(): number {
    return this.nodes.size;
  }
}
