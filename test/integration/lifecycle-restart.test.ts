// Ironic going away mid-flight and coming back: the reconcilers back off (errors and requeues, no crash),
// then carry every host on to where it was going, with exactly one Ironic node per host.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHost, getHost, image, nodeNames, nodeOf, skip, startStack, stateOf, waitForHost, waitForState, type Stack } from './lifecycle-helpers.ts';

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

  it('hosts in flight wait out the outage, then end provisioned with one node each', async () => {
    // Pulled out while the hosts register and inspect. Not while Ironic deploys: a restarted conductor
    // fails a deployment it did not finish ("can't be resumed"), and the host then retries provisioning
    // only after BMO's error backoff (minutes), which is covered by the state machine's unit tests.
    for (const name of hosts) await createHost(stack, name, { spec: { image } });
    await waitForHost(stack, 'r1', (h) => ['registering', 'inspecting'].includes(stateOf(h)), 'r1 registering');
    await stack.ironic.stopProcesses();
    await sleep(4000);
    assert.equal(stack.server.process.exitCode, null, 'the server keeps running without Ironic');
    for (const name of hosts) {
      const h = await getHost(stack, name);
      assert.ok(['registering', 'inspecting', 'preparing', 'available', 'provisioning', 'provisioned'].includes(stateOf(h)), `${name} is in ${stateOf(h)}`);
    }
    await stack.ironic.startProcesses();
    for (const name of hosts) {
      const h = await waitForState(stack, name, 'provisioned', 90_000);
      assert.equal(h.status?.operationalStatus, 'OK', `${name}: ${h.status?.errorMessage}`);
      const node = await nodeOf(stack, name);
      assert.equal(node?.uuid, h.status?.provisioning.ID);
      assert.equal(node?.provision_state, 'active');
    }
    assert.deepEqual(await nodeNames(stack), hosts.map((n) => `restart~${n}`));
    assert.match(stack.server.output(), /Ironic is not reachable|ECONNREFUSED|socket hang up/, 'the outage was seen');
  });
});
