import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '../../apiserver/storage/sqlite.ts';
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  StorageUnavailableError,
  type StorageEvent,
} from '../../apiserver/storage/interface.ts';

const P = '/metal3.io/baremetalhosts/';
const k = (ns: string, name: string) => `${P}${ns}/${name}`;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'storage-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const tick = () => new Promise((r) => setImmediate(r));

test('create, get, update with conflicts, delete', async () => {
  const s = SqliteStorage.open(':memory:');
  assert.equal(s.currentRevision(), 0);
  const a = await s.create(k('default', 'a'), '{"v":1}');
  assert.deepEqual(a, { key: k('default', 'a'), value: '{"v":1}', modRevision: 1, createRevision: 1 });
  await assert.rejects(s.create(k('default', 'a'), '{}'), KeyExistsError);
  assert.deepEqual(await s.get(k('default', 'a')), a);
  assert.equal(await s.get(k('default', 'missing')), undefined);

  const a2 = await s.update(k('default', 'a'), '{"v":2}', 1);
  assert.equal(a2.modRevision, 2);
  assert.equal(a2.createRevision, 1);
  const conflict = await s.update(k('default', 'a'), '{"v":3}', 1).catch((e: unknown) => e);
  assert.ok(conflict instanceof RevisionConflictError);
  assert.equal(conflict.current.modRevision, 2);
  assert.equal(conflict.current.value, '{"v":2}');
  await assert.rejects(s.update(k('default', 'nope'), '{}', 1), KeyNotFoundError);

  await assert.rejects(s.delete(k('default', 'a'), 1), RevisionConflictError);
  const tomb = await s.delete(k('default', 'a'), 2);
  assert.deepEqual(tomb, { key: k('default', 'a'), value: '{"v":2}', modRevision: 3, createRevision: 1 });
  assert.equal(await s.get(k('default', 'a')), undefined);
  await assert.rejects(s.delete(k('default', 'a')), KeyNotFoundError);
  await assert.rejects(s.update(k('default', 'a'), '{}', 3), KeyNotFoundError);

  // Re-creating after a delete starts a new life: a fresh createRevision.
  const again = await s.create(k('default', 'a'), '{"v":4}');
  assert.equal(again.createRevision, 4);
  assert.equal(s.currentRevision(), 4);
  await s.close();
});

test('revisions are monotonic and failed preconditions do not consume one', async () => {
  const s = SqliteStorage.open(':memory:');
  const seen: number[] = [];
  for (let i = 0; i < 20; i++) {
    seen.push((await s.create(k('ns', `h${i}`), '{}')).modRevision);
    await s.create(k('ns', `h${i}`), '{}').catch(() => undefined);
  }
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1));
  await s.close();
});

test('data and revisions survive a reopen', async (t) => {
  const file = join(tempDir(t), 'db.sqlite');
  let s = SqliteStorage.open(file);
  await s.create(k('default', 'a'), '{"a":1}');
  await s.create(k('default', 'b'), '{"b":1}');
  await s.delete(k('default', 'b'));
  await s.compact(3); // the newest row (a tombstone) is compacted away
  await s.close();

  s = SqliteStorage.open(file);
  assert.equal(s.currentRevision(), 3);
  assert.equal(s.compactedRevision(), 3);
  assert.equal((await s.get(k('default', 'a')))?.value, '{"a":1}');
  assert.equal(await s.get(k('default', 'b')), undefined);
  assert.equal((await s.create(k('default', 'c'), '{}')).modRevision, 4);
  await s.close();
});

test('group commit: 50 creates in one tick share transactions', async (t) => {
  const s = SqliteStorage.open(join(tempDir(t), 'db.sqlite'));
  const before = s.stats();
  const kvs = await Promise.all(Array.from({ length: 50 }, (_, i) => s.create(k('ns', `h${i}`), `{"i":${i}}`)));
  const after = s.stats();
  assert.equal(after.writes - before.writes, 50);
  assert.ok(after.commits - before.commits < 50, `expected fewer than 50 commits, got ${after.commits - before.commits}`);
  assert.equal(after.commits - before.commits, 1);
  assert.deepEqual(
    kvs.map((kv) => kv.modRevision),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  await s.close();
});

test('a failed precondition inside a batch rejects only that write and sees earlier writes of the batch', async () => {
  const s = SqliteStorage.open(':memory:');
  const x = await s.create(k('ns', 'x'), '{}');
  const results = await Promise.allSettled([
    s.create(k('ns', 'a'), '{"n":1}'),
    s.create(k('ns', 'a'), '{"n":2}'), // sees the create just before it
    s.update(k('ns', 'x'), '{"x":2}', x.modRevision),
    s.update(k('ns', 'x'), '{"x":3}', x.modRevision), // stale: the update before it moved x on
    s.create(k('ns', 'b'), '{}'),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
  );
  assert.ok((results[1] as PromiseRejectedResult).reason instanceof KeyExistsError);
  assert.ok((results[3] as PromiseRejectedResult).reason instanceof RevisionConflictError);
  assert.equal((await s.get(k('ns', 'a')))?.value, '{"n":1}');
  assert.equal((await s.get(k('ns', 'x')))?.value, '{"x":2}');
  assert.equal(s.currentRevision(), 4);
  assert.equal(s.stats().commits, 2);
  await s.close();
});

test('list: prefix is a range, pagination, and an older revision is a consistent snapshot', async () => {
  const s = SqliteStorage.open(':memory:');
  for (const name of ['c', 'a', 'b', 'd']) await s.create(k('default', name), `{"n":"${name}"}`);
  await s.create(k('other', 'a'), '{}');
  await s.create('/metal3.io/baremetalhostsX/default/z', '{}'); // shares the string prefix minus the slash
  await s.create(k('def_ult', 'q'), '{}'); // '_' would be a LIKE wildcard
  const snap = s.currentRevision();

  await s.update(k('default', 'a'), '{"n":"a2"}', 2);
  await s.delete(k('default', 'b'));
  await s.create(k('default', 'aa'), '{}');

  const now = await s.list(`${P}default/`);
  assert.deepEqual(
    now.items.map((i) => i.key),
    ['a', 'aa', 'c', 'd'].map((n) => k('default', n)),
  );
  assert.equal(now.revision, s.currentRevision());
  assert.equal(now.more, false);
  assert.equal(now.items[0].value, '{"n":"a2"}');

  const all = await s.list(P);
  assert.equal(all.items.length, 6);

  const page1 = await s.list(`${P}default/`, { revision: snap, limit: 2 });
  assert.deepEqual(
    page1.items.map((i) => [i.key, i.value, i.modRevision]),
    [
      [k('default', 'a'), '{"n":"a"}', 2],
      [k('default', 'b'), '{"n":"b"}', 3],
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
  await assert.rejects(s.list(P, { revision: s.currentRevision() + 1 }));
  await s.close();
});

test('compaction keeps current state and turns old reads and watches into CompactedError', async () => {
  const s = SqliteStorage.open(':memory:');
  await s.create(k('ns', 'a'), '{"v":1}'); // 1
  await s.update(k('ns', 'a'), '{"v":2}', 1); // 2
  await s.create(k('ns', 'b'), '{}'); // 3
  await s.delete(k('ns', 'b')); // 4
  await s.update(k('ns', 'a'), '{"v":3}', 2); // 5
  await s.compact(4);
  assert.equal(s.compactedRevision(), 4);

  await assert.rejects(s.list(P, { revision: 3 }), CompactedError);
  assert.throws(() => s.watch(P, 3, () => undefined), CompactedError);
  const at4 = await s.list(P, { revision: 4 });
  assert.deepEqual(
    at4.items.map((i) => [i.key, i.value]),
    [[k('ns', 'a'), '{"v":2}']],
  );
  assert.equal((await s.get(k('ns', 'a')))?.value, '{"v":3}');

  // Watching from the compacted revision still replays everything after it, with prevKv intact.
  const got: StorageEvent[] = [];
  const stop = s.watch(P, 4, (evs) => got.push(...evs));
  await tick();
  assert.equal(got.length, 1);
  assert.equal(got[0].kv.modRevision, 5);
  assert.equal(got[0].prevKv?.value, '{"v":2}');
  stop();
  await s.compact(2); // older than the compacted revision: a no-op
  assert.equal(s.compactedRevision(), 4);
  await assert.rejects(s.compact(99));
  await s.close();
});

test('periodic compaction keeps the newest retainRevisions', async () => {
  const s = SqliteStorage.open(':memory:', { compactionIntervalMs: 5, retainRevisions: 3 });
  await s.create(k('ns', 'a'), '{}');
  for (let i = 1; i < 10; i++) await s.update(k('ns', 'a'), `{"i":${i}}`, i);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(s.compactedRevision(), 7);
  await s.close();
});

test('watch replays from a revision then continues live with no gap and no duplicate', async () => {
  const s = SqliteStorage.open(':memory:');
  await s.create(k('ns', 'a'), '{"v":1}'); // 1
  await s.create('/other/x', '{}'); // 2, outside the prefix
  await s.update(k('ns', 'a'), '{"v":2}', 1); // 3
  await s.create(k('ns', 'b'), '{}'); // 4

  const got: StorageEvent[] = [];
  const stop = s.watch(P, 1, (evs) => got.push(...evs));
  // A write queued before the replay is delivered must follow it, not precede or repeat it.
  const pending = s.delete(k('ns', 'b'));
  assert.equal(got.length, 0, 'replay is delivered asynchronously');
  await pending;
  await s.create(k('ns', 'c'), '{}'); // 6
  stop();
  await s.create(k('ns', 'd'), '{}'); // after stop: not delivered

  assert.deepEqual(
    got.map((e) => [e.type, e.kv.key, e.kv.modRevision, e.created]),
    [
      ['PUT', k('ns', 'a'), 3, false],
      ['PUT', k('ns', 'b'), 4, true],
      ['DELETE', k('ns', 'b'), 5, false],
      ['PUT', k('ns', 'c'), 6, true],
    ],
  );
  assert.equal(got[0].prevKv?.value, '{"v":1}');
  assert.equal(got[2].kv.value, '{}', 'a DELETE carries the last value');
  assert.equal(got[2].prevKv?.modRevision, 4);
  await s.close();
});

test('live watchers are notified before the writer resolves', async () => {
  const s = SqliteStorage.open(':memory:');
  let seen = 0;
  s.watch(P, 0, (evs) => (seen = evs[evs.length - 1].kv.modRevision));
  const kv = await s.create(k('ns', 'a'), '{}');
  assert.equal(seen, kv.modRevision);
  await s.close();
});

test('a commit that cannot be persisted rejects the whole batch; reads keep working', async (t) => {
  const s = SqliteStorage.open(join(tempDir(t), 'db.sqlite'), { quotaBytes: 64 * 1024 });
  await s.create(k('ns', 'small'), '{"ok":true}');
  const rev = s.currentRevision();
  const big = JSON.stringify({ pad: 'x'.repeat(40 * 1024) });
  const results = await Promise.allSettled([s.create(k('ns', 'tiny'), '{}'), s.create(k('ns', 'big1'), big), s.create(k('ns', 'big2'), big)]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof StorageUnavailableError);
    assert.match(r.reason.message, /full/);
  }
  assert.equal(s.currentRevision(), rev);
  assert.equal(s.stats().failedCommits, 1);
  assert.equal(await s.get(k('ns', 'tiny')), undefined, 'nothing of the failed batch is visible');
  assert.equal((await s.get(k('ns', 'small')))?.value, '{"ok":true}');
  assert.equal((await s.list(P)).items.length, 1);
  // Small writes still fit afterwards.
  assert.equal((await s.create(k('ns', 'tiny'), '{}')).modRevision, rev + 1);
  await s.close();
});

test('writes after close are refused', async () => {
  const s = SqliteStorage.open(':memory:');
  const pending = s.create(k('ns', 'a'), '{}');
  await s.close();
  assert.equal((await pending).modRevision, 1, 'queued writes are flushed by close');
  await assert.rejects(s.create(k('ns', 'b'), '{}'), StorageUnavailableError);
});
