// The node cache and its shared list poller: list only while something is watched, never let a list that
// left before our own change overwrite it, and serve state reads but not complete ones from the list.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeCache, stateFields } from '../../reconcilers/ironic/nodecache.ts';
import type { IronicClientAPI, IronicNode } from '../../reconcilers/ironic/types.ts';

/** Only listNodes is used by the cache; the rest of the client is never called. */
function listingClient(nodes: () => IronicNode[], opts: { delayMs?: number } = {}) {
  const calls: (string[] | undefined)[] = [];
  const client = {
    async listNodes(fields?: string[]) {
      calls.push(fields);
      if (opts.delayMs) await sleep(opts.delayMs);
      return nodes().map((n) => structuredClone(n));
    },
  } as unknown as IronicClientAPI;
  return { client, calls };
}

const node = (uuid: string, state: string, name?: string): IronicNode => ({ uuid, name, provision_state: state });

describe('NodeCache', () => {
  it('serves a complete node until it is older than maxAge, and not after', () => {
    let now = 1000;
    const { client } = listingClient(() => []);
    const cache = new NodeCache(client, { maxAgeMs: 500, now: () => now });
    cache.put(node('u1', 'manageable', 'ns~h1'));
    assert.equal(cache.get('u1', true)?.provision_state, 'manageable');
    assert.equal(cache.get('ns~h1', false)?.uuid, 'u1');
    now += 499;
    assert.ok(cache.get('u1', true));
    now += 1;
    assert.equal(cache.get('u1', true), undefined);
  });

  it('does not poll while nothing is watched', async () => {
    const { client, calls } = listingClient(() => [node('u1', 'active')]);
    const cache = new NodeCache(client, { pollIntervalMs: 10 });
    await sleep(40);
    assert.equal(calls.length, 0);
    cache.stop();
  });

  it('polls one list per interval while a node is watched, with the state fields, then stops', async () => {
    const nodes = [node('u1', 'cleaning', 'ns~h1'), node('u2', 'deploying', 'ns~h2')];
    const { client, calls } = listingClient(() => nodes);
    const cache = new NodeCache(client, { pollIntervalMs: 20, maxAgeMs: 1000, watchMs: 70 });
    cache.watch('u1');
    cache.watch('u2');
    await sleep(10);
    assert.equal(calls.length, 1, 'two watched nodes share one list');
    assert.deepEqual(calls[0]?.slice(0, stateFields.length), [...stateFields]);
    const polled = cache.get('ns~h2', false);
    assert.equal(polled?.provision_state, 'deploying');
    assert.equal(cache.isPartial(polled!), true);
    assert.equal(cache.get('u2', true), undefined, 'a list read does not stand for a complete node');
    await sleep(200);
    const total = calls.length;
    assert.ok(total >= 3 && total <= 6, `polls while watched: ${total}`);
    await sleep(60);
    assert.equal(calls.length, total, 'no polling once the watch expired');
    cache.stop();
  });

  it('ignores a list that was sent before our own change of the node', async () => {
    let state = 'available';
    const { client } = listingClient(() => [node('u1', state)], { delayMs: 30 });
    const cache = new NodeCache(client, { pollIntervalMs: 1000, maxAgeMs: 1000 });
    cache.watch('u1');
    await sleep(5);
    // The list is on its way with "available"; we start a deployment meanwhile.
    cache.invalidate('u1');
    state = 'deploying';
    await sleep(50);
    assert.equal(cache.get('u1', false), undefined, 'the stale state must not be served');
    await cache.poll();
    assert.equal(cache.get('u1', false)?.provision_state, 'deploying');
    cache.stop();
  });

  it('drops a node missing from the list, so the next read asks Ironic', async () => {
    let nodes = [node('u1', 'active', 'ns~h1')];
    const { client } = listingClient(() => nodes);
    const cache = new NodeCache(client, { pollIntervalMs: 1000, maxAgeMs: 1000 });
    cache.watch('u1');
    await cache.poll();
    assert.ok(cache.get('u1', false));
    nodes = [];
    await cache.poll();
    assert.equal(cache.get('u1', false), undefined);
    assert.equal(cache.get('ns~h1', false), undefined);
    cache.stop();
  });

  it('lists only the nodes updated since the last list while watching, and in full every fullListInterval', async () => {
    let now = 1_000_000;
    const stamp = (ms: number) => new Date(ms).toISOString();
    let nodes: IronicNode[] = [
      { ...node('u1', 'cleaning', 'ns~h1'), updated_at: stamp(100_000) },
      { ...node('u2', 'active', 'ns~h2'), updated_at: stamp(50_000) },
      { ...node('u3', 'enroll', 'ns~h3'), updated_at: null },
    ];
    const asked: (number | string | undefined)[] = [];
    const stamps = () => nodes.map((n) => (typeof n.updated_at === 'string' ? Date.parse(n.updated_at) : -Infinity));
    const client = {
      async listNodes(_fields?: string[], opts: { updatedSince?: number } = {}) {
        asked.push(opts.updatedSince);
        const since = opts.updatedSince;
        // As Ironic: a list by fields cannot carry updated_at, the detailed changes-only one does.
        if (since === undefined) return nodes.map(({ updated_at: _, ...n }) => structuredClone(n));
        return nodes.filter((_, i) => stamps()[i] >= since).map((n) => structuredClone(n));
      },
      async newestNodeUpdate() {
        asked.push('newest');
        return Math.max(...stamps());
      },
    } as unknown as IronicClientAPI;
    const moved: string[] = [];
    const cache = new NodeCache(client, { pollIntervalMs: 1000, maxAgeMs: 1000, fullListIntervalMs: 10_000, now: () => now, onChange: (n) => moved.push(n.uuid) });
    cache.watch('u1');
    await cache.poll();
    assert.deepEqual(asked, ['newest', undefined], 'the first list is full, after asking where changes start');
    now += 3000;
    await cache.poll();
    assert.deepEqual(asked, ['newest', undefined, 98_000], 'then the changes since the newest update seen, less the margin');
    // u2 and u3 were not among the changes: they are still as listed, however old the list that showed them.
    assert.equal(cache.get('u2', false)?.provision_state, 'active');
    assert.equal(cache.get('ns~h3', false)?.provision_state, 'enroll');
    assert.equal(cache.recentList(1000)?.length, 3, 'the capacity check still sees every node');
    nodes[0] = { ...nodes[0], provision_state: 'available', updated_at: stamp(104_000) };
    now += 1000;
    await cache.poll();
    assert.deepEqual(moved, ['u1']);
    assert.equal(cache.get('u1', false)?.provision_state, 'available');
    assert.equal(asked.at(-1), 98_000);
    // Deleted behind our back: a changes-only list cannot tell; the next full one does.
    nodes = nodes.filter((n) => n.uuid !== 'u2');
    now += 1000;
    await cache.poll();
    assert.equal(asked.at(-1), 102_000);
    assert.ok(cache.get('u2', false), 'not yet known to be gone');
    now += 5000;
    await cache.poll();
    assert.equal(asked.at(-1), undefined, 'a full list once fullListInterval has passed');
    assert.equal(cache.get('u2', false), undefined);
    assert.equal(cache.recentList(1000)?.length, 2);
    cache.stop();
  });

  it('is off with maxAge 0: no caching, no polling', async () => {
    const { client, calls } = listingClient(() => [node('u1', 'active')]);
    const cache = new NodeCache(client, { pollIntervalMs: 5, maxAgeMs: 0 });
    cache.put(node('u1', 'active'));
    assert.equal(cache.get('u1', false), undefined);
    cache.watch('u1');
    await sleep(20);
    assert.equal(calls.length, 0);
  });

  it('tells when a watched node moved, and only then', async () => {
    let state = 'cleaning';
    const { client } = listingClient(() => [node('u1', state, 'ns~h1'), node('u2', 'active', 'ns~h2')]);
    const moved: string[] = [];
    const cache = new NodeCache(client, { pollIntervalMs: 1000, maxAgeMs: 1000, onChange: (n) => moved.push(n.uuid) });
    cache.watch('u1');
    await cache.poll();
    await cache.poll();
    assert.deepEqual(moved, [], 'first sight and an unchanged state are no news');
    state = 'available';
    await cache.poll();
    assert.deepEqual(moved, ['u1']);
    cache.stop();
  });

  it('keeps polling through a failed list', async () => {
    let fail = true;
    const errors: unknown[] = [];
    const client = {
      async listNodes() {
        if (fail) {
          fail = false;
          throw new Error('connection refused');
        }
        return [node('u1', 'cleaning')];
      },
    } as unknown as IronicClientAPI;
    const cache = new NodeCache(client, { pollIntervalMs: 10, maxAgeMs: 1000, onError: (e) => errors.push(e) });
    cache.watch('u1');
    await sleep(40);
    assert.equal(errors.length, 1);
    assert.equal(cache.get('u1', false)?.provision_state, 'cleaning');
    cache.stop();
  });
  it('with lists slower than the interval, waits as long as a list took, and serves polled state until the next list', async () => {
    let now = 0;
    const starts: number[] = [];
    const client = {
      async listNodes() {
        starts.push(now);
        // Ironic takes 300 ms of the fake clock to answer a list (1,000 nodes: most of a second).
        now += 300;
        return [node('u1', 'deploying', 'ns~h1')];
      },
    } as unknown as IronicClientAPI;
    const cache = new NodeCache(client, { pollIntervalMs: 100, maxAgeMs: 100, watchMs: 100_000, now: () => now });
    cache.watch('u1');
    await cache.poll();
    assert.equal(cache.get('u1', false)?.provision_state, 'deploying');
    now += 650; // past maxAge, within interval + twice the list's time: no GET for this read
    assert.equal(cache.get('u1', false)?.provision_state, 'deploying');
    now += 100;
    assert.equal(cache.get('u1', false), undefined, 'too old once the next list should have answered');
    cache.stop();
  });

  it('starts the next list no sooner than the last one took to answer', async () => {
    const spans: { start: number; end: number }[] = [];
    const client = {
      async listNodes() {
        const start = performance.now();
        await sleep(60);
        spans.push({ start, end: performance.now() });
        return [node('u1', 'deploying', 'ns~h1')];
      },
    } as unknown as IronicClientAPI;
    const cache = new NodeCache(client, { pollIntervalMs: 20, maxAgeMs: 20, watchMs: 10_000 });
    cache.watch('u1');
    await sleep(300);
    cache.stop();
    assert.ok(spans.length >= 2, `polls: ${spans.length}`);
    for (let i = 1; i < spans.length; i++) {
      const gap = spans[i].start - spans[i - 1].end;
      assert.ok(gap >= 50, `gap ${gap.toFixed(0)} ms after a 60 ms list (the interval alone would allow none)`);
    }
  });

  it('refreshes held nodes with the slow list only, serves them until it answers again, and reports their moves', async () => {
    const nodes = [node('u1', 'active', 'ns~h1'), node('u2', 'active', 'ns~h2')];
    nodes[0].power_state = 'power on';
    const { client, calls } = listingClient(() => nodes);
    const moved: string[] = [];
    const cache = new NodeCache(client, { pollIntervalMs: 5, heldPollIntervalMs: 100, maxAgeMs: 10, onChange: (n) => moved.push(n.uuid) });
    try {
      cache.hold('u1');
      cache.hold('u2');
      await sleep(50);
      assert.equal(calls.length, 0, 'held nodes wait for the slow interval, not the watched one');
      await sleep(70);
      assert.equal(calls.length, 1);
      assert.equal(cache.get('ns~h1', false)?.power_state, 'power on');
      await sleep(40);
      assert.ok(cache.get('u1', false), 'held state outlives maxAge until the next slow list');
      nodes[0].power_state = 'power off';
      await sleep(100);
      assert.equal(calls.length, 2);
      assert.equal(cache.get('u1', false)?.power_state, 'power off');
      assert.deepEqual(moved, ['u1'], 'an out-of-band power change of a held node is reported');
      cache.invalidate('u1');
      cache.invalidate('u2');
      await sleep(250);
      assert.equal(calls.length, 2, 'nothing held or watched: no polling');
    } finally {
      cache.stop();
    }
  });

  it('brings the next list forward when a node is watched while only the slow poll is pending', async () => {
    const { client, calls } = listingClient(() => [node('u1', 'active'), node('u2', 'deploying')]);
    const cache = new NodeCache(client, { pollIntervalMs: 10, heldPollIntervalMs: 10_000, maxAgeMs: 1000 });
    try {
      cache.hold('u1');
      await sleep(20);
      assert.equal(calls.length, 0);
      cache.watch('u2');
      await sleep(20);
      assert.ok(calls.length >= 1, 'the watched node was polled at once');
    } finally {
      cache.stop();
    }
  });
});
