import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../api/types.ts';
import { Informer, specOrMetadataChanged } from '../../api/client/informer.ts';
import { APIError, type KubeClient, type ResourceType, type WatchEvent } from '../../api/client/types.ts';

const bmhType: ResourceType = { group: 'metal3.io', version: 'v1alpha1', plural: 'baremetalhosts', kind: 'BareMetalHost', namespaced: true };

const host = (name: string, rv: string, extra: Partial<KubeObject['metadata']> = {}, status?: unknown): KubeObject => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { namespace: 'ns', name, resourceVersion: rv, generation: 1, ...extra },
  ...(status ? { status } : {}),
});

interface OpenWatch {
  rv: string;
  onEvent: (ev: WatchEvent) => void;
  onClose: (err?: Error) => void;
  stopped: boolean;
}

/** Serves list from `objects`, records watches so the test can feed and end them. */
class FakeClient {
  objects: KubeObject[] = [];
  rv = '10';
  lists = 0;
  listFailures = 0;
  watches: OpenWatch[] = [];

  asClient(): KubeClient {
    const unused = () => Promise.reject(new Error('not used'));
    return {
      list: async () => {
        this.lists++;
        if (this.listFailures > 0) {
          this.listFailures--;
          throw new Error('connection refused');
        }
        return { items: this.objects.map((o) => structuredClone(o)), resourceVersion: this.rv };
      },
      watch: (_t, _ns, rv, onEvent, onClose) => {
        const w: OpenWatch = { rv, onEvent, onClose, stopped: false };
        this.watches.push(w);
        return () => {
          w.stopped = true;
        };
      },
      get: unused,
      create: unused,
      update: unused,
      patch: unused,
      delete: unused,
    };
  }

  last(): OpenWatch {
    const w = this.watches.at(-1);
    assert.ok(w, 'a watch is open');
    return w;
  }
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
};

function recording(inf: Informer) {
  const log: string[] = [];
  inf.addHandler({
    onAdd: (o) => log.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
    onUpdate: (o, n) => log.push(`update ${n.metadata.name} ${o.metadata.resourceVersion}->${n.metadata.resourceVersion}`),
    onDelete: (o) => log.push(`delete ${o.metadata.name}`),
  });
  return log;
}

test('lists, syncs, then watches from the list resourceVersion and keeps the cache', async () => {
  const fake = new FakeClient();
  fake.objects = [host('a', '5'), host('b', '6')];
  const inf = new Informer({ client: fake.asClient(), type: bmhType });
  const log = recording(inf);
  assert.equal(inf.hasSynced(), false);
  inf.start();
  await inf.waitForSync();
  assert.equal(inf.hasSynced(), true);
  assert.deepEqual(log, ['add a@5', 'add b@6']);
  assert.equal(fake.last().rv, '10');
  fake.last().onEvent({ type: 'MODIFIED', object: host('a', '11', { generation: 2 }) });
  fake.last().onEvent({ type: 'ADDED', object: host('c', '12') });
  fake.last().onEvent({ type: 'DELETED', object: host('b', '13') });
  fake.last().onEvent({ type: 'BOOKMARK', object: { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: { resourceVersion: '20' } } });
  assert.deepEqual(log.slice(2), ['update a 5->11', 'add c@12', 'delete b']);
  assert.equal(inf.get('ns', 'a')?.metadata.resourceVersion, '11');
  assert.equal(inf.get('ns', 'b'), undefined);
  assert.deepEqual(inf.list().map((o) => o.metadata.name).sort(), ['a', 'c']);
  assert.deepEqual(inf.list('other'), []);
  assert.equal(inf.lastSyncResourceVersion(), '20');
  inf.stop();
  assert.equal(fake.last().stopped, true);
});

test('a clean end of the watch resumes from the last resourceVersion without relisting', async () => {
  const fake = new FakeClient();
  const inf = new Informer({ client: fake.asClient(), type: bmhType, backoffInitialMs: 5 });
  inf.start();
  await inf.waitForSync();
  fake.last().onEvent({ type: 'ADDED', object: host('a', '15') });
  await sleep(5);
  fake.last().onClose();
  await until(() => fake.watches.length === 2);
  assert.equal(fake.last().rv, '15');
  assert.equal(fake.lists, 1);
  inf.stop();
});

test('410 Gone relists, and the relist reports what changed while nobody watched', async () => {
  const fake = new FakeClient();
  fake.objects = [host('a', '5'), host('b', '6')];
  const inf = new Informer({ client: fake.asClient(), type: bmhType, backoffInitialMs: 5 });
  const log = recording(inf);
  inf.start();
  await inf.waitForSync();
  // Meanwhile: a changed, b deleted, c created.
  fake.objects = [host('a', '30', { generation: 2 }), host('c', '31')];
  fake.rv = '31';
  fake.last().onClose(new APIError(410, 'Expired', 'too old resource version: 10 (25)'));
  await until(() => fake.watches.length === 2);
  assert.equal(fake.lists, 2);
  assert.equal(fake.last().rv, '31');
  assert.deepEqual(log.slice(2).sort(), ['add c@31', 'delete b', 'update a 5->30']);
  inf.stop();
});

test('a lost stream resumes after a backoff from the last resourceVersion; list failures are retried', async () => {
  const fake = new FakeClient();
  fake.listFailures = 2;
  const errors: string[] = [];
  const inf = new Informer({ client: fake.asClient(), type: bmhType, backoffInitialMs: 20, onError: (e) => errors.push(e.message) });
  inf.start();
  await inf.waitForSync();
  assert.equal(fake.lists, 3);
  assert.deepEqual(errors, ['connection refused', 'connection refused']);
  fake.last().onEvent({ type: 'ADDED', object: host('a', '40') });
  const t0 = performance.now();
  fake.last().onClose(new Error('socket hang up'));
  await sleep(5);
  assert.equal(fake.watches.length, 1, 'not resumed before the backoff');
  await until(() => fake.watches.length === 2);
  assert.ok(performance.now() - t0 >= 15);
  assert.equal(fake.last().rv, '40');
  assert.equal(fake.lists, 3, 'no relist for a lost stream');
  inf.stop();
  fake.last().onClose(new Error('late'));
  await sleep(50);
  assert.equal(fake.watches.length, 2, 'a stopped informer does not come back');
});

test('the update predicate filters handler calls but the cache still takes every update', async () => {
  const fake = new FakeClient();
  fake.objects = [host('a', '5')];
  const inf = new Informer({ client: fake.asClient(), type: bmhType, updatePredicate: specOrMetadataChanged });
  const log = recording(inf);
  inf.start();
  await inf.waitForSync();
  const w = fake.last();
  w.onEvent({ type: 'MODIFIED', object: host('a', '6', {}, { provisioning: { state: 'registering' } }) });
  assert.deepEqual(log, ['add a@5'], 'a status write does not notify');
  assert.deepEqual(inf.get('ns', 'a')?.status, { provisioning: { state: 'registering' } });
  w.onEvent({ type: 'MODIFIED', object: host('a', '7', { annotations: { 'reboot.metal3.io': '' } }) });
  w.onEvent({ type: 'MODIFIED', object: host('a', '8', { annotations: { 'reboot.metal3.io': '' }, finalizers: ['baremetalhost.metal3.io'] }) });
  w.onEvent({ type: 'MODIFIED', object: host('a', '9', { annotations: { 'reboot.metal3.io': '' }, finalizers: ['baremetalhost.metal3.io'], generation: 2 }) });
  assert.deepEqual(log.slice(1), ['update a 6->7', 'update a 7->8', 'update a 8->9']);
  inf.stop();
});

test('a handler added after sync sees the cached objects; a throwing handler does not stop the others', async () => {
  const fake = new FakeClient();
  fake.objects = [host('a', '5')];
  const errors: string[] = [];
  const inf = new Informer({ client: fake.asClient(), type: bmhType, onError: (e) => errors.push(e.message) });
  inf.addHandler({
    onAdd() {
      throw new Error('boom');
    },
  });
  inf.start();
  await inf.waitForSync();
  const late = recording(inf);
  assert.deepEqual(late, ['add a@5']);
  fake.last().onEvent({ type: 'ADDED', object: host('b', '11') });
  assert.deepEqual(late, ['add a@5', 'add b@11']);
  assert.deepEqual(errors, ['boom', 'boom']);
  inf.stop();
});
