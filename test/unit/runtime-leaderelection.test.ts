import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../api/types.ts';
import { LeaderElector } from '../../reconcilers/runtime/leaderelection.ts';
import { APIError, type KubeClient } from '../../api/client/types.ts';

/** One Lease with optimistic concurrency, as the API server keeps it. */
function leaseStore() {
  let lease: KubeObject | undefined;
  let rv = 0;
  const unused = () => Promise.reject(new Error('not used'));
  const client: KubeClient = {
    get: async () => (lease ? structuredClone(lease) : undefined),
    create: async (_t, obj) => {
      if (lease) throw new APIError(409, 'AlreadyExists', 'exists');
      lease = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      return lease;
    },
    update: async (_t, obj) => {
      if (!lease || obj.metadata.resourceVersion !== lease.metadata.resourceVersion) throw new APIError(409, 'Conflict', 'modified');
      lease = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      return lease;
    },
    list: unused,
    patch: unused,
    delete: unused,
    watch: () => () => {},
  };
  return { client, holder: () => (lease?.spec as { holderIdentity?: string | null } | undefined)?.holderIdentity };
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
};

test('one of two replicas leads; on release the other takes over at once', async () => {
  const store = leaseStore();
  const log: string[] = [];
  const elector = (id: string) =>
    new LeaderElector({
      client: store.client,
      namespace: 'ns',
      name: 'baremetal-operator',
      identity: id,
      leaseDurationMs: 60_000,
      retryPeriodMs: 20,
      onStartedLeading: () => log.push(`${id} leads`),
      onStoppedLeading: () => log.push(`${id} stops`),
    });
  const a = elector('a');
  const b = elector('b');
  a.start();
  await until(() => a.isLeader());
  b.start();
  await sleep(100);
  assert.equal(b.isLeader(), false, 'b waits while a renews');
  assert.equal(store.holder(), 'a');
  await a.stop();
  assert.equal(a.isLeader(), false);
  // The lease lasts a minute, so b can only lead this soon because a released it.
  await until(() => b.isLeader(), 1000);
  assert.equal(store.holder(), 'b');
  await b.stop();
  assert.deepEqual(log, ['a leads', 'a stops', 'b leads', 'b stops']);
});

test('a lease nobody renews expires and is taken over', async () => {
  const store = leaseStore();
  const dead = new LeaderElector({
    client: store.client,
    namespace: 'ns',
    name: 'l',
    identity: 'dead',
    leaseDurationMs: 1000,
    retryPeriodMs: 20,
    onStartedLeading() {},
    onStoppedLeading() {},
  });
  dead.start();
  await until(() => dead.isLeader());
  // Crash without releasing: stop the loop but keep the lease held.
  (dead as unknown as { running: boolean }).running = false;
  const b = new LeaderElector({
    client: store.client,
    namespace: 'ns',
    name: 'l',
    identity: 'b',
    leaseDurationMs: 1000,
    retryPeriodMs: 20,
    onStartedLeading() {},
    onStoppedLeading() {},
  });
  const t0 = performance.now();
  b.start();
  await until(() => b.isLeader(), 3000);
  assert.ok(performance.now() - t0 >= 900, 'not before the lease expired');
  await b.stop();
});
