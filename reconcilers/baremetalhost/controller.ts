// The BareMetalHost reconcile pipeline (bmo.md §2.1): read the host and what it refers to, run one pass of
// the state machine, then save status through /status and metadata/spec through the main resource, the
// way BMO does. Everything it talks to is injected, so tests drive it with fakes and a simulator.
import { createHash } from 'node:crypto';
import { parse as parseYAML } from 'yaml';
import { BMCAddressError, BMCCredentialsError, parseBMCAddress, parseCredentials, type BMCAccessDetails } from '../../api/bmc.ts';
import type { BareMetalHost, BareMetalHostStatus } from '../../api/kinds/baremetalhost.ts';
import type { Condition, HardwareDetails, SecretReference } from '../../api/kinds/common.ts';
import type { FirmwareSchema } from '../../api/kinds/firmwareschema.ts';
import type { HardwareData } from '../../api/kinds/hardwaredata.ts';
import type { HostFirmwareSettings } from '../../api/kinds/hostfirmwaresettings.ts';
import type { KubeObject } from '../../api/types.ts';
import { ProvisionerNotReadyError, type BMCCredentials, type FirmwareSchemaEntry, type HostData, type Provisioner } from '../provisioner/types.ts';
import type { ObjectKey, ReconcileResult } from '../runtime/controller.ts';
import type { Metal3Metrics } from '../runtime/metrics.ts';
import { APIError, type KubeClient } from '../../api/client/types.ts';
import { hardwareDetailsAnnotation, inspectAnnotation, pausedAnnotation, removeAnnotation, statusAnnotation } from './annotations.ts';
import { computeConditions } from './conditions.ts';
import {
  bareMetalHostType,
  firmwareSchemaType,
  hardwareDataFinalizer,
  hardwareDataType,
  hasOwnerReference,
  hostFirmwareSettingsType,
  metal3APIVersion,
  ownerReference,
  secretEnvironmentLabel,
  secretEnvironmentValue,
  secretFinalizer,
  secretType,
} from './resources.ts';
import { backoffMs, errorEventReasons, timing, type ActionResult } from './results.ts';
import type { CapacityWaiters } from './capacity.ts';
import { hostFinalizer, reconcileState, setError, type HostContext, type PendingEvent, type ProvisionSecretsData } from './statemachine.ts';

export interface EventRecorder {
  eventf(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void | Promise<void>;
}

export interface BareMetalHostControllerConfig {
  /** --max-provisioning-retries (default 5; 0 = unlimited). */
  maxProvisioningRetries: number;
  /** Accept fake:// BMC addresses (--enable-fake-bmc). */
  enableFakeBMC: boolean;
  fieldManager: string;
}

export interface BareMetalHostControllerDeps {
  kube: KubeClient;
  /** One provisioner for every host, or a factory per host. */
  provisioner: Provisioner | ((host: BareMetalHost) => Provisioner);
  events: EventRecorder;
  clock?: { now(): Date };
  /** Jitter source for backoff. */
  random?: () => number;
  metrics?: Metal3Metrics;
  config?: Partial<BareMetalHostControllerConfig>;
  /** Diagnostics; never given credentials. */
  log?: (message: string) => void;
  /** Told after each reconcile whether the host waits for provisioning capacity, so a freed slot can wake it. */
  capacityWaiters?: CapacityWaiters;
}

export const defaultControllerConfig: BareMetalHostControllerConfig = {
  maxProvisioningRetries: 5,
  enableFakeBMC: false,
  fieldManager: 'metal3-baremetal-controller',
};

type Host = BareMetalHost & { status: BareMetalHostStatus };

const immediately: ReconcileResult = { requeueAfterMs: 1 };

function initialStatus(): BareMetalHostStatus {
  return {
    operationalStatus: '',
    provisioning: { state: '', ID: '' },
    errorMessage: '',
    poweredOn: false,
    errorCount: 0,
    provisioningFailCount: 0,
  };
}

/**
 * The reconcile's own copy of the host. managedFields, the server's bookkeeping, are most of a host's bytes and
 * most of the cost of copying it (every host is reconciled once a minute): the copy leaves them out, and
 * an update without them keeps the stored ones.
 */
function withStatus(host: BareMetalHost): Host {
  const { managedFields: _serverOwned, ...metadata } = host.metadata;
  const copy = structuredClone({ ...host, metadata });
  const status = { ...initialStatus(), ...copy.status };
  status.provisioning = { ...initialStatus().provisioning, ...copy.status?.provisioning };
  return { ...copy, status };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function comparable(status: BareMetalHostStatus | undefined): string {
  if (!status) return '';
  const { lastUpdated: _ignored, ...rest } = status;
  return JSON.stringify(rest);
}

const metaOf = (h: BareMetalHost) =>
  JSON.stringify([h.metadata.annotations ?? {}, h.metadata.finalizers ?? [], h.metadata.labels ?? {}, h.spec ?? null]);

/**
 * comparable/metaOf of a stored host, kept per object: reads come from the informer, which hands every
 * reconcile the same object until the host changes, and stored objects are never modified.
 */
const storedForms = new WeakMap<BareMetalHost, { status: string; meta: string }>();

function storedForm(h: BareMetalHost): { status: string; meta: string } {
  let form = storedForms.get(h);
  if (!form) {
    form = { status: comparable(h.status), meta: metaOf(h) };
    storedForms.set(h, form);
  }
  return form;
}

const secretValue = (data: Record<string, string> | undefined, key: string): string | undefined => {
  const v = data?.[key] ?? data?.value;
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined;
};

/** A Kubernetes reconciler of BareMetalHosts, bound to its dependencies. */
export function bareMetalHostReconciler(deps: BareMetalHostControllerDeps): (key: ObjectKey) => Promise<ReconcileResult> {
  return (key) => reconcileBareMetalHost(deps, key);
}

export async function reconcileBareMetalHost(deps: BareMetalHostControllerDeps, key: ObjectKey): Promise<ReconcileResult> {
  const r = new HostReconcile(deps, key);
  return r.run();
}

/** One reconcile of one host; an object only to share its inputs between the pipeline's steps. */
class HostReconcile {
  private readonly deps: BareMetalHostControllerDeps;
  private readonly key: ObjectKey;
  private readonly cfg: BareMetalHostControllerConfig;
  private readonly kube: KubeClient;
  private readonly events: PendingEvent[] = [];
  private original!: BareMetalHost;
  private host!: Host;

  constructor(deps: BareMetalHostControllerDeps, key: ObjectKey) {
    this.deps = deps;
    this.key = key;
    this.kube = deps.kube;
    this.cfg = { ...defaultControllerConfig, ...deps.config };
  }

  private now(): Date {
    return this.deps.clock?.now() ?? new Date();
  }

  private get namespace(): string {
    return this.key.namespace ?? '';
  }

  private get deleting(): boolean {
    return Boolean(this.host.metadata.deletionTimestamp);
  }

  async run(): Promise<ReconcileResult> {
    const m = this.deps.metrics;
    m?.reconcileTotal.inc({ namespace: this.namespace, host: this.key.name });
    try {
      return await this.pipeline();
    } catch (e) {
      m?.reconcileErrorTotal.inc();
      if (e instanceof APIError && e.code === 409) return { requeue: true };
      throw e;
    } finally {
      await this.publishEvents();
    }
  }

  private async pipeline(): Promise<ReconcileResult> {
    const obj = await this.kube.get(bareMetalHostType, this.namespace, this.key.name);
    if (!obj) return {};
    this.original = obj as unknown as BareMetalHost;
    if (this.original.metadata.annotations?.[pausedAnnotation] !== undefined) return {};
    this.host = withStatus(this.original);

    const early = (await this.reconcileHostData()) ?? (await this.ensureFinalizer());
    if (early) return early;
    if (this.deleting && !(this.host.metadata.finalizers ?? []).includes(hostFinalizer)) return {};

    const creds = await this.loadCredentials();
    if ('result' in creds) return creds.result;

    const provisioner = this.provisionerFor();
    try {
      await provisioner.ready();
    } catch (e) {
      if (!(e instanceof ProvisionerNotReadyError)) throw e;
      this.deps.metrics?.provisionerNotReady.inc();
      this.deps.log?.(`provisioner not ready for ${this.namespace}/${this.key.name}: ${e.message}`);
      return { requeueAfterMs: timing.provisionerNotReady };
    }

    const ctx: HostContext = {
      host: this.host,
      provisioner,
      hostData: creds.hostData,
      haveCredentials: creds.haveCredentials,
      credentialsChanged: creds.credentialsChanged,
      credentials: creds.credentials,
      config: { maxProvisioningRetries: this.cfg.maxProvisioningRetries },
      now: () => this.now(),
      loadProvisionData: () => this.loadProvisionData(),
      events: this.events,
      effects: {},
      transitions: [],
      finishedOperations: [],
    };
    const result = await reconcileState(ctx);
    if (result.type === 'error') throw result.error;
    if (result.type === 'failed') {
      setError(this.host, result.errorType, result.message);
      this.events.push({ type: 'Warning', reason: errorEventReasons[result.errorType], message: result.message });
      this.deps.metrics?.hostErrorTotal.inc({ error_type: result.errorType });
    }
    this.recordMetrics(ctx, result);

    await this.applyEffectsBeforeSave(ctx);
    await this.save();
    await this.applyEffectsAfterSave(ctx);
    this.deps.capacityWaiters?.update(this.key, result.type === 'delayed');
    return this.requeueFor(result);
  }

  private provisionerFor(): Provisioner {
    const p = this.deps.provisioner;
    return typeof p === 'function' ? p(this.host) : p;
  }

  private requeueFor(result: ActionResult): ReconcileResult {
    const random = this.deps.random ?? Math.random;
    switch (result.type) {
      case 'continue':
      case 'update':
        return { requeueAfterMs: Math.max(result.delayMs, 1) };
      case 'delayed':
        return { requeueAfterMs: backoffMs(1, random) };
      case 'complete':
        return immediately;
      case 'failed':
        return { requeueAfterMs: backoffMs(this.host.status.errorCount, random) };
      default:
        return {};
    }
  }

  private recordMetrics(ctx: HostContext, result: ActionResult): void {
    const m = this.deps.metrics;
    if (!m) return;
    const labels = { namespace: this.namespace, host: this.key.name };
    for (const t of ctx.transitions) {
      m.provisioningStateChange.inc({ from: t.from || 'none', to: t.to || 'none' });
      if (t.to === 'unmanaged') m.hostUnmanaged.inc();
    }
    for (const op of ctx.finishedOperations) m.operationDuration[op.operation].observe(labels, op.seconds);
    if (result.type === 'delayed') {
      const state = this.host.status.provisioning.state;
      if (state === 'provisioned' || state === 'deprovisioning') m.delayedDeprovisioning.inc(labels);
      else m.delayedProvisioning.inc(labels);
    }
    for (const ev of this.events) {
      if (ev.reason === 'PowerOn' || ev.reason === 'PowerOff') m.powerChangeTotal.inc({ ...labels, on_off: ev.reason === 'PowerOn' ? 'on' : 'off' });
    }
  }

  // ---- step 3: HardwareData, the status annotation, spec.architecture; step 4: hardware details annotation ----

  /**
   * Whether step 3 can act on the HardwareData: its finalizer on deletion, the status it restores, the
   * architecture or hardware details the host lacks. A host that has them all (every provisioned host
   * polled once a minute) is reconciled without reading it.
   */
  private needsHardwareData(): boolean {
    const host = this.host;
    return (
      this.deleting ||
      host.metadata.annotations?.[statusAnnotation] !== undefined ||
      !host.status.hardware ||
      !host.spec?.architecture
    );
  }

  private async reconcileHostData(): Promise<ReconcileResult | undefined> {
    const host = this.host;
    let hd = this.needsHardwareData() ? ((await this.kube.get(hardwareDataType, this.namespace, this.key.name)) as unknown as HardwareData | undefined) : undefined;
    if (hd && this.deleting && (hd.metadata.finalizers ?? []).includes(hardwareDataFinalizer)) {
      hd = structuredClone(hd);
      hd.metadata.finalizers = (hd.metadata.finalizers ?? []).filter((f) => f !== hardwareDataFinalizer);
      await this.kube.update(hardwareDataType, hd as unknown as KubeObject, { fieldManager: this.cfg.fieldManager });
    }
    const hardware = hd?.spec?.hardware;
    const annotations = host.metadata.annotations ?? {};
    const hasStatus = Boolean(this.original.status?.lastUpdated);
    const saved = annotations[statusAnnotation];
    if (!hasStatus && saved !== undefined) {
      const restored = parseStatusAnnotation(saved);
      if (restored) {
        host.status = { ...initialStatus(), ...restored };
        if (hardware) host.status.hardware = hardware;
        await this.save();
        return immediately;
      }
      this.deps.log?.(`ignoring unparsable ${statusAnnotation} on ${this.namespace}/${this.key.name}`);
    }
    if (hasStatus && saved !== undefined) {
      removeAnnotation(host.metadata, statusAnnotation);
      await this.save();
      return immediately;
    }
    if (!host.spec?.architecture && hardware?.cpu?.arch && host.spec) {
      host.spec.architecture = hardware.cpu.arch;
      await this.save();
      return immediately;
    }
    const inspectionDisabled = host.spec?.inspectionMode === 'disabled' || annotations[inspectAnnotation] === 'disabled';
    if (!host.status.hardware && hardware) host.status.hardware = structuredClone(hardware);
    const details = annotations[hardwareDetailsAnnotation];
    if (details !== undefined) {
      if (!host.status.hardware || inspectionDisabled) {
        const parsed = parseHardwareDetails(details);
        if (parsed) host.status.hardware = parsed;
        else this.events.push({ type: 'Warning', reason: 'InvalidAnnotationValue', message: `${hardwareDetailsAnnotation} is not a valid hardware details object` });
      } else {
        this.events.push({ type: 'Normal', reason: 'RemoveAnnotation', message: `${hardwareDetailsAnnotation} ignored: the host has inspection data` });
      }
      removeAnnotation(host.metadata, hardwareDetailsAnnotation);
      await this.save();
      return immediately;
    }
    return undefined;
  }

  // ---- step 5 ----

  private async ensureFinalizer(): Promise<ReconcileResult | undefined> {
    const finalizers = this.host.metadata.finalizers ?? [];
    if (this.deleting || finalizers.includes(hostFinalizer)) return undefined;
    this.host.metadata.finalizers = [...finalizers, hostFinalizer];
    await this.save();
    return immediately;
  }

  // ---- step 6: BMC credentials ----

  private async loadCredentials(): Promise<
    | { result: ReconcileResult }
    | { hostData?: HostData; haveCredentials: boolean; credentialsChanged: boolean; credentials?: { name: string; namespace: string; version: string } }
  > {
    const host = this.host;
    const state = host.status.provisioning.state;
    if (state === '' || state === 'unmanaged') return { haveCredentials: false, credentialsChanged: false };
    const address = host.spec?.bmc?.address ?? '';
    const secretName = host.spec?.bmc?.credentialsName ?? '';
    const m = this.deps.metrics;

    let bmc: BMCAccessDetails | undefined;
    let bmcError: string | undefined;
    try {
      bmc = parseBMCAddress(address, { enableFakeBMC: this.cfg.enableFakeBMC });
    } catch (e) {
      if (!(e instanceof BMCAddressError)) throw e;
      bmcError = e.message;
    }

    if (this.deleting) {
      // Deletion goes on without credentials: the provisioner may still know the host by its ID.
      let credentials: BMCCredentials = { username: '', password: '' };
      let haveCredentials = false;
      const secret = secretName ? await this.kube.get(secretType, this.namespace, secretName) : undefined;
      if (secret) {
        try {
          credentials = parseCredentials(secret.data as Record<string, string> | undefined);
          haveCredentials = true;
        } catch {
          haveCredentials = false;
        }
      }
      return { hostData: bmc ? this.hostData(bmc, credentials) : undefined, haveCredentials: haveCredentials && Boolean(bmc), credentialsChanged: false };
    }

    if (address === '') return this.credentialsError('Missing BMC connection detail \'Address\'', undefined, m?.credentialsInvalid);
    if (secretName === '') return this.credentialsError('Missing BMC connection detail \'CredentialsName\'', undefined, m?.credentialsInvalid);
    if (!bmc) return this.credentialsError(bmcError ?? 'invalid BMC address', undefined, m?.credentialsInvalid);

    let secret = await this.kube.get(secretType, this.namespace, secretName);
    if (!secret) {
      return this.credentialsError(`BMC credentials Secret ${this.namespace}/${secretName} not found`, timing.hostErrorRetry, m?.credentialsMissing);
    }
    secret = await this.claimSecret(secret);
    let credentials: BMCCredentials;
    try {
      credentials = parseCredentials(secret.data as Record<string, string> | undefined);
    } catch (e) {
      if (!(e instanceof BMCCredentialsError)) throw e;
      return this.credentialsError(e.message, undefined, m?.credentialsInvalid);
    }
    const version = secret.metadata.resourceVersion ?? '';
    const good = host.status.goodCredentials;
    const credentialsChanged =
      good?.credentials?.name !== secretName || good.credentials.namespace !== this.namespace || good.credentialsVersion !== version;
    if (credentialsChanged && good?.credentialsVersion) m?.credentialsUpdated.inc();
    return {
      hostData: this.hostData(bmc, credentials),
      haveCredentials: true,
      credentialsChanged,
      credentials: { name: secretName, namespace: this.namespace, version },
    };
  }

  /** Registration error with BMO's message; saved (and the event sent) only when it is news. */
  private async credentialsError(
    message: string,
    requeueAfterMs: number | undefined,
    counter: { inc(): void } | undefined,
  ): Promise<{ result: ReconcileResult }> {
    counter?.inc();
    const s = this.host.status;
    if (s.errorType !== 'registration error' || s.errorMessage !== message) {
      setError(this.host, 'registration error', message);
      this.events.push({ type: 'Warning', reason: 'BMCCredentialError', message });
      this.deps.metrics?.hostErrorTotal.inc({ error_type: 'registration error' });
    }
    await this.save();
    return { result: requeueAfterMs ? { requeueAfterMs } : {} };
  }

  /** BMO's claim on a credentials Secret: the label its informer selects, an owner reference, a finalizer. */
  private async claimSecret(secret: KubeObject): Promise<KubeObject> {
    const m = secret.metadata;
    const labelled = m.labels?.[secretEnvironmentLabel] === secretEnvironmentValue;
    const owned = hasOwnerReference(m, this.host.metadata.uid);
    const finalized = (m.finalizers ?? []).includes(secretFinalizer);
    // Claimed already (every reconcile after the first): the Secret, maybe the informer's, is not copied.
    if (labelled && owned && finalized) return secret;
    const s = structuredClone(secret);
    s.metadata.labels = { ...s.metadata.labels, [secretEnvironmentLabel]: secretEnvironmentValue };
    if (!owned) s.metadata.ownerReferences = [...(s.metadata.ownerReferences ?? []), ownerReference(this.host, false)];
    if (!finalized) s.metadata.finalizers = [...(s.metadata.finalizers ?? []), secretFinalizer];
    return this.kube.update(secretType, s, { fieldManager: this.cfg.fieldManager });
  }

  private hostData(bmc: BMCAccessDetails, credentials: BMCCredentials): HostData {
    const host = this.host;
    const spec = host.spec ?? { online: false };
    const inspectionDisabled = spec.inspectionMode === 'disabled' || host.metadata.annotations?.[inspectAnnotation] === 'disabled';
    const data: HostData = {
      namespace: this.namespace,
      name: this.key.name,
      uid: host.metadata.uid ?? '',
      provisionerID: host.status.provisioning.ID ?? '',
      bmc,
      bmcAddress: spec.bmc?.address ?? '',
      credentials,
      disableCertificateVerification: spec.bmc?.disableCertificateVerification ?? false,
      bootMode: spec.bootMode ?? 'UEFI',
      automatedCleaningMode: spec.automatedCleaningMode ?? 'metadata',
      disablePowerOff: spec.disablePowerOff ?? false,
      inspectionMode: inspectionDisabled ? 'disabled' : (spec.inspectionMode ?? 'agent'),
    };
    if (spec.bootMACAddress) data.bootMACAddress = spec.bootMACAddress;
    if (spec.architecture) data.architecture = spec.architecture;
    return data;
  }

  // ---- user data, network data, meta data (bmo.md §2.9) ----

  private async loadProvisionData(): Promise<ProvisionSecretsData> {
    const spec = this.host.spec;
    const out: ProvisionSecretsData = {};
    const read = async (ref: SecretReference | undefined, key: string): Promise<string | undefined> => {
      if (!ref?.name) return undefined;
      if (ref.namespace && ref.namespace !== this.namespace) {
        throw new Error(`${key} Secret must be in the namespace of the host (${this.namespace})`);
      }
      const secret = await this.kube.get(secretType, this.namespace, ref.name);
      if (!secret) throw new Error(`${key} Secret ${this.namespace}/${ref.name} not found`);
      return secretValue(secret.data as Record<string, string> | undefined, key);
    };
    const userData = await read(spec?.userData, 'userData');
    if (userData !== undefined) out.userData = userData;
    const networkRef = spec?.networkData ?? (spec?.preprovisioningNetworkDataName ? { name: spec.preprovisioningNetworkDataName } : undefined);
    const networkData = await read(networkRef, 'networkData');
    if (networkData !== undefined && networkData.trim() !== '') out.networkData = parseStructured(networkData, 'networkData');
    const metaData = await read(spec?.metaData, 'metaData');
    if (metaData !== undefined && metaData.trim() !== '') {
      const parsed = parseStructured(metaData, 'metaData');
      if (!isRecord(parsed)) throw new Error('metaData must be a mapping');
      out.metaData = parsed;
    }
    return out;
  }

  // ---- saving (status through /status, the rest through the main resource) ----

  private async save(): Promise<void> {
    const host = this.host;
    let rv = this.original.metadata.resourceVersion;
    const now = this.now();
    host.status.conditions = computeConditions(host.status, host.metadata.generation, now);
    if (storedForm(this.original).status !== comparable(host.status)) {
      host.status.lastUpdated = now.toISOString();
      const body = { ...structuredClone(this.original), status: host.status } as unknown as KubeObject;
      body.metadata.resourceVersion = rv;
      const saved = await this.kube.update(bareMetalHostType, body, { subresource: 'status', fieldManager: this.cfg.fieldManager });
      rv = saved.metadata.resourceVersion;
      this.original = { ...this.original, metadata: { ...this.original.metadata, resourceVersion: rv }, status: structuredClone(host.status) };
    }
    if (storedForm(this.original).meta !== metaOf(host)) {
      const body = structuredClone(host) as unknown as KubeObject;
      body.metadata.resourceVersion = rv;
      const saved = (await this.kube.update(bareMetalHostType, body, { fieldManager: this.cfg.fieldManager })) as unknown as BareMetalHost;
      this.original = { ...structuredClone(host), metadata: { ...structuredClone(host.metadata), resourceVersion: saved.metadata.resourceVersion } };
    }
  }

  // ---- side effects requested by the state machine ----

  private async applyEffectsBeforeSave(ctx: HostContext): Promise<void> {
    if (ctx.effects.hardwareDetails && !this.deleting) await this.writeHardwareData(ctx.effects.hardwareDetails);
    if (ctx.effects.registered && ctx.hostData && !this.deleting) {
      try {
        await this.syncFirmwareSettings(ctx.provisioner, ctx.hostData);
      } catch (e) {
        // Firmware settings are an extra: a failure here must not stop the host's lifecycle.
        this.deps.metrics?.hostConfigDataError.inc({ host_data_type: 'firmware' });
        this.deps.log?.(`HostFirmwareSettings of ${this.namespace}/${this.key.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private async applyEffectsAfterSave(ctx: HostContext): Promise<void> {
    if (!ctx.effects.releaseSecrets) return;
    const names = [this.host.spec?.bmc?.credentialsName, this.host.spec?.preprovisioningNetworkDataName];
    for (const name of names) {
      if (!name) continue;
      const secret = await this.kube.get(secretType, this.namespace, name);
      if (!secret || !(secret.metadata.finalizers ?? []).includes(secretFinalizer)) continue;
      const s = structuredClone(secret);
      s.metadata.finalizers = (s.metadata.finalizers ?? []).filter((f) => f !== secretFinalizer);
      await this.kube.update(secretType, s, { fieldManager: this.cfg.fieldManager });
    }
  }

  /** The inspection result, kept in a HardwareData of the host's name that the host owns. */
  private async writeHardwareData(hardware: HardwareDetails): Promise<void> {
    const existing = await this.kube.get(hardwareDataType, this.namespace, this.key.name);
    if (existing) {
      if (existing.metadata.deletionTimestamp) return;
      const hd = structuredClone(existing) as unknown as HardwareData;
      hd.spec = { hardware };
      if (!(hd.metadata.finalizers ?? []).includes(hardwareDataFinalizer)) hd.metadata.finalizers = [...(hd.metadata.finalizers ?? []), hardwareDataFinalizer];
      if (!hasOwnerReference(hd.metadata, this.host.metadata.uid)) hd.metadata.ownerReferences = [...(hd.metadata.ownerReferences ?? []), ownerReference(this.host, true)];
      await this.kube.update(hardwareDataType, hd as unknown as KubeObject, { fieldManager: this.cfg.fieldManager });
      return;
    }
    const hd: HardwareData = {
      apiVersion: metal3APIVersion,
      kind: 'HardwareData',
      metadata: {
        name: this.key.name,
        namespace: this.namespace,
        ownerReferences: [ownerReference(this.host, true)],
        finalizers: [hardwareDataFinalizer],
      },
      spec: { hardware },
    };
    await this.kube.create(hardwareDataType, hd as unknown as KubeObject, { fieldManager: this.cfg.fieldManager });
  }

  /** HostFirmwareSettings (created empty at registration) with the BIOS settings, and their FirmwareSchema. */
  private async syncFirmwareSettings(provisioner: Provisioner, hostData: HostData): Promise<void> {
    let hfs = (await this.kube.get(hostFirmwareSettingsType, this.namespace, this.key.name)) as unknown as HostFirmwareSettings | undefined;
    if (!hfs) {
      const fresh: HostFirmwareSettings = {
        apiVersion: metal3APIVersion,
        kind: 'HostFirmwareSettings',
        metadata: { name: this.key.name, namespace: this.namespace, ownerReferences: [ownerReference(this.host, true)] },
        spec: { settings: {} },
      };
      hfs = (await this.kube.create(hostFirmwareSettingsType, fresh as unknown as KubeObject, { fieldManager: this.cfg.fieldManager })) as unknown as HostFirmwareSettings;
    }
    const { settings, schema } = await provisioner.getFirmwareSettings(hostData, true);
    const status: NonNullable<HostFirmwareSettings['status']> = { settings: {}, lastUpdated: this.now().toISOString() };
    for (const s of settings) {
      // BMO never shows password-like settings.
      if (!/password/i.test(s.name)) status.settings[s.name] = s.value;
    }
    if (schema && Object.keys(schema).length > 0) {
      status.schema = { namespace: this.namespace, name: await this.ensureFirmwareSchema(hfs, schema) };
    }
    const specSettings = hfs.spec?.settings ?? {};
    const changed = Object.entries(specSettings).some(([k, v]) => status.settings[k] !== String(v));
    const now = this.now().toISOString();
    const cond = (type: string, value: boolean, reason: string, message: string): Condition => ({
      type,
      status: value ? 'True' : 'False',
      reason,
      message,
      lastTransitionTime: now,
      ...(hfs.metadata.generation !== undefined ? { observedGeneration: hfs.metadata.generation } : {}),
    });
    status.conditions = [cond('ChangeDetected', changed, 'Success', ''), cond('Valid', true, 'Success', '')];
    const body = { ...structuredClone(hfs), status } as unknown as KubeObject;
    await this.kube.update(hostFirmwareSettingsType, body, { subresource: 'status', fieldManager: this.cfg.fieldManager });
  }

  private async ensureFirmwareSchema(hfs: HostFirmwareSettings, schema: Record<string, FirmwareSchemaEntry>): Promise<string> {
    const name = firmwareSchemaName(schema);
    const existing = await this.kube.get(firmwareSchemaType, this.namespace, name);
    if (existing) {
      if (!hasOwnerReference(existing.metadata, hfs.metadata.uid)) {
        const fs = structuredClone(existing);
        fs.metadata.ownerReferences = [...(fs.metadata.ownerReferences ?? []), ownerReference(hfs, false)];
        await this.kube.update(firmwareSchemaType, fs, { fieldManager: this.cfg.fieldManager });
      }
      return name;
    }
    const vendor = this.host.status.hardware?.systemVendor;
    const fs: FirmwareSchema = {
      apiVersion: metal3APIVersion,
      kind: 'FirmwareSchema',
      metadata: { name, namespace: this.namespace, ownerReferences: [ownerReference(hfs, false)] },
      spec: { schema: schema as NonNullable<FirmwareSchema['spec']>['schema'], ...(vendor?.manufacturer ? { hardwareVendor: vendor.manufacturer } : {}), ...(vendor?.productName ? { hardwareModel: vendor.productName } : {}) },
    };
    await this.kube.create(firmwareSchemaType, fs as unknown as KubeObject, { fieldManager: this.cfg.fieldManager });
    return name;
  }

  private async publishEvents(): Promise<void> {
    if (this.events.length === 0 || !this.original) return;
    for (const ev of this.events.splice(0)) {
      try {
        await this.deps.events.eventf(this.original as unknown as KubeObject, ev.type, ev.reason, ev.message);
      } catch (e) {
        this.deps.log?.(`event ${ev.reason} for ${this.namespace}/${this.key.name} not recorded: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}

/** `schema-` and 8 hex digits of a SHA-256 over the attributes in name order: equal schemas share one object. */
export function firmwareSchemaName(schema: Record<string, unknown>): string {
  const sorted = Object.keys(schema)
    .sort()
    .map((k) => [k, schema[k]]);
  return `schema-${createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 8)}`;
}

function parseStructured(text: string, what: string): unknown {
  try {
    return parseYAML(text) as unknown;
  } catch {
    throw new Error(`${what} is neither YAML nor JSON`);
  }
}

function parseStatusAnnotation(raw: string): Partial<BareMetalHostStatus> | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    if (!isRecord(v) || !isRecord(v.provisioning)) return undefined;
    return v as unknown as Partial<BareMetalHostStatus>;
  } catch {
    return undefined;
  }
}

function parseHardwareDetails(raw: string): HardwareDetails | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return isRecord(v) ? (v as HardwareDetails) : undefined;
  } catch {
    return undefined;
  }
}
