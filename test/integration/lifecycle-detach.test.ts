// Detach and re-attach, and externally provisioned hosts, through the whole stack on real Ironic.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubectlOK } from '../e2e/harness.ts';
import { createHost, hostEvents, image, nodeNames, nodeOf, patchHost, postAction, skip, startStack, waitForHost, waitForState, waitUntil, type Stack } from './lifecycle-helpers.ts';

const detached = 'baremetalhost.metal3.io/detached';

describe('detach, re-attach and externally provisioned hosts on real Ironic', { skip }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ auth: 'noauth', namespace: 'detach' });
  });
  after(async () => {
    await stack?.stop();
  });

  it('detaching a provisioned host deletes its Ironic node and keeps its state', async () => {
    await createHost(stack, 'd1');
    await waitForState(stack, 'd1', 'available');
    await postAction(stack, 'd1', 'provision', { apiVersion: 'metal3.io/v1alpha1', kind: 'ProvisionRequest', image });
    const provisioned = await waitForState(stack, 'd1', 'provisioned');
    const firstID = provisioned.status?.provisioning.ID;
    assert.equal((await nodeOf(stack, 'd1'))?.provision_state, 'active');

    await kubectlOK(stack.server, ['annotate', 'bmh', 'd1', '-n', stack.namespace, `${detached}=`]);
    const host = await waitForHost(stack, 'd1', (h) => h?.status?.operationalStatus === 'detached', 'operationalStatus detached');
    assert.equal(host?.status?.provisioning.state, 'provisioned');
    await waitUntil(async () => (await nodeOf(stack, 'd1')) === undefined || undefined, 'the Ironic node to be deleted');
    const printed = await kubectlOK(stack.server, ['get', 'bmh', 'd1', '-n', stack.namespace, '-o', 'jsonpath={.status.provisioning.state}/{.status.operationalStatus}']);
    assert.equal(printed, 'provisioned/detached');
    assert.ok(firstID);
  });

  it('removing the annotation re-registers the host and adopts the deployed node', async () => {
    await kubectlOK(stack.server, ['annotate', 'bmh', 'd1', '-n', stack.namespace, `${detached}-`]);
    const host = await waitForHost(stack, 'd1', (h) => h?.status?.operationalStatus === 'OK' && Boolean(h.status.provisioning.ID), 'operationalStatus OK');
    assert.equal(host?.status?.provisioning.state, 'provisioned');
    const node = await waitUntil(async () => {
      const n = await nodeOf(stack, 'd1');
      return n?.provision_state === 'active' ? n : undefined;
    }, 'the node adopted (active)');
    assert.equal(node.instance_info?.image_source, image.url, 'adoption told Ironic what the host runs');
    const after = await waitForHost(stack, 'd1', (h) => h?.status?.provisioning.ID === node.uuid, 'the new node ID recorded');
    assert.equal(after?.status?.errorType, undefined);
    assert.deepEqual(await nodeNames(stack), ['detach~d1']);
  });

  it('an externally provisioned host is adopted: its node goes active without a deployment', async () => {
    await createHost(stack, 'ext', { spec: { externallyProvisioned: true, image } });
    const host = await waitForState(stack, 'ext', 'externally provisioned');
    assert.equal(host.status?.operationalStatus, 'OK');
    const node = await waitUntil(async () => {
      const n = await nodeOf(stack, 'ext');
      return n?.provision_state === 'active' ? n : undefined;
    }, 'the externally provisioned node adopted (active)');
    assert.equal(node.driver, 'fake-hardware');
    const reasons = (await hostEvents(stack, 'ext')).map((e) => e.reason);
    assert.ok(!reasons.includes('InspectionStarted'), 'an externally provisioned host is not inspected');
    assert.ok(!reasons.includes('ProvisioningStarted'), 'nor provisioned');
  });

  it('clearing externallyProvisioned makes the host provisioned with its image', async () => {
    await patchHost(stack, 'ext', { spec: { externallyProvisioned: false } });
    const host = await waitForState(stack, 'ext', 'provisioned');
    assert.equal(host.status?.provisioning.image?.url, image.url);
    assert.equal((await nodeOf(stack, 'ext'))?.provision_state, 'active');
  });
});
