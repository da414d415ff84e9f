// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection with LeaseLock: one
// replica reconciles, the others wait for the lease to expire. Standalone mode runs one replica and
// serves no Lease kind, so callers there simply do not create an elector.
import type { KubeObject } from '../../api/types.ts';
import { APIError, type KubeClient, type ResourceType } from '../../api/client/types.ts';

export const leaseType: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name (BMO: baremetal-operator). */
  name: string;
  /** This replica's identity (pod name plus a unique suffix). */
  identity: string;
  /** 15 s, 10 s and 2 s unless given, as controller-runtime's defaults. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (err: Error) => void;
  now?: () => Date;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

const microTime = (d: Date) => d.toISOString().replace(/Z$/, '000Z');

export class LeaderElector {
  private readonly opts: LeaderElectorOptions;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly now: () => Date;
  private leading = false;
  private running = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  /** When we last saw the lease change hands or renew, by our clock (not the holder's). */
  private observed?: { renewTime?: string; holder?: string; at: number };
  private loop?: Promise<void>;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
    this.now = opts.now ?? (() => new Date());
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops campaigning and, when leading, releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.loop;
    if (!this.leading) return;
    try {
      const lease = await this.opts.client.get(leaseType, this.opts.namespace, this.opts.name);
      const spec = (lease?.spec ?? {}) as LeaseSpec;
      if (lease && spec.holderIdentity === this.opts.identity) {
        const now = microTime(this.now());
        await this.opts.client.update(leaseType, { ...lease, spec: { ...spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: now, acquireTime: now } });
      }
    } catch (e) {
      this.report(e);
    }
    this.setLeading(false);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.loop = this.tryAcquireOrRenew().then((ok) => {
        if (!this.running) return;
        const t = performance.now();
        if (ok) this.lastRenew = t;
        else if (this.leading && t - this.lastRenew > this.renewDeadlineMs) this.setLeading(false);
        this.schedule(this.retryMs);
      });
    }, ms);
  }

  private setLeading(v: boolean): void {
    if (this.leading === v) return;
    this.leading = v;
    if (v) this.opts.onStartedLeading();
    else this.opts.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.opts;
    const now = this.now();
    const spec: LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: Math.round(this.leaseMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
    try {
      const lease = await client.get(leaseType, namespace, name);
      if (!lease) {
        await client.create(leaseType, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec });
        this.observe(spec);
        this.setLeading(true);
        return true;
      }
      const cur = (lease.spec ?? {}) as LeaseSpec;
      this.observe(cur);
      const held = !!cur.holderIdentity && cur.holderIdentity !== identity;
      const durationMs = (cur.leaseDurationSeconds ?? 0) * 1000;
      // Expiry by our own clock since we last saw the lease move: clocks of replicas may disagree.
      if (held && this.observed && performance.now() - this.observed.at < durationMs) return false;
      const mine = cur.holderIdentity === identity;
      const next: KubeObject = {
        ...lease,
        spec: {
          ...cur,
          ...spec,
          acquireTime: mine ? (cur.acquireTime ?? spec.acquireTime) : spec.acquireTime,
          leaseTransitions: (cur.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      };
      await client.update(leaseType, next);
      this.setLeading(true);
      return true;
    } catch (e) {
      // A 409 means another replica wrote first: not an error worth reporting.
      if (!(e instanceof APIError && e.code === 409)) this.report(e);
      return false;
    }
  }

  private observe(spec: LeaseSpec): void {
    if (!this.observed || this.observed.renewTime !== spec.renewTime || this.observed.holder !== spec.holderIdentity) {
      this.observed = { renewTime: spec.renewTime, holder: spec.holderIdentity, at: performance.now() };
    }
  }

  private report(e: unknown): void {
    this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
  }
}
