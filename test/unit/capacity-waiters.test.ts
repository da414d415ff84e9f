// The hosts held back by PROVISIONING_LIMIT, woken oldest first as slots free up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapacityWaiters } from '../../reconcilers/baremetalhost/capacity.ts';

const key = (name: string) => ({ namespace: 'ns', name });

test('wakes the hosts that waited longest, each once, and forgets one that got its slot', () => {
  const w = new CapacityWaiters();
  for (const n of ['a', 'b', 'c', 'd']) w.update(key(n), true);
  // Delayed again while waiting: it keeps its place.
  w.update(key('a'), true);
  // Got a slot on its own (its backoff ran out first): no longer waiting.
  w.update(key('b'), false);
  assert.deepEqual(w.take(2), [key('a'), key('c')]);
  assert.equal(w.size, 1);
  // A woken host that is delayed again queues behind the others.
  w.update(key('a'), true);
  assert.deepEqual(w.take(5), [key('d'), key('a')]);
  assert.deepEqual(w.take(1), []);
});
