// Hosts held back by PROVISIONING_LIMIT. BMO retries such a host after one to two minutes of backoff, so at
// scale most slots stand empty while hosts wait out their delay; here a slot the provisioner sees free up
// wakes the host that has waited longest, and the backoff stays only as the fallback.
import { keyString, type ObjectKey } from '../runtime/controller.ts';

export class CapacityWaiters {
  // A Map iterates in insertion order: the first key is the host that has waited longest.
  private readonly waiting = new Map<string, ObjectKey>();

  /** After each reconcile: whether the host is now waiting for capacity. */
  update(key: ObjectKey, waiting: boolean): void {
    const k = keyString(key);
    if (!waiting) this.waiting.delete(k);
    else if (!this.waiting.has(k)) this.waiting.set(k, key);
  }

  /** The n hosts that have waited longest, no longer counted as waiting (one that is delayed again queues anew). */
  take(n: number): ObjectKey[] {
    const out: ObjectKey[] = [];
    for (const [k, key] of this.waiting) {
      if (out.length >= n) break;
      out.push(key);
      this.waiting.delete(k);
    }
    return out;
  }

  get size(): number {
    return this.waiting.size;
  }
}
