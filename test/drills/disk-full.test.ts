// Drill: the data directory's filesystem fills up (an 8 MiB tmpfs, which needs root to mount). Writes must
// fail with a 5xx Status that names the cause, reads must keep working, nothing stored may be damaged, and
// once space is freed writes must work again without a restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrillServer, ensureNamespace, findInvalid, findLostWrites, hostsPath, loadHost, report, SEQ } from './lib.ts';

const NS = 'drill';

function mountReason(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  const why = 'mounting a tmpfs needs root';
  if (process.env.CI === 'true') throw new Error(`${why}, and CI=true`);
  return why;
}

/** Fills the filesystem with a file of zeros until the kernel refuses (ENOSPC), in 256 KiB steps. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const chunk = Buffer.alloc(256 * 1024);
  writeFileSync(file, '');
  for (let i = 0; i < 1000; i++) {
    try {
      writeFileSync(file, chunk, { flag: 'a' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return file;
      throw err;
    }
  }
  throw new Error('the tmpfs never filled up');
}

describe('drill: the disk fills up', { skip: mountReason(), timeout: 120_000 }, () => {
  let mnt = '';
  let server: DrillServer;

  before(() => {
    mnt = mkdtempSync(join(tmpdir(), 'metal3-drill-tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount -t tmpfs failed: ${r.stderr}`);
    server = new DrillServer({ dataDir: join(mnt, 'data') });
  });

  after(async () => {
    await server?.stop();
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('refuses writes with a 5xx Status naming the cause, keeps serving reads, loses nothing, recovers', async () => {
    const began = performance.now();
    await server.start();
    await ensureNamespace(server, NS);
    const acked = new Map<string, number>();
    for (let i = 0; i < 50; i++) {
      const r = await server.request('POST', hostsPath(NS), loadHost(NS, `h${i}`, 1));
      assert.equal(r.status, 201, r.body);
      acked.set(`h${i}`, 1);
    }
    const filler = fill(mnt);

    // Large annotations need new pages soon, whatever slack the database and its WAL still have.
    const padding = 'x'.repeat(100_000);
    let refused: { status: number; body: string } | undefined;
    let seq = 1;
    for (let i = 0; i < 200 && !refused; i++) {
      seq += 1;
      const name = `h${i % 50}`;
      const r = await server.request('PATCH', `${hostsPath(NS)}/${name}`, { metadata: { annotations: { [SEQ]: String(seq), pad: padding } }, spec: { description: `seq-${seq}` } }, { contentType: 'application/merge-patch+json' });
      if (r.status === 200) acked.set(name, seq);
      else refused = r;
    }
    assert.ok(refused, 'no write was refused on a full disk');
    assert.ok(refused.status === 503 || refused.status === 507, `a full disk answered ${refused.status}: ${refused.body}`);
    const status = JSON.parse(refused.body) as { kind?: string; code?: number; message?: string };
    assert.equal(status.kind, 'Status', refused.body);
    assert.equal(status.code, refused.status);
    assert.match(status.message ?? '', /full|space|ENOSPC|SQLITE_FULL|storage/i, `the message should name the cause: ${status.message}`);

    // A second write is refused too, not half-applied, and reads keep working meanwhile.
    const again = await server.request('POST', hostsPath(NS), loadHost(NS, 'late', 1));
    assert.ok(again.status >= 500, `a write on a full disk answered ${again.status}`);
    const reads = await findLostWrites(server, NS, acked);
    assert.deepEqual(reads.problems, []);
    const one = await server.request('GET', `${hostsPath(NS)}/h0`);
    assert.equal(one.status, 200, one.body);
    const health = await server.request('GET', '/livez');
    assert.equal(health.status, 200, health.body);

    rmSync(filler);
    let recovered = 0;
    const deadline = Date.now() + 10_000;
    while (!recovered) {
      const r = await server.request('POST', hostsPath(NS), loadHost(NS, `after-${Date.now()}`, 1));
      if (r.status === 201) recovered = Date.now();
      else assert.ok(Date.now() < deadline, `writes still fail 10 s after space was freed: ${r.status} ${r.body}`);
    }
    const final = await findLostWrites(server, NS, acked);
    assert.deepEqual(final.problems, []);
    assert.deepEqual(await findInvalid(server, NS, final.hosts), []);

    // And after a restart on the same directory: the database itself is intact.
    await server.stop({ keepDataDir: true });
    await server.start();
    const restarted = await findLostWrites(server, NS, acked);
    assert.deepEqual(restarted.problems, []);
    const integrity = spawnSync('sqlite3', [join(server.dataDir, 'state.db'), 'PRAGMA integrity_check'], { encoding: 'utf8' });
    if (integrity.status === 0) assert.equal(integrity.stdout.trim(), 'ok');
    report('disk-full', {
      refusedWith: refused.status,
      message: status.message,
      objects: restarted.hosts.length,
      integrityCheck: integrity.status === 0 ? integrity.stdout.trim() : 'sqlite3 not installed',
      seconds: Math.round((performance.now() - began) / 100) / 10,
    });
  });
});
