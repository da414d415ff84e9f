// The Provisioner on Ironic's REST API, state by state as BMO's pkg/provisioner/ironic does it (bmo.md §3).
// Every method reads the node, does at most one step towards the outcome asked for, and answers whether to
// call again. Ironic does the long work (cleaning, deploying) in its conductor; we only poll.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { settingAttributeTypes } from '../../api/kinds/firmwareschema.ts';
import type { Image } from '../../api/kinds/common.ts';
import type { CustomDeploy } from '../../api/kinds/baremetalhost.ts';
import {
  done,
  failed,
  inProgress,
  NeedsRegistrationError,
  ProvisionerNotReadyError,
  type AdoptOptions,
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
import { bootModeCapabilities, instanceCapabilities } from './capabilities.ts';
import { buildConfigDrive } from './configdrive.ts';
import { fakeHardwareDetails, hardwareDetails } from './inventory.ts';
import { planRAID, type CleanStep } from './raid.ts';
import { rootDeviceHints } from './roothints.ts';
import { NodeCache } from './nodecache.ts';
import { IronicError, type IronicClientAPI, type IronicNode, type JSONPatchOp } from './types.ts';
import { NodeUpdater } from './updater.ts';

export interface IronicProvisionerConfig {
  /** IPA kernel and ramdisk (DEPLOY_KERNEL_URL / DEPLOY_RAMDISK_URL) written to driver_info. */
  deployKernelURL?: string;
  deployRamdiskURL?: string;
  /** IPA ISO (DEPLOY_ISO_URL), for drivers that boot virtual media. */
  deployISOURL?: string;
  /** PROVISIONING_LIMIT: concurrent inspections/deployments/cleanings of non-virtual-media hosts. */
  provisioningLimit?: number;
  /** The oldest Ironic API we work with (default 1.82, Debian 12's Ironic). */
  minVersion?: string;
  /** PROVISIONING_NETWORK_DISABLED: refuse drivers that PXE-boot over a provisioning network. */
  provisioningNetworkDisabled?: boolean;
  /** Requeue delays before jitter: short for quick steps (manage, power), long for cleaning and deploying. */
  pollIntervalMs?: { short?: number; long?: number };
  /** How long a read node is reused, so one reconcile's several calls cost one GET (default 1 s; 0: no cache, no list polling). */
  nodeCacheMs?: number;
  /** While hosts wait on Ironic, one node list per this interval serves their state reads (default 1 s). */
  nodePollIntervalMs?: number;
  /** While provisioned hosts are at rest and none waits, one node list per this interval serves their power checks (default 30 s). */
  heldNodePollIntervalMs?: number;
  /** How long a successful readiness check holds (default 5 s, BMO's client cache). */
  readyCacheMs?: number;
  /** How long any answer from Ironic holds as readiness (default 60 s; a request without answer ends it). */
  answeredReadyMs?: number;
  /** How long the capacity check's node list is reused (default 1 s). */
  capacityCacheMs?: number;
}

/** Ironic provision states, as the API spells them. */
const S = {
  enroll: 'enroll',
  verifying: 'verifying',
  manageable: 'manageable',
  available: 'available',
  active: 'active',
  deploying: 'deploying',
  deployWait: 'wait call-back',
  deployFailed: 'deploy failed',
  deleting: 'deleting',
  cleaning: 'cleaning',
  cleanWait: 'clean wait',
  cleanFailed: 'clean failed',
  error: 'error',
  inspecting: 'inspecting',
  inspectWait: 'inspect wait',
  inspectFailed: 'inspect failed',
  adopting: 'adopting',
  adoptFailed: 'adopt failed',
  servicing: 'servicing',
  serviceWait: 'service wait',
} as const;

const POWER_ON = 'power on';
const POWER_OFF = 'power off';
const SOFT_POWER_OFF = 'soft power off';
const SOFT_POWER_OFF_TIMEOUT_S = 180;
const FAKE_DRIVER = 'fake-hardware';
const FORCED_DELETE_REASON = 'forcing deletion in baremetal-operator';

/** States counted against PROVISIONING_LIMIT (bmo.md §2.8). */
const busyStates = new Set<string>([
  S.cleaning,
  S.cleanWait,
  S.inspecting,
  S.inspectWait,
  S.deploying,
  S.deployWait,
  S.deleting,
]);

/**
 * The transient state and target Ironic records before it accepts a provision-state change (the work itself
 * runs after the answer). Only the ones that are certain: manage from enroll verifies, from elsewhere it is
 * immediate; abort lands in a state that depends on what was aborted.
 */
function acceptedTransition(from: string | undefined, target: string): [string, string] | undefined {
  switch (target) {
    case 'manage':
      return from === S.enroll ? [S.verifying, S.manageable] : undefined;
    case 'provide':
      return [S.cleaning, S.available];
    case 'inspect':
      return [S.inspecting, S.manageable];
    case 'clean':
      return [S.cleaning, S.manageable];
    case 'active':
      return [S.deploying, S.active];
    case 'deleted':
      return [S.deleting, S.available];
    case 'adopt':
      return [S.adopting, S.active];
    default:
      return undefined;
  }
}

/** States in which ports may be added (Ironic refuses them while a node is being worked on). */
const portStates = new Set<string>([S.enroll, S.manageable, S.available, S.active, S.error]);

/** States where the conductor holds the node: no configuration patches then. */
const transientStates = new Set<string>([
  S.verifying,
  S.deploying,
  S.deployWait,
  S.deleting,
  S.cleaning,
  S.cleanWait,
  S.inspecting,
  S.inspectWait,
  S.adopting,
  S.servicing,
  S.serviceWait,
]);

/**
 * States from which the node is still to be inspected or deployed. Ironic uses cpu_arch when it boots a ramdisk
 * (a kernel and ramdisk per architecture), and a node with a fake boot interface boots none before its deployment.
 * For such a node, a cpu_arch that appeared after registration (fake inspection reports one) waits for the PATCH
 * that starts the deployment (or an inspection), instead of costing a read and a PATCH of its own: the conductor's
 * work for one PATCH is most of what a host costs Ironic. Real inspection sets cpu_arch on the node itself.
 */
const archWaitStates = new Set<string>([S.enroll, S.verifying, S.manageable, S.available, S.inspecting, S.inspectWait, S.inspectFailed, S.cleaning, S.cleanWait, S.cleanFailed, S.deployFailed]);

interface Registration {
  digest: string;
  arch: string | null;
}

const interfaceFields = [
  ['boot_interface', 'bootInterface'],
  ['management_interface', 'managementInterface'],
  ['power_interface', 'powerInterface'],
  ['vendor_interface', 'vendorInterface'],
  ['bios_interface', 'biosInterface'],
  ['raid_interface', 'raidInterface'],
  ['firmware_interface', 'firmwareInterface'],
] as const;

/** Microversions that turn features on (bmo.md §3.2); older Ironic never sees the fields. */
const V = {
  biosDetail: '1.74',
  agentInspect: '1.84',
  firmwareInterface: '1.86',
  disablePowerOff: '1.95',
  deployAbort: '1.110',
} as const;

const checksumTypes = new Set(['', 'auto', 'md5', 'sha256', 'sha512']);

/** Ironic's node name for a host: BMO's `namespace~name`. */
export const nodeName = (host: { namespace: string; name: string }) => `${host.namespace}~${host.name}`;

const jitter = (ms: number) => Math.round(ms * (1 + Math.random() * 0.25));

/** BMC passwords must not reach a status, an event or a log, whatever Ironic chose to echo. */
function scrub(message: string, host: HostData): string {
  const password = host.credentials?.password ?? '';
  return password.length >= 3 ? message.split(password).join('******') : message;
}

const isFakeNode = (node: IronicNode, host: HostData) => node.driver === FAKE_DRIVER || host.bmc.driver === FAKE_DRIVER;

/** instance_info image keys for a disk image; undefined values are removed from the node. */
function imageFields(image: Image | undefined): Record<string, unknown> {
  if (!image) {
    return { image_source: undefined, image_disk_format: undefined, ...checksumFields(undefined) };
  }
  return { image_source: image.url, image_disk_format: image.format || undefined, ...checksumFields(image) };
}

function checksumFields(image: Image | undefined): Record<string, unknown> {
  const none = { image_checksum: undefined, image_os_hash_algo: undefined, image_os_hash_value: undefined };
  if (!image || !image.checksum || image.url.startsWith('oci://')) return none;
  const type = image.checksumType ?? '';
  if (type === '' || type === 'auto') return { ...none, image_checksum: image.checksum };
  return { ...none, image_os_hash_algo: type, image_os_hash_value: image.checksum };
}

/** BMO's early image checks (bmo.md §1.3); the webhook already enforces most of them. */
function imageProblem(data: ProvisionData): string | undefined {
  const image = data.image;
  if (!image) return data.customDeploy ? undefined : 'no image or custom deploy method given';
  if (!image.url) return 'image URL is required';
  if (!checksumTypes.has(image.checksumType ?? '')) return `unknown checksumType ${image.checksumType}`;
  const liveISO = image.format === 'live-iso';
  const oci = image.url.startsWith('oci://');
  if (!liveISO && !oci && !image.checksum && !data.customDeploy) return 'checksum is required for normal images';
  return undefined;
}

const describeImage = (image: Image | undefined) =>
  `url: ${image?.url ?? ''}, checksum: ${image?.checksum ?? ''}`;

export class IronicProvisioner implements Provisioner {
  private readonly client: IronicClientAPI;
  private readonly config: IronicProvisionerConfig;
  private readonly shortMs: number;
  private readonly longMs: number;
  private readonly nodeCacheMs: number;
  private readonly limit: number;
  private readyUntil = 0;
  private readyCheck: Promise<void> | undefined;
  private readonly cache: NodeCache;
  /**
   * What each node was last registered with (a digest, and the cpu_arch it carries): a node read from the
   * list needs no re-check then.
   */
  private readonly registered = new Map<string, Registration>();
  /** Nodes whose boot and deploy interfaces validated, by what was validated: a retried deploy asks once. */
  private readonly validated = new Map<string, string>();
  /** MACs known to have ports, per node: spares a port listing on every registration check. */
  private readonly knownPorts = new Map<string, Set<string>>();
  /** Nodes whose every port is in knownPorts (listed, or created by us with none): no listing needed. */
  private readonly allPortsKnown = new Set<string>();
  private capacityList?: { at: number; nodes: Promise<IronicNode[]> };

  constructor(client: IronicClientAPI, config: IronicProvisionerConfig = {}) {
    this.client = client;
    this.config = config;
    this.shortMs = config.pollIntervalMs?.short ?? 3000;
    this.longMs = config.pollIntervalMs?.long ?? 10_000;
    this.nodeCacheMs = config.nodeCacheMs ?? 1000;
    this.limit = config.provisioningLimit ?? 20;
    this.cache = new NodeCache(client, {
      pollIntervalMs: config.nodePollIntervalMs ?? 1000,
      heldPollIntervalMs: config.heldNodePollIntervalMs ?? 30_000,
      maxAgeMs: this.nodeCacheMs,
      // A waiting host is requeued within the long delay (plus jitter); a little more keeps it watched in between.
      watchMs: Math.round(1.25 * this.longMs) + 1000,
      extraFields: () => (this.client.atLeast(V.disablePowerOff) ? ['disable_power_off'] : []),
      // Held hosts read the list's state, not Ironic: the list stands for their readiness checks.
      onAnswered: () => this.answered(),
      onError: (e) => this.unanswered(e),
      onChange: (node, old) => {
        if (busyStates.has(old.provision_state ?? '') && !busyStates.has(node.provision_state ?? '')) {
          for (const listener of this.capacityListeners) listener();
        }
        const at = node.name?.indexOf('~') ?? -1;
        if (!node.name || at < 0) return;
        const host = { namespace: node.name.slice(0, at), name: node.name.slice(at + 1) };
        for (const listener of this.changeListeners) listener(host);
      },
    });
  }

  private readonly changeListeners: ((host: { namespace: string; name: string }) => void)[] = [];
  private readonly capacityListeners: (() => void)[] = [];

  /** Calls back when the node poller sees a node leave the states that count against PROVISIONING_LIMIT. */
  onCapacityFreed(listener: () => void): void {
    this.capacityListeners.push(listener);
  }

  /**
   * Calls back when the node poller sees a waiting host's node move (a cleaning finished, a deploy failed),
   * so the controller can reconcile it at once rather than after its requeue delay, without asking Ironic.
   */
  onNodeChange(listener: (host: { namespace: string; name: string }) => void): void {
    this.changeListeners.push(listener);
  }

  /** A held node (a provisioned host at rest) is in the slow list, whose moves reach onNodeChange's listeners. */
  reportsChanges(host: HostData): boolean {
    const uuid = this.cache.uuidOf(nodeName(host)) ?? host.provisionerID;
    return this.changeListeners.length > 0 && uuid !== '' && this.cache.isHeld(uuid);
  }

  /** Stops the node poller (shutdown and tests). */
  close(): void {
    this.cache.stop();
  }

  /** List polls sent so far (benchmarks). */
  get nodeListPolls(): number {
    return this.cache.polls;
  }

  private short(): number {
    return jitter(this.shortMs);
  }

  private long(): number {
    return jitter(this.longMs);
  }

  // ---- readiness ----

  ready(): Promise<void> {
    if (Date.now() < this.readyUntil) return Promise.resolve();
    // Every host's reconcile asks; when the last answer has expired, they share one check.
    this.readyCheck ??= this.checkReady().finally(() => {
      this.readyCheck = undefined;
    });
    return this.readyCheck;
  }

  private async checkReady(): Promise<void> {
    let version: string;
    let drivers: string[];
    try {
      version = await this.client.negotiate();
      drivers = await this.client.listDrivers();
    } catch (e) {
      throw new ProvisionerNotReadyError(`Ironic is not reachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    const min = this.config.minVersion ?? '1.82';
    if (!this.client.atLeast(min)) {
      throw new ProvisionerNotReadyError(`Ironic API version ${version} is older than ${min}, the oldest supported`);
    }
    if (drivers.length === 0) throw new ProvisionerNotReadyError('Ironic has no drivers loaded: no conductor is up');
    this.readyUntil = Date.now() + (this.config.readyCacheMs ?? 5000);
  }

  private async ensureNegotiated(): Promise<void> {
    if (this.client.version) return;
    try {
      await this.client.negotiate();
    } catch (e) {
      throw new ProvisionerNotReadyError(`Ironic is not reachable: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Runs one step; the answers Ironic gives when it is merely busy become requeues: 409 (NodeLocked: a
   * conductor holds the node) after the short delay, 503 (over its concurrency limits) after the long one.
   */
  private async guard<R extends Result>(host: HostData, extra: Omit<R, keyof Result>, step: () => Promise<R>): Promise<R> {
    try {
      await this.ensureNegotiated();
      const result = await step();
      // Waiting on Ironic: the shared poller reads this node's state from now on. A finished step does not
      // end the watch: the host's next step usually follows at once, and finds the node's state polled.
      const uuid = this.cache.uuidOf(nodeName(host)) ?? host.provisionerID;
      if (uuid && result.dirty) this.cache.watch(uuid);
      this.answered();
      return result;
    } catch (e) {
      this.unanswered(e);
      if (e instanceof IronicError) {
        if (e.isConflict) return { ...extra, ...inProgress(this.short()) } as R;
        if (e.isUnavailable) return { ...extra, ...inProgress(this.long()) } as R;
        if (e.isNotFound) {
          this.forgetHost(host);
          throw new NeedsRegistrationError(`host ${host.namespace}/${host.name} has no Ironic node: ${scrub(e.message, host)}`);
        }
        throw new IronicError(e.status, scrub(e.message, host));
      }
      if (e instanceof NeedsRegistrationError || e instanceof ProvisionerNotReadyError) throw e;
      if (e instanceof Error) throw new Error(scrub(e.message, host), { cause: e });
      throw e;
    }
  }

  /**
   * Ironic just answered: that holds as readiness, so a fleet polling power in the steady state does not
   * also pay GET / and GET /v1/drivers (bench/provision's one request per host per minute). Losing Ironic
   * shows as a request without an answer, which ends this at once (unanswered).
   */
  private answered(): void {
    this.readyUntil = Math.max(this.readyUntil, Date.now() + (this.config.answeredReadyMs ?? 60_000));
  }

  /** No answer at all: the next reconcile checks readiness again and waits as BMO does when Ironic is gone. */
  private unanswered(e: unknown): void {
    if (e instanceof IronicError && e.status === 0) this.readyUntil = 0;
  }

  // ---- node lookup, through the node cache ----

  private remember(node: IronicNode): IronicNode {
    return this.cache.put(node);
  }

  /** The next read goes to Ironic: called after every change of state we asked for. */
  private invalidate(uuid: string): void {
    this.cache.invalidate(uuid);
  }

  /**
   * A request that changes the node. The cache is invalidated on both sides of it: a node list that Ironic
   * answered before the change took effect must not be taken for the state after it.
   */
  private async changing<T>(uuid: string, call: () => Promise<T>): Promise<T> {
    this.invalidate(uuid);
    try {
      return await call();
    } finally {
      this.invalidate(uuid);
    }
  }

  private forgetNode(node: IronicNode): void {
    this.cache.forget(node.uuid, node.name ?? undefined);
    this.knownPorts.delete(node.uuid);
    this.allPortsKnown.delete(node.uuid);
    this.registered.delete(node.uuid);
    this.validated.delete(node.uuid);
  }

  private forgetHost(host: HostData): void {
    const uuid = this.cache.uuidOf(nodeName(host));
    for (const id of new Set([host.provisionerID, uuid])) {
      if (!id) continue;
      this.cache.forget(id, nodeName(host));
      this.registered.delete(id);
      this.validated.delete(id);
    }
    this.cache.forget(undefined, nodeName(host));
  }

  /** A node, from the cache when fresh; `complete` wants every field, not only the polled state ones. */
  private async getNode(ident: string, complete = false): Promise<IronicNode | undefined> {
    const hit = this.cache.get(ident, complete);
    if (hit) return hit;
    const node = await this.client.getNode(ident);
    if (node) return this.remember(node);
    this.cache.forget(this.cache.uuidOf(ident) ?? ident, ident);
    return undefined;
  }

  /** The whole node, reading it again if it came from the state-only list. */
  private async complete(node: IronicNode): Promise<IronicNode> {
    if (!this.cache.isPartial(node)) return node;
    const full = await this.getNode(node.uuid, true);
    if (!full) throw new IronicError(404, `Node ${node.uuid} could not be found.`);
    return full;
  }

  /** By the stored provisioner ID, then by BMO's node name. */
  private async findNode(host: HostData): Promise<IronicNode | undefined> {
    const name = nodeName(host);
    if (host.provisionerID) {
      const node = await this.getNode(host.provisionerID);
      if (node) return node;
    }
    return this.getNode(name);
  }

  private async requireNode(host: HostData): Promise<IronicNode> {
    const node = await this.findNode(host);
    if (!node) throw new NeedsRegistrationError(`host ${host.namespace}/${host.name} is not registered in Ironic`);
    return node;
  }

  private async patch(node: IronicNode, ops: JSONPatchOp[]): Promise<IronicNode> {
    if (ops.length === 0) return node;
    const patched = await this.changing(node.uuid, () => this.client.patchNode(node.uuid, ops));
    return this.remember(patched);
  }

  /**
   * A provision-state change, after BMO's checks: a node with a `fault` is left alone until Ironic clears
   * it, and maintenance mode (which Ironic sets on failures) is lifted first, or Ironic refuses the change.
   */
  private async changeState(
    node: IronicNode,
    target: string,
    extra?: Record<string, unknown>,
    wait: 'short' | 'long' = 'short',
  ): Promise<{ result: Result; changed: boolean }> {
    if (node.fault) return { result: inProgress(this.long()), changed: false };
    await this.changing(node.uuid, async () => {
      if (node.maintenance) await this.client.clearMaintenance(node.uuid);
      await this.client.setProvisionState(node.uuid, target, extra);
    });
    // The host's next reconcile follows at once (its status changed): it sees the transition without a GET.
    const accepted = acceptedTransition(node.provision_state, target);
    if (accepted) {
      this.cache.expect(node, { provision_state: accepted[0], target_provision_state: accepted[1], last_error: null, maintenance: false });
    }
    return { result: inProgress(wait === 'short' ? this.short() : this.long()), changed: true };
  }

  // ---- register (bmo.md §3.5) ----

  private driverInfo(host: HostData): Record<string, unknown> {
    const info: Record<string, unknown> = { ...host.bmc.driverInfo(host.credentials, host.disableCertificateVerification) };
    if (this.config.deployKernelURL) info.deploy_kernel = this.config.deployKernelURL;
    if (this.config.deployRamdiskURL) info.deploy_ramdisk = this.config.deployRamdiskURL;
    if (this.config.deployISOURL && host.bmc.supportsISOPreprovisioningImage) info.deploy_iso = this.config.deployISOURL;
    return info;
  }

  /**
   * The inspect interface: the fake one for fake-hardware, the driver's out-of-band one for fast
   * inspection, else the agent (Ironic ≥ 1.84 inspects in-band itself; older ones keep their default).
   */
  private inspectInterface(host: HostData): string | undefined {
    if (host.bmc.driver === FAKE_DRIVER) return 'fake';
    if (host.inspectionMode === 'fast') return host.bmc.inspectInterface;
    return this.client.atLeast(V.agentInspect) ? 'agent' : undefined;
  }

  private accessProblem(host: HostData): string | undefined {
    const { bmc } = host;
    if (host.inspectionMode === 'fast' && !bmc.inspectInterface) {
      return `BMC driver ${bmc.type} does not support fast inspection`;
    }
    if (host.bootMode === 'UEFISecureBoot' && !bmc.supportsSecureBoot) {
      return `BMC driver ${bmc.type} does not support secure boot`;
    }
    if (bmc.requiresProvisioningNetwork && this.config.provisioningNetworkDisabled) {
      return `BMC driver ${bmc.type} requires a provisioning network, which is disabled`;
    }
    if (host.disablePowerOff && !this.client.atLeast(V.disablePowerOff)) {
      return `Ironic API version ${this.client.version} does not support disablePowerOff (needs ${V.disablePowerOff})`;
    }
    if (!host.bootMACAddress && (bmc.needsMAC || host.inspectionMode === 'disabled')) {
      return bmc.needsMAC
        ? `BMC driver ${bmc.type} requires a BootMACAddress value`
        : 'a BootMACAddress value is required when inspection is disabled';
    }
    return undefined;
  }

  private createBody(host: HostData): Record<string, unknown> {
    const body: Record<string, unknown> = {
      driver: host.bmc.driver,
      name: nodeName(host),
      driver_info: this.driverInfo(host),
      properties: {
        capabilities: bootModeCapabilities(undefined, host.bootMode),
        ...(host.architecture ? { cpu_arch: host.architecture } : {}),
      },
      automated_clean: host.automatedCleaningMode !== 'disabled',
    };
    for (const [field, key] of interfaceFields) {
      if (field === 'firmware_interface' && !this.client.atLeast(V.firmwareInterface)) continue;
      if (host.bmc[key]) body[field] = host.bmc[key];
    }
    const inspect = this.inspectInterface(host);
    if (inspect) body.inspect_interface = inspect;
    if (this.client.atLeast(V.disablePowerOff)) body.disable_power_off = host.disablePowerOff;
    return body;
  }

  private registrationOps(node: IronicNode, host: HostData, credentialsChanged: boolean): JSONPatchOp[] {
    const u = new NodeUpdater(node);
    u.setTopLevel('name', nodeName(host));
    const wanted = this.driverInfo(host);
    const current = node.driver_info ?? {};
    // Passwords read back masked, so only the other keys can be compared.
    const differs = Object.entries(wanted).some(([k, v]) => !/password/.test(k) && !isDeepStrictEqual(current[k], v));
    const driverChanged = node.driver !== undefined && node.driver !== host.bmc.driver;
    if (driverChanged) {
      u.setTopLevel('driver', host.bmc.driver);
      for (const [field, key] of interfaceFields) {
        if (field === 'firmware_interface' && !this.client.atLeast(V.firmwareInterface)) continue;
        u.setTopLevel(field, host.bmc[key] || undefined);
      }
    }
    if (credentialsChanged || differs || driverChanged) u.replaceSection('driver_info', wanted);
    if (this.client.atLeast(V.disablePowerOff)) u.setTopLevel('disable_power_off', host.disablePowerOff);
    if (!transientStates.has(node.provision_state ?? '')) {
      if (host.architecture) u.set('properties', 'cpu_arch', host.architecture);
      u.set('properties', 'capabilities', bootModeCapabilities(node.properties?.capabilities, host.bootMode));
      u.setTopLevel('automated_clean', host.automatedCleaningMode !== 'disabled');
    }
    return u.ops;
  }

  /** Whether a polled node is as registration leaves it for this host (its cpu_arch may wait: archWaitStates). */
  private isRegistered(node: IronicNode, host: HostData, digest: string): boolean {
    const r = this.registered.get(node.uuid);
    if (r?.digest !== digest) return false;
    if (r.arch === (host.architecture ?? null)) return true;
    return host.bmc.bootInterface === 'fake' && archWaitStates.has(node.provision_state ?? '');
  }

  /** Records the cpu_arch a PATCH left on the node, for a registration made before it. */
  private noteArch(node: IronicNode, host: HostData): void {
    const r = this.registered.get(node.uuid);
    if (r && host.architecture) r.arch = host.architecture;
  }

  /** Everything registrationOps brings the node to but cpu_arch, credentials included, as a digest kept only in memory. */
  private registrationDigest(host: HostData): string {
    const interfaces = interfaceFields.map(([field, key]) => [field, host.bmc[key] ?? null]);
    const wanted = {
      name: nodeName(host),
      driver: host.bmc.driver,
      interfaces,
      driverInfo: this.driverInfo(host),
      // Not every driver puts the credentials in driver_info (fake-hardware does not); new ones still re-register.
      credentials: [host.credentials?.username ?? '', host.credentials?.password ?? ''],
      disablePowerOff: host.disablePowerOff,
      bootMode: host.bootMode,
      cleaning: host.automatedCleaningMode,
    };
    return createHash('sha256').update(JSON.stringify(wanted)).digest('base64');
  }

  /** A node that already owns the boot MAC: ours to take if it has no name, a conflict if it has another. */
  private async nodeByMAC(host: HostData): Promise<{ node?: IronicNode; conflict?: string }> {
    const mac = host.bootMACAddress?.toLowerCase();
    if (!mac) return {};
    const [port] = await this.client.listPorts({ address: mac });
    if (!port) return {};
    const owner = await this.getNode(port.node_uuid);
    if (!owner) return {};
    if (owner.name && owner.name !== nodeName(host)) {
      return { conflict: `MAC address ${mac} conflicts with existing node ${owner.name}` };
    }
    return { node: owner };
  }

  /** Ports for the boot MAC and every inspected NIC; a MAC another node owns fails the registration. */
  private async ensurePorts(node: IronicNode, host: HostData, nics: RegisterOptions['nicMACs']): Promise<string | undefined> {
    const state = node.provision_state ?? '';
    if (!portStates.has(state) && !state.endsWith(' failed')) return undefined;
    const wanted = new Map<string, boolean>();
    for (const nic of nics ?? []) wanted.set(nic.mac.toLowerCase(), nic.pxe);
    if (host.bootMACAddress) wanted.set(host.bootMACAddress.toLowerCase(), true);
    const known = this.knownPorts.get(node.uuid) ?? new Set<string>();
    if ([...wanted.keys()].every((mac) => known.has(mac))) return undefined;
    if (!this.allPortsKnown.has(node.uuid)) {
      for (const port of await this.client.listPorts({ node_uuid: node.uuid })) known.add(port.address.toLowerCase());
      // Ports someone else adds later (an inspection) answer our create with 409, which is handled below.
      this.allPortsKnown.add(node.uuid);
    }
    this.knownPorts.set(node.uuid, known);
    for (const [mac, pxe] of wanted) {
      if (known.has(mac)) continue;
      try {
        await this.client.createPort(node.uuid, mac, pxe);
      } catch (e) {
        if (!(e instanceof IronicError) || !e.isConflict) throw e;
        const [port] = await this.client.listPorts({ address: mac });
        if (port && port.node_uuid !== node.uuid) {
          const owner = await this.getNode(port.node_uuid);
          return `MAC address ${mac} conflicts with existing node ${owner?.name ?? port.node_uuid}`;
        }
        if (!port) throw e;
      }
      known.add(mac);
    }
    return undefined;
  }

  async register(host: HostData, opts: RegisterOptions): Promise<Result & { provisionerID?: string }> {
    return this.guard<Result & { provisionerID?: string }>(host, {}, async () => {
      const problem = this.accessProblem(host);
      if (problem) return failed(problem);

      // Without a provisioner ID the host was never registered or its node is gone: asking for the node by
      // name would be a sure 404, so it is created straight away, and a node by that name answers 409. Unless
      // this process made or saw the node by that name (the host may have failed to record its ID since).
      let node = host.provisionerID || this.cache.uuidOf(nodeName(host)) ? await this.findNode(host) : undefined;
      if (!node) {
        const claimed = await this.nodeByMAC(host);
        if (claimed.conflict) return failed(claimed.conflict);
        node = claimed.node;
      }
      const digest = this.registrationDigest(host);
      let created = false;
      if (!node) {
        try {
          node = this.remember(await this.client.createNode(this.createBody(host)));
          this.registered.set(node.uuid, { digest, arch: host.architecture ?? null });
          // A node just created has no ports; any we add are recorded as they are.
          this.knownPorts.set(node.uuid, new Set());
          this.allPortsKnown.add(node.uuid);
          created = true;
        } catch (e) {
          if (!(e instanceof IronicError) || !e.isConflict) throw e;
          node = await this.getNode(nodeName(host));
          if (!node) throw e;
        }
      }
      if (!created && !(this.cache.isPartial(node) && this.isRegistered(node, host, digest))) {
        // A complete node costs nothing to compare; a polled one is read in full only when the host changed.
        node = await this.complete(node);
        // Credentials "changed" until the host records them as good, which is after registration completes;
        // the node already carrying exactly these (as we wrote them) needs no new driver_info meanwhile.
        const rewrite = opts.credentialsChanged && this.registered.get(node.uuid)?.digest !== digest;
        node = await this.patch(node, this.registrationOps(node, host, rewrite));
        // In a transient state the properties wait, so the node is not yet all the host asks for.
        if (!transientStates.has(node.provision_state ?? '')) this.registered.set(node.uuid, { digest, arch: host.architecture ?? null });
      }

      const portConflict = await this.ensurePorts(node, host, opts.nicMACs);
      if (portConflict) return { ...failed(portConflict), provisionerID: node.uuid };

      const provisionerID = node.uuid;
      switch (node.provision_state) {
        case S.enroll: {
          if (node.target_provision_state === S.manageable) return { ...inProgress(this.short()), provisionerID };
          // After new credentials the old failure says nothing about the next attempt.
          if (node.last_error && !opts.credentialsChanged && !opts.restartOnFailure) {
            return { ...failed(scrub(node.last_error, host)), provisionerID };
          }
          return { ...(await this.changeState(node, 'manage')).result, provisionerID };
        }
        case S.verifying:
          return { ...inProgress(this.short()), provisionerID };
        default:
          return { ...done(), provisionerID };
      }
    });
  }

  // ---- inspect (bmo.md §3.6) ----

  private async startInspection(polled: IronicNode, host: HostData): Promise<InspectResult> {
    // The registration check brought the properties to what inspection wants; only a changed host reads them.
    const registered = this.cache.isPartial(polled) && this.registered.get(polled.uuid)?.digest === this.registrationDigest(host);
    const archKnown = registered && this.registered.get(polled.uuid)?.arch === (host.architecture ?? null);
    const node = registered ? polled : await this.complete(polled);
    const u = new NodeUpdater(node);
    if (!registered) u.set('properties', 'capabilities', bootModeCapabilities(node.properties?.capabilities, host.bootMode));
    // Written blind on a polled node: the list does not carry properties, and "add" replaces a member.
    if (host.architecture && !archKnown) u.set('properties', 'cpu_arch', host.architecture);
    const inspect = this.inspectInterface(host);
    if (inspect) u.setTopLevel('inspect_interface', inspect);
    const patched = await this.patch(node, u.ops);
    this.noteArch(patched, host);
    const wait = host.inspectionMode === 'fast' ? 'short' : 'long';
    const { result, changed } = await this.changeState(patched, 'inspect', undefined, wait);
    return { ...result, started: changed };
  }

  async inspectHardware(host: HostData, opts: InspectOptions): Promise<InspectResult> {
    return this.guard<InspectResult>(host, { started: false }, async () => {
      const node = await this.requireNode(host);
      const notStarted = (r: Result): InspectResult => ({ ...r, started: false });
      switch (node.provision_state) {
        case S.available:
          return notStarted((await this.changeState(node, 'manage')).result);
        case S.inspectWait:
          if (opts.forceReboot) return notStarted((await this.changeState(node, 'abort')).result);
          return notStarted(inProgress(this.long()));
        case S.inspecting:
          return notStarted(inProgress(host.inspectionMode === 'fast' ? this.short() : this.long()));
        case S.inspectFailed: {
          const aborted = /aborted/i.test(node.last_error ?? '');
          if (!aborted && !opts.restartOnFailure) {
            return notStarted(failed(scrub(node.last_error || 'Inspection failed', host)));
          }
          return this.startInspection(node, host);
        }
        case S.manageable: {
          if (opts.refresh) return this.startInspection(node, host);
          // Ironic's fake inspect interface completes without an agent and stores no inventory: asking for
          // one is a sure 404, and once it has run, the details are made up from the node, the same every time.
          const fakeInspection = node.driver === FAKE_DRIVER && (node.inspect_interface ?? 'fake') === 'fake';
          const data = fakeInspection ? undefined : await this.client.getInventory(node.uuid);
          if (data) return { ...done(), started: false, details: hardwareDetails(data) };
          if (isFakeNode(node, host) && node.inspection_finished_at) {
            const details = fakeHardwareDetails(node.name ?? nodeName(host), {
              bootMAC: host.bootMACAddress,
              arch: host.architecture,
            });
            return { ...done(), started: false, details };
          }
          return this.startInspection(node, host);
        }
        default:
          throw new Error(`Ironic node ${node.uuid} is in state ${node.provision_state}, which cannot be inspected`);
      }
    });
  }

  async updateHardwareState(host: HostData): Promise<{ poweredOn?: boolean }> {
    return this.guard<Result & { poweredOn?: boolean }>(host, {}, async () => {
      const node = await this.requireNode(host);
      if (node.power_state === POWER_ON) return { ...done(), poweredOn: true };
      if (node.power_state === POWER_OFF) return { ...done(), poweredOn: false };
      return done();
    }).then((r) => (r.poweredOn === undefined ? {} : { poweredOn: r.poweredOn }));
  }

  // ---- prepare (bmo.md §3.7) ----

  private cleanSteps(node: IronicNode, host: HostData, data: PrepareData): { steps: CleanStep[]; raid: ReturnType<typeof planRAID> } | string {
    const raid = planRAID(data.targetRAID, data.actualRAID, {
      raidInterface: node.raid_interface ?? host.bmc.raidInterface,
      fake: isFakeNode(node, host),
      rootHintsSet: rootDeviceHints(data.rootDeviceHints) !== undefined,
    });
    const steps = [...raid.steps];
    const settings = Object.entries(data.firmwareSettings ?? {});
    if (settings.length > 0) {
      steps.push({
        interface: 'bios',
        step: 'apply_configuration',
        args: { settings: settings.map(([name, value]) => ({ name, value })) },
      });
    }
    if (data.firmwareUpdates?.length) {
      if (!this.client.atLeast(V.firmwareInterface)) {
        return `firmware updates need Ironic API ${V.firmwareInterface} or newer (this Ironic speaks ${this.client.version})`;
      }
      steps.push({ interface: 'firmware', step: 'update', args: { settings: data.firmwareUpdates } });
    }
    return { steps, raid };
  }

  async prepare(
    host: HostData,
    data: PrepareData,
    opts: { unprepared: boolean; restartOnFailure: boolean },
  ): Promise<PrepareResult> {
    return this.guard<PrepareResult>(host, { started: false }, async () => {
      const node = await this.requireNode(host);
      const notStarted = (r: Result): PrepareResult => ({ ...r, started: false });
      const plan = this.cleanSteps(node, host, data);
      if (typeof plan === 'string') return notStarted(failed(plan));
      const { steps, raid } = plan;
      const changes = opts.unprepared && (steps.length > 0 || raid.logicalDisks !== undefined);
      switch (node.provision_state) {
        case S.available:
          return notStarted(changes ? (await this.changeState(node, 'manage')).result : done());
        case S.manageable: {
          if (!changes) return notStarted(done());
          let current = node;
          if (raid.raidInterface) current = await this.patch(current, new NodeUpdater(current).setTopLevel('raid_interface', raid.raidInterface).ops);
          const disks = raid.logicalDisks;
          if (disks) await this.changing(current.uuid, () => this.client.setRAIDConfig(current.uuid, disks));
          if (steps.length === 0) return notStarted(done());
          const { result, changed } = await this.changeState(current, 'clean', { clean_steps: steps }, 'long');
          return { ...result, started: changed };
        }
        case S.cleanFailed:
          if (!opts.restartOnFailure) return notStarted(failed(scrub(node.last_error || 'Cleaning failed', host)));
          return notStarted((await this.changeState(node, 'manage')).result);
        case S.cleaning:
        case S.cleanWait:
          return notStarted(inProgress(this.long()));
        default:
          throw new Error(`Ironic node ${node.uuid} is in state ${node.provision_state}, which cannot be prepared`);
      }
    });
  }

  // ---- provision (bmo.md §3.8) ----

  private sameImage(node: IronicNode, data: ProvisionData): boolean {
    const info = node.instance_info ?? {};
    const image = data.image;
    if (!image) return true;
    if (image.format === 'live-iso') return info.boot_iso === image.url;
    const wanted = imageFields(image);
    return ['image_source', 'image_checksum', 'image_os_hash_algo', 'image_os_hash_value'].every(
      (k) => (info[k] ?? undefined) === wanted[k],
    );
  }

  /** Boot and deploy validation, asked again only when something it depends on changed. */
  private async validationProblems(node: IronicNode): Promise<string[]> {
    // Ironic's fake boot and deploy interfaces validate nothing: their answer is always yes.
    if (node.boot_interface === 'fake' && node.deploy_interface === 'fake') return [];
    const key = createHash('sha256')
      .update(JSON.stringify([node.driver, node.boot_interface, node.deploy_interface, node.driver_info, node.instance_info, node.properties]))
      .digest('base64');
    if (this.validated.get(node.uuid) === key) return [];
    const validation = await this.client.validateNode(node.uuid);
    const problems = ['boot', 'deploy']
      .filter((iface) => validation[iface]?.result === false)
      .map((iface) => `${iface}: ${validation[iface]?.reason ?? 'invalid'}`);
    if (problems.length === 0) this.validated.set(node.uuid, key);
    return problems;
  }

  private async startDeploy(polled: IronicNode, host: HostData, data: ProvisionData): Promise<Result> {
    const node = await this.complete(polled);
    const fake = isFakeNode(node, host);
    const liveISO = data.image?.format === 'live-iso';
    const u = new NodeUpdater(node);
    u.setTopLevel('instance_uuid', host.uid);
    u.set('instance_info', 'capabilities', instanceCapabilities(data.bootMode));
    u.set('instance_info', 'root_device', rootDeviceHints(data.rootDeviceHints));
    u.set('instance_info', 'image_pull_secret', undefined);
    // Fake drivers deploy with the fake interface whatever the image, so they keep it.
    let deployInterface: string | undefined = node.deploy_interface;
    if (liveISO) {
      for (const [k, v] of Object.entries(imageFields(undefined))) u.set('instance_info', k, v);
      u.set('instance_info', 'boot_iso', data.image?.url);
      deployInterface = 'ramdisk';
    } else {
      for (const [k, v] of Object.entries(imageFields(data.image))) u.set('instance_info', k, v);
      u.set('instance_info', 'boot_iso', undefined);
      if (data.customDeploy) deployInterface = 'custom-agent';
      else if (deployInterface === 'ramdisk' || deployInterface === 'custom-agent') deployInterface = undefined;
    }
    if (!fake) u.setTopLevel('deploy_interface', deployInterface);
    u.set('driver_info', 'force_persistent_boot_device', 'Default');
    // The architecture registration left for this PATCH (archWaitStates): Ironic has it before it deploys.
    if (host.architecture) u.set('properties', 'cpu_arch', host.architecture);
    const patched = await this.patch(node, u.ops);
    this.noteArch(patched, host);

    const problems = await this.validationProblems(patched);
    if (problems.length > 0) return failed(scrub(`host validation error: ${problems.join('; ')}`, host));

    const extra: Record<string, unknown> = {};
    // A live ISO boots as it is: there is no disk to put a config drive on.
    if (!liveISO) extra.configdrive = buildConfigDrive(host, data);
    if (data.customDeploy) extra.deploy_steps = [customDeployStep(data.customDeploy)];
    return (await this.changeState(patched, 'active', extra, 'long')).result;
  }

  async provision(host: HostData, data: ProvisionData, opts: { forceReboot: boolean }): Promise<Result> {
    return this.guard<Result>(host, {}, async () => {
      const problem = imageProblem(data);
      if (problem) return failed(`Validation failed: ${problem}`);
      const node = await this.requireNode(host);
      switch (node.provision_state) {
        case S.manageable:
          return (await this.changeState(node, 'provide')).result;
        case S.cleanFailed:
          return (await this.changeState(node, 'manage')).result;
        case S.available:
          return this.startDeploy(node, host, data);
        case S.deployFailed:
          // A failure of this very image ends the attempt; a new image is a new attempt.
          if (node.last_error && this.sameImage(await this.complete(node), data)) {
            return failed(scrub(`Image provisioning failed (${describeImage(data.image)}): ${node.last_error}`, host));
          }
          return this.startDeploy(node, host, data);
        case S.active:
          return done();
        case S.deployWait:
          if (opts.forceReboot) return (await this.changeState(node, 'deleted', undefined, 'long')).result;
          return inProgress(this.long());
        default:
          return inProgress(this.long());
      }
    });
  }

  // ---- deprovision (bmo.md §3.9) ----

  async deprovision(host: HostData, opts: { restartOnFailure: boolean }): Promise<Result> {
    return this.guard<Result>(host, {}, async () => {
      const node = await this.requireNode(host);
      switch (node.provision_state) {
        case S.active:
        case S.deployFailed:
        case S.deployWait: {
          // Whether undeploying cleans the disks follows the host's current cleaning mode.
          const ops = new NodeUpdater(node).setTopLevel('automated_clean', host.automatedCleaningMode !== 'disabled').ops;
          const patched = await this.patch(node, ops);
          return (await this.changeState(patched, 'deleted', undefined, 'long')).result;
        }
        case S.error:
          if (!opts.restartOnFailure) return failed(scrub(node.last_error || 'Deprovisioning failed', host));
          return (await this.changeState(node, 'deleted', undefined, 'long')).result;
        case S.cleanFailed:
          if (!opts.restartOnFailure) return failed(scrub(`Cleaning failed: ${node.last_error ?? ''}`, host));
          return (await this.changeState(node, 'manage')).result;
        case S.manageable:
          return (await this.changeState(node, 'provide')).result;
        case S.available:
          return done();
        case S.deleting:
        case S.cleaning:
        case S.cleanWait:
        case S.deploying:
          return inProgress(this.long());
        default:
          throw new Error(`Ironic node ${node.uuid} is in state ${node.provision_state}, which cannot be deprovisioned`);
      }
    });
  }

  // ---- adopt (bmo.md §3.11) ----

  async adopt(
    host: HostData,
    opts: AdoptOptions,
  ): Promise<Result> {
    return this.guard<Result>(host, {}, async () => {
      let node = await this.requireNode(host);
      switch (node.provision_state) {
        case S.enroll:
        case S.verifying:
          throw new Error(`Ironic node ${node.uuid} is in state ${node.provision_state}, which cannot be adopted yet`);
        case S.manageable: {
          node = await this.complete(node);
          const info = node.instance_info ?? {};
          const hasImage = info.image_source !== undefined || info.boot_iso !== undefined;
          if (opts.deprovisioning && !hasImage && !opts.image) return done();
          // Adoption validates the deploy interface, which wants to know what is deployed.
          const u = new NodeUpdater(node).setTopLevel('instance_uuid', host.uid);
          if (opts.image?.format === 'live-iso') u.set('instance_info', 'boot_iso', opts.image.url);
          else if (opts.image) for (const [k, v] of Object.entries(imageFields(opts.image))) u.set('instance_info', k, v);
          if (opts.customDeploy && !isFakeNode(node, host)) u.setTopLevel('deploy_interface', 'custom-agent');
          const patched = await this.patch(node, u.ops);
          return (await this.changeState(patched, 'adopt')).result;
        }
        case S.adopting:
          return inProgress(this.short());
        case S.adoptFailed:
          if (!opts.restartOnFailure) return failed(scrub(`Host adoption failed: ${node.last_error ?? ''}`, host));
          return (await this.changeState(node, 'adopt')).result;
        case S.active:
          // Maintenance someone set by hand (not Ironic reacting to a fault) is lifted, as BMO does.
          if (node.maintenance && !node.fault) {
            await this.changing(node.uuid, () => this.client.clearMaintenance(node.uuid));
            return done();
          }
          // At rest: the slow list keeps this node's state for the power checks of the steady state.
          this.cache.hold(node.uuid);
          return done();
        default:
          return done();
      }
    });
  }

  // ---- power (bmo.md §3.10) ----

  async powerOn(host: HostData, opts: { force: boolean }): Promise<Result> {
    return this.guard<Result>(host, {}, async () => {
      const node = await this.requireNode(host);
      if (node.power_state === POWER_ON) return done();
      if (node.target_power_state === POWER_ON) return inProgress(this.short());
      // Ironic refuses power changes while a provision-state change is under way.
      if (node.target_provision_state) return inProgress(this.short());
      if (node.last_error && !opts.force) return failed(scrub(node.last_error, host));
      await this.changing(node.uuid, () => this.client.setPowerState(node.uuid, POWER_ON));
      this.cache.expect(node, { target_power_state: POWER_ON, last_error: null });
      return inProgress(this.short());
    });
  }

  /** Inspection and cleaning hold the machine: they are aborted or waited for before powering off. */
  private async settleForPowerOff(node: IronicNode): Promise<Result | undefined> {
    switch (node.provision_state) {
      case S.inspectWait:
        return (await this.changeState(node, 'abort')).result;
      case S.inspectFailed:
        return node.target_provision_state ? (await this.changeState(node, 'manage')).result : undefined;
      case S.cleanWait: {
        const manual = node.target_provision_state === S.manageable;
        if (manual || node.automated_clean === false) return (await this.changeState(node, 'abort')).result;
        return inProgress(this.long());
      }
      default:
        return undefined;
    }
  }

  async powerOff(host: HostData, opts: { mode: PowerMode; force: boolean }): Promise<Result> {
    return this.guard<Result>(host, {}, async () => {
      const node = await this.requireNode(host);
      const settling = await this.settleForPowerOff(node);
      if (settling) return settling;
      if (node.power_state === POWER_OFF) return done();
      if (node.target_power_state === POWER_OFF || node.target_power_state === SOFT_POWER_OFF) {
        return inProgress(this.short());
      }
      if (node.target_provision_state) return inProgress(this.short());
      if (node.last_error && !/aborted/i.test(node.last_error) && !opts.force) return failed(scrub(node.last_error, host));
      // A node that must never be powered off gets a reboot instead, which is the whole operation.
      const noPowerOff = node.disable_power_off === true;
      return this.changing(node.uuid, async () => {
        if (opts.mode === 'soft') {
          try {
            await this.client.setPowerState(node.uuid, noPowerOff ? 'soft rebooting' : SOFT_POWER_OFF, SOFT_POWER_OFF_TIMEOUT_S);
            return noPowerOff ? done() : inProgress(this.short());
          } catch (e) {
            // 400: the power interface has no soft power off; fall through to a hard one.
            if (!(e instanceof IronicError) || e.status !== 400) throw e;
          }
        }
        await this.client.setPowerState(node.uuid, noPowerOff ? 'rebooting' : POWER_OFF);
        return noPowerOff ? done() : inProgress(this.short());
      });
    });
  }

  // ---- detach and delete (bmo.md §3.12) ----

  private async removeNode(host: HostData, force: boolean): Promise<Result> {
    return this.guard<Result>(host, {}, async () => {
      const node = await this.findNode(host);
      if (!node) return done();
      const remove = async (current: IronicNode): Promise<Result> => {
        this.forgetNode(current);
        await this.client.deleteNode(current.uuid);
        return done();
      };
      switch (node.provision_state) {
        case S.verifying:
          return inProgress(this.short());
        case S.enroll:
          return remove(node);
        case S.available:
        case S.manageable:
          // A stale instance_uuid would make Ironic refuse the delete.
          return remove(await this.patch(node, new NodeUpdater(node).setTopLevel('instance_uuid', undefined).ops));
        case S.deploying:
        case S.cleaning:
        case S.inspecting:
        case S.servicing:
        case S.deleting:
        case S.adopting:
          return inProgress(this.long());
        case S.deployWait:
          if (!force) return inProgress(this.long());
          return (await this.changeState(node, this.client.atLeast(V.deployAbort) ? 'abort' : 'deleted', undefined, 'long')).result;
        case S.inspectWait:
        case S.cleanWait:
        case S.serviceWait:
          if (!force) return inProgress(this.long());
          return (await this.changeState(node, 'abort')).result;
        default:
          // Ironic deletes nodes in other states (active, failed) only in maintenance mode.
          if (!node.maintenance) {
            await this.changing(node.uuid, () => this.client.setMaintenance(node.uuid, FORCED_DELETE_REASON));
          }
          return remove(node);
      }
    });
  }

  detach(host: HostData, opts: { force: boolean }): Promise<Result> {
    return this.removeNode(host, opts.force);
  }

  delete(host: HostData): Promise<Result> {
    return this.removeNode(host, false);
  }

  // ---- capacity (bmo.md §2.8) ----

  private busyNodes(): Promise<IronicNode[]> {
    const ttl = this.config.capacityCacheMs ?? 1000;
    // The poller's list has every node's state: while hosts wait, it answers without another list.
    const polled = this.cache.recentList(ttl);
    if (polled) return Promise.resolve(polled);
    if (!this.capacityList || Date.now() - this.capacityList.at >= ttl) {
      const nodes = this.client.listNodes(['uuid', 'name', 'provision_state', 'boot_interface']);
      this.capacityList = { at: Date.now(), nodes };
      nodes.catch(() => {
        this.capacityList = undefined;
      });
    }
    return this.capacityList.nodes;
  }

  async hasCapacity(host: HostData): Promise<boolean> {
    // Virtual media and UEFI HTTP boots need no PXE/DHCP capacity: BMO never limits them.
    if (host.bmc.supportsISOPreprovisioningImage) return true;
    await this.ensureNegotiated();
    const busy = (await this.busyNodes()).filter(
      (n) => busyStates.has(n.provision_state ?? '') && !(n.boot_interface ?? '').includes('virtual-media'),
    );
    const name = nodeName(host);
    if (busy.some((n) => n.name === name || (host.provisionerID !== '' && n.uuid === host.provisionerID))) return true;
    return busy.length < this.limit;
  }

  // ---- firmware settings ----

  async getFirmwareSettings(
    host: HostData,
    withSchema: boolean,
  ): Promise<{ settings: FirmwareSetting[]; schema?: Record<string, FirmwareSchemaEntry> }> {
    const node = await this.guard<Result & { node?: IronicNode }>(host, {}, async () => ({
      ...done(),
      node: await this.requireNode(host),
    }));
    // An empty answer would read as "no settings" and wipe HostFirmwareSettings: a busy Ironic is an error.
    if (!node.node) throw new Error(`Ironic node of host ${host.namespace}/${host.name} is busy; BIOS settings not read`);
    const detail = withSchema && this.client.atLeast(V.biosDetail);
    const entries = await this.client.getBIOS(node.node.uuid, detail);
    const settings = entries
      .filter((e) => typeof e.name === 'string')
      .map((e) => ({ name: String(e.name), value: e.value === null || e.value === undefined ? '' : String(e.value) }));
    if (!detail) return { settings };
    const schema: Record<string, FirmwareSchemaEntry> = {};
    for (const e of entries) {
      if (typeof e.name !== 'string') continue;
      schema[e.name] = schemaEntry(e);
    }
    return { settings, schema };
  }
}

function customDeployStep(deploy: CustomDeploy): Record<string, unknown> {
  return { interface: 'deploy', step: deploy.method, args: {}, priority: 80 };
}

function schemaEntry(e: Record<string, unknown>): FirmwareSchemaEntry {
  const entry: FirmwareSchemaEntry = {};
  // FirmwareSchema's enum is what BMO's CRD allows; a type outside it is dropped (the setting then counts as untyped).
  if (typeof e.attribute_type === 'string' && (settingAttributeTypes as readonly string[]).includes(e.attribute_type)) {
    entry.attribute_type = e.attribute_type as FirmwareSchemaEntry['attribute_type'];
  }
  if (Array.isArray(e.allowable_values)) entry.allowable_values = e.allowable_values.map(String);
  for (const k of ['lower_bound', 'upper_bound', 'min_length', 'max_length'] as const) {
    if (typeof e[k] === 'number') entry[k] = e[k];
  }
  if (typeof e.read_only === 'boolean') entry.read_only = e.read_only;
  if (typeof e.unique === 'boolean') entry.unique = e.unique;
  return entry;
}
