// What a state handler asks the controller to do next (bmo.md §2.7, BMO's action_result.go).
import type { ErrorType } from '../../api/kinds/baremetalhost.ts';

export type ActionResult =
  /** Requeue after delayMs; nothing to save. */
  | { type: 'continue'; delayMs: number }
  /** Save the status, requeue after delayMs. */
  | { type: 'update'; delayMs: number }
  /** Out of provisioning capacity: save operationalStatus delayed, retry after backoff(1). */
  | { type: 'delayed' }
  /** A state transition: save and reconcile again at once. */
  | { type: 'complete' }
  /** The host is gone from the provisioner and its finalizer removed: stop. */
  | { type: 'deleteComplete' }
  /** This attempt failed: record the error on the host and back off by its error count. */
  | { type: 'failed'; errorType: ErrorType; message: string }
  /** Something unexpected: the work queue's rate limiter retries. */
  | { type: 'error'; error: Error };

export const actionContinue = (delayMs = 0): ActionResult => ({ type: 'continue', delayMs });
export const actionUpdate = (delayMs = 0): ActionResult => ({ type: 'update', delayMs });
export const actionDelayed = (): ActionResult => ({ type: 'delayed' });
export const actionComplete = (): ActionResult => ({ type: 'complete' });
export const actionDeleteComplete = (): ActionResult => ({ type: 'deleteComplete' });
export const actionFailed = (errorType: ErrorType, message: string): ActionResult => ({ type: 'failed', errorType, message });
export const actionError = (error: Error): ActionResult => ({ type: 'error', error });

export const second = 1000;
export const minute = 60 * second;
/** Timing constants of bmo.md §2.7. */
export const timing = {
  hostErrorRetry: 10 * second,
  unmanagedPoll: 10 * minute,
  detachedPoll: 10 * minute,
  provisionerNotReady: 30 * second,
  subResourceNotReady: 60 * second,
  powerPoll: 60 * second,
  /** A host at rest whose provisioner reports every change of its node (reportsChanges). */
  steadyResync: 10 * minute,
} as const;

/** Attempts at deprovisioning or powering off during deletion before giving up on them. */
export const deleteRetryCount = 3;

/** 2^n minutes (n capped at 9) less up to half of it at random, so failing hosts do not retry in lockstep. */
export function backoffMs(errorCount: number, random: () => number = Math.random): number {
  const n = Math.min(Math.max(errorCount, 1), 9);
  const base = 2 ** n * minute;
  return Math.round(base - (base / 2) * random());
}

/** The event reason BMO emits for each error type. */
export const errorEventReasons: Record<ErrorType, string> = {
  'provisioned registration error': 'ProvisionedRegistrationError',
  'registration error': 'RegistrationError',
  'inspection error': 'InspectionError',
  'preparation error': 'PreparationError',
  'provisioning error': 'ProvisioningError',
  'power management error': 'PowerManagementError',
  'detach error': 'DetachError',
  'servicing error': 'ServicingError',
};
