// Registration errors through the whole stack on real Ironic: a host whose credentials Secret does not
// exist yet, and one whose Secret has an empty password. Each shows a registration error and an Event,
// and recovers once the Secret is right, without the password ever showing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubectlOK } from '../e2e/harness.ts';
import { assertNoLeak, createHost, nodeNames, nodeOf, secretManifest, skip, startStack, waitForEvent, waitForHost, waitForState, type Stack } from './lifecycle-helpers.ts';

describe('registration errors and recovery on real Ironic', { skip }, () => {
  let stack: Stack;
  const password = 'late-bmc-pw-3b7e90';

  before(async () => {
    stack = await startStack({ auth: 'noauth', namespace: 'errors' });
  });
  after(async () => {
    await stack?.stop();
  });

  it('a missing Secret is a registration error with an Event; creating it recovers to available', async () => {
    await createHost(stack, 'no-secret', { createSecret: false, credentialsName: 'no-secret-bmc' });
    const host = await waitForHost(stack, 'no-secret', (h) => h?.status?.errorType === 'registration error', 'a registration error');
    assert.equal(host?.status?.operationalStatus, 'error');
    assert.match(host?.status?.errorMessage ?? '', /no-secret-bmc.*not found/);
    assert.equal(host?.status?.provisioning.state, 'registering');
    const ev = await waitForEvent(stack, 'no-secret', 'BMCCredentialError');
    assert.equal(ev.type, 'Warning');
    assert.equal(await nodeOf(stack, 'no-secret'), undefined, 'nothing registered in Ironic without credentials');
    const described = await kubectlOK(stack.server, ['describe', 'bmh', 'no-secret', '-n', stack.namespace]);
    assert.match(described, /BMCCredentialError/);

    await kubectlOK(stack.server, ['apply', '-f', '-'], { input: secretManifest(stack.namespace, 'no-secret-bmc', { username: 'admin', password }) });
    const recovered = await waitForState(stack, 'no-secret', 'available');
    assert.equal(recovered.status?.operationalStatus, 'OK');
    assert.equal(recovered.status?.errorType, undefined);
    assert.equal(recovered.status?.errorMessage, '');
    assert.equal(recovered.status?.goodCredentials?.credentials?.name, 'no-secret-bmc');
    assert.equal((await nodeOf(stack, 'no-secret'))?.provision_state, 'manageable');
  });

  it('an empty password names the missing field; fixing the Secret recovers to available', async () => {
    await createHost(stack, 'bad-creds', { password: '' });
    const host = await waitForHost(stack, 'bad-creds', (h) => h?.status?.errorType === 'registration error', 'a registration error');
    // BMO's wording.
    assert.match(host?.status?.errorMessage ?? '', /Missing BMC connection details? 'password' in credentials/);
    const ev = await waitForEvent(stack, 'bad-creds', 'BMCCredentialError');
    assert.match(ev.message, /'password'/);
    assert.equal(await nodeOf(stack, 'bad-creds'), undefined);

    // The claimed Secret's update wakes the host at once (no waiting for a retry).
    const fixed = Buffer.from(`${password}-2`).toString('base64');
    await kubectlOK(stack.server, ['patch', 'secret', 'bad-creds-bmc', '-n', stack.namespace, '--type', 'merge', '-p', JSON.stringify({ data: { password: fixed } })]);
    const recovered = await waitForState(stack, 'bad-creds', 'available', 20_000);
    assert.equal(recovered.status?.operationalStatus, 'OK');
    assert.equal(recovered.status?.errorType, undefined);
    assert.deepEqual(await nodeNames(stack), ['errors~bad-creds', 'errors~no-secret']);
  });

  it('never shows the passwords', async () => {
    await assertNoLeak(stack, [password], ['no-secret', 'bad-creds']);
  });
});
