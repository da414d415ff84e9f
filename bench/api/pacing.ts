// Open-loop pacing: requests leave on a fixed schedule whether or not earlier ones have answered, so a
// slow server cannot slow the offered load down (no coordinated omission).
import { performance } from 'node:perf_hooks';

export interface PacedRun {
  /** How many operations were started. */
  started: number;
  /** How late each start was against its schedule, in ms (the client's own jitter). */
  lagMs: number[];
}

/**
 * Calls fire(i) for i = 0.. at `rate` per second for `seconds`, then waits for every returned promise.
 * Timers fire about once a millisecond; every start that has come due is issued then.
 */
export async function paced(rate: number, seconds: number, fire: (i: number) => Promise<void>): Promise<PacedRun> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const pending: Promise<void>[] = [];
  const lagMs: number[] = [];
  const t0 = performance.now();
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) {
        lagMs.push(now - (t0 + i * interval));
        pending.push(fire(i++));
      }
      if (i < total) setTimeout(tick, Math.max(0, t0 + i * interval - performance.now() - 0.5));
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  return { started: i, lagMs };
}

/** Runs `workers` closed loops calling op() until `seconds` have passed; returns completions and elapsed ms. */
export async function closedLoop(workers: number, seconds: number, op: () => Promise<void>): Promise<{ done: number; ms: number }> {
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        await op();
        done++;
      }
    }),
  );
  return { done, ms: performance.now() - t0 };
}
