// Ironic going away mid-flight and coming back: the reconcilers back off (errors and requeues, no crash),
// then carry every host on to where it was going, with exactly one Ironic node per host.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHost, getHost, image, nodeNames, nodeOf, postAction, skip, startStack, stateOf, waitForHost, waitForState, type Stack } from './lifecycle-helpers.ts';

const hosts = ['r1', 'r2', 'r3'];

describe('Ironic stopped and restarted mid-flight', { skip }, () => {
  let stack: Stack;

  before(async () => {
    // Whole-second fake delays keep the hosts in flight long enough to pull Ironic out from under them.
    stack = await startStack({ auth: 'noauth', namespace: 'restart', fakeDelays: { power: 1, management: 1 } });
  });
  after(async () => {
    await stack?.stop();
  });

  it('registering hosts wait out the outage and then become available, one node each', async () => {
    for (const name of hosts) await createHost(stack, name);
    await waitForHost(stack, 'r1', (h) => ['registering', 'inspecting'].includes(stateOf(h)), 'registration under way');
    await stack.ironic.stopProcesses();
    await sleep(4000);
    assert.equal(stack.server.process.exitCode, null, 'the server keeps running without Ironic');
    for (const name of hosts) {
      const h = await getHost(stack, name);
      assert.ok(['', 'registering', 'inspecting', 'preparing', 'available'].includes(stateOf(h)), `${name} is in ${stateOf(h)}`);
    }
    await stack.ironic.startProcesses();
    for (const name of hosts) {
      const h = await waitForState(stack, name, 'available', 60_000);
      assert.equal(h.status?.operationalStatus, 'OK', `${name}: ${h.status?.errorMessage}`);
      assert.equal((await nodeOf(stack, name))?.uuid, h.status?.provisioning.ID);
    }
    assert.deepEqual(await nodeNames(stack), hosts.map((n) => `restart~${n}`));
    assert.match(stack.server.output(), /Ironic is not reachable|ECONNREFUSED|socket hang up/, 'the outage was seen');
  });

  it('provisioning hosts wait out the outage and end provisioned, one node each', async () => {
    for (const name of hosts) await postAction(stack, name, 'provision', { apiVersion: 'metal3.io/v1alpha1', kind: 'ProvisionRequest', image });
    await waitForHost(stack, 'r1', (h) => stateOf(h) === 'provisioning', 'provisioning under way');
    await stack.ironic.stopProcesses();
    await sleep(3000);
    assert.equal(stack.server.process.exitCode, null);
    await stack.ironic.startProcesses();
    for (const name of hosts) {
      const h = await waitForState(stack, name, 'provisioned', 90_000);
      assert.equal((await nodeOf(stack, name))?.provision_state, 'active');
      assert.equal(h.status?.provisioning.image?.url, image.url);
    }
    assert.deepEqual(await nodeNames(stack), hosts.map((n) => `restart~${n}`));
  });
});
