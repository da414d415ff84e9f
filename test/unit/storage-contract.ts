// The Storage contract as tests, run against every backend (SQLite in-process, etcd in the integration
// suite). Revisions are asserted relative to the store's revision at the start, since an etcd cluster
// starts at 1 and may be shared by several stores under different prefixes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactedError, KeyExistsError, KeyNotFoundError, RevisionConflictError, type Storage, type StorageEvent } from '../../apiserver/storage/interface.ts';
import { Cacher } from '../../apiserver/storage/cacher.ts';

const P = '/metal3.io/baremetalhosts/';
const k = (ns: string, name: string) => `${P}${ns}/${name}`;

/** Waits until cond() holds, polling; watch delivery from a networked backend is asynchronous. */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** open() returns a fresh, empty store (its own file or prefix); the suite closes it. */
export function storageContract(backend: string, open: () => Promise<Storage>): void {
  const withStore = (name: string, fn: (s: Storage, base: number) => Promise<void>) =>
    test(`${backend}: ${name}`, async () => {
      const s = await open();
      try {
        await fn(s, s.currentRevision());
      } finally {
        await s.close();
      }
    });

  withStore('create, get, update with conflicts, delete', async (s, base) => {
    const a = await s.create(k('default', 'a'), '{"v":1}');
    assert.deepEqual(a, { key: k('default', 'a'), value: '{"v":1}', modRevision: base + 1, createRevision: base + 1 });
    await assert.rejects(s.create(k('default', 'a'), '{}'), KeyExistsError);
    assert.deepEqual(await s.get(k('default', 'a')), a);
    assert.equal(await s.get(k('default', 'missing')), undefined);

    const a2 = await s.update(k('default', 'a'), '{"v":2}', base + 1);
    assert.equal(a2.modRevision, base + 2);
    assert.equal(a2.createRevision, base + 1);
    const conflict = await s.update(k('default', 'a'), '{"v":3}', base + 1).catch((e: unknown) => e);
    assert.ok(conflict instanceof RevisionConflictError);
    assert.equal(conflict.current.modRevision, base + 2);
    assert.equal(conflict.current.value, '{"v":2}');
    await assert.rejects(s.update(k('default', 'nope'), '{}', base + 1), KeyNotFoundError);
    await assert.rejects(s.update(k('default', 'nope'), '{}', 0), KeyNotFoundError, 'expected 0 never creates');

    await assert.rejects(s.delete(k('default', 'a'), base + 1), RevisionConflictError);
    const tomb = await s.delete(k('default', 'a'), base + 2);
    assert.deepEqual(tomb, { key: k('default', 'a'), value: '{"v":2}', modRevision: base + 3, createRevision: base + 1 });
    assert.equal(await s.get(k('default', 'a')), undefined);
    await assert.rejects(s.delete(k('default', 'a')), KeyNotFoundError);
    await assert.rejects(s.update(k('default', 'a'), '{}', base + 3), KeyNotFoundError);

    // Re-creating after a delete starts a new life: a fresh createRevision.
    const again = await s.create(k('default', 'a'), '{"v":4}');
    assert.equal(again.createRevision, base + 4);
    assert.equal(s.currentRevision(), base + 4);
  });

  withStore('revisions are monotonic and failed preconditions do not consume one', async (s, base) => {
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      seen.push((await s.create(k('ns', `h${i}`), '{}')).modRevision);
      await s.create(k('ns', `h${i}`), '{}').catch(() => undefined);
      await s.update(k('ns', `h${i}`), '{}', 9999).catch(() => undefined);
    }
    assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => base + i + 1));
  });

  withStore('list: prefix is a range, pagination with a start key, and an older revision is a snapshot', async (s, base) => {
    for (const name of ['c', 'a', 'b', 'd']) await s.create(k('default', name), `{"n":"${name}"}`);
    await s.create(k('other', 'a'), '{}');
    await s.create('/metal3.io/baremetalhostsX/default/z', '{}'); // shares the string prefix minus the slash
    await s.create(k('def_ult', 'q'), '{}'); // '_' would be a LIKE wildcard
    const snap = s.currentRevision();
    assert.equal(snap, base + 7);

    await s.update(k('default', 'a'), '{"n":"a2"}', base + 2);
    await s.delete(k('default', 'b'));
    await s.create(k('default', 'aa'), '{}');

    const now = await s.list(`${P}default/`);
    assert.deepEqual(
      now.items.map((i) => i.key),
      ['a', 'aa', 'c', 'd'].map((n) => k('default', n)),
    );
    assert.ok(now.revision >= base + 10, 'a list reflects every write before it');
    assert.equal(now.more, false);
    assert.equal(now.items[0].value, '{"n":"a2"}');
    assert.equal((await s.list(P)).items.length, 6);
    assert.equal((await s.list('')).items.length, 7, 'the empty prefix is every key');

    const page1 = await s.list(`${P}default/`, { revision: snap, limit: 2 });
    assert.deepEqual(
      page1.items.map((i) => [i.key, i.value, i.modRevision]),
      [
        [k('default', 'a'), '{"n":"a"}', base + 2],
        [k('default', 'b'), '{"n":"b"}', base + 3],
      ],
    );
    assert.equal(page1.more, true);
    assert.equal(page1.revision, snap);
    const page2 = await s.list(`${P}default/`, { revision: snap, limit: 2, startAfter: page1.items[1].key });
    assert.deepEqual(
      page2.items.map((i) => i.key),
      [k('default', 'c'), k('default', 'd')],
    );
    assert.equal(page2.more, false);
    await assert.rejects(s.list(P, { revision: s.currentRevision() + 1000 }));
  });

  withStore('compaction keeps current state and turns old reads and watches into CompactedError', async (s, base) => {
    await s.create(k('ns', 'a'), '{"v":1}'); // +1
    await s.update(k('ns', 'a'), '{"v":2}', base + 1); // +2
    await s.create(k('ns', 'b'), '{}'); // +3
    await s.delete(k('ns', 'b')); // +4
    await s.update(k('ns', 'a'), '{"v":3}', base + 2); // +5
    await s.compact(base + 4);
    assert.equal(s.compactedRevision(), base + 4);

    await assert.rejects(s.list(P, { revision: base + 3 }), CompactedError);
    assert.throws(() => s.watch(P, base + 3, () => undefined), CompactedError);
    const at4 = await s.list(P, { revision: base + 4 });
    assert.deepEqual(
      at4.items.map((i) => [i.key, i.value]),
      [[k('ns', 'a'), '{"v":2}']],
    );
    assert.equal((await s.get(k('ns', 'a')))?.value, '{"v":3}');

    // Watching from the compacted revision still replays everything after it, with prevKv intact.
    const got: StorageEvent[] = [];
    const stop = s.watch(P, base + 4, (evs) => got.push(...evs));
    await eventually(() => got.length >= 1, 'the replayed event');
    assert.equal(got.length, 1);
    assert.equal(got[0].kv.modRevision, base + 5);
    assert.equal(got[0].prevKv?.value, '{"v":2}');
    stop();
    await s.compact(base + 2); // older than the compacted revision: a no-op
    assert.equal(s.compactedRevision(), base + 4);
    await assert.rejects(s.compact(base + 9999));
  });

  withStore('watch replays from a revision then continues live with no gap and no duplicate', async (s, base) => {
    await s.create(k('ns', 'a'), '{"v":1}'); // +1
    await s.create('/other/x', '{}'); // +2, outside the prefix
    await s.update(k('ns', 'a'), '{"v":2}', base + 1); // +3
    await s.create(k('ns', 'b'), '{}'); // +4

    const got: StorageEvent[] = [];
    const stop = s.watch(P, base + 1, (evs) => got.push(...evs));
    const pending = s.delete(k('ns', 'b'));
    assert.equal(got.length, 0, 'replay is delivered asynchronously');
    await pending;
    await s.create(k('ns', 'c'), '{}'); // +6
    await eventually(() => got.length >= 4, 'four events');
    stop();
    await s.create(k('ns', 'd'), '{}'); // after stop: not delivered
    await new Promise((r) => setTimeout(r, 50));

    assert.deepEqual(
      got.map((e) => [e.type, e.kv.key, e.kv.modRevision - base, e.created]),
      [
        ['PUT', k('ns', 'a'), 3, false],
        ['PUT', k('ns', 'b'), 4, true],
        ['DELETE', k('ns', 'b'), 5, false],
        ['PUT', k('ns', 'c'), 6, true],
      ],
    );
    assert.equal(got[0].prevKv?.value, '{"v":1}');
    assert.equal(got[2].kv.value, '{}', 'a DELETE carries the last value');
    assert.equal(got[2].prevKv?.modRevision, base + 4);
  });

  withStore('live watchers are notified before the writer resolves', async (s) => {
    let seen = 0;
    s.watch(P, s.currentRevision(), (evs) => (seen = evs[evs.length - 1].kv.modRevision));
    for (let i = 0; i < 5; i++) {
      const kv = await s.create(k('ns', `a${i}`), '{}');
      assert.equal(seen, kv.modRevision);
    }
  });

  withStore('a watch cache over the store: list, watch resume, and a compacted resume', async (s, base) => {
    const c = new Cacher(s, { prefix: P, historySize: 2 });
    await c.start();
    try {
      for (let i = 0; i < 6; i++) await s.create(k('ns', `h${i}`), `{"metadata":{"name":"h${i}"}}`);
      const listed = await c.list(P);
      assert.equal(listed.items.length, 6);
      assert.equal(listed.items[2].object.metadata.resourceVersion, String(base + 3));
      // History holds only the newest events: resuming further back reads the store.
      const resumed: number[] = [];
      const stop = c.watch(P, { fromRevision: base + 1, onEvent: (ev) => resumed.push(ev.revision) });
      await eventually(() => resumed.length >= 5, 'the resumed events');
      assert.deepEqual(resumed, [2, 3, 4, 5, 6].map((r) => base + r));
      stop();
      await s.compact(base + 4);
      assert.throws(() => c.watch(P, { fromRevision: base + 2, onEvent: () => undefined }), CompactedError);
      await assert.rejects(c.list(P, { revision: base + 3 }), CompactedError);
    } finally {
      c.stop();
    }
  });
}
