// With Ironic's [fake] delays set (whole seconds), the in-progress states are long enough to be seen the
// way a user sees them, in `kubectl get -w`: inspecting, provisioning, deprovisioning. Re-inspection of an
// available host goes through the inspect subresource.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubectlBackground, kubectlOK } from '../e2e/harness.ts';
import { createHost, getObject, hostEvents, image, nodeOf, patchHost, postAction, skip, startStack, stateOf, waitForHost, waitForState, waitUntil, type Stack } from './lifecycle-helpers.ts';

const name = 'slow-0';

/** The states a `kubectl get -w` printed, in order and without repeats. */
function statesSeen(watchOutput: string): string[] {
  const states: string[] = [];
  for (const line of watchOutput.split('\n')) {
    const m = /^\S+\s+(.*)$/.exec(line.trim());
    if (!m || line.startsWith('NAME')) continue;
    const state = m[1].trim();
    if (state && states.at(-1) !== state) states.push(state);
  }
  return states;
}

describe('in-progress states with Ironic fake delays', { skip }, () => {
  let stack: Stack;
  let watch: ReturnType<typeof kubectlBackground>;

  before(async () => {
    stack = await startStack({ auth: 'noauth', namespace: 'delays', fakeDelays: { power: 1, deploy: 2, inspect: 1 } });
    watch = kubectlBackground(stack.server, ['get', 'bmh', '-n', 'delays', '-w', '-o', 'custom-columns=NAME:.metadata.name,STATE:.status.provisioning.state']);
  });
  after(async () => {
    await watch?.stop();
    await stack?.stop();
  });

  it('shows registering, inspecting and available in kubectl get -w', async () => {
    await createHost(stack, name);
    await waitForState(stack, name, 'available');
    // The watch may lag the poll by a moment.
    await waitUntil(async () => statesSeen(watch.output()).includes('available') || undefined, 'the watch to print available', 5000);
    const seen = statesSeen(watch.output());
    for (const s of ['registering', 'inspecting', 'available']) assert.ok(seen.includes(s), `${s} seen in ${seen.join(' → ')}`);
    assert.ok(seen.indexOf('inspecting') < seen.indexOf('available'), seen.join(' → '));
  });

  it('re-inspects an available host through the inspect subresource: Ironic inspects again, HardwareData kept current', async () => {
    const hdBefore = await getObject(stack, 'hardwaredata', name);
    const inspectedBefore = (await nodeOf(stack, name))?.inspection_finished_at;
    assert.ok(inspectedBefore, 'Ironic recorded the first inspection');
    const completedBefore = (await hostEvents(stack, name)).filter((e) => e.reason === 'InspectionComplete').reduce((n, e) => n + (e.count ?? 1), 0);
    const answer = (await postAction(stack, name, 'inspect', { apiVersion: 'metal3.io/v1alpha1', kind: 'InspectionRequest' })) as { kind?: string };
    assert.equal(answer.kind, 'InspectionRequest');
    await waitForHost(stack, name, (h) => stateOf(h) === 'inspecting', 'inspecting again', 20_000);
    const host = await waitForState(stack, name, 'available');
    assert.equal(host.metadata.annotations?.['inspect.metal3.io'], undefined, 'the request is consumed');
    // Ironic inspected the machine again (fake hardware yields the same inventory, so the HardwareData's
    // content, and with an unchanged object its resourceVersion, may well stay the same).
    const inspectedAfter = (await nodeOf(stack, name))?.inspection_finished_at;
    assert.ok(typeof inspectedAfter === 'string' && inspectedAfter !== inspectedBefore, `inspection_finished_at ${String(inspectedBefore)} → ${String(inspectedAfter)}`);
    const hdAfter = await getObject(stack, 'hardwaredata', name);
    assert.equal(hdAfter?.metadata.uid, hdBefore?.metadata.uid, 'the same HardwareData, updated in place');
    assert.deepEqual((hdAfter?.spec as { hardware?: unknown }).hardware, host.status?.hardware);
    await waitUntil(async () => {
      const n = (await hostEvents(stack, name)).filter((e) => e.reason === 'InspectionComplete').reduce((c, e) => c + (e.count ?? 1), 0);
      return n > completedBefore || undefined;
    }, 'a second InspectionComplete event');
    const seen = statesSeen(watch.output());
    assert.ok(seen.lastIndexOf('inspecting') > seen.indexOf('available'), `inspecting after available in ${seen.join(' → ')}`);
  });

  it('shows provisioning while Ironic deploys, then provisioned', async () => {
    await postAction(stack, name, 'provision', { apiVersion: 'metal3.io/v1alpha1', kind: 'ProvisionRequest', image });
    await waitForHost(stack, name, (h) => stateOf(h) === 'provisioning', 'provisioning', 20_000);
    const during = await nodeOf(stack, name);
    assert.ok(['manageable', 'cleaning', 'clean wait', 'available', 'deploying', 'wait call-back', 'active'].includes(during?.provision_state ?? ''), during?.provision_state);
    await waitForState(stack, name, 'provisioned');
    assert.equal((await nodeOf(stack, name))?.provision_state, 'active');
    await waitUntil(async () => statesSeen(watch.output()).includes('provisioned') || undefined, 'the watch to print provisioned', 5000);
    const seen = statesSeen(watch.output());
    assert.ok(seen.indexOf('provisioning') >= 0 && seen.indexOf('provisioning') < seen.indexOf('provisioned'), seen.join(' → '));
  });

  it('shows deprovisioning when the image is removed, and the host deletes', async () => {
    await patchHost(stack, name, { spec: { image: null } });
    await waitForState(stack, name, 'available');
    await waitUntil(async () => statesSeen(watch.output()).lastIndexOf('available') > statesSeen(watch.output()).indexOf('provisioned') || undefined, 'the watch to print available', 5000);
    assert.ok(statesSeen(watch.output()).includes('deprovisioning'), statesSeen(watch.output()).join(' → '));
    await kubectlOK(stack.server, ['delete', 'bmh', name, '-n', stack.namespace, '--timeout=60s']);
    assert.equal(await nodeOf(stack, name), undefined);
  });
});
