// Read-modify-write under contention, on both backends: updates start from the watch cache's copy, which
// lags the storage while writes are in flight, and must still lose nothing and 409 exactly the stale.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { etcdSkipReason, startEtcd, type RunningEtcd } from '../etcd/harness.ts';
import { startServer, type RunningServer } from '../e2e/harness.ts';
import { closeClient, request } from '../e2e/client.ts';

const skip = etcdSkipReason();
const hosts = '/apis/metal3.io/v1alpha1/namespaces/default/baremetalhosts';
const mergePatch = { 'Content-Type': 'application/merge-patch+json' };

const host = (name: string) =>
  JSON.stringify({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name },
    spec: { online: false, bmc: { address: 'redfish://192.0.2.10/redfish/v1/Systems/1', credentialsName: 'bmc-secret' } },
  });

interface Meta {
  metadata: { resourceVersion: string; annotations?: Record<string, string>; labels?: Record<string, string> };
}

function contention(backend: string, serverArgs: () => string[]): void {
  describe(`updates under contention (${backend})`, () => {
    let server: RunningServer;
    before(async () => {
      server = await startServer(serverArgs());
    });
    after(async () => {
      closeClient(server);
      await server.stop();
    });

    test('concurrent merge patches of one host all land', async () => {
      assert.equal((await request(server, 'POST', hosts, { body: host('contended') })).status, 201);
      // Other hosts written at the same time keep the cache behind the storage, as in a busy cluster.
      const noise = Array.from({ length: 20 }, (_, i) => request(server, 'POST', hosts, { body: host(`noise-${i}`) }));
      const patches = Array.from({ length: 40 }, (_, i) =>
        request(server, 'PATCH', `${hosts}/contended`, { headers: mergePatch, body: JSON.stringify({ metadata: { annotations: { [`contention.metal3.io/a${i}`]: String(i) } } }) }),
      );
      const replies = await Promise.all([...patches, ...noise]);
      assert.deepEqual(
        replies.slice(0, 40).map((r) => r.status),
        Array<number>(40).fill(200),
      );
      const final = (await request(server, 'GET', `${hosts}/contended`)).json() as Meta;
      const ours = Object.keys(final.metadata.annotations ?? {}).filter((k) => k.startsWith('contention.metal3.io/'));
      assert.equal(ours.length, 40, `every patch is in the stored object: ${ours.join(',')}`);
    });

    test('concurrent updates pinned to one resourceVersion: exactly one wins, the others get 409', async () => {
      const created = (await request(server, 'POST', hosts, { body: host('pinned') })).json() as Meta;
      const rv = created.metadata.resourceVersion;
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          request(server, 'PATCH', `${hosts}/pinned`, { headers: mergePatch, body: JSON.stringify({ metadata: { resourceVersion: rv, labels: { winner: String(i) } } }) }),
        ),
      );
      const statuses = replies.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, ...Array<number>(9).fill(409)]);
      const winner = replies.findIndex((r) => r.status === 200);
      const final = (await request(server, 'GET', `${hosts}/pinned`)).json() as Meta;
      assert.equal(final.metadata.labels?.winner, String(winner));
      // The current resourceVersion, though the cache may not have shown it yet when the request arrived, is accepted.
      const next = await request(server, 'PATCH', `${hosts}/pinned`, { headers: mergePatch, body: JSON.stringify({ metadata: { resourceVersion: final.metadata.resourceVersion, labels: { after: 'yes' } } }) });
      assert.equal(next.status, 200, next.body);
    });

    test('a no-op patch against a lagging cache copy still applies the other writer’s change', async () => {
      await request(server, 'POST', hosts, { body: host('noop') });
      const set = (v: string) => request(server, 'PATCH', `${hosts}/noop`, { headers: mergePatch, body: JSON.stringify({ metadata: { labels: { v } } }) });
      // Alternating values written concurrently: the last acknowledged write must be what a GET returns.
      for (let round = 0; round < 5; round++) {
        const [a, b] = await Promise.all([set('a'), set('b')]);
        assert.equal(a.status, 200);
        assert.equal(b.status, 200);
        const rvA = Number((a.json() as Meta).metadata.resourceVersion);
        const rvB = Number((b.json() as Meta).metadata.resourceVersion);
        const got = (await request(server, 'GET', `${hosts}/noop`)).json() as Meta;
        if (rvA !== rvB) assert.equal(got.metadata.labels?.v, rvA > rvB ? 'a' : 'b');
      }
    });
  });
}

contention('sqlite', () => []);

let etcd: RunningEtcd | undefined;
if (skip) {
  test('updates under contention (etcd)', { skip }, () => undefined);
} else {
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await etcd?.stop();
  });
  contention('etcd', () => ['--storage-backend', 'etcd', '--etcd-servers', etcd!.endpoints.join(','), '--etcd-prefix', `/test-${randomBytes(6).toString('hex')}`]);
}
