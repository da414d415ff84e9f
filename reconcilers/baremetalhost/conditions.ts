// The six BareMetalHost conditions (bmo.md §1.6), derived from the provisioning state and operational
// status on every reconcile so they can never drift from what the host is doing.
import type { BareMetalHostStatus } from '../../api/kinds/baremetalhost.ts';
import type { Condition } from '../../api/kinds/common.ts';

export const conditionTypes = ['Manageable', 'AvailableForProvisioning', 'Provisioned', 'Ready', 'Progressing', 'Healthy'] as const;
export type ConditionType = (typeof conditionTypes)[number];

type Desired = { status: Condition['status']; reason: string; message: string };

const T = (reason: string, message: string): Desired => ({ status: 'True', reason, message });
const F = (reason: string, message: string): Desired => ({ status: 'False', reason, message });

const progressingReasons: Record<string, string> = {
  inspecting: 'Inspecting',
  'match profile': 'Inspecting',
  preparing: 'Preparing',
  provisioning: 'Provisioning',
  deprovisioning: 'Deprovisioning',
  'powering off before delete': 'PoweringOffBeforeDelete',
  deleting: 'Deleting',
};

function desiredConditions(status: BareMetalHostStatus): Record<ConditionType, Desired> {
  const state = status.provisioning.state;
  const notManaged = F('NotManaged', 'The host is not managed');
  const notAvailable = F('NotAvailable', 'The host is not available for provisioning');
  const notProvisioned = F('NotProvisioned', 'The host is not provisioned');
  const notProgressing = F('NotProgressing', 'No operation is in progress');
  const manageable = T('Manageable', 'The host is registered with the provisioner');
  const c: Record<ConditionType, Desired> = {
    Manageable: notManaged,
    AvailableForProvisioning: notAvailable,
    Provisioned: notProvisioned,
    Ready: notProvisioned,
    Progressing: notProgressing,
    // Health comes from Ironic's node health (API 1.109); the provisioner contract does not report it yet.
    Healthy: { status: 'Unknown', reason: 'Unknown', message: 'Health is not reported by the provisioner' },
  };
  if (state === 'registering') {
    c.Manageable =
      status.errorType === 'registration error'
        ? F('RegistrationFailed', 'Registration with the provisioner failed')
        : F('Registering', 'The host is being registered');
    c.Progressing = T('Registering', 'The host is being registered');
  } else if (state in progressingReasons) {
    c.Manageable = manageable;
    const reason = progressingReasons[state] ?? 'Progressing';
    c.Progressing = T(reason, `The host is ${state}`);
  } else if (state === 'available' || state === 'ready') {
    c.Manageable = manageable;
    c.AvailableForProvisioning = T('Available', 'The host is available for provisioning');
  } else if (state === 'provisioned' || state === 'externally provisioned') {
    c.Manageable = manageable;
    c.Provisioned = T('Provisioned', 'The host is provisioned');
    c.Ready = T('Provisioned', 'The host is provisioned');
  }
  if (status.operationalStatus === 'error') c.Ready = F('Error', status.errorType ?? 'The host has an error');
  if (status.operationalStatus === 'servicing') c.Ready = F('Servicing', 'The host is being serviced');
  if (status.operationalStatus === 'detached') {
    c.Ready = F('Detached', 'The host is detached from the provisioner');
    c.Progressing = F('Detached', 'The host is detached from the provisioner');
  }
  return c;
}

/** The conditions for this status; lastTransitionTime moves only when a condition's status changes. */
export function computeConditions(status: BareMetalHostStatus, generation: number | undefined, now: Date): Condition[] {
  const desired = desiredConditions(status);
  const previous = new Map((status.conditions ?? []).map((c) => [c.type, c]));
  const out: Condition[] = [];
  for (const type of conditionTypes) {
    const d = desired[type];
    const prev = previous.get(type);
    const lastTransitionTime = prev && prev.status === d.status ? prev.lastTransitionTime : now.toISOString();
    const cond: Condition = { type, status: d.status, reason: d.reason, message: d.message, lastTransitionTime };
    if (generation !== undefined) cond.observedGeneration = generation;
    out.push(cond);
  }
  // Conditions written by others (not ours) are kept.
  for (const c of status.conditions ?? []) {
    if (!(conditionTypes as readonly string[]).includes(c.type)) out.push(c);
  }
  return out;
}
