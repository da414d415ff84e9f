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

// ---- durability: group commit with an fdatasync of the WAL off the event loop ----

type SyncDone = (err: Error | null) => void;

/** A syncWal that holds every sync until the test releases it, recording the descriptors it was given. */
function heldSync() {
  const pending: SyncDone[] = [];
  const fds: number[] = [];
  return {
    syncWal: (fd: number, done: SyncDone) => {
      fds.push(fd);
      pending.push(done);
    },
    fds,
    pending,
    release(err: Error | null = null) {
      const done = pending.shift();
      assert.ok(done, 'a sync was in flight');
      done(err);
    },
  };
}

const settle = async () => {
  for (let i = 0; i < 3; i++) await tick();
};

test('a write is acknowledged and published only after an fdatasync that started after its commit', async (t) => {
  const sync = heldSync();
  const s = SqliteStorage.open(join(tempDir(t), 'db.sqlite'), { syncWal: sync.syncWal });
  const seen: number[] = [];
  s.watch(P, 0, (evs) => seen.push(...evs.map((e) => e.kv.modRevision)));
  let acked = false;
  const a = s.create(k('ns', 'a'), '{"v":1}').then((kv) => ((acked = true), kv));
  await settle();
  assert.equal(sync.pending.length, 1, 'the commit started a sync');
  assert.equal(acked, false, 'not acknowledged before the sync completes');
  assert.deepEqual(seen, [], 'watchers do not see a write that is not durable');
  assert.equal(s.currentRevision(), 0);
  assert.equal(s.committedRevision(), 1);
  assert.equal((await s.get(k('ns', 'a')))?.value, '{"v":1}', 'preconditions and get() see the committed row');
  assert.deepEqual((await s.list(P)).items, [], 'lists stand at the durable revision');

  // Committed while the first sync runs: it must wait for a second sync, not ride on the first.
  let bAcked = false;
  const b = s.create(k('ns', 'b'), '{}').then((kv) => ((bAcked = true), kv));
  await settle();
  assert.equal(sync.pending.length, 1, 'one sync at a time');
  sync.release();
  assert.equal((await a).modRevision, 1);
  await settle();
  assert.equal(bAcked, false);
  assert.deepEqual(seen, [1]);
  assert.equal(sync.pending.length, 1, 'the next sync covers the write committed meanwhile');
  sync.release();
  assert.equal((await b).modRevision, 2);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(s.currentRevision(), 2);
  assert.ok(sync.fds.every((fd) => fd === sync.fds[0] && fd > 2), 'the -wal file is synced through one descriptor');
  assert.deepEqual(s.stats(), { commits: 2, writes: 2, failedCommits: 0, syncs: 2, failedSyncs: 0 });
  await s.close();
});

test('concurrent writers share one fdatasync and settle in revision order', async (t) => {
  const sync = heldSync();
  const s = SqliteStorage.open(join(tempDir(t), 'db.sqlite'), { syncWal: sync.syncWal });
  const order: string[] = [];
  s.watch(P, 0, (evs) => order.push(...evs.map((e) => `event ${e.kv.modRevision}`)));
  const first = s.create(k('ns', 'first'), '{}').then((kv) => order.push(`ack ${kv.modRevision}`));
  await settle();
  // Three more event-loop turns of writes while the first sync is held: three commits, one next sync.
  const rest: Promise<unknown>[] = [];
  for (let turn = 0; turn < 3; turn++) {
    for (let i = 0; i < 4; i++) rest.push(s.create(k('ns', `w${turn}-${i}`), '{}').then((kv) => order.push(`ack ${kv.modRevision}`)));
    await tick();
  }
  // A stale precondition behind them is rejected only after them, never ahead of earlier writes.
  const stale = s.update(k('ns', 'first'), '{}', 99).catch((e: unknown) => {
    order.push('conflict');
    return e;
  });
  await settle();
  assert.equal(s.stats().commits, 5);
  sync.release();
  await first;
  await settle();
  assert.equal(sync.pending.length, 1);
  sync.release();
  await Promise.all(rest);
  assert.ok((await stale) instanceof RevisionConflictError);
  assert.equal(s.stats().syncs, 2, '13 writes, 2 syncs');
  // Watchers hear of each write before its writer does.
  for (let r = 1; r <= 13; r++) assert.ok(order.indexOf(`event ${r}`) < order.indexOf(`ack ${r}`), `event ${r} before its ack`);
  const acks = order.filter((o) => o.startsWith('ack')).map((o) => Number(o.slice(4)));
  assert.deepEqual(acks, [...acks].sort((x, y) => x - y), 'acknowledged in revision order');
  assert.equal(order.at(-1), 'conflict');
  await s.close();
});

test('a failed fdatasync rejects its writes and refuses writes until a later sync succeeds', async (t) => {
  const sync = heldSync();
  const s = SqliteStorage.open(join(tempDir(t), 'db.sqlite'), { syncWal: sync.syncWal });
  const seen: string[] = [];
  s.watch(P, 0, (evs) => seen.push(...evs.map((e) => e.kv.key)));
  const ok = s.create(k('ns', 'ok'), '{}');
  await settle();
  sync.release();
  await ok;

  const lost = s.create(k('ns', 'lost'), '{}');
  await settle();
  const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  sync.release(eio);
  await assert.rejects(lost, (e: unknown) => e instanceof StorageUnavailableError && /EIO/.test(e.message));
  assert.deepEqual(seen, [k('ns', 'ok')], 'a write that is not known durable is never published');
  assert.equal(s.currentRevision(), 1);
  assert.equal(s.stats().failedSyncs, 1);

  // Refused, but the attempt probes the disk with a fresh sync; while that fails too, still refused.
  await assert.rejects(s.create(k('ns', 'refused1'), '{}'), StorageUnavailableError);
  assert.equal(sync.pending.length, 1, 'a refused write starts a probe sync');
  sync.release(eio);
  await assert.rejects(s.create(k('ns', 'refused2'), '{}'), StorageUnavailableError);
  sync.release(); // the disk is back
  await settle();
  // The rejected write's row was committed and is now durable: published, so the cache matches SQL.
  assert.deepEqual(seen, [k('ns', 'ok'), k('ns', 'lost')]);
  assert.equal(s.currentRevision(), 2);
  assert.equal(await s.get(k('ns', 'refused1')), undefined, 'refused writes were never applied');
  const after = s.create(k('ns', 'after'), '{}');
  await settle();
  sync.release();
  assert.equal((await after).modRevision, 3);
  await s.close();
});

test('close settles writes whose sync is in flight', async (t) => {
  const file = join(tempDir(t), 'db.sqlite');
  const sync = heldSync();
  const s = SqliteStorage.open(file, { syncWal: sync.syncWal });
  const a = s.create(k('ns', 'a'), '{}');
  await settle();
  const closed = s.close();
  sync.release();
  assert.equal((await a).modRevision, 1);
  await closed;
  const again = SqliteStorage.open(file);
  assert.equal(again.currentRevision(), 1);
  await again.close();
});

test('the real fdatasync: many concurrent writers share syncs on a file database', async (t) => {
  const s = SqliteStorage.open(join(tempDir(t), 'db.sqlite'));
  const worker = async (w: number) => {
    for (let i = 0; i < 40; i++) await s.create(k('ns', `w${w}-${i}`), `{"i":${i}}`);
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  const st = s.stats();
  assert.equal(st.writes, 320);
  assert.equal(st.failedSyncs, 0);
  assert.ok(st.syncs > 0 && st.syncs < 320, `writes share syncs (${st.syncs} syncs for 320 writes)`);
  assert.equal((await s.list(P)).items.length, 320);
  await s.close();
});

// A writer process killed with SIGKILL mid-storm: every key it acknowledged must survive, with its value.
const storageModule = new URL('../../apiserver/storage/sqlite.ts', import.meta.url).href;
const writerScript = (file: string) => `
  const { SqliteStorage } = await import(${JSON.stringify(storageModule)});
  const s = SqliteStorage.open(${JSON.stringify(file)});
  let n = 0;
  const worker = async (w) => {
    for (;;) {
      const i = n++;
      const key = '/crash/' + w + '/' + i;
      await s.create(key, JSON.stringify({ key, i, pad: 'x'.repeat(i % 3000) }));
      process.stdout.write(key + '\\n');
    }
  };
  for (let w = 0; w < 8; w++) void worker(w);
`;

test('crash safety: every write acknowledged before kill -9 is there after reopening', async (t) => {
  const { spawn } = await import('node:child_process');
  const dir = tempDir(t);
  for (let round = 0; round < 3; round++) {
    const file = join(dir, `crash-${round}.sqlite`);
    const child = spawn(process.execPath, ['--input-type=module', '-e', writerScript(file)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    // Kill once the storm is well under way (or after a bound, whatever it reached), at a varying moment.
    const target = 300 + round * 400;
    const deadline = Date.now() + 4000;
    while (out.split('\n').length < target && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    const acked = out.split('\n').filter((l) => l.startsWith('/crash/'));
    t.diagnostic(`round ${round}: killed after ${acked.length} acknowledged writes`);
    assert.ok(acked.length > 50, `round ${round}: the writer acknowledged only ${acked.length} writes`);
    const s = SqliteStorage.open(file);
    try {
      for (const key of acked) {
        const kv = await s.get(key);
        assert.ok(kv, `round ${round}: acknowledged ${key} is missing after the crash`);
        const v = JSON.parse(kv.value) as { key: string; i: number; pad: string };
        assert.equal(v.key, key);
        assert.equal(v.pad.length, v.i % 3000);
      }
      assert.ok(s.currentRevision() >= acked.length);
    } finally {
      await s.close();
    }
  }
});
