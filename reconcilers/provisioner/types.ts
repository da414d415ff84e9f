// The provisioner contract, after BMO's pkg/provisioner: the state machine asks for outcomes ("be
// registered", "be inspected", "be provisioned with this image") and calls again until the answer is no
// longer dirty. Every method is idempotent. Ironic is one implementation, the simulator another, so the
// same state machine runs on both.
import type { BMCAccessDetails } from '../../api/bmc.ts';
import type { HardwareDetails, Image } from '../../api/kinds/common.ts';
import type { BootMode, CustomDeploy, RAIDConfig, RootDeviceHints } from '../../api/kinds/baremetalhost.ts';
import type { SettingSchema } from '../../api/kinds/firmwareschema.ts';

/** What one call achieved. */
export interface Result {
  /** The operation is still under way: call again after requeueAfterMs. */
  dirty: boolean;
  requeueAfterMs?: number;
  /** A terminal failure of this attempt (the controller records an error and backs off). Never holds a credential. */
  errorMessage?: string;
}

export const done = (): Result => ({ dirty: false });
export const inProgress = (requeueAfterMs: number): Result => ({ dirty: true, requeueAfterMs });
export const failed = (errorMessage: string): Result => ({ dirty: false, errorMessage });

/** The provisioner needs the host registered first (its node is gone). */
export class NeedsRegistrationError extends Error {}
/** The provisioner cannot work now (Ironic unreachable, too old, no drivers): retry later. */
export class ProvisionerNotReadyError extends Error {}

export interface BMCCredentials {
  username: string;
  password: string;
}

/** Everything a provisioner is told about the host it manages. */
export interface HostData {
  namespace: string;
  name: string;
  uid: string;
  /** The provisioner's own ID for the host (Ironic node UUID), from status.provisioning.ID. */
  provisionerID: string;
  bmc: BMCAccessDetails;
  bmcAddress: string;
  credentials: BMCCredentials;
  disableCertificateVerification: boolean;
  bootMACAddress?: string;
  bootMode: BootMode;
  architecture?: string;
  automatedCleaningMode: 'metadata' | 'disabled';
  disablePowerOff: boolean;
  inspectionMode: 'disabled' | 'agent' | 'fast';
}

export interface RegisterOptions {
  credentialsChanged: boolean;
  restartOnFailure: boolean;
  /** MACs of inspected NICs, for ports (BMO creates ports for every NIC it knows). */
  nicMACs?: { mac: string; pxe: boolean }[];
}

export interface InspectOptions {
  restartOnFailure: boolean;
  /** Re-inspect even though inventory exists (the inspect.metal3.io annotation / inspect subresource). */
  refresh: boolean;
  forceReboot: boolean;
}

export interface InspectResult extends Result {
  started: boolean;
  details?: HardwareDetails;
}

export interface PrepareData {
  targetRAID?: RAIDConfig;
  actualRAID?: RAIDConfig;
  rootDeviceHints?: RootDeviceHints;
  /** BIOS settings to apply (name → value). */
  firmwareSettings?: Record<string, string>;
  /** Firmware updates to run. */
  firmwareUpdates?: { component: string; url: string }[];
}

export interface PrepareResult extends Result {
  started: boolean;
}

export interface ProvisionData {
  image?: Image;
  customDeploy?: CustomDeploy;
  rootDeviceHints?: RootDeviceHints;
  bootMode: BootMode;
  /** The config drive: user data as text, network data and meta data as objects. */
  userData?: string;
  networkData?: unknown;
  metaData?: Record<string, unknown>;
}

export interface AdoptOptions {
  restartOnFailure: boolean;
  /** What the host runs (status.provisioning.image / customDeploy): adoption validates the deploy against it. */
  image?: Image;
  customDeploy?: CustomDeploy;
  /** Adopting on the way to deprovisioning: a node that never knew an image has nothing to adopt. */
  deprovisioning?: boolean;
}

export type PowerMode = 'soft' | 'hard';

export interface FirmwareSetting {
  name: string;
  value: string;
}

/** One BIOS setting's schema, as Ironic reports it and FirmwareSchema stores it. */
export type FirmwareSchemaEntry = SettingSchema;

export interface Provisioner {
  /** Create or update the host's record (Ironic node), validate the BMC and bring it to a manageable state. */
  register(host: HostData, opts: RegisterOptions): Promise<Result & { provisionerID?: string }>;
  inspectHardware(host: HostData, opts: InspectOptions): Promise<InspectResult>;
  /** Observed power: true on, false off, undefined unknown (fake nodes start with power_state null). */
  updateHardwareState(host: HostData): Promise<{ poweredOn?: boolean }>;
  prepare(host: HostData, data: PrepareData, opts: { unprepared: boolean; restartOnFailure: boolean }): Promise<PrepareResult>;
  provision(host: HostData, data: ProvisionData, opts: { forceReboot: boolean }): Promise<Result>;
  deprovision(host: HostData, opts: { restartOnFailure: boolean }): Promise<Result>;
  /** Take over a host that is already deployed (externally provisioned, or after the provisioner lost its state). */
  adopt(host: HostData, opts: AdoptOptions): Promise<Result>;
  powerOn(host: HostData, opts: { force: boolean }): Promise<Result>;
  powerOff(host: HostData, opts: { mode: PowerMode; force: boolean }): Promise<Result>;
  /** Remove the record but leave the machine as it is (detached annotation). */
  detach(host: HostData, opts: { force: boolean }): Promise<Result>;
  delete(host: HostData): Promise<Result>;
  /** Whether another inspection/provisioning/deprovisioning may start (PROVISIONING_LIMIT). */
  hasCapacity(host: HostData): Promise<boolean>;
  getFirmwareSettings(host: HostData, withSchema: boolean): Promise<{ settings: FirmwareSetting[]; schema?: Record<string, FirmwareSchemaEntry> }>;
  /** Readiness (Ironic reachable, new enough, drivers loaded). Throws ProvisionerNotReadyError when not. */
  ready(): Promise<void>;
  /** Optional: tell the controller each time a node leaves the states hasCapacity counts (a slot is free). */
  onCapacityFreed?(listener: () => void): void;
  /** Optional: tell the controller as soon as a host's record changes, instead of waiting out its requeue. */
  onNodeChange?(listener: (host: { namespace: string; name: string }) => void): void;
  /**
   * Optional: whether onNodeChange will report any change of this host's record (power included), so the host
   * at rest needs no power poll of its own, only the occasional resync.
   */
  reportsChanges?(host: HostData): boolean;
}
