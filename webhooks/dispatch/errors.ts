// The two ways a webhook call ends badly, as k8s.io/apiserver/pkg/util/webhook and
// pkg/admission/plugin/webhook/errors tell them apart: the call itself failed (failurePolicy decides),
// or the webhook answered and said no (always a denial).
import { badRequest, StatusError } from '../../api/status.ts';

/** A webhook that could not be called or answered nonsense; failurePolicy decides what it means. */
export class CallingWebhookError extends Error {
  readonly webhookName: string;
  readonly reason: string;
  constructor(webhookName: string, reason: string) {
    super(`failed calling webhook "${webhookName}": ${reason}`);
    this.webhookName = webhookName;
    this.reason = reason;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * A denial, as webhookerrors.ToStatusErr renders it: the webhook's own Status with its message prefixed.
 * A code below 400 (or none) becomes 400 so a rejection never looks like success; the reason is the
 * webhook's, possibly empty, as kube leaves it.
 */
export function rejectionError(webhookName: string, result: unknown): StatusError {
  const status = isRecord(result) ? result : {};
  const deniedBy = `admission webhook "${webhookName}" denied the request`;
  const code = typeof status.code === 'number' && Number.isInteger(status.code) && status.code >= 400 ? status.code : 400;
  const message = str(status.message)
    ? `${deniedBy}: ${str(status.message)}`
    : str(status.reason)
      ? `${deniedBy}: ${str(status.reason)}`
      : `${deniedBy} without explanation`;
  const details = isRecord(status.details) ? (status.details as StatusError['details']) : undefined;
  return new StatusError(code, str(status.reason), message, details);
}

export const dryRunUnsupported = (webhookName: string) =>
  badRequest(`admission webhook "${webhookName}" does not support dry run`);
