// CachedReadClient: reads from the informers, except where the informer is behind the client's own writes
// or has not seen an object (yet) at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../api/types.ts';
import { Informer } from '../../api/client/informer.ts';
import type { KubeClient, ResourceType, WatchEvent } from '../../api/client/types.ts';
import { CachedReadClient } from '../../reconcilers/runtime/cachedclient.ts';

const hostType: ResourceType = { group: 'metal3.io', version: 'v1alpha1', plural: 'baremetalhosts', kind: 'BareMetalHost', namespaced: true };
const hardwareType: ResourceType = { group: 'metal3.io', version: 'v1alpha1', plural: 'hardwaredata', kind: 'HardwareData', namespaced: true };

const host = (name: string, rv: string, state = ''): KubeObject => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { namespace: 'ns', name, resourceVersion: rv },
  status: { provisioning: { state } },
});

/** An API server of one namespace: stores objects by name, bumps a revision per write, feeds one watch. */
class FakeServer {
  objects = new Map<string, KubeObject>();
  revision = 10;
  gets: string[] = [];
  private onEvent?: (ev: WatchEvent) => void;

  put(obj: KubeObject): KubeObject {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.revision);
    this.objects.set(stored.metadata.name ?? '', stored);
    return structuredClone(stored);
  }

  /** Delivers the stored object to the informer, as the watch eventually does. */
  deliver(name: string): void {
    const obj = this.objects.get(name);
    this.onEvent?.(obj ? { type: 'MODIFIED', object: structuredClone(obj) } : { type: 'DELETED', object: host(name, String(this.revision)) });
  }

  client(): KubeClient {
    return {
      list: async () => ({ items: [...this.objects.values()].map((o) => structuredClone(o)), resourceVersion: String(this.revision) }),
      watch: (_t, _ns, _rv, onEvent) => {
        this.onEvent = onEvent;
        return () => {};
      },
      get: async (type, _ns, name) => {
        this.gets.push(`${type.plural}/${name}`);
        const obj = type.plural === hostType.plural ? this.objects.get(name) : undefined;
        return obj ? structuredClone(obj) : undefined;
      },
      create: async (_t, obj) => this.put(obj),
      update: async (_t, obj) => this.put(obj),
      patch: () => Promise.reject(new Error('not used')),
      delete: async (_t, _ns, name) => {
        this.objects.delete(name);
      },
    };
  }
}

async function setup() {
  const server = new FakeServer();
  server.put(host('a', '', 'provisioned'));
  const informer = new Informer({ client: server.client(), type: hostType });
  informer.start();
  await informer.waitForSync();
  const cached = new CachedReadClient(server.client());
  cached.use(informer);
  return { server, informer, cached };
}

test('a host the informer holds is read from it, without a request', async () => {
  const { server, cached } = await setup();
  const a = await cached.get(hostType, 'ns', 'a');
  assert.equal((a?.status as { provisioning: { state: string } }).provisioning.state, 'provisioned');
  await cached.get(hostType, 'ns', 'a');
  assert.deepEqual(server.gets, []);
  assert.deepEqual(cached.reads, { cached: 2, server: 0 });
});

test('after its own update, reads go to the server until the informer has the version written', async () => {
  const { server, cached } = await setup();
  const before = await cached.get(hostType, 'ns', 'a');
  assert.ok(before);
  const written = await cached.update(hostType, { ...before, status: { provisioning: { state: 'deprovisioning' } } });

  // The watch has not delivered the write: the informer still holds the old status.
  const next = await cached.get(hostType, 'ns', 'a');
  assert.equal(next?.metadata.resourceVersion, written.metadata.resourceVersion);
  assert.deepEqual(server.gets, ['baremetalhosts/a']);

  server.deliver('a');
  const caughtUp = await cached.get(hostType, 'ns', 'a');
  assert.equal(caughtUp?.metadata.resourceVersion, written.metadata.resourceVersion);
  assert.deepEqual(server.gets, ['baremetalhosts/a'], 'served by the informer once it caught up');
});

test('a write by someone else is read from the cache once the informer has it', async () => {
  const { server, cached } = await setup();
  const ours = await cached.update(hostType, host('a', '', 'provisioned'));
  server.deliver('a');
  // Another writer, not yet delivered: as with any informer, the cache is behind it until the watch catches up.
  const theirs = server.put(host('a', '', 'externally changed'));
  const read = await cached.get(hostType, 'ns', 'a');
  assert.equal(read?.metadata.resourceVersion, ours.metadata.resourceVersion);
  server.deliver('a');
  const after = await cached.get(hostType, 'ns', 'a');
  assert.equal(after?.metadata.resourceVersion, theirs.metadata.resourceVersion);
});

test('an object the informer does not hold, and a type without informer, are read from the server', async () => {
  const { server, cached } = await setup();
  server.put(host('b', '', 'registering'));
  const b = await cached.get(hostType, 'ns', 'b');
  assert.equal(b?.metadata.name, 'b');
  assert.equal(await cached.get(hardwareType, 'ns', 'a'), undefined);
  assert.deepEqual(server.gets, ['baremetalhosts/b', 'hardwaredata/a']);
});

test('an object deleted on the server is not served from a cache that still holds it', async () => {
  const { server, cached } = await setup();
  await cached.delete(hostType, 'ns', 'a');
  assert.equal(await cached.get(hostType, 'ns', 'a'), undefined);
  assert.equal(await cached.get(hostType, 'ns', 'a'), undefined, 'still gone while the informer lags');
  assert.equal(server.gets.length, 2);
  server.deliver('a');
  await sleep(0);
  assert.equal(await cached.get(hostType, 'ns', 'a'), undefined);
});
