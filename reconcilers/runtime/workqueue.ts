// A rate-limited work queue with client-go's semantics: an item is queued at most once, is never handed to
// two workers at the same time, and an item re-added while being processed is processed again after done().
import type { RuntimeMetrics } from './metrics.ts';

export interface RateLimiter {
  /** How long item should wait before its next attempt; counts as an attempt. */
  when(item: string): number;
  forget(item: string): void;
  numRequeues(item: string): number;
}

/** Per-item exponential backoff: base·2^failures, capped at max (client-go: 5 ms … 1000 s). */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  readonly baseMs: number;
  readonly maxMs: number;
  private readonly failures = new Map<string, number>();

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(item: string): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    // 2^n overflows to Infinity long before it matters; min() keeps the cap.
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(item: string): void {
    this.failures.delete(item);
  }

  numRequeues(item: string): number {
    return this.failures.get(item) ?? 0;
  }
}

/**
 * An overall token bucket (client-go: 10 qps, burst 100), so that a mass failure (the provisioner down for
 * every host) does not turn into a retry storm. Every call reserves a token, as golang.org/x/time/rate does.
 */
export class BucketRateLimiter implements RateLimiter {
  readonly qps: number;
  readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(qps = 10, burst = 100, now: () => number = () => performance.now()) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }

  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(): void {}

  numRequeues(): number {
    return 0;
  }
}

/** The longest delay any of the limiters asks for (client-go's MaxOfRateLimiter). */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(item: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(item)));
  }

  forget(item: string): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.numRequeues(item)));
  }
}

/** client-go's DefaultControllerRateLimiter. */
export const defaultControllerRateLimiter = (): RateLimiter =>
  new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1_000_000), new BucketRateLimiter(10, 100));

export interface WorkQueueOptions {
  /** The `name` label of the workqueue_* metrics. */
  name: string;
  rateLimiter?: RateLimiter;
  metrics?: RuntimeMetrics;
}

interface Waiting {
  readyAt: number;
  /** A short delay's own timer; a long one waits in the slot keyed by its readyAt. */
  timer?: NodeJS.Timeout;
}

/**
 * Delays of at least this long are rounded up to a whole slot, and the items due in one slot share one timer.
 * Every provisioned host is requeued a minute ahead for its power poll: with 10,000 hosts, one timer (and one
 * wake-up of the process) per host and poll cost more CPU than the reconciles they start. A second's
 * rounding on a delay of ten or more is within the jitter such delays are given anyway.
 */
const SLOT_FROM_MS = 10_000;
const SLOT_MS = 1000;

export class WorkQueue {
  readonly name: string;
  private readonly rateLimiter: RateLimiter;
  private readonly metrics?: RuntimeMetrics;
  private readonly queue: string[] = [];
  /** Items that need processing: in the queue, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly slots = new Map<number, { timer: NodeJS.Timeout; items: Set<string> }>();
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private getters: ((item: string | undefined) => void)[] = [];
  private drained: (() => void)[] = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    this.metrics = opts.metrics;
    this.metrics?.workqueueDepth.set({ name: this.name }, 0);
  }

  add(item: string): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.metrics?.workqueueAdds.inc({ name: this.name });
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    this.push(item);
  }

  /** Adds item once delayMs has passed; of several pending delays for one item the earliest wins. */
  addAfter(item: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(item);
      return;
    }
    const now = performance.now();
    const slotted = delayMs >= SLOT_FROM_MS;
    const readyAt = slotted ? Math.ceil((now + delayMs) / SLOT_MS) * SLOT_MS : now + delayMs;
    const pending = this.waiting.get(item);
    if (pending) {
      if (pending.readyAt <= readyAt) return;
      this.cancelWait(item, pending);
    }
    if (!slotted) {
      const timer = setTimeout(() => {
        this.waiting.delete(item);
        this.add(item);
      }, delayMs);
      this.waiting.set(item, { timer, readyAt });
      return;
    }
    let slot = this.slots.get(readyAt);
    if (!slot) {
      slot = { items: new Set(), timer: setTimeout(() => this.releaseSlot(readyAt), readyAt - now) };
      this.slots.set(readyAt, slot);
    }
    slot.items.add(item);
    this.waiting.set(item, { readyAt });
  }

  private releaseSlot(readyAt: number): void {
    const slot = this.slots.get(readyAt);
    this.slots.delete(readyAt);
    for (const item of slot?.items ?? []) {
      this.waiting.delete(item);
      this.add(item);
    }
  }

  private cancelWait(item: string, w: Waiting): void {
    if (w.timer) {
      clearTimeout(w.timer);
      return;
    }
    const slot = this.slots.get(w.readyAt);
    slot?.items.delete(item);
    if (slot && slot.items.size === 0) {
      clearTimeout(slot.timer);
      this.slots.delete(w.readyAt);
    }
  }

  addRateLimited(item: string): void {
    this.metrics?.workqueueRetries.inc({ name: this.name });
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Clears item's failure history: its next addRateLimited starts again from the base delay. */
  forget(item: string): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: string): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** The next item to process, or undefined once the queue is shut down. Call done(item) afterwards. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    if (this.queue.length > 0) return Promise.resolve(this.take());
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(item: string): void {
    if (!this.processing.delete(item)) return;
    const started = this.startedAt.get(item);
    this.startedAt.delete(item);
    if (started !== undefined) this.metrics?.workqueueWorkDuration.observe({ name: this.name }, (performance.now() - started) / 1000);
    if (this.dirty.has(item) && !this.shuttingDown) this.push(item);
    if (this.shuttingDown && this.processing.size === 0) {
      for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  /** Items waiting to be handed out (not those being processed or waiting for a delay). */
  len(): number {
    return this.queue.length;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops handing out and accepting items; queued and delayed items are dropped. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    for (const slot of this.slots.values()) clearTimeout(slot.timer);
    this.waiting.clear();
    this.slots.clear();
    this.queue.length = 0;
    this.dirty.clear();
    this.addedAt.clear();
    this.metrics?.workqueueDepth.set({ name: this.name }, 0);
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  /** shutDown, then resolves once every item being processed has been marked done. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private push(item: string): void {
    this.addedAt.set(item, performance.now());
    const getter = this.getters.shift();
    if (getter) {
      this.queue.push(item);
      getter(this.take());
      return;
    }
    this.queue.push(item);
    this.metrics?.workqueueDepth.set({ name: this.name }, this.queue.length);
  }

  private take(): string {
    const item = this.queue.shift() as string;
    this.metrics?.workqueueDepth.set({ name: this.name }, this.queue.length);
    this.dirty.delete(item);
    this.processing.add(item);
    const now = performance.now();
    const added = this.addedAt.get(item);
    this.addedAt.delete(item);
    if (added !== undefined) this.metrics?.workqueueQueueDuration.observe({ name: this.name }, (now - added) / 1000);
    this.startedAt.set(item, now);
    return item;
  }
}
