import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter, WorkQueue } from '../../reconcilers/runtime/workqueue.ts';
import { createRuntimeMetrics } from '../../reconcilers/runtime/metrics.ts';

const noLimit = () => new ItemExponentialFailureRateLimiter(1, 1);

test('an item is queued once however often it is added', async () => {
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.len(), 0);
});

test('an item re-added while being processed is handed out again only after done', async () => {
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  q.add('a');
  const item = await q.get();
  assert.equal(item, 'a');
  q.add('a');
  q.add('a');
  assert.equal(q.len(), 0, 'not handed to a second worker while the first has it');
  q.done('a');
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), 'a');
  q.done('a');
  assert.equal(q.len(), 0);
});

test('a waiting get is woken by add', async () => {
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  const p = q.get();
  q.add('x');
  assert.equal(await p, 'x');
});

test('addAfter hands items out in order of their delays, and the earliest delay of an item wins', async () => {
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  q.addAfter('late', 60);
  q.addAfter('early', 20);
  q.addAfter('mid', 40);
  q.addAfter('late', 200); // a later delay for a pending item does not postpone it
  q.addAfter('mid', 5); // an earlier one brings it forward
  assert.equal(q.len(), 0);
  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    const item = await q.get();
    assert.ok(item);
    order.push(item);
    q.done(item);
  }
  assert.deepEqual(order, ['mid', 'early', 'late']);
  await sleep(220);
  assert.equal(q.len(), 0, 'the superseded delay did not add the item again');
});

test('per-item exponential backoff doubles from the base up to the cap, and forget resets it', () => {
  const l = new ItemExponentialFailureRateLimiter(5, 1_000_000);
  assert.deepEqual([l.when('a'), l.when('a'), l.when('a'), l.when('b')], [5, 10, 20, 5]);
  assert.equal(l.numRequeues('a'), 3);
  for (let i = 0; i < 40; i++) l.when('a');
  assert.equal(l.when('a'), 1_000_000);
  l.forget('a');
  assert.equal(l.when('a'), 5);
});

test('the token bucket allows its burst, then spaces items at its rate', () => {
  let now = 0;
  const b = new BucketRateLimiter(10, 3, () => now);
  assert.deepEqual([b.when(), b.when(), b.when()], [0, 0, 0]);
  assert.equal(b.when(), 100);
  assert.equal(b.when(), 200);
  now = 1000; // ten tokens' worth of time refills the two owed plus the burst
  assert.equal(b.when(), 0);
  const m = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(10, 1, () => 0));
  assert.equal(m.when('x'), 5);
  assert.equal(m.when('x'), 100, 'the bucket wins once it is empty');
});

test('addRateLimited delays by the failure count, and counts retries', async () => {
  const metrics = createRuntimeMetrics();
  const q = new WorkQueue({ name: 'rl', rateLimiter: new ItemExponentialFailureRateLimiter(100, 10_000), metrics });
  q.addRateLimited('a'); // 100 ms
  q.addRateLimited('a'); // pending at 100 ms: the 200 ms attempt does not postpone it
  assert.equal(q.numRequeues('a'), 2);
  const t0 = performance.now();
  assert.equal(await q.get(), 'a');
  const waited = performance.now() - t0;
  assert.ok(waited >= 95 && waited < 190, `waited ${waited} ms`);
  q.done('a');
  q.forget('a');
  assert.equal(q.numRequeues('a'), 0);
  const text = await metrics.registry.metrics();
  assert.match(text, /workqueue_retries_total\{name="rl"\} 2/);
  assert.match(text, /workqueue_adds_total\{name="rl"\} 1/);
});

test('workqueue_depth follows the queue', async () => {
  const metrics = createRuntimeMetrics();
  const q = new WorkQueue({ name: 'd', rateLimiter: noLimit(), metrics });
  q.add('a');
  q.add('b');
  assert.match(await metrics.registry.metrics(), /workqueue_depth\{name="d"\} 2/);
  await q.get();
  assert.match(await metrics.registry.metrics(), /workqueue_depth\{name="d"\} 1/);
});

test('shutDown wakes waiting workers, drops queued and delayed items and refuses new ones', async () => {
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
  q.add('a');
  q.addAfter('b', 1);
  assert.equal(q.len(), 0);
  assert.equal(await q.get(), undefined);
  assert.equal(q.isShuttingDown(), true);
});

test('shutDownWithDrain resolves only when every item in progress is done', async () => {
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  q.add('a');
  q.add('b');
  q.add('c');
  const a = await q.get();
  const b = await q.get();
  assert.ok(a && b);
  let drained = false;
  const p = q.shutDownWithDrain().then(() => (drained = true));
  assert.equal(await q.get(), undefined, 'no more work once shutting down');
  q.done(a);
  await sleep(5);
  assert.equal(drained, false);
  q.add(b); // re-adding during drain is ignored
  q.done(b);
  await p;
  assert.equal(drained, true);
  assert.equal(q.len(), 0);
});

test('shutDownWithDrain with nothing in progress resolves at once', async () => {
  const q = new WorkQueue({ name: 't' });
  await q.shutDownWithDrain();
});

test('long delays share one-second slots: never early, at most a slot late; an earlier delay still wins', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const timers = t.mock.method(globalThis, 'setTimeout');
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  for (let i = 0; i < 100; i++) q.addAfter(`host-${i}`, 60_000 + i);
  assert.ok(timers.mock.callCount() <= 2, `100 delays within 0.1 s share a slot or two, not ${timers.mock.callCount()} timers`);
  q.addAfter('soon', 10_000);
  q.addAfter('soon', 2_000); // below the slotted range: its own timer, and it replaces the slotted wait
  t.mock.timers.tick(1_999);
  assert.equal(q.len(), 0);
  t.mock.timers.tick(1);
  assert.equal(q.len(), 1, 'the earlier, unslotted delay');
  t.mock.timers.tick(8_500);
  assert.equal(q.len(), 1, 'the superseded slotted wait added nothing');
  t.mock.timers.tick(60_000 - 10_500 - 1);
  assert.equal(q.len(), 1, 'no long delay ends early');
  t.mock.timers.tick(1_100);
  assert.equal(q.len(), 101, 'every long delay ends within a slot of its time');
});

test('shutDown drops items waiting in slots', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const q = new WorkQueue({ name: 't', rateLimiter: noLimit() });
  q.addAfter('a', 30_000);
  q.shutDown();
  t.mock.timers.tick(32_000);
  assert.equal(q.len(), 0);
});
