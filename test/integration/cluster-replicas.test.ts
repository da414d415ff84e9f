// Two replicas of our server in cluster mode on one etcd, behind a real kube-apiserver: what one replica
// writes, a watcher on the other sees; killing the replica that holds the reconciler Lease in the middle of
// a write load loses no acknowledged write, and the Lease moves to the survivor, which keeps serving.
//
// Both replicas are reached directly with the cluster admin's client certificate (signed by the cluster
// CA, which cluster mode trusts), so the load can be split between them. The APIService can point at one
// of them only (an ExternalName Service has no endpoints to drop), so it is moved to the survivor before
// the leader dies, as a real Service would stop routing to a dead pod.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { controlPlaneSkipReason, startControlPlane, type ControlPlane } from '../cluster/kube-apiserver.ts';
import { stop } from '../cluster/process.ts';
import { applyStdin, LEASE_NAME, pointApiServiceAt, readLease, registerServer, startReplica, until, untilLeading, type Replica } from '../cluster/replicas.ts';
import { APISERVICE_NAME, apiServiceCondition, SERVER_NAMESPACE } from '../cluster/up.ts';

const run = promisify(execFile);
const skip = controlPlaneSkipReason();

const NS = 'replicas';
const FIELD_MANAGER = 'replicas-test';
/** cmd/metal3-apiserver.ts's defaults in cluster mode: a lease of 12 s, retried every 2 s. */
const LEASE_SECONDS = 12;
const RETRY_SECONDS = 2;
const VALUE = 'replicas.metal3.io/value';
const LOAD_SECONDS = 10;
const KILL_AFTER_SECONDS = 4;
const CLIENTS = 8;

const hostsPath = `/apis/metal3.io/v1alpha1/namespaces/${NS}/baremetalhosts`;

interface Host {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** Collects a watch stream's events as they arrive. */
function collect(res: IncomingMessage): { type: string; object: Host }[] {
  const events: { type: string; object: Host }[] = [];
  let rest = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) events.push(JSON.parse(l) as { type: string; object: Host });
  });
  res.on('error', () => {});
  return events;
}

const hex2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');

/**
 * A paused host: the reconcilers leave it alone, so after the load nothing but the test has written it and
 * its resourceVersion must be exactly the one acknowledged.
 */
function host(name: string, seq: number, value: string): { apiVersion: string; kind: string; metadata: Record<string, unknown>; spec: Record<string, unknown> } {
  return {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace: NS, annotations: { 'baremetalhost.metal3.io/paused': 'replicas-test', [VALUE]: value } },
    spec: {
      online: false,
      bootMACAddress: `52:54:01:${hex2(seq >> 16)}:${hex2(seq >> 8)}:${hex2(seq)}`,
      bmc: { address: `fake://${name}`, credentialsName: `${name}-bmc` },
      description: `written by the replicas test as ${name}`,
      // The defaults the server fills in, given up front so that what is stored equals what was sent.
      automatedCleaningMode: 'metadata',
      bootMode: 'UEFI',
    },
  };
}

async function kubectl(kubeconfig: string, args: string[]): Promise<string> {
  return (await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' })).stdout;
}

/** What each client tried for one name, in order, and how far it got acknowledged. */
interface Attempt {
  values: string[];
  spec: Record<string, unknown>;
  ackedIndex: number;
  ackedRV?: string;
  ackedBy?: string;
}

describe('two replicas on one etcd', { skip }, () => {
  let dir: string;
  let cp: ControlPlane;
  let a: Replica;
  let b: Replica;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-replicas-'));
    cp = await startControlPlane({ dir, log: (l) => console.error(l) });
    const kubeconfig = await registerServer(cp, dir, FIELD_MANAGER);
    const ns = await cp.request('/api/v1/namespaces', { method: 'POST', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
    assert.equal(ns.status, 201, ns.body);

    // A alone first, so that it is the one holding the Lease when it is killed.
    a = await startReplica(cp, dir, kubeconfig, 'a');
    await pointApiServiceAt(cp, a, FIELD_MANAGER);
    await untilLeading(a);
    b = await startReplica(cp, dir, kubeconfig, 'b');
    // The aggregator now routes to b; a keeps reconciling, through kube-apiserver and b.
    await pointApiServiceAt(cp, b, FIELD_MANAGER);
  });

  after(async () => {
    a?.close();
    b?.close();
    if (a?.proc) await stop(a.proc);
    if (b?.proc) await stop(b.proc);
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows a write on one replica to a watcher on the other', async () => {
    const list = await b.request(cp, 'GET', hostsPath);
    assert.equal(list.status, 200, list.body);
    const rv = (JSON.parse(list.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const onB = collect(await b.watch(cp, `${hostsPath}?watch=1&resourceVersion=${rv}`));
    const onA = collect(await a.watch(cp, `${hostsPath}?watch=1&resourceVersion=${rv}`));

    const created = await a.request(cp, 'POST', hostsPath, host('crossing', 0xfffff0, 'v0'));
    assert.equal(created.status, 201, created.body);
    const c = JSON.parse(created.body) as Host;
    const seenOnB = await until('ADDED on replica b', 10_000, () => onB.find((e) => e.type === 'ADDED' && e.object.metadata.name === 'crossing'));
    assert.equal(seenOnB.object.metadata.resourceVersion, c.metadata.resourceVersion);
    assert.equal(seenOnB.object.metadata.annotations?.[VALUE], 'v0');

    // And the other way round: b updates what a created, a's watcher sees b's write.
    const updated = await b.request(cp, 'PUT', `${hostsPath}/crossing`, { ...c, metadata: { ...c.metadata, annotations: { ...c.metadata.annotations, [VALUE]: 'v1' } } });
    assert.equal(updated.status, 200, updated.body);
    const u = JSON.parse(updated.body) as Host;
    const seenOnA = await until('MODIFIED on replica a', 10_000, () => onA.find((e) => e.type === 'MODIFIED' && e.object.metadata.name === 'crossing'));
    assert.equal(seenOnA.object.metadata.resourceVersion, u.metadata.resourceVersion);
    assert.equal(seenOnA.object.metadata.annotations?.[VALUE], 'v1');
    assert.ok(Number(u.metadata.resourceVersion) > Number(c.metadata.resourceVersion));
  });

  it('loses no acknowledged write and moves the Lease to the survivor when the leader is killed under load', async () => {
    const before = await readLease(cp);
    assert.equal(before?.holderIdentity, a.identity, `Lease before the kill: ${JSON.stringify(before)}`);

    const attempts = new Map<string, Attempt>();
    const acked = { a: { before: 0, after: 0 }, b: { before: 0, after: 0 } };
    let killedAt = 0;
    let seq = 0;
    const t0 = Date.now();
    const deadline = t0 + LOAD_SECONDS * 1000;

    // Each client creates a host, then updates it once, on its replica; a client of the dead replica moves
    // to the survivor, as a client behind a Service would.
    const client = async (i: number) => {
      let target = i % 2 === 0 ? a : b;
      let n = 0;
      while (Date.now() < deadline) {
        if (target === a && killedAt) target = b;
        const name = `c${i}-${n++}`;
        const value = (k: number) => `${name}/${k}`;
        const body = host(name, ++seq, value(0));
        const att: Attempt = { values: [value(0)], spec: body.spec, ackedIndex: -1 };
        attempts.set(name, att);
        const ack = (r: Replica, k: number, obj: Host) => {
          att.ackedIndex = k;
          att.ackedRV = obj.metadata.resourceVersion;
          att.ackedBy = r.name;
          acked[r.name as 'a' | 'b'][killedAt ? 'after' : 'before']++;
        };
        const r0 = target;
        const created = await r0.request(cp, 'POST', hostsPath, body).catch(() => undefined);
        if (created?.status !== 201) {
          if (!created) await sleep(50);
          continue;
        }
        const obj = JSON.parse(created.body) as Host;
        ack(r0, 0, obj);
        if (target === a && killedAt) target = b;
        const r1 = target;
        att.values.push(value(1));
        const next = { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [VALUE]: value(1) } } };
        const updated = await r1.request(cp, 'PUT', `${hostsPath}/${name}`, next).catch(() => undefined);
        if (updated?.status === 200) ack(r1, 1, JSON.parse(updated.body) as Host);
      }
    };
    const killer = (async () => {
      await sleep(KILL_AFTER_SECONDS * 1000);
      process.kill(a.proc.pid, 'SIGKILL');
      killedAt = Date.now();
    })();
    await Promise.all([killer, ...Array.from({ length: CLIENTS }, (_, i) => client(i))]);
    await until('replica a gone', 5000, () => (a.proc.exited() ? true : undefined));
    console.error(`acknowledged writes: ${JSON.stringify(acked)} of ${attempts.size} hosts attempted in ${LOAD_SECONDS}s`);
    // The drill means something only if both replicas acknowledged writes and the survivor kept doing so.
    assert.ok(acked.a.before > 0 && acked.b.before > 0 && acked.b.after > 0, JSON.stringify(acked));

    // Every acknowledged write, read back through the survivor.
    const list = await b.request(cp, 'GET', hostsPath, undefined, 30_000);
    assert.equal(list.status, 200, list.body);
    const stored = new Map((JSON.parse(list.body) as { items: Host[] }).items.map((h) => [h.metadata.name, h]));
    let checked = 0;
    for (const [name, att] of attempts) {
      const h = stored.get(name);
      if (att.ackedIndex < 0) {
        // Unacknowledged: it may or may not have landed, but if it did it is intact.
        if (h) assert.equal(h.metadata.annotations?.[VALUE], att.values[0], name);
        continue;
      }
      assert.ok(h, `${name}: acknowledged (by ${att.ackedBy} at ${att.ackedRV}) but missing`);
      const v = h.metadata.annotations?.[VALUE] ?? '';
      const at = att.values.indexOf(v);
      assert.ok(at >= att.ackedIndex, `${name}: holds ${v}, older than the acknowledged ${att.values[att.ackedIndex]}`);
      // Nothing else writes these hosts: the acknowledged value comes back at the acknowledged revision.
      if (at === att.ackedIndex) assert.equal(h.metadata.resourceVersion, att.ackedRV, name);
      assert.deepEqual(h.spec, att.spec, `${name}: spec differs from what was written`);
      checked++;
    }
    for (const name of stored.keys()) assert.ok(name === 'crossing' || attempts.has(name), `${name}: never written`);
    console.error(`${checked} acknowledged hosts read back intact through replica b`);

    // The Lease: a renewed it last at before.renewTime (or later); b takes it once it has seen no renewal
    // for a lease duration, checking every retry period.
    const after = await until('Lease held by replica b', (LEASE_SECONDS + 3 * RETRY_SECONDS + 5) * 1000, async () => {
      const l = await readLease(cp);
      return l?.holderIdentity === b.identity ? l : undefined;
    });
    const movedMs = Date.now() - killedAt;
    console.error(`Lease ${LEASE_NAME}: ${before.holderIdentity} -> ${after.holderIdentity}, ${movedMs} ms after the kill (${JSON.stringify(after)})`);
    assert.ok(Date.parse(after.acquireTime ?? '') - killedAt <= (LEASE_SECONDS + 2 * RETRY_SECONDS + 3) * 1000, JSON.stringify(after));
    assert.equal(after.leaseTransitions, (before.leaseTransitions ?? 0) + 1);
    // The survivor logs right after its Lease update lands; its stdout can reach us after the Lease does.
    const leads = new RegExp(`${b.identity} leads ${SERVER_NAMESPACE}/${LEASE_NAME}`);
    await until('replica b logs that it leads', 5000, () => (leads.test(b.log()) ? true : undefined));
  });

  it('keeps serving through kube-apiserver on the survivor', async () => {
    assert.equal(b.proc.exited(), undefined);
    const names = await until('kubectl get through kube-apiserver', 15_000, async () => {
      try {
        return (await kubectl(cp.adminKubeconfig, ['get', 'baremetalhosts', '-n', NS, '-o', 'name'])).trim().split('\n');
      } catch {
        return undefined;
      }
    });
    assert.ok(names.includes('baremetalhost.metal3.io/crossing'), names.slice(0, 5).join(' '));
    await applyStdin(cp.adminKubeconfig, JSON.stringify(host('after-failover', 0xfffff1, 'v0')), FIELD_MANAGER);
    const got = JSON.parse(await kubectl(cp.adminKubeconfig, ['get', 'bmh', '-n', NS, 'after-failover', '-o', 'json'])) as Host;
    assert.equal(got.metadata.annotations?.[VALUE], 'v0');
    const direct = await b.request(cp, 'GET', `${hostsPath}/after-failover`);
    assert.equal(direct.status, 200, direct.body);
    assert.equal((await apiServiceCondition(cp)).status, 'True', APISERVICE_NAME);
  });
});
