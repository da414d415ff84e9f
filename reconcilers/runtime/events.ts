// core/v1 Events for `kubectl describe`, aggregated as kube's EventCorrelator does, and scrubbed of every
// value registered as secret: BMC passwords and user data must never reach an Event.
import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../../api/types.ts';
import { APIError, type KubeClient, type ResourceType } from '../../api/client/types.ts';

export const EVENT_COMPONENT = 'metal3-baremetal-controller';
export const REDACTED = '[redacted]';

export const eventType: ResourceType = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

/** Replaces registered secret values (and their base64 forms, as Secrets carry them) in any text. */
export class SecretRedactor {
  private readonly values = new Set<string>();
  private sorted: string[] = [];

  register(value: string): void {
    if (!value) return;
    const before = this.values.size;
    this.values.add(value);
    this.values.add(Buffer.from(value, 'utf8').toString('base64'));
    // Longest first, so a secret containing another is replaced whole.
    if (this.values.size !== before) this.sorted = [...this.values].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.sorted) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  }
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  client: KubeClient;
  /** source.component and reportingComponent; metal3-baremetal-controller unless given. */
  component?: string;
  /** reportingInstance (the pod or host name); also source.host. */
  instance?: string;
  redactor?: SecretRedactor;
  /** Repeats within this window are counted on the existing Event; 10 min unless given (kube's). */
  aggregationWindowMs?: number;
  now?: () => Date;
  onError?: (err: Error) => void;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  lastMs: number;
}

// Kube's event message limit (events.k8s.io validation): longer messages are cut rather than rejected.
const MAX_MESSAGE = 1024;
// Bounds the aggregation cache as kube's LRU (4096 entries) does.
const MAX_SEEN = 4096;

const reference = (obj: KubeObject) => ({
  apiVersion: obj.apiVersion,
  kind: obj.kind,
  namespace: obj.metadata.namespace,
  name: obj.metadata.name,
  uid: obj.metadata.uid,
  resourceVersion: obj.metadata.resourceVersion,
});

// Kube's RFC3339 timestamps have whole seconds.
const rfc3339 = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

export class EventRecorder {
  readonly redactor: SecretRedactor;
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly instance?: string;
  private readonly windowMs: number;
  private readonly now: () => Date;
  private readonly onError?: (err: Error) => void;
  private readonly seen = new Map<string, Seen>();
  /** One write at a time per aggregation key, so two repeats never create two Events. */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(opts: EventRecorderOptions) {
    this.client = opts.client;
    this.component = opts.component ?? EVENT_COMPONENT;
    this.instance = opts.instance;
    this.redactor = opts.redactor ?? new SecretRedactor();
    this.windowMs = opts.aggregationWindowMs ?? 10 * 60_000;
    this.now = opts.now ?? (() => new Date());
    this.onError = opts.onError;
  }

  registerSecret(value: string): void {
    this.redactor.register(value);
  }

  redact(text: string): string {
    return this.redactor.redact(text);
  }

  /**
   * Records an Event about object. Never throws: an Event that cannot be written is reported to onError
   * and dropped, as kube's recorder drops it, since events are advisory.
   */
  eventf(object: KubeObject, type: EventType, reason: string, message: string, opts: { related?: KubeObject; action?: string } = {}): Promise<void> {
    let text = this.redact(message);
    if (text.length > MAX_MESSAGE) text = `${text.slice(0, MAX_MESSAGE - 3)}...`;
    const involved = reference(object);
    const key = JSON.stringify([this.component, involved.kind, involved.namespace, involved.name, involved.uid, type, reason, text]);
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.write(key, object, type, reason, text, opts)).catch((e: unknown) => {
      this.onError?.(e instanceof Error ? new Error(this.redact(e.message)) : new Error('event write failed'));
    });
    this.tails.set(key, next);
    void next.then(() => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    return next;
  }

  private async write(key: string, object: KubeObject, type: EventType, reason: string, message: string, opts: { related?: KubeObject; action?: string }): Promise<void> {
    const now = this.now();
    const seen = this.seen.get(key);
    if (seen && now.getTime() - seen.lastMs < this.windowMs) {
      try {
        await this.client.patch(eventType, seen.namespace, seen.name, 'merge', { count: seen.count + 1, lastTimestamp: rfc3339(now) });
        seen.count++;
        seen.lastMs = now.getTime();
        return;
      } catch (e) {
        // The Event expired or was deleted: start a new one.
        if (!(e instanceof APIError && e.code === 404)) throw e;
      }
    }
    const namespace = object.metadata.namespace || 'default';
    const name = `${object.metadata.name ?? 'unknown'}.${Date.now().toString(16)}${randomBytes(2).toString('hex')}`;
    const ts = rfc3339(now);
    const event: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: reference(object),
      reason,
      message,
      type,
      source: { component: this.component, ...(this.instance ? { host: this.instance } : {}) },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      reportingComponent: this.component,
      reportingInstance: this.instance ?? '',
      ...(opts.related ? { related: reference(opts.related) } : {}),
      ...(opts.action ? { action: opts.action } : {}),
    };
    await this.client.create(eventType, event);
    this.seen.delete(key);
    this.seen.set(key, { namespace, name, count: 1, lastMs: now.getTime() });
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.keys().next().value as string);
  }
}
