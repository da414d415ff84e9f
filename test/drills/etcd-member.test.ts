// Drill: a three-member etcd cluster under an 8-client write load loses a member to SIGKILL (the leader,
// so an election happens), and the member returns. No acknowledged write may be lost, and the API must
// keep serving: failed requests are counted, and they may only fall in a short window after the kill
// (the election), never after it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { etcdSkipReason, startEtcdCluster, type EtcdMember, type RunningEtcd } from '../etcd/harness.ts';
import { DrillServer, ensureNamespace, findInvalid, findLostWrites, hostsPath, long, report, WriteLoad } from './lib.ts';

const NS = 'drill';
const ROUNDS = long ? 5 : 1;
/** Election timeout is 500 ms in the harness; the client's retry and a new leader's first commit fit in 5 s. */
const ERROR_WINDOW_MS = 5000;

/** The PID of the etcd process serving this member's data directory (a process the harness started). */
function memberPid(m: EtcdMember): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0].endsWith('etcd') && argv.includes(m.dataDir)) return Number(entry);
    } catch {
      // Gone while we read.
    }
  }
  throw new Error(`no etcd process for ${m.name}`);
}

function leaderOf(etcd: RunningEtcd): EtcdMember {
  const r = spawnSync('etcdctl', ['--endpoints', etcd.endpoints.join(','), 'endpoint', 'status', '-w', 'json'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
  const statuses = JSON.parse(r.stdout) as { Endpoint: string; Status: { header: { member_id: number }; leader: number } }[];
  const leader = statuses.find((s) => s.Status.header.member_id === s.Status.leader);
  if (!leader) throw new Error(`no leader: ${r.stdout} ${r.stderr}`);
  return etcd.members.find((m) => m.clientURL === leader.Endpoint)!;
}

describe('drill: an etcd member dies and returns', { skip: etcdSkipReason(), timeout: long ? 600_000 : 120_000 }, () => {
  let etcd: RunningEtcd | undefined;
  let server: DrillServer | undefined;
  after(async () => {
    await server?.stop();
    await etcd?.stop();
  });

  it('loses no acknowledged write and keeps serving', async () => {
    const began = performance.now();
    etcd = await startEtcdCluster(3);
    server = new DrillServer({ args: ['--storage-backend', 'etcd', '--etcd-servers', etcd.endpoints.join(',')] });
    await server.start();
    await ensureNamespace(server, NS);
    const load = new WriteLoad(server, NS);
    // Reads go on beside the writes: a LIST every 100 ms, its failures counted the same way.
    let reading = true;
    const readFailures: { sent: number; tookMs: number }[] = [];
    let reads = 0;
    const t0 = performance.now();
    const reader = (async () => {
      while (reading) {
        const sent = performance.now() - t0;
        const r = await server!.request('GET', `${hostsPath(NS)}?limit=50`).catch(() => undefined);
        reads += 1;
        if (r?.status !== 200) readFailures.push({ sent, tookMs: performance.now() - t0 - sent });
        await sleep(100);
      }
    })();
    load.start(8);
    const kills: number[] = [];
    const killed: string[] = [];
    const returnMs: number[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await sleep(2000);
        const victim = leaderOf(etcd);
        killed.push(victim.name);
        kills.push(performance.now() - t0);
        process.kill(memberPid(victim), 'SIGKILL');
        await sleep(4000);
        const back = performance.now();
        await victim.start();
        returnMs.push(Math.round(performance.now() - back));
      }
      await sleep(2000);
    } finally {
      reading = false;
      await load.stop();
      await reader;
    }
    // A failure is allowed when the request was in flight at some time within a kill's election window:
    // one sent just before the kill and stuck on the dead leader is the election's as much as one sent after.
    const inWindow = (f: { sent: number; tookMs: number }) => kills.some((k) => f.sent <= k + ERROR_WINDOW_MS && f.sent + f.tookMs >= k);
    const outside = [...load.stats.failures.map((f) => ({ ...f, sent: Math.round(f.sent - t0) })), ...readFailures.map((f) => ({ kind: 'read', ...f }))].filter((f) => !inWindow(f));
    const final = await findLostWrites(server, NS, new Map(load.acked), load.inDoubt);
    const invalid = await findInvalid(server, NS, final.hosts);
    report('etcd-member-loss', {
      rounds: ROUNDS,
      killed,
      ackedWrites: load.stats.ok,
      failedWrites: load.stats.failed,
      reads,
      failedReads: readFailures.length,
      errorsOutsideElectionWindow: outside.length,
      memberReturnMs: returnMs,
      objects: final.hosts.length,
      supersededByInDoubtWrite: final.supersededByInDoubt,
      seconds: Math.round((performance.now() - began) / 100) / 10,
    });
    assert.deepEqual(final.problems, [], 'acknowledged writes lost');
    assert.deepEqual(invalid, []);
    assert.deepEqual(outside, [], `requests failed outside the ${ERROR_WINDOW_MS} ms after a kill (kills at ${kills.map(Math.round).join(', ')} ms)`);
    assert.ok(load.stats.ok > 100, `too little load to prove anything: ${load.stats.ok}`);
  });
});
