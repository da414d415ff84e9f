// Expiring decisions for the token and SubjectAccessReview caches, with concurrent misses for one key sharing
// a single call to kube-apiserver, as k8s.io/apiserver's cached authenticator does.

export interface Expiring<V> {
  value: V;
  /** Milliseconds the value stays fresh; 0 or less means not to keep it. */
  ttlMs: number;
}

const SWEEP_AT = 4096;

export class TTLCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly inflight = new Map<string, Promise<V>>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The fresh cached value for key, or load()'s, which is kept for its ttlMs. A rejected load is not kept. */
  async get(key: string, load: () => Promise<Expiring<V>>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = load().then(
      ({ value, ttlMs }) => {
        this.inflight.delete(key);
        if (ttlMs > 0) this.set(key, value, ttlMs);
        return value;
      },
      (e: unknown) => {
        this.inflight.delete(key);
        throw e;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  private set(key: string, value: V, ttlMs: number): void {
    const now = this.now();
    if (this.entries.size >= SWEEP_AT) {
      for (const [k, e] of this.entries) if (e.expires <= now) this.entries.delete(k);
      // Everything still fresh: a flood of distinct keys; dropping the oldest half bounds memory.
      if (this.entries.size >= SWEEP_AT) {
        let drop = this.entries.size / 2;
        for (const k of this.entries.keys()) {
          if (drop-- <= 0) break;
          this.entries.delete(k);
        }
      }
    }
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + ttlMs });
  }
}
