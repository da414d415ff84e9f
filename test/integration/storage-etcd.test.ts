// EtcdStorage against Debian's etcd on loopback: the storage contract (also run on SQLite here, so both
// backends answer the same suite side by side), two replicas sharing one etcd, a three-member cluster
// over TLS that loses and regains a member, and the standalone server on etcd driven by kubectl.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStorage } from '../../apiserver/storage/etcd.ts';
import { SqliteStorage } from '../../apiserver/storage/sqlite.ts';
import { StorageUnavailableError, type StorageEvent } from '../../apiserver/storage/interface.ts';
import { etcdSkipReason, startEtcd, startEtcdCluster, type RunningEtcd } from '../etcd/harness.ts';
import { eventually, storageContract } from '../unit/storage-contract.ts';
import { startServer, requireKubectl } from '../e2e/harness.ts';

const skip = etcdSkipReason();
const uniquePrefix = () => `/test-${randomBytes(6).toString('hex')}`;

storageContract('sqlite', async () => SqliteStorage.open(':memory:'));

let etcd: RunningEtcd | undefined;
before(async () => {
  if (!skip) etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

const node = () => {
  assert.ok(etcd, 'etcd is running');
  return etcd;
};

if (skip) {
  test('etcd storage', { skip }, () => undefined);
} else {
  storageContract('etcd', () => EtcdStorage.open({ endpoints: node().endpoints, prefix: uniquePrefix() }));

  test('two replicas on one etcd: a write on one reaches a watcher on the other', async () => {
    const prefix = uniquePrefix();
    const a = await EtcdStorage.open({ endpoints: node().endpoints, prefix });
    const b = await EtcdStorage.open({ endpoints: node().endpoints, prefix });
    try {
      const seen: StorageEvent[] = [];
      b.watch('/', b.currentRevision(), (evs) => seen.push(...evs));
      const kv = await a.create('/metal3.io/baremetalhosts/ns/h1', '{"x":1}');
      await eventually(() => seen.length === 1, 'the event on the other replica');
      assert.equal(seen[0].kv.modRevision, kv.modRevision);
      assert.equal(seen[0].kv.value, '{"x":1}');
      assert.ok(b.currentRevision() >= kv.modRevision);
      // A stale read on b still cannot overwrite: the precondition is etcd's.
      await a.update(kv.key, '{"x":2}', kv.modRevision);
      await assert.rejects(b.update(kv.key, '{"x":3}', kv.modRevision), /revision conflict/);
      assert.ok(b.committedRevision() >= kv.modRevision + 1, 'the conflict reported the newer revision');
      // A compaction by one replica is known to the other through the compaction key.
      await a.compact(kv.modRevision);
      await eventually(() => b.compactedRevision() === kv.modRevision, 'the compaction on the other replica');
      assert.throws(() => b.watch('/', kv.modRevision - 1, () => undefined), /compacted/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('etcd unreachable: StorageUnavailableError', async () => {
    const s = await EtcdStorage.open({ endpoints: node().endpoints, prefix: uniquePrefix(), requestTimeoutMs: 1000 });
    await s.close();
    await assert.rejects(s.get('/x'), StorageUnavailableError);
    await assert.rejects(EtcdStorage.open({ endpoints: ['http://127.0.0.1:1'], requestTimeoutMs: 1000 }), StorageUnavailableError);
  });
}

test('a three-member cluster over TLS keeps serving while one member is down', { skip, timeout: 120_000 }, async () => {
  const cluster = await startEtcdCluster(3, { tls: true });
  try {
    assert.ok(cluster.tls);
    const s = await EtcdStorage.open({ endpoints: cluster.endpoints, prefix: uniquePrefix(), requestTimeoutMs: 3000, ...cluster.tls });
    try {
      const seen: StorageEvent[] = [];
      s.watch('/', s.currentRevision(), (evs) => seen.push(...evs));
      const written: string[] = [];
      for (let i = 0; i < 5; i++) written.push((await s.create(`/k/before-${i}`, '{}')).key);
      await cluster.members[0].stop();
      // Requests that land on the stopped member fail over to the others.
      for (let i = 0; i < 20; i++) written.push((await s.create(`/k/during-${i}`, '{}')).key);
      await cluster.members[0].start();
      for (let i = 0; i < 5; i++) written.push((await s.create(`/k/after-${i}`, '{}')).key);
      assert.deepEqual((await s.list('/k/')).items.map((i) => i.key).sort(), written.sort());
      await eventually(() => seen.length === written.length, 'every event through the outage', 15_000);
    } finally {
      await s.close();
    }
    // Without a client certificate the members refuse us.
    await assert.rejects(EtcdStorage.open({ endpoints: cluster.endpoints, ca: cluster.tls.ca, requestTimeoutMs: 1500 }), StorageUnavailableError);
  } finally {
    await cluster.stop();
  }
});

test('a member that stops answering without closing its connection is left for another', { skip, timeout: 120_000 }, async () => {
  const cluster = await startEtcdCluster(3);
  const frozen = cluster.members[0];
  try {
    // The first endpoint is the one the storage connects to.
    const s = await EtcdStorage.open({ endpoints: cluster.endpoints, prefix: uniquePrefix(), requestTimeoutMs: 1500, ackTimeoutMs: 10_000 });
    try {
      const seen: StorageEvent[] = [];
      s.watch('/', s.currentRevision(), (evs) => seen.push(...evs));
      await s.create('/k/before', '{}');
      frozen.signal('SIGSTOP');
      const started = Date.now();
      // The TCP connection stays up, so only the deadline and the unanswered ping tell.
      let kv: Awaited<ReturnType<EtcdStorage['get']>>;
      for (;;) {
        try {
          kv = await s.get('/k/before');
          break;
        } catch (err) {
          assert.ok(err instanceof StorageUnavailableError, String(err));
          assert.ok(Date.now() - started < 15_000, `still failing after 15 s: ${(err as Error).message}`);
        }
      }
      assert.equal(kv?.key, '/k/before');
      // Writes and the hub watch moved too: the create resolves once its event is delivered.
      const created = await s.create('/k/after', '{}');
      await eventually(() => seen.some((e) => e.kv.key === created.key), 'the event of the write after failover');
    } finally {
      await s.close();
    }
  } finally {
    frozen.signal('SIGCONT');
    await cluster.stop();
  }
});

test('the standalone server on etcd serves kubectl create, get and watch of a BareMetalHost', { skip, timeout: 120_000 }, async () => {
  requireKubectl();
  const server = await startServer(['--storage-backend', 'etcd', '--etcd-servers', node().endpoints.join(','), '--etcd-prefix', uniquePrefix()]);
  const dir = mkdtempSync(join(tmpdir(), 'etcd-e2e-'));
  try {
    const kubectl = (...args: string[]) => spawnSync('kubectl', ['--kubeconfig', server.kubeconfig, ...args], { encoding: 'utf8', timeout: 30_000 });
    const manifest = join(dir, 'bmh.yaml');
    writeFileSync(
      manifest,
      `apiVersion: metal3.io/v1alpha1
kind: BareMetalHost
metadata:
  name: on-etcd
  namespace: default
spec:
  online: false
  bmc:
    address: redfish://192.0.2.1/redfish/v1/Systems/1
    credentialsName: bmc-secret
`,
    );
    const { spawn } = await import('node:child_process');
    const watcher = spawn('kubectl', ['--kubeconfig', server.kubeconfig, 'get', 'bmh', '-n', 'default', '--watch', '-o', 'name'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let watched = '';
    watcher.stdout.on('data', (d: Buffer) => (watched += d.toString()));
    try {
      const created = kubectl('create', '-f', manifest);
      assert.equal(created.status, 0, created.stderr);
      const got = kubectl('get', 'bmh', 'on-etcd', '-n', 'default', '-o', 'jsonpath={.metadata.name} {.metadata.resourceVersion}');
      assert.equal(got.status, 0, got.stderr);
      assert.match(got.stdout, /^on-etcd \d+$/);
      await eventually(() => watched.includes('baremetalhost.metal3.io/on-etcd'), 'kubectl --watch to print the host', 15_000);
    } finally {
      watcher.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
});
