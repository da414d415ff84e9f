import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cacher, TooLargeResourceVersionError, type CacheEvent } from '../../apiserver/storage/cacher.ts';
import { SqliteStorage } from '../../apiserver/storage/sqlite.ts';
import { CompactedError } from '../../apiserver/storage/interface.ts';
import { eventually } from './storage-contract.ts';
import type { KubeObject } from '../../api/types.ts';

const P = '/metal3.io/baremetalhosts/';
const k = (ns: string, name: string) => `${P}${ns}/${name}`;
const host = (ns: string, name: string, labels: Record<string, string> = {}) =>
  JSON.stringify({ apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: { name, namespace: ns, labels } });
const prod = (o: KubeObject) => o.metadata.labels?.env === 'prod';
const flush = () => new Promise((r) => setImmediate(r));

async function setup(opts?: { historySize?: number; historyFreshMs?: number; historyMinSize?: number; now?: () => number }) {
  const storage = SqliteStorage.open(':memory:');
  const cacher = new Cacher(storage, { waitTimeoutMs: 20, ...opts });
  return { storage, cacher };
}

function collect(): { events: CacheEvent[]; onEvent: (ev: CacheEvent) => void; summary: () => string[][] } {
  const events: CacheEvent[] = [];
  return {
    events,
    onEvent: (ev) => events.push(ev),
    summary: () => events.map((e) => [e.type, e.object.key, String(e.revision), e.object.object.metadata.resourceVersion ?? '']),
  };
}

test('start loads existing objects; objects carry resourceVersion and memoized JSON', async () => {
  const { storage, cacher } = await setup();
  await storage.create(k('default', 'b'), host('default', 'b'));
  await storage.create(k('default', 'a'), host('default', 'a'));
  await cacher.start();
  assert.equal(cacher.revision(), 2);
  const a = cacher.get(k('default', 'a'));
  assert.equal(a?.modRevision, 2);
  assert.equal(a?.object.metadata.resourceVersion, '2');
  assert.equal(a?.object.metadata.name, 'a');
  assert.equal(a?.json(), JSON.stringify(a?.object));
  assert.equal(a?.json(), a?.json());
  assert.deepEqual(
    (await cacher.list(P)).items.map((o) => o.key),
    [k('default', 'a'), k('default', 'b')],
  );
  cacher.stop();
  await storage.close();
});

test('the cache reflects a write by the time the writer hears back', async () => {
  const { storage, cacher } = await setup();
  await cacher.start();
  const kv = await storage.create(k('default', 'a'), host('default', 'a'));
  assert.equal(cacher.revision(), kv.modRevision);
  await storage.update(k('default', 'a'), host('default', 'a', { env: 'prod' }), kv.modRevision);
  assert.equal(cacher.get(k('default', 'a'))?.object.metadata.labels?.env, 'prod');
  await storage.delete(k('default', 'a'));
  assert.equal(cacher.get(k('default', 'a')), undefined);
  assert.equal((await cacher.list(P)).items.length, 0);
  cacher.stop();
  await storage.close();
});

test('list from memory: prefixes, pages, remainingItemCount, predicate before limit', async () => {
  const { storage, cacher } = await setup();
  await cacher.start();
  for (let i = 0; i < 10; i++) await storage.create(k('default', `h${i}`), host('default', `h${i}`, { env: i % 3 === 0 ? 'prod' : 'dev' }));
  await storage.create(k('other', 'x'), host('other', 'x', { env: 'prod' }));
  await storage.create('/metal3.io/baremetalhostsX/default/z', host('default', 'z'));

  assert.equal((await cacher.list(P)).items.length, 11);
  assert.equal((await cacher.list(`${P}default/`)).items.length, 10);
  assert.equal((await cacher.list(`${P}nope/`)).items.length, 0);

  const p1 = await cacher.list(`${P}default/`, { limit: 4 });
  assert.deepEqual(
    p1.items.map((o) => o.object.metadata.name),
    ['h0', 'h1', 'h2', 'h3'],
  );
  assert.equal(p1.continueKey, k('default', 'h3'));
  assert.equal(p1.remainingItemCount, 6);
  const p2 = await cacher.list(`${P}default/`, { limit: 4, startAfter: p1.continueKey });
  assert.deepEqual(
    p2.items.map((o) => o.object.metadata.name),
    ['h4', 'h5', 'h6', 'h7'],
  );
  const p3 = await cacher.list(`${P}default/`, { limit: 4, startAfter: p2.continueKey });
  assert.deepEqual(
    p3.items.map((o) => o.object.metadata.name),
    ['h8', 'h9'],
  );
  assert.equal(p3.continueKey, undefined);
  assert.equal(p3.remainingItemCount, undefined);

  // h0, h3, h6, h9 match; the limit counts matches, and no token is given when nothing else matches.
  const f1 = await cacher.list(`${P}default/`, { limit: 2, predicate: prod });
  assert.deepEqual(
    f1.items.map((o) => o.object.metadata.name),
    ['h0', 'h3'],
  );
  assert.equal(f1.continueKey, k('default', 'h3'));
  assert.equal(f1.remainingItemCount, undefined);
  const f2 = await cacher.list(`${P}default/`, { limit: 2, predicate: prod, startAfter: f1.continueKey });
  assert.deepEqual(
    f2.items.map((o) => o.object.metadata.name),
    ['h6', 'h9'],
  );
  assert.equal(f2.continueKey, undefined);
  cacher.stop();
  await storage.close();
});

test('list at an older revision reads a consistent snapshot from storage; compacted ones fail', async () => {
  const { storage, cacher } = await setup();
  await cacher.start();
  for (const n of ['a', 'b', 'c', 'd']) await storage.create(k('ns', n), host('ns', n, { env: n === 'b' ? 'dev' : 'prod' }));
  const first = await cacher.list(P, { limit: 2 });
  assert.equal(first.revision, 4);
  await storage.delete(k('ns', 'c'));
  await storage.create(k('ns', 'bb'), host('ns', 'bb'));

  const second = await cacher.list(P, { revision: first.revision, limit: 2, startAfter: first.continueKey });
  assert.deepEqual(
    second.items.map((o) => [o.key, o.object.metadata.resourceVersion]),
    [
      [k('ns', 'c'), '3'],
      [k('ns', 'd'), '4'],
    ],
  );
  assert.equal(second.revision, 4);
  assert.equal(second.continueKey, undefined);

  // With a predicate, storage pages are read until enough items match.
  const filtered = await cacher.list(P, { revision: 4, limit: 1, predicate: prod, startAfter: k('ns', 'a') });
  assert.deepEqual(
    filtered.items.map((o) => o.key),
    [k('ns', 'c')],
  );
  assert.equal(filtered.continueKey, k('ns', 'c'));

  await storage.compact(5);
  await assert.rejects(cacher.list(P, { revision: 4, limit: 2 }), CompactedError);
  cacher.stop();
  await storage.close();
});

test('waitForRevision resolves on catch-up and times out on a revision never reached', async () => {
  const { storage, cacher } = await setup();
  await cacher.start();
  const waiting = cacher.waitForRevision(2, 1000);
  await storage.create(k('ns', 'a'), host('ns', 'a'));
  await storage.create(k('ns', 'b'), host('ns', 'b'));
  await waiting;
  await assert.rejects(cacher.waitForRevision(99, 10), TooLargeResourceVersionError);
  await assert.rejects(cacher.list(P, { revision: 99 }), TooLargeResourceVersionError);
  cacher.stop();
  await storage.close();
});

test('watch without a revision: ADDED for current objects, then live events', async () => {
  const { storage, cacher } = await setup();
  await storage.create(k('ns', 'a'), host('ns', 'a'));
  await storage.create(k('other', 'z'), host('other', 'z'));
  await cacher.start();
  const c = collect();
  const stop = cacher.watch(`${P}ns/`, { onEvent: c.onEvent });
  assert.equal(c.events.length, 0, 'initial events come after watch() returns');
  await flush();
  const a2 = await storage.update(k('ns', 'a'), host('ns', 'a', { x: 'y' }), 1);
  await storage.create(k('ns', 'b'), host('ns', 'b'));
  await storage.delete(k('ns', 'a'));
  await storage.create(k('other', 'y'), host('other', 'y'));
  stop();
  await storage.create(k('ns', 'after-stop'), host('ns', 'after-stop'));
  assert.deepEqual(c.summary(), [
    ['ADDED', k('ns', 'a'), '1', '1'],
    ['MODIFIED', k('ns', 'a'), '3', '3'],
    ['ADDED', k('ns', 'b'), '4', '4'],
    ['DELETED', k('ns', 'a'), '5', '5'],
  ]);
  // DELETED carries the last state, stamped with the delete's revision.
  const del = c.events[3].object;
  assert.equal(del.modRevision, 5);
  assert.deepEqual(del.object.metadata.labels, { x: 'y' });
  assert.equal(a2.modRevision, 3);
  cacher.stop();
  await storage.close();
});

test('watch from a revision replays history without gap or duplicate, and does not block on a throwing consumer', async () => {
  const { storage, cacher } = await setup();
  await cacher.start();
  await storage.create(k('ns', 'a'), host('ns', 'a')); // 1
  await storage.create(k('ns', 'b'), host('ns', 'b')); // 2
  await storage.create(k('ns', 'c'), host('ns', 'c')); // 3
  const c = collect();
  cacher.watch(P, { fromRevision: 1, onEvent: c.onEvent });
  const bad = collect();
  cacher.watch(P, {
    fromRevision: 1,
    onEvent: (ev) => {
      bad.onEvent(ev);
      if (bad.events.length === 1) throw new Error('bad consumer');
    },
  });
  // Queued before the replay is delivered, committed after it: it must come last, exactly once.
  const pending = storage.delete(k('ns', 'a'));
  await flush();
  await pending;
  await storage.create(k('ns', 'd'), host('ns', 'd')); // 5
  assert.deepEqual(
    c.events.map((e) => [e.type, e.revision]),
    [
      ['ADDED', 2],
      ['ADDED', 3],
      ['DELETED', 4],
      ['ADDED', 5],
    ],
  );
  assert.equal(bad.events.length, 4, 'a consumer that threw still gets later events');
  // A revision not reached yet: nothing until it is passed.
  const later = collect();
  cacher.watch(P, { fromRevision: 6, onEvent: later.onEvent });
  await storage.create(k('ns', 'e'), host('ns', 'e')); // 6
  await storage.create(k('ns', 'f'), host('ns', 'f')); // 7
  assert.deepEqual(
    later.events.map((e) => e.revision),
    [7],
  );
  cacher.stop();
  await storage.close();
});

test('watch with a predicate: entering is ADDED, leaving is DELETED with the new state, outside is skipped', async () => {
  const { storage, cacher } = await setup();
  await storage.create(k('ns', 'a'), host('ns', 'a', { env: 'dev' })); // 1
  await storage.create(k('ns', 'p'), host('ns', 'p', { env: 'prod' })); // 2
  await cacher.start();
  const c = collect();
  cacher.watch(P, { predicate: prod, onEvent: c.onEvent });
  await flush();
  await storage.update(k('ns', 'a'), host('ns', 'a', { env: 'dev', n: '1' }), 1); // 3: outside both ways
  await storage.update(k('ns', 'a'), host('ns', 'a', { env: 'prod' }), 3); // 4: enters
  await storage.update(k('ns', 'a'), host('ns', 'a', { env: 'prod', n: '2' }), 4); // 5: stays
  await storage.update(k('ns', 'a'), host('ns', 'a', { env: 'dev' }), 5); // 6: leaves
  await storage.delete(k('ns', 'a')); // 7: was outside
  await storage.delete(k('ns', 'p')); // 8: was inside
  assert.deepEqual(
    c.events.map((e) => [e.type, e.object.key, e.revision]),
    [
      ['ADDED', k('ns', 'p'), 2],
      ['ADDED', k('ns', 'a'), 4],
      ['MODIFIED', k('ns', 'a'), 5],
      ['DELETED', k('ns', 'a'), 6],
      ['DELETED', k('ns', 'p'), 8],
    ],
  );
  assert.equal(c.events[3].object.object.metadata.labels?.env, 'dev', 'leaving carries the new state');

  // The same transitions replayed from history.
  const replay = collect();
  cacher.watch(P, { fromRevision: 2, predicate: prod, onEvent: replay.onEvent });
  await flush();
  assert.deepEqual(
    replay.events.map((e) => [e.type, e.revision]),
    [
      ['ADDED', 4],
      ['MODIFIED', 5],
      ['DELETED', 6],
      ['DELETED', 8],
    ],
  );
  cacher.stop();
  await storage.close();
});

test('a revision older than the history falls back to storage; a compacted one throws CompactedError', async () => {
  const { storage, cacher } = await setup({ historySize: 2 });
  await cacher.start();
  await storage.create(k('ns', 'a'), host('ns', 'a', { env: 'dev' })); // 1
  for (let i = 1; i < 8; i++) await storage.update(k('ns', 'a'), host('ns', 'a', { env: i % 2 ? 'prod' : 'dev' }), i); // 2..8
  const c = collect();
  cacher.watch(P, { fromRevision: 1, predicate: prod, onEvent: c.onEvent });
  await flush();
  await storage.create(k('ns', 'b'), host('ns', 'b', { env: 'prod' })); // 9, live through storage
  assert.deepEqual(
    c.events.map((e) => [e.type, e.revision, e.object.object.metadata.resourceVersion]),
    [
      ['ADDED', 2, '2'],
      ['DELETED', 3, '3'],
      ['ADDED', 4, '4'],
      ['DELETED', 5, '5'],
      ['ADDED', 6, '6'],
      ['DELETED', 7, '7'],
      ['ADDED', 8, '8'],
      ['ADDED', 9, '9'],
    ],
  );

  await storage.compact(6);
  assert.throws(() => cacher.watch(P, { fromRevision: 3, onEvent: () => undefined }), CompactedError);
  cacher.stop();
  await storage.close();
});

test('the history keeps recent changes only: a resume past them reads storage, and a compacted one is refused', async () => {
  let now = 0;
  const { storage, cacher } = await setup({ historyFreshMs: 1000, historyMinSize: 1, now: () => now });
  await cacher.start();
  await storage.create(k('ns', 'a'), host('ns', 'a', { env: 'prod' })); // 1
  for (let i = 1; i < 6; i++) await storage.update(k('ns', 'a'), host('ns', 'a', { env: 'prod', n: String(i) }), i); // 2..6
  await flush();
  await storage.compact(4);
  // Fresh: revision 2 is still in memory although storage has compacted it.
  const fresh = collect();
  const stopFresh = cacher.watch(P, { fromRevision: 2, onEvent: fresh.onEvent });
  await flush();
  assert.deepEqual(fresh.events.map((e) => e.revision), [3, 4, 5, 6]);
  stopFresh();
  // Later, one more write: the stale changes leave, only the newest stays.
  now += 5000;
  await storage.update(k('ns', 'a'), host('ns', 'a', { env: 'prod', n: 'late' }), 6); // 7
  await flush();
  assert.throws(() => cacher.watch(P, { fromRevision: 2, onEvent: () => {} }), CompactedError);
  const late = collect();
  const stopLate = cacher.watch(P, { fromRevision: 4, onEvent: late.onEvent });
  await eventually(() => late.events.length >= 3, 'the events after the history');
  assert.deepEqual(late.events.map((e) => e.revision), [5, 6, 7], 'from storage past the history, in order');
  stopLate();
  cacher.stop();
  await storage.close();
});
