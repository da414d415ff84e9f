// What a provisioned host's periodic reconcile (its once-a-minute power poll) reads and writes: with
// 10,000 hosts these add up to the server's idle CPU (bench/provision's idle phase).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/types.ts';
import type { KubeClient, ResourceType } from '../../api/client/types.ts';
import { reconcileBareMetalHost } from '../../reconcilers/baremetalhost/controller.ts';
import { hardwareDataType, secretType } from '../../reconcilers/baremetalhost/resources.ts';
import { newHarness, ns } from './bmh-harness.ts';

const image = { url: 'http://example.test/os.qcow2', checksum: '0'.repeat(32), checksumType: 'md5' as const, format: 'qcow2' as const };

/** The harness's client, with every read recorded by resource. */
function countingReads(kube: KubeClient) {
  const reads: string[] = [];
  const client: KubeClient = {
    get: (type: ResourceType, namespace: string, name: string) => {
      reads.push(`${type.plural}/${name}`);
      return kube.get(type, namespace, name);
    },
    list: (...a) => kube.list(...a),
    watch: (...a) => kube.watch(...a),
    create: (...a) => kube.create(...a),
    update: (...a) => kube.update(...a),
    patch: (...a) => kube.patch(...a),
    delete: (...a) => kube.delete(...a),
  };
  return { client, reads };
}

async function provisionedHost() {
  const h = newHarness();
  await h.createManagedHost('h1', { image });
  await h.runUntil('h1', (x) => x.status.provisioning?.state === 'provisioned' && x.status.poweredOn === true, 80);
  const counting = countingReads(h.kube);
  const reconcile = () => reconcileBareMetalHost({ ...h.deps, kube: counting.client }, { namespace: ns, name: 'h1' });
  return { h, reads: counting.reads, reconcile };
}

test('a provisioned host with hardware details and architecture is polled without reading its HardwareData or writing', async () => {
  const { h, reads, reconcile } = await provisionedHost();
  assert.equal((await h.host('h1')).spec?.architecture, 'x86_64');
  const writes = h.kube.writes.length;
  const result = await reconcile();
  assert.equal(result.requeueAfterMs, 60_000, 'the power poll');
  assert.deepEqual(reads, ['baremetalhosts/h1', 'secrets/h1-bmc']);
  assert.equal(h.kube.writes.length, writes, 'neither the host nor its claimed Secret is written');
});

test('a provisioned host that lost its architecture reads the HardwareData again and takes it back', async () => {
  const { h, reads, reconcile } = await provisionedHost();
  await h.patchHost('h1', { spec: { architecture: null } });
  await reconcile();
  assert.ok(reads.includes('hardwaredata/h1'));
  assert.equal((await h.host('h1')).spec?.architecture, 'x86_64');
});

test('a Secret that lost its claim is claimed again; the stored one is not changed by the check', async () => {
  const { h, reconcile } = await provisionedHost();
  const secret = (await h.kube.get(secretType, ns, 'h1-bmc')) as KubeObject;
  const unlabelled = structuredClone(secret);
  delete unlabelled.metadata.labels;
  await h.kube.update(secretType, unlabelled);
  await reconcile();
  const claimed = (await h.kube.get(secretType, ns, 'h1-bmc')) as KubeObject;
  assert.equal(claimed.metadata.labels?.['environment.metal3.io'], 'baremetal');
  assert.equal(claimed.metadata.finalizers?.filter((f) => f === 'baremetalhost.metal3.io/secret').length, 1, 'finalizer not duplicated');
  assert.equal(claimed.metadata.ownerReferences?.length, 1, 'owner reference not duplicated');
  assert.ok(await h.kube.get(hardwareDataType, ns, 'h1'));
});
