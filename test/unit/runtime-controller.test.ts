import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, keyString, parseKey, type ObjectKey } from '../../reconcilers/runtime/controller.ts';
import { ItemExponentialFailureRateLimiter, WorkQueue } from '../../reconcilers/runtime/workqueue.ts';
import { createRuntimeMetrics } from '../../reconcilers/runtime/metrics.ts';

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
};

test('keys round-trip for namespaced and cluster-scoped objects', () => {
  assert.equal(keyString({ namespace: 'ns', name: 'h' }), 'ns/h');
  assert.deepEqual(parseKey('ns/h'), { namespace: 'ns', name: 'h' });
  assert.deepEqual(parseKey('h'), { namespace: '', name: 'h' });
});

test('no more than `concurrency` reconciles run at once, and never two for one object', async () => {
  let running = 0;
  let peak = 0;
  const perKey = new Map<string, number>();
  const seen: string[] = [];
  const c = new Controller({
    name: 'c',
    concurrency: 3,
    async reconcile(key: ObjectKey) {
      const k = keyString(key);
      running++;
      perKey.set(k, (perKey.get(k) ?? 0) + 1);
      assert.equal(perKey.get(k), 1, `${k} reconciled twice at once`);
      peak = Math.max(peak, running);
      await sleep(15);
      perKey.set(k, (perKey.get(k) ?? 0) - 1);
      running--;
      seen.push(k);
    },
  });
  c.start();
  for (let i = 0; i < 10; i++) c.enqueue({ namespace: 'ns', name: `h${i}` });
  c.enqueue({ namespace: 'ns', name: 'h0' });
  await until(() => seen.length >= 10);
  await sleep(40);
  assert.equal(peak, 3);
  await c.stop();
});

test('an error backs off per object; requeueAfterMs forgets the failures and requeues after the delay', async () => {
  const metrics = createRuntimeMetrics();
  const calls: number[] = [];
  let n = 0;
  const queue = new WorkQueue({ name: 'c2', rateLimiter: new ItemExponentialFailureRateLimiter(20, 10_000), metrics });
  const c = new Controller({
    name: 'c2',
    queue,
    metrics,
    async reconcile() {
      calls.push(performance.now());
      n++;
      if (n <= 2) throw new Error('provisioner not ready');
      if (n === 3) return { requeueAfterMs: 30 };
      return undefined;
    },
  });
  c.start();
  c.enqueue({ namespace: 'ns', name: 'h' });
  await until(() => n >= 4);
  const gaps = calls.slice(1).map((t, i) => t - calls[i]);
  assert.ok(gaps[0] >= 15, `first retry after ${gaps[0]} ms (20 ms backoff)`);
  assert.ok(gaps[1] >= 35, `second retry after ${gaps[1]} ms (40 ms backoff)`);
  assert.ok(gaps[2] >= 25, `requeueAfter honoured: ${gaps[2]} ms`);
  assert.equal(queue.numRequeues('ns/h'), 0, 'success forgets the failures');
  await c.stop();
  const text = await metrics.registry.metrics();
  assert.match(text, /controller_runtime_reconcile_total\{controller="c2",result="error"\} 2/);
  assert.match(text, /controller_runtime_reconcile_total\{controller="c2",result="requeue_after"\} 1/);
  assert.match(text, /controller_runtime_reconcile_total\{controller="c2",result="success"\} 1/);
  assert.match(text, /controller_runtime_reconcile_errors_total\{controller="c2"\} 2/);
  assert.match(text, /controller_runtime_reconcile_time_seconds_count\{controller="c2"\} 4/);
});

test('stop waits for reconciles in flight and takes no new work', async () => {
  let finished = 0;
  let started = 0;
  const c = new Controller({
    name: 'c3',
    concurrency: 2,
    async reconcile() {
      started++;
      await sleep(50);
      finished++;
    },
  });
  c.start();
  for (let i = 0; i < 5; i++) c.enqueue({ namespace: 'ns', name: `h${i}` });
  await until(() => started === 2);
  assert.equal(await c.stop(), true);
  assert.equal(finished, 2, 'both in-flight reconciles completed before stop resolved');
  await sleep(80);
  assert.equal(started, 2, 'the queued ones were not started');
});

test('stop gives up after its timeout when a reconcile hangs', async () => {
  let release = () => {};
  const c = new Controller({
    name: 'c4',
    stopTimeoutMs: 50,
    reconcile: () => new Promise<void>((r) => (release = r)),
  });
  c.start();
  c.enqueue({ namespace: '', name: 'x' });
  await until(() => c.active() === 1);
  const t0 = performance.now();
  assert.equal(await c.stop(), false);
  assert.ok(performance.now() - t0 < 500);
  release();
});

test('logged reconcile errors go through redact', async () => {
  const logged: unknown[] = [];
  let calls = 0;
  const c = new Controller({
    name: 'c5',
    queue: new WorkQueue({ name: 'c5', rateLimiter: new ItemExponentialFailureRateLimiter(10_000, 10_000) }),
    redact: (t) => t.replaceAll('hunter2', '[redacted]'),
    logger: { info() {}, error: (_m, f) => logged.push(f?.error) },
    async reconcile() {
      calls++;
      throw new Error('login failed with password hunter2');
    },
  });
  c.start();
  c.enqueue({ namespace: 'ns', name: 'h' });
  await until(() => calls === 1 && logged.length === 1);
  assert.deepEqual(logged, ['login failed with password [redacted]']);
  await c.stop();
});
