// BMO's host state machine (bmo.md §2.2–§2.8) as a table of per-state handlers. Handlers work on a copy of
// the host: they change its status, annotations and finalizers and return an action result; the controller
// saves what changed and performs the side effects they request (HardwareData, Secret finalizers).
import type {
  BareMetalHost,
  BareMetalHostStatus,
  ErrorType,
  OperationHistory,
  ProvisioningState,
} from '../../api/kinds/baremetalhost.ts';
import type { HardwareDetails, Image } from '../../api/kinds/common.ts';
import type { HostData, Provisioner } from '../provisioner/types.ts';
import { NeedsRegistrationError } from '../provisioner/types.ts';
import {
  detachedArgs,
  inspectAnnotation,
  rebootAnnotation,
  rebootRequest,
  removeAnnotation,
} from './annotations.ts';
import {
  actionComplete,
  actionContinue,
  actionDelayed,
  actionDeleteComplete,
  actionError,
  actionFailed,
  actionUpdate,
  deleteRetryCount,
  timing,
  type ActionResult,
} from './results.ts';

export const hostFinalizer = 'baremetalhost.metal3.io';

export interface PendingEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface ProvisionSecretsData {
  userData?: string;
  networkData?: unknown;
  metaData?: Record<string, unknown>;
}

export interface StateMachineConfig {
  /** --max-provisioning-retries: 0 means unlimited. */
  maxProvisioningRetries: number;
}

/** Everything a handler may look at or change. */
export interface HostContext {
  /** A working copy: handlers change status, metadata.annotations and metadata.finalizers. */
  host: BareMetalHost & { status: BareMetalHostStatus };
  provisioner: Provisioner;
  /** Absent when the BMC address cannot be used (only tolerated while deleting, or before registering). */
  hostData?: HostData;
  haveCredentials: boolean;
  credentialsChanged: boolean;
  /** The credentials Secret now in use, to record as tried/good credentials. */
  credentials?: { name: string; namespace: string; version: string };
  config: StateMachineConfig;
  now: () => Date;
  /** Reads the user/network/meta data Secrets; only called when provisioning. */
  loadProvisionData: () => Promise<ProvisionSecretsData>;
  events: PendingEvent[];
  effects: {
    /** Write this into the HardwareData of the host. */
    hardwareDetails?: HardwareDetails;
    /** Registration (re)completed: make sure HostFirmwareSettings exist and are current. */
    registered?: boolean;
    /** Release the Secrets' finalizers: the host is leaving. */
    releaseSecrets?: boolean;
  };
  /** Transitions taken, for metrics. */
  transitions: { from: ProvisioningState; to: ProvisioningState }[];
  /** Operations that ended, for the duration histograms. */
  finishedOperations: { operation: keyof OperationHistory; seconds: number }[];
  /** Set by a handler to move the host on; applied after the handler returns. */
  nextState?: ProvisioningState;
}

type Handler = (ctx: HostContext) => Promise<ActionResult>;

// ---- small helpers over the host ----

const status = (ctx: HostContext) => ctx.host.status;
const spec = (ctx: HostContext) => ctx.host.spec ?? { online: false };

export function hasBMCDetails(host: BareMetalHost): boolean {
  return Boolean(host.spec?.bmc?.address) || Boolean(host.spec?.bmc?.credentialsName);
}

function clearError(ctx: HostContext): boolean {
  const s = status(ctx);
  const changed = s.operationalStatus !== 'OK' || s.errorType !== undefined || s.errorMessage !== '';
  if (s.operationalStatus !== 'detached' && s.operationalStatus !== 'delayed') s.operationalStatus = 'OK';
  delete s.errorType;
  s.errorMessage = '';
  return changed;
}

function clearErrorOfType(ctx: HostContext, ...types: ErrorType[]): boolean {
  const t = status(ctx).errorType;
  return t !== undefined && types.includes(t) ? clearError(ctx) : false;
}

/** Records a failure on the host: operationalStatus error, type, message and one more error. */
export function setError(host: { status: BareMetalHostStatus }, errorType: ErrorType, message: string): void {
  host.status.operationalStatus = 'error';
  host.status.errorType = errorType;
  host.status.errorMessage = message;
  host.status.errorCount = (host.status.errorCount ?? timing.hostErrorRetry) + 1;
}

function inspectionDisabled(ctx: HostContext): boolean {
  return spec(ctx).inspectionMode === 'disabled' || ctx.host.metadata.annotations?.[inspectAnnotation] === 'disabled';
}

function inspectionRequested(ctx: HostContext): boolean {
  const v = ctx.host.metadata.annotations?.[inspectAnnotation];
  return v !== undefined && v !== 'disabled';
}

const urlOf = (img: Image | undefined) => img?.url ?? '';

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** BMO's NeedsProvisioning. */
function needsProvisioning(ctx: HostContext): boolean {
  const sp = spec(ctx);
  const prov = status(ctx).provisioning;
  if (!sp.online) return false;
  if (sp.customDeploy?.method) return sp.customDeploy.method !== prov.customDeploy?.method;
  return urlOf(sp.image) !== '' && urlOf(prov.image) === '';
}

/** BMO's provisioningCancelled: only the image URL counts, not its checksum. */
function provisioningCancelled(ctx: HostContext): boolean {
  const sp = spec(ctx);
  const prov = status(ctx).provisioning;
  if (sp.customDeploy?.method) {
    if (prov.customDeploy?.method !== undefined && prov.customDeploy.method !== sp.customDeploy.method) return true;
    return urlOf(prov.image) !== '' && urlOf(sp.image) !== urlOf(prov.image);
  }
  if (prov.customDeploy?.method) return true;
  if (urlOf(sp.image) === '') return true;
  return urlOf(prov.image) !== '' && urlOf(sp.image) !== urlOf(prov.image);
}

function requireHostData(ctx: HostContext): HostData {
  if (!ctx.hostData) throw new Error('the host has no usable BMC details');
  return ctx.hostData;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

// ---- power (bmo.md §2.6) ----

async function manageHostPower(ctx: HostContext, provisionedState: boolean): Promise<ActionResult> {
  const hd = requireHostData(ctx);
  const s = status(ctx);
  const observed = await ctx.provisioner.updateHardwareState(hd);
  if (observed.poweredOn !== undefined && observed.poweredOn !== s.poweredOn) {
    s.poweredOn = observed.poweredOn;
    clearErrorOfType(ctx, 'power management error');
    // An asynchronous provisioner (Ironic) reports a requested change only here, once it took effect.
    const desiredNow = rebootRequest(ctx.host.metadata.annotations, !provisionedState).requested ? false : spec(ctx).online;
    if (observed.poweredOn === desiredNow) {
      ctx.events.push({ type: 'Normal', reason: desiredNow ? 'PowerOn' : 'PowerOff', message: `Host powered ${desiredNow ? 'on' : 'off'}` });
    }
    return actionUpdate();
  }
  const annotations = ctx.host.metadata.annotations;
  // The "off" half of a single reboot is done: dropping the annotation lets the host come back on.
  if (!s.poweredOn && annotations?.[rebootAnnotation] !== undefined) {
    removeAnnotation(ctx.host.metadata, rebootAnnotation);
    return actionUpdate();
  }
  const reboot = rebootRequest(annotations, !provisionedState);
  const desired = reboot.requested ? false : spec(ctx).online;
  if (desired === s.poweredOn) {
    // BMO polls power every minute; with a provisioner that reports power changes itself (Ironic's held
    // node list, the simulator) that poll is one reconcile per host per minute spent learning nothing.
    const reported = ctx.hostData && ctx.provisioner.reportsChanges?.(ctx.hostData);
    return actionContinue(reported ? timing.steadyResync : timing.powerPoll);
  }
  const force = s.errorCount > 0;
  let res;
  if (desired) {
    res = await ctx.provisioner.powerOn(hd, { force });
  } else {
    const mode = reboot.hard || s.errorCount > 0 ? 'hard' : 'soft';
    res = await ctx.provisioner.powerOff(hd, { mode, force });
    if (!res.errorMessage && !res.dirty && spec(ctx).disablePowerOff) {
      // Without power-off the provisioner rebooted instead, which completes a single reboot.
      removeAnnotation(ctx.host.metadata, rebootAnnotation);
    }
    if (res.errorMessage && mode === 'soft') {
      res = { ...res, errorMessage: `Continuing with hard poweroff after soft poweroff fails: ${res.errorMessage}` };
    }
  }
  if (res.errorMessage) return actionFailed('power management error', res.errorMessage);
  if (res.dirty) return actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  s.poweredOn = spec(ctx).disablePowerOff ? true : desired;
  s.errorCount = 0;
  clearErrorOfType(ctx, 'power management error');
  ctx.events.push({ type: 'Normal', reason: desired ? 'PowerOn' : 'PowerOff', message: `Host powered ${desired ? 'on' : 'off'}` });
  return actionUpdate(timing.powerPoll);
}

/** Adopt (the provisioner may have lost its record) then power: provisioned and externally provisioned hosts. */
async function manageSteadyState(ctx: HostContext): Promise<ActionResult> {
  const hd = requireHostData(ctx);
  const prov = status(ctx).provisioning;
  const res = await ctx.provisioner.adopt(hd, {
    restartOnFailure: status(ctx).errorType === 'provisioned registration error',
    image: prov.image,
    customDeploy: prov.customDeploy,
  });
  if (res.errorMessage) return actionFailed('provisioned registration error', res.errorMessage);
  if (res.dirty) return actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  if (clearErrorOfType(ctx, 'provisioned registration error')) return actionUpdate();
  return manageHostPower(ctx, true);
}

// ---- per-state handlers (bmo.md §2.3) ----

const handleNone: Handler = async (ctx) => {
  if (hasBMCDetails(ctx.host)) {
    ctx.nextState = 'registering';
  } else {
    status(ctx).operationalStatus = 'discovered';
    ctx.events.push({ type: 'Normal', reason: 'Discovered', message: 'Discovered host with no BMC details' });
    ctx.nextState = 'unmanaged';
  }
  return actionComplete();
};

const handleUnmanaged: Handler = async (ctx) => {
  if (!hasBMCDetails(ctx.host)) return actionContinue(timing.unmanagedPoll);
  ctx.nextState = 'registering';
  return actionComplete();
};

const handleRegistering: Handler = async (ctx) => {
  // Reaching a handler means registration succeeded this reconcile.
  status(ctx).errorCount = 0;
  clearError(ctx);
  if (spec(ctx).externallyProvisioned) ctx.nextState = 'externally provisioned';
  else if (inspectionDisabled(ctx)) ctx.nextState = 'preparing';
  else ctx.nextState = 'inspecting';
  return actionComplete();
};

const handleInspecting: Handler = async (ctx) => {
  const s = status(ctx);
  if (inspectionDisabled(ctx)) {
    ctx.events.push({ type: 'Normal', reason: 'InspectionSkipped', message: 'Hardware inspection is disabled' });
    ctx.nextState = 'preparing';
    return actionComplete();
  }
  const reboot = rebootRequest(ctx.host.metadata.annotations);
  const res = await ctx.provisioner.inspectHardware(requireHostData(ctx), {
    restartOnFailure: s.errorType === 'inspection error',
    refresh: inspectionRequested(ctx),
    forceReboot: reboot.force,
  });
  if (res.errorMessage) return actionFailed('inspection error', res.errorMessage);
  if (res.started) {
    removeAnnotation(ctx.host.metadata, inspectAnnotation);
    removeAnnotation(ctx.host.metadata, rebootAnnotation);
    ctx.events.push({ type: 'Normal', reason: 'InspectionStarted', message: 'Hardware inspection started' });
  }
  if (res.dirty) return res.started ? actionUpdate(res.requeueAfterMs ?? timing.hostErrorRetry) : actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  if (res.details) {
    s.hardware = res.details;
    ctx.effects.hardwareDetails = res.details;
  }
  ctx.events.push({ type: 'Normal', reason: 'InspectionComplete', message: 'Hardware inspection completed' });
  s.errorCount = 0;
  clearError(ctx);
  ctx.nextState = 'preparing';
  return actionComplete();
};

const handleMatchProfile: Handler = async (ctx) => {
  ctx.nextState = 'preparing';
  return actionComplete();
};

/** The root device hints in effect: the spec's, none when a software RAID volume is the root. */
function effectiveRootDeviceHints(ctx: HostContext) {
  const sp = spec(ctx);
  if (sp.raid?.softwareRAIDVolumes?.some((v) => v.rootVolume)) return undefined;
  return sp.rootDeviceHints;
}

function preparationChanged(ctx: HostContext): boolean {
  const prov = status(ctx).provisioning;
  return !sameJSON(spec(ctx).raid, prov.raid) || !sameJSON(effectiveRootDeviceHints(ctx), prov.rootDeviceHints);
}

const handlePreparing: Handler = async (ctx) => {
  const s = status(ctx);
  const failedBefore = s.errorType === 'preparation error';
  // BMO's "dirty": the spec asks for RAID or root device hints the host was not prepared with.
  const changed = preparationChanged(ctx);
  const unprepared = failedBefore || changed;
  const res = await ctx.provisioner.prepare(
    requireHostData(ctx),
    {
      targetRAID: spec(ctx).raid,
      // After a failed preparation the actual RAID is unknown: apply the target again.
      actualRAID: failedBefore ? undefined : s.provisioning.raid,
      rootDeviceHints: effectiveRootDeviceHints(ctx),
    },
    { unprepared, restartOnFailure: failedBefore },
  );
  if (res.errorMessage) {
    delete s.provisioning.raid;
    delete s.provisioning.rootDeviceHints;
    return actionFailed('preparation error', res.errorMessage);
  }
  const record = () => {
    const raid = spec(ctx).raid;
    if (raid) s.provisioning.raid = structuredClone(raid);
    else delete s.provisioning.raid;
    const hints = effectiveRootDeviceHints(ctx);
    if (hints) s.provisioning.rootDeviceHints = structuredClone(hints);
    else delete s.provisioning.rootDeviceHints;
  };
  // Once the change started, recording it makes the next pass only wait for it, not start it again.
  if (res.started && unprepared) {
    record();
    if (failedBefore) clearError(ctx);
    return actionUpdate(res.requeueAfterMs ?? timing.hostErrorRetry);
  }
  if (res.dirty) return actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  record();
  s.errorCount = 0;
  clearError(ctx);
  ctx.nextState = 'available';
  return actionComplete();
};

const handleAvailable: Handler = async (ctx) => {
  const s = status(ctx);
  const sp = spec(ctx);
  if (sp.externallyProvisioned) {
    delete s.provisioning.image;
    delete s.provisioning.customDeploy;
    ctx.nextState = 'externally provisioned';
    return actionComplete();
  }
  if (inspectionRequested(ctx)) {
    ctx.nextState = 'inspecting';
    return actionComplete();
  }
  if (preparationChanged(ctx)) {
    ctx.nextState = 'preparing';
    return actionComplete();
  }
  // A new image (or none) deserves a fresh set of attempts.
  const imageGone = urlOf(sp.image) === '' && !sp.customDeploy?.method;
  const imageChanged = s.lastAttemptedImage !== undefined && sp.image !== undefined && !sameJSON(sp.image, s.lastAttemptedImage);
  if ((imageGone || imageChanged) && s.provisioningFailCount > 0) {
    s.provisioningFailCount = 0;
    clearErrorOfType(ctx, 'provisioning error');
    return actionUpdate();
  }
  if (needsProvisioning(ctx)) {
    const limit = ctx.config.maxProvisioningRetries;
    if (limit > 0 && s.provisioningFailCount >= limit) {
      const msg = `Provisioning failed ${s.provisioningFailCount} times, the limit of --max-provisioning-retries; change spec.image to try again`;
      if (s.errorType !== 'provisioning error' || s.errorMessage !== msg) {
        s.operationalStatus = 'error';
        s.errorType = 'provisioning error';
        s.errorMessage = msg;
        ctx.events.push({ type: 'Warning', reason: 'ProvisioningError', message: msg });
        return actionUpdate(timing.powerPoll);
      }
      return manageHostPower(ctx, false);
    }
    ctx.nextState = 'provisioning';
    return actionComplete();
  }
  return manageHostPower(ctx, false);
};

const handleProvisioning: Handler = async (ctx) => {
  const s = status(ctx);
  const sp = spec(ctx);
  if (provisioningCancelled(ctx)) {
    ctx.nextState = 'deprovisioning';
    return actionComplete();
  }
  if (s.errorType === 'provisioning error') {
    s.provisioningFailCount += 1;
    ctx.nextState = 'deprovisioning';
    return actionComplete();
  }
  const snapshotChanged = !sameJSON(s.lastAttemptedImage, sp.image);
  if (sp.image) s.lastAttemptedImage = structuredClone(sp.image);
  else delete s.lastAttemptedImage;
  const data = await ctx.loadProvisionData();
  const reboot = rebootRequest(ctx.host.metadata.annotations);
  const res = await ctx.provisioner.provision(
    requireHostData(ctx),
    {
      image: sp.image,
      customDeploy: sp.customDeploy,
      rootDeviceHints: s.provisioning.rootDeviceHints,
      bootMode: sp.bootMode ?? 'UEFI',
      ...data,
    },
    { forceReboot: reboot.force },
  );
  if (res.errorMessage) return actionFailed('provisioning error', res.errorMessage);
  if (res.dirty) return snapshotChanged ? actionUpdate(res.requeueAfterMs ?? timing.hostErrorRetry) : actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  if (sp.image) s.provisioning.image = structuredClone(sp.image);
  else delete s.provisioning.image;
  if (sp.customDeploy) s.provisioning.customDeploy = structuredClone(sp.customDeploy);
  else delete s.provisioning.customDeploy;
  s.errorCount = 0;
  s.provisioningFailCount = 0;
  clearError(ctx);
  ctx.events.push({ type: 'Normal', reason: 'ProvisioningComplete', message: 'Image provisioning completed' });
  ctx.nextState = 'provisioned';
  return actionComplete();
};

const handleProvisioned: Handler = async (ctx) => {
  if (provisioningCancelled(ctx)) {
    ctx.nextState = 'deprovisioning';
    return actionComplete();
  }
  return manageSteadyState(ctx);
};

const handleExternallyProvisioned: Handler = async (ctx) => {
  const sp = spec(ctx);
  if (sp.externallyProvisioned) return manageSteadyState(ctx);
  const s = status(ctx);
  if (sp.image) s.provisioning.image = structuredClone(sp.image);
  if (sp.customDeploy) s.provisioning.customDeploy = structuredClone(sp.customDeploy);
  ctx.nextState = 'provisioned';
  return actionComplete();
};

const deleting = (ctx: HostContext) => Boolean(ctx.host.metadata.deletionTimestamp);

/** A host being deleted stops retrying a failing deprovision after deleteRetryCount and is powered off instead. */
function deprovisioningFailed(ctx: HostContext, errorType: ErrorType, message: string): ActionResult {
  if (deleting(ctx) && status(ctx).errorCount > deleteRetryCount) {
    ctx.nextState = 'powering off before delete';
    return actionComplete();
  }
  return actionFailed(errorType, message);
}

const handleDeprovisioning: Handler = async (ctx) => {
  const s = status(ctx);
  if (deleting(ctx) && !ctx.haveCredentials && !s.provisioning.ID) {
    ctx.nextState = 'deleting';
    return actionComplete();
  }
  const hd = requireHostData(ctx);
  if (urlOf(s.provisioning.image) !== '' || s.provisioning.customDeploy?.method) {
    // The provisioner may have lost the deployed host (database loss): take it over before cleaning it.
    const adopted = await ctx.provisioner.adopt(hd, {
      restartOnFailure: s.errorType === 'provisioned registration error',
      image: s.provisioning.image,
      customDeploy: s.provisioning.customDeploy,
      deprovisioning: true,
    });
    if (adopted.errorMessage) return deprovisioningFailed(ctx, 'provisioned registration error', adopted.errorMessage);
    if (adopted.dirty) return actionContinue(adopted.requeueAfterMs ?? timing.hostErrorRetry);
  }
  const res = await ctx.provisioner.deprovision(hd, { restartOnFailure: s.errorType === 'provisioning error' });
  if (res.errorMessage) return deprovisioningFailed(ctx, 'provisioning error', res.errorMessage);
  if (res.dirty) return actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  removeAnnotation(ctx.host.metadata, rebootAnnotation);
  delete s.provisioning.image;
  delete s.provisioning.customDeploy;
  delete s.provisioning.rootDeviceHints;
  if (s.provisioning.raid?.softwareRAIDVolumes) delete s.provisioning.raid.softwareRAIDVolumes;
  s.errorCount = 0;
  clearError(ctx);
  ctx.events.push({ type: 'Normal', reason: 'DeprovisioningComplete', message: 'Image deprovisioning completed' });
  ctx.nextState = deleting(ctx) ? 'powering off before delete' : 'available';
  return actionComplete();
};

const handlePoweringOffBeforeDelete: Handler = async (ctx) => {
  const s = status(ctx);
  if (spec(ctx).disablePowerOff || (!ctx.haveCredentials && !s.provisioning.ID) || !ctx.hostData) {
    ctx.nextState = 'deleting';
    return actionComplete();
  }
  const res = await ctx.provisioner.powerOff(ctx.hostData, { mode: 'hard', force: s.errorType === 'power management error' });
  if (res.errorMessage) {
    if (s.errorCount > deleteRetryCount) {
      ctx.nextState = 'deleting';
      return actionComplete();
    }
    return actionFailed('power management error', res.errorMessage);
  }
  if (res.dirty) return actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  s.poweredOn = false;
  ctx.nextState = 'deleting';
  return actionComplete();
};

const handleDeleting: Handler = async (ctx) => {
  if (ctx.hostData) {
    const res = await ctx.provisioner.delete(ctx.hostData);
    if (res.errorMessage) return actionError(new Error(res.errorMessage));
    if (res.dirty) return actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
  }
  ctx.effects.releaseSecrets = true;
  ctx.host.metadata.finalizers = (ctx.host.metadata.finalizers ?? []).filter((f) => f !== hostFinalizer);
  return actionDeleteComplete();
};

/** The handler of every provisioning state. */
export const stateHandlers: Record<ProvisioningState, Handler> = {
  '': handleNone,
  unmanaged: handleUnmanaged,
  registering: handleRegistering,
  inspecting: handleInspecting,
  'match profile': handleMatchProfile,
  preparing: handlePreparing,
  ready: handleAvailable,
  available: handleAvailable,
  provisioning: handleProvisioning,
  provisioned: handleProvisioned,
  'externally provisioned': handleExternallyProvisioned,
  deprovisioning: handleDeprovisioning,
  'powering off before delete': handlePoweringOffBeforeDelete,
  deleting: handleDeleting,
};

// ---- the checks that run before the handler (bmo.md §2.2, §2.4, §2.5) ----

/** §2.4: where a host being deleted goes; undefined to let the current handler carry on. */
function checkInitiateDelete(ctx: HostContext): ActionResult | undefined {
  if (!deleting(ctx)) return undefined;
  const s = status(ctx);
  const state = s.provisioning.state;
  const args = detachedArgs(ctx.host.metadata.annotations);
  if (s.operationalStatus === 'detached' || args) {
    if (args?.deleteAction === 'delay' || !args) return actionContinue(timing.detachedPoll);
    if (state === 'deleting') return undefined;
    ctx.nextState = 'deleting';
    return actionComplete();
  }
  const escape = s.errorType === 'registration error' && s.errorCount > deleteRetryCount;
  switch (state) {
    case '':
    case 'unmanaged':
    case 'registering':
      ctx.nextState = 'deleting';
      return actionComplete();
    case 'provisioning':
    case 'provisioned':
      ctx.nextState = 'deprovisioning';
      return actionComplete();
    case 'deprovisioning':
    case 'powering off before delete':
      if (!escape) return undefined;
      ctx.nextState = 'deleting';
      return actionComplete();
    case 'deleting':
      return undefined;
    default:
      ctx.nextState = 'powering off before delete';
      return actionComplete();
  }
}

const detachableStates: ProvisioningState[] = ['provisioned', 'externally provisioned', 'ready', 'available'];

/** §2.5: detach while the annotation is present, re-attach once it is gone. */
async function checkDetachedHost(ctx: HostContext): Promise<ActionResult | undefined> {
  const s = status(ctx);
  const args = detachedArgs(ctx.host.metadata.annotations);
  if (args) {
    const state = s.provisioning.state;
    const eligible = detachableStates.includes(state) || (args.force && state !== 'deleting');
    if (!eligible) return undefined;
    if (s.operationalStatus === 'detached') return actionContinue(timing.detachedPoll);
    if (ctx.hostData) {
      const res = await ctx.provisioner.detach(ctx.hostData, { force: args.force });
      if (res.errorMessage) return actionFailed('detach error', res.errorMessage);
      if (res.dirty) return actionContinue(res.requeueAfterMs ?? timing.hostErrorRetry);
    }
    if (s.errorType === 'detach error') {
      delete s.errorType;
      s.errorMessage = '';
    }
    s.operationalStatus = 'detached';
    return actionUpdate(timing.detachedPoll);
  }
  if (s.operationalStatus === 'detached') {
    if (s.errorType === 'detach error') {
      delete s.errorType;
      s.errorMessage = '';
    }
    s.operationalStatus = s.errorType ? 'error' : 'OK';
    return actionUpdate();
  }
  if (s.errorType === 'detach error') {
    clearError(ctx);
    return actionUpdate();
  }
  return undefined;
}

const noRegistrationStates: ProvisioningState[] = ['', 'unmanaged', 'match profile', 'deleting'];

/** §2.2 step 4: Register on every reconcile of a managed host; undefined once registered. */
async function ensureRegistered(ctx: HostContext): Promise<ActionResult | undefined> {
  const s = status(ctx);
  if (noRegistrationStates.includes(s.provisioning.state) || !ctx.haveCredentials || !ctx.hostData) return undefined;
  const restart = s.errorType === 'registration error' || s.errorType === 'provisioned registration error';
  if (restart || ctx.credentialsChanged) startOperation(ctx, 'register');
  if (ctx.credentials && !sameCredentials(s.triedCredentials, ctx.credentials)) {
    s.triedCredentials = credentialsStatus(ctx.credentials);
  }
  const res = await ctx.provisioner.register(ctx.hostData, { credentialsChanged: ctx.credentialsChanged, restartOnFailure: restart, nicMACs: nicMACs(s) });
  if (res.errorMessage) {
    const provisioned = s.provisioning.state === 'provisioned' || s.provisioning.state === 'externally provisioned';
    return actionFailed(provisioned ? 'provisioned registration error' : 'registration error', res.errorMessage);
  }
  if (res.dirty) return actionUpdate(res.requeueAfterMs ?? timing.hostErrorRetry);
  let changed = false;
  if (res.provisionerID && res.provisionerID !== s.provisioning.ID) {
    s.provisioning.ID = res.provisionerID;
    ctx.hostData.provisionerID = res.provisionerID;
    changed = true;
  }
  if (ctx.credentials && !sameCredentials(s.goodCredentials, ctx.credentials)) {
    s.goodCredentials = credentialsStatus(ctx.credentials);
    ctx.events.push({ type: 'Normal', reason: 'BMCAccessValidated', message: 'Verified access to BMC' });
    ctx.events.push({ type: 'Normal', reason: 'Registered', message: 'Registered new host' });
    ctx.effects.registered = true;
    changed = true;
  }
  if (s.provisioning.state !== 'registering') endOperation(ctx, 'register');
  if (clearErrorOfType(ctx, 'registration error', 'provisioned registration error')) {
    s.errorCount = 0;
    changed = true;
  }
  return changed ? actionUpdate() : undefined;
}

function nicMACs(s: BareMetalHostStatus) {
  return (s.hardware?.nics ?? []).filter((n) => n.mac).map((n) => ({ mac: n.mac ?? '', pxe: n.pxe ?? false }));
}

function credentialsStatus(c: { name: string; namespace: string; version: string }) {
  return { credentials: { name: c.name, namespace: c.namespace }, credentialsVersion: c.version };
}

function sameCredentials(
  recorded: BareMetalHostStatus['goodCredentials'],
  c: { name: string; namespace: string; version: string },
): boolean {
  return recorded?.credentials?.name === c.name && recorded.credentials.namespace === c.namespace && recorded.credentialsVersion === c.version;
}

// ---- operation history and transitions ----

const stateOperations: Partial<Record<ProvisioningState, keyof OperationHistory>> = {
  registering: 'register',
  inspecting: 'inspect',
  provisioning: 'provision',
  deprovisioning: 'deprovision',
};

function startOperation(ctx: HostContext, op: keyof OperationHistory): void {
  const s = status(ctx);
  s.operationHistory ??= {};
  s.operationHistory[op] = { start: ctx.now().toISOString(), end: null };
}

function endOperation(ctx: HostContext, op: keyof OperationHistory): void {
  const metric = status(ctx).operationHistory?.[op];
  if (!metric?.start || metric.end) return;
  const end = ctx.now();
  metric.end = end.toISOString();
  ctx.finishedOperations.push({ operation: op, seconds: Math.max(0, (end.getTime() - Date.parse(metric.start)) / 1000) });
}

const capacityLimitedStates: ProvisioningState[] = ['inspecting', 'provisioning', 'deprovisioning'];

/** §2.2 step 6: apply ctx.nextState, unless provisioning capacity says wait. */
async function applyTransition(ctx: HostContext, result: ActionResult): Promise<ActionResult> {
  const s = status(ctx);
  const from = s.provisioning.state;
  const to = ctx.nextState;
  ctx.nextState = undefined;
  if (to === undefined || to === from) return result;
  if (capacityLimitedStates.includes(to) && ctx.hostData && !(await ctx.provisioner.hasCapacity(ctx.hostData))) {
    s.operationalStatus = 'delayed';
    return actionDelayed();
  }
  const leaving = stateOperations[from];
  if (leaving) endOperation(ctx, leaving);
  const entering = stateOperations[to];
  if (entering) startOperation(ctx, entering);
  if (to === 'registering' || to === 'inspecting' || to === 'provisioning') {
    s.provisioning.bootMode = spec(ctx).bootMode ?? 'UEFI';
  }
  if (to === 'provisioning') ctx.events.push({ type: 'Normal', reason: 'ProvisioningStarted', message: 'Image provisioning started' });
  if (to === 'deprovisioning') ctx.events.push({ type: 'Normal', reason: 'DeprovisioningStarted', message: 'Image deprovisioning started' });
  s.provisioning.state = to;
  ctx.transitions.push({ from, to });
  return result;
}

/** One pass of the state machine (BMO's ReconcileState). */
export async function reconcileState(ctx: HostContext): Promise<ActionResult> {
  const s = status(ctx);
  try {
    if (s.operationalStatus === 'delayed') {
      if (ctx.hostData && !(await ctx.provisioner.hasCapacity(ctx.hostData))) return actionDelayed();
      s.operationalStatus = s.errorType ? 'error' : 'OK';
    }
    const early = checkInitiateDelete(ctx) ?? (await checkDetachedHost(ctx)) ?? (await ensureRegistered(ctx));
    if (early) return await applyTransition(ctx, early);
    const handler = stateHandlers[s.provisioning.state] ?? handleNone;
    return await applyTransition(ctx, await handler(ctx));
  } catch (e) {
    if (e instanceof NeedsRegistrationError) {
      // The provisioner lost its record: registering again (next reconcile) recreates it.
      s.provisioning.ID = '';
      delete s.goodCredentials;
      return actionUpdate();
    }
    return actionError(e instanceof Error ? e : new Error(message(e)));
  }
}

