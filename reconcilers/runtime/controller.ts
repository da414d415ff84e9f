// A controller: workers taking object keys from a rate-limited queue and calling reconcile, at most
// `concurrency` at a time and never two for the same object, as controller-runtime's controller does.
import type { RuntimeMetrics } from './metrics.ts';
import { WorkQueue } from './workqueue.ts';

export interface ObjectKey {
  /** Empty for cluster-scoped objects. */
  namespace: string;
  name: string;
}

export interface ReconcileResult {
  /** Reconcile again after this long, with the object's failure history cleared. */
  requeueAfterMs?: number;
  /** Reconcile again soon, with backoff, without counting as an error. */
  requeue?: boolean;
}

export type Reconcile = (key: ObjectKey) => Promise<ReconcileResult | void>;

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconcile;
  /** Defaults to a queue named after the controller with client-go's default rate limiter. */
  queue?: WorkQueue;
  /** Maximum concurrent reconciles (the --controller-concurrency flag); 1 unless given. */
  concurrency?: number;
  metrics?: RuntimeMetrics;
  logger?: Logger;
  /** How long stop() waits for reconciles in flight; 30 s unless given. */
  stopTimeoutMs?: number;
  /** Scrubs logged reconcile errors (EventRecorder.redact), since an error may quote a credential. */
  redact?: (text: string) => string;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the queue's item, as client-go's MetaNamespaceKeyFunc. */
export const keyString = (key: ObjectKey): string => (key.namespace ? `${key.namespace}/${key.name}` : key.name);

export function parseKey(item: string): ObjectKey {
  // Namespace names cannot contain '/', so the first one splits.
  const i = item.indexOf('/');
  return i < 0 ? { namespace: '', name: item } : { namespace: item.slice(0, i), name: item.slice(i + 1) };
}

const silent: Logger = { info() {}, error() {} };

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly concurrency: number;
  private readonly reconcile: Reconcile;
  private readonly metrics?: RuntimeMetrics;
  private readonly logger: Logger;
  private readonly stopTimeoutMs: number;
  private readonly redact: (text: string) => string;
  private workers: Promise<void>[] = [];
  private started = false;
  private inFlight = 0;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
    this.metrics = opts.metrics;
    this.queue = opts.queue ?? new WorkQueue({ name: opts.name, metrics: opts.metrics });
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
    this.logger = opts.logger ?? silent;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
    this.redact = opts.redact ?? ((t) => t);
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(keyString(key));
  }

  enqueueAfter(key: ObjectKey, delayMs: number): void {
    this.queue.addAfter(keyString(key), delayMs);
  }

  /** Reconciles in progress right now. */
  active(): number {
    return this.inFlight;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.metrics?.maxConcurrentReconciles.set({ controller: this.name }, this.concurrency);
    this.metrics?.activeWorkers.set({ controller: this.name }, 0);
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.work());
  }

  /**
   * Stops taking work and waits for the reconciles in flight, at most stopTimeoutMs; resolves false when
   * the wait timed out (those reconciles carry on unobserved, and their results are dropped).
   */
  async stop(): Promise<boolean> {
    const drained = this.queue.shutDownWithDrain().then(() => Promise.all(this.workers)).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.stopTimeoutMs);
    });
    const finished = await Promise.race([drained, timeout]);
    clearTimeout(timer);
    if (!finished) this.logger.error('timed out waiting for reconciles to finish', { controller: this.name, inFlight: this.inFlight });
    return finished;
  }

  private async work(): Promise<void> {
    for (;;) {
      const item = await this.queue.get();
      if (item === undefined) return;
      await this.process(item);
    }
  }

  private async process(item: string): Promise<void> {
    const labels = { controller: this.name };
    const start = performance.now();
    this.inFlight++;
    this.metrics?.activeWorkers.inc(labels);
    let result: 'success' | 'error' | 'requeue' | 'requeue_after';
    try {
      const res = await this.reconcile(parseKey(item));
      if (res && res.requeueAfterMs !== undefined && res.requeueAfterMs > 0) {
        this.queue.forget(item);
        this.queue.addAfter(item, res.requeueAfterMs);
        result = 'requeue_after';
      } else if (res && res.requeue) {
        this.queue.addRateLimited(item);
        result = 'requeue';
      } else {
        this.queue.forget(item);
        result = 'success';
      }
    } catch (err) {
      this.queue.addRateLimited(item);
      result = 'error';
      this.metrics?.reconcileErrors.inc(labels);
      this.logger.error('reconcile failed', {
        controller: this.name,
        key: item,
        error: this.redact(err instanceof Error ? err.message : String(err)),
        retries: this.queue.numRequeues(item),
      });
    } finally {
      this.inFlight--;
      this.metrics?.activeWorkers.dec(labels);
      this.queue.done(item);
    }
    this.metrics?.reconcileTotal.inc({ ...labels, result });
    this.metrics?.reconcileTime.observe(labels, (performance.now() - start) / 1000);
  }
}
