// The whole lifecycle of one BareMetalHost through the whole stack: kubectl → the server → the reconcilers →
// Debian's Ironic (fake-hardware behind a fake:// BMC) and back. Ironic runs with HTTP basic auth, which
// the server finds the way BMO does, through METAL3_AUTH_ROOT_DIR.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubectlOK } from '../e2e/harness.ts';
import {
  assertNoLeak,
  createHost,
  getHost,
  getObject,
  hostEvents,
  image,
  nodeNames,
  nodeOf,
  PASSWORD_PREFIX,
  patchHost,
  postAction,
  secretManifest,
  skip,
  storedInstanceInfo,
  waitForEvent,
  waitForHost,
  waitForState,
  waitUntil,
  type Stack,
  startStack,
} from './lifecycle-helpers.ts';

const USER_DATA = '#cloud-config\nusers: [{name: marker-user-8c2e41}]\n';

describe('BareMetalHost lifecycle on real Ironic (http_basic through METAL3_AUTH_ROOT_DIR)', { skip }, () => {
  let stack: Stack;
  const name = 'node-0';

  before(async () => {
    stack = await startStack({ auth: 'http_basic', authThroughEnv: true });
  });
  after(async () => {
    await stack?.stop();
  });

  it('the server reports Ironic with basic auth', () => {
    assert.match(stack.server.output(), /reconcilers: Ironic at http:\/\/127\.0\.0\.1:\d+\/ \(HTTP basic auth\)/);
  });

  it('registers, inspects and becomes available, with HardwareData and HostFirmwareSettings', async () => {
    await createHost(stack, name);
    const host = await waitForState(stack, name, 'available');
    assert.equal(host.status?.operationalStatus, 'OK');
    assert.ok(host.status?.provisioning.ID, 'the Ironic node UUID is recorded');
    assert.ok(host.status?.hardware?.cpu?.count, 'hardware details in status');
    const node = await nodeOf(stack, name);
    assert.equal(node?.uuid, host.status?.provisioning.ID);
    assert.equal(node?.driver, 'fake-hardware');
    // As in BMO, an available host's node stays manageable until it is provisioned.
    assert.equal(node?.provision_state, 'manageable');
    const hd = await getObject(stack, 'hardwaredata', name);
    assert.deepEqual((hd?.spec as { hardware?: unknown } | undefined)?.hardware, host.status?.hardware);
    assert.ok(await getObject(stack, 'hostfirmwaresettings', name), 'HostFirmwareSettings exist');
    const reasons = (await hostEvents(stack, name)).map((e) => e.reason);
    for (const r of ['Registered', 'InspectionStarted', 'InspectionComplete']) assert.ok(reasons.includes(r), `event ${r} in ${reasons.join(',')}`);
  });

  it('provisions through the provision subresource: active node, image and config drive in instance_info', async () => {
    await kubectlOK(stack.server, ['apply', '-f', '-'], { input: secretManifest(stack.namespace, 'user-data', { userData: USER_DATA }) });
    const returned = (await postAction(stack, name, 'provision', { apiVersion: 'metal3.io/v1alpha1', kind: 'ProvisionRequest', image, userData: { name: 'user-data' } })) as Host;
    assert.equal(returned.spec?.image?.url, image.url);
    await waitForHost(stack, name, (h) => ['provisioning', 'provisioned'].includes(h?.status?.provisioning.state ?? ''), 'provisioning to start');
    const host = await waitForState(stack, name, 'provisioned');
    assert.equal(host.status?.provisioning.image?.url, image.url);
    const node = await nodeOf(stack, name);
    assert.equal(node?.provision_state, 'active');
    const info = node?.instance_info as Record<string, unknown>;
    assert.equal(info.image_source, image.url);
    assert.equal(info.image_checksum ?? info.image_os_hash_value, image.checksum);
    const stored = storedInstanceInfo(stack, node?.uuid ?? '');
    assert.ok(stored.configdrive, 'a config drive is stored');
    assert.match(JSON.stringify(stored.configdrive), /marker-user-8c2e41/);
    await waitForHost(stack, name, (h) => h?.status?.poweredOn === true, 'poweredOn');
    const reasons = (await hostEvents(stack, name)).map((e) => e.reason);
    assert.ok(reasons.includes('ProvisioningStarted') && reasons.includes('ProvisioningComplete'), reasons.join(','));
  });

  it('powers off for online: false and on again for online: true', async () => {
    await patchHost(stack, name, { spec: { online: false } });
    await waitForHost(stack, name, (h) => h?.status?.poweredOn === false, 'poweredOn false');
    assert.equal((await nodeOf(stack, name))?.power_state, 'power off');
    await waitForEvent(stack, name, 'PowerOff');
    await patchHost(stack, name, { spec: { online: true } });
    await waitForHost(stack, name, (h) => h?.status?.poweredOn === true, 'poweredOn true');
    assert.equal((await nodeOf(stack, name))?.power_state, 'power on');
  });

  it('power-cycles for the reboot annotation and removes it', async () => {
    const before = (await hostEvents(stack, name)).filter((e) => e.reason === 'PowerOff').reduce((n, e) => n + (e.count ?? 1), 0);
    await kubectlOK(stack.server, ['annotate', 'bmh', name, '-n', stack.namespace, 'reboot.metal3.io=']);
    await waitUntil(async () => {
      const off = (await hostEvents(stack, name)).filter((e) => e.reason === 'PowerOff').reduce((n, e) => n + (e.count ?? 1), 0);
      return off > before;
    }, 'a PowerOff event for the reboot');
    const host = await waitForHost(stack, name, (h) => h?.metadata.annotations?.['reboot.metal3.io'] === undefined && h?.status?.poweredOn === true, 'annotation removed and power back on');
    assert.equal(host?.status?.provisioning.state, 'provisioned');
    assert.equal((await nodeOf(stack, name))?.power_state, 'power on');
  });

  it('deprovisions back to available when the image is removed', async () => {
    await patchHost(stack, name, { spec: { image: null, userData: null } });
    await waitForHost(stack, name, (h) => ['deprovisioning', 'available'].includes(h?.status?.provisioning.state ?? ''), 'deprovisioning');
    const host = await waitForState(stack, name, 'available');
    assert.equal(host.status?.provisioning.image, undefined);
    assert.equal((await nodeOf(stack, name))?.provision_state, 'available');
    await waitForEvent(stack, name, 'DeprovisioningComplete');
  });

  it('deletes: the Ironic node is gone, then the host', async () => {
    await kubectlOK(stack.server, ['delete', 'bmh', name, '-n', stack.namespace, '--wait=false']);
    await waitForHost(stack, name, (h) => h === undefined, 'the host to disappear');
    assert.deepEqual(await nodeNames(stack), []);
    assert.equal(await getHost(stack, name), undefined);
  });

  it('never shows the BMC password or the user data', async () => {
    await assertNoLeak(stack, [`${PASSWORD_PREFIX}${name}`, 'marker-user-8c2e41'], []);
  });
});

type Host = NonNullable<Awaited<ReturnType<typeof getHost>>>;
