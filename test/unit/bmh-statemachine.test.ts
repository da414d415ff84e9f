// Every state and transition of bmo.md §2.3, and the paths around them (§2.4–§2.8), on the simulator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHarness, ns, type Harness } from './bmh-harness.ts';
import { backoffMs, timing } from '../../reconcilers/baremetalhost/results.ts';
import { computeConditions } from '../../reconcilers/baremetalhost/conditions.ts';
import { detachedArgs, rebootRequest } from '../../reconcilers/baremetalhost/annotations.ts';
import type { BareMetalHostStatus } from '../../api/kinds/baremetalhost.ts';
import { secretType } from '../../reconcilers/baremetalhost/resources.ts';

const image = { url: 'http://images.example/os.qcow2', checksum: 'abc', checksumType: 'sha256' as const };

async function available(h: Harness, name: string, spec = {}) {
  await h.createManagedHost(name, spec);
  return h.runUntilState(name, 'available');
}

async function provisioned(h: Harness, name: string) {
  await available(h, name);
  await h.patchHost(name, { spec: { image } });
  return h.runUntilState(name, 'provisioned');
}

/** Each row: put a host in `from`, do `act`, expect `to` next. */
const transitions: { from: string; to: string; setup: (h: Harness, n: string) => Promise<void> }[] = [
  { from: '', to: 'registering', setup: async (h, n) => void (await h.createManagedHost(n)) },
  { from: '', to: 'unmanaged', setup: async (h, n) => void (await h.createHost(n, {})) },
  {
    from: 'unmanaged',
    to: 'registering',
    setup: async (h, n) => {
      await h.createHost(n, {});
      await h.runUntilState(n, 'unmanaged');
      await h.createSecret(`${n}-bmc`, { username: 'u', password: 'p' });
      await h.patchHost(n, { spec: { bmc: { address: `fake://${n}`, credentialsName: `${n}-bmc` } } });
    },
  },
  { from: 'registering', to: 'inspecting', setup: async (h, n) => void (await h.createManagedHost(n)) },
  { from: 'registering', to: 'externally provisioned', setup: async (h, n) => void (await h.createManagedHost(n, { externallyProvisioned: true })) },
  { from: 'registering', to: 'preparing', setup: async (h, n) => void (await h.createManagedHost(n, { inspectionMode: 'disabled' })) },
  { from: 'inspecting', to: 'preparing', setup: async (h, n) => void (await h.createManagedHost(n)) },
  {
    from: 'match profile',
    to: 'preparing',
    setup: async (h, n) => {
      await available(h, n);
      await h.setStatus(n, { provisioning: { ...(await h.host(n)).status.provisioning, state: 'match profile' } });
    },
  },
  { from: 'preparing', to: 'available', setup: async (h, n) => void (await h.createManagedHost(n)) },
  {
    from: 'available',
    to: 'provisioning',
    setup: async (h, n) => {
      await available(h, n);
      await h.patchHost(n, { spec: { image } });
    },
  },
  {
    from: 'ready',
    to: 'provisioning',
    setup: async (h, n) => {
      await available(h, n);
      await h.setStatus(n, { provisioning: { ...(await h.host(n)).status.provisioning, state: 'ready' } });
      await h.patchHost(n, { spec: { image } });
    },
  },
  {
    from: 'available',
    to: 'inspecting',
    setup: async (h, n) => {
      await available(h, n);
      await h.patchHost(n, { metadata: { annotations: { 'inspect.metal3.io': '' } } });
    },
  },
  {
    from: 'available',
    to: 'preparing',
    setup: async (h, n) => {
      await available(h, n);
      await h.patchHost(n, { spec: { rootDeviceHints: { deviceName: '/dev/sdb' } } });
    },
  },
  {
    from: 'available',
    to: 'externally provisioned',
    setup: async (h, n) => {
      await available(h, n);
      await h.patchHost(n, { spec: { externallyProvisioned: true } });
    },
  },
  {
    from: 'provisioning',
    to: 'provisioned',
    setup: async (h, n) => {
      await available(h, n);
      await h.patchHost(n, { spec: { image } });
    },
  },
  {
    from: 'provisioning',
    to: 'deprovisioning',
    setup: async (h, n) => {
      await available(h, n);
      await h.patchHost(n, { spec: { image } });
      await h.runUntilState(n, 'provisioning');
      await h.patchHost(n, { spec: { image: { ...image, url: 'http://images.example/other.qcow2' } } });
      // The new image is cancelled only once the old one is recorded; remove it instead.
      await h.patchHost(n, { spec: { image: null } });
    },
  },
  {
    from: 'provisioned',
    to: 'deprovisioning',
    setup: async (h, n) => {
      await provisioned(h, n);
      await h.patchHost(n, { spec: { image: null } });
    },
  },
  {
    from: 'externally provisioned',
    to: 'provisioned',
    setup: async (h, n) => {
      await h.createManagedHost(n, { externallyProvisioned: true, image });
      await h.runUntilState(n, 'externally provisioned');
      await h.patchHost(n, { spec: { externallyProvisioned: false } });
    },
  },
  {
    from: 'deprovisioning',
    to: 'available',
    setup: async (h, n) => {
      await provisioned(h, n);
      await h.patchHost(n, { spec: { image: null } });
    },
  },
  {
    from: 'deprovisioning',
    to: 'powering off before delete',
    setup: async (h, n) => {
      await provisioned(h, n);
      await h.deleteHost(n);
    },
  },
  {
    from: 'available',
    to: 'powering off before delete',
    setup: async (h, n) => {
      await available(h, n);
      await h.deleteHost(n);
    },
  },
  {
    from: 'powering off before delete',
    to: 'deleting',
    setup: async (h, n) => {
      await available(h, n);
      await h.deleteHost(n);
    },
  },
  {
    from: 'registering',
    to: 'deleting',
    setup: async (h, n) => {
      await h.createManagedHost(n);
      await h.runUntilState(n, 'registering');
      await h.deleteHost(n);
    },
  },
];

for (const t of transitions) {
  test(`transition ${JSON.stringify(t.from)} → ${JSON.stringify(t.to)}`, async () => {
    const h = newHarness();
    await t.setup(h, 'h');
    const seen: string[] = [];
    for (let i = 0; i < 60 && (await h.exists('h')); i++) {
      const st = await h.state('h');
      if (st !== undefined && seen.at(-1) !== st) seen.push(st);
      if (seen.length >= 2 && seen.at(-2) === t.from && seen.at(-1) === t.to) break;
      await h.reconcile('h');
    }
    const i = seen.indexOf(t.from);
    assert.ok(i >= 0 && seen[i + 1] === t.to, `expected ${t.from} → ${t.to}, saw ${JSON.stringify(seen)}`);
  });
}

test('deleting: the host disappears with its finalizer, from every state group', async () => {
  for (const [label, prep] of [
    ['unmanaged', async (h: Harness) => void (await h.createHost('h', {}), await h.runUntilState('h', 'unmanaged'))],
    ['inspecting', async (h: Harness) => void (await h.createManagedHost('h'), await h.runUntilState('h', 'inspecting'))],
    ['available', async (h: Harness) => void (await available(h, 'h'))],
    ['provisioning', async (h: Harness) => void (await available(h, 'h'), await h.patchHost('h', { spec: { image } }), await h.runUntilState('h', 'provisioning'))],
    ['provisioned', async (h: Harness) => void (await provisioned(h, 'h'))],
  ] as const) {
    const h = newHarness();
    await prep(h);
    await h.deleteHost('h');
    for (let i = 0; i < 40 && (await h.exists('h')); i++) await h.reconcile('h');
    assert.equal(await h.exists('h'), false, `host deleted from ${label}`);
    assert.equal(h.sim.node(ns, 'h'), undefined, `node removed from ${label}`);
  }
});

test('detach keeps the state, removes the node, skips deprovisioning on delete; re-attach adopts', async () => {
  const h = newHarness();
  await provisioned(h, 'h');
  await h.patchHost('h', { metadata: { annotations: { 'baremetalhost.metal3.io/detached': '' } } });
  let host = await h.runUntil('h', (x) => x.status.operationalStatus === 'detached');
  assert.equal(host.status.provisioning.state, 'provisioned');
  assert.equal(h.sim.node(ns, 'h'), undefined);
  assert.ok(host.status.conditions?.some((c) => c.type === 'Ready' && c.reason === 'Detached'));
  await h.patchHost('h', { metadata: { annotations: { 'baremetalhost.metal3.io/detached': null } } });
  host = await h.runUntil('h', (x) => x.status.operationalStatus === 'OK' && h.sim.node(ns, 'h')?.state === 'active');
  assert.equal(host.status.provisioning.state, 'provisioned');
  // Detached with deleteAction delay: deletion waits.
  await h.patchHost('h', { metadata: { annotations: { 'baremetalhost.metal3.io/detached': '{"deleteAction":"delay"}' } } });
  await h.runUntil('h', (x) => x.status.operationalStatus === 'detached');
  await h.deleteHost('h');
  for (let i = 0; i < 5; i++) await h.reconcile('h');
  assert.equal(await h.state('h'), 'provisioned', 'delete delayed while detached');
  await h.patchHost('h', { metadata: { annotations: { 'baremetalhost.metal3.io/detached': '{"deleteAction":"delete"}' } } });
  const seen = new Set<string>();
  for (let i = 0; i < 10 && (await h.exists('h')); i++) {
    seen.add((await h.state('h')) ?? '');
    await h.reconcile('h');
  }
  assert.equal(await h.exists('h'), false);
  assert.ok(!seen.has('deprovisioning') && !seen.has('powering off before delete'), `no deprovisioning: ${[...seen].join(',')}`);
});

test('detach of a host in a non-detachable state needs force', async () => {
  const h = newHarness();
  await h.createManagedHost('h');
  await h.runUntilState('h', 'inspecting');
  await h.patchHost('h', { metadata: { annotations: { 'baremetalhost.metal3.io/detached': '' } } });
  await h.reconcile('h');
  assert.notEqual((await h.host('h')).status.operationalStatus, 'detached');
  await h.patchHost('h', { metadata: { annotations: { 'baremetalhost.metal3.io/detached': '{"force":true}' } } });
  await h.runUntil('h', (x) => x.status.operationalStatus === 'detached', 5);
});

test('externally provisioned hosts are adopted and keep their power managed', async () => {
  const h = newHarness();
  await h.createManagedHost('h', { externallyProvisioned: true });
  await h.runUntilState('h', 'externally provisioned');
  await h.runUntil('h', (x) => x.status.poweredOn === true);
  assert.equal(h.sim.node(ns, 'h')?.state, 'active', 'adopted');
  const seen = h.events.map((e) => e.reason);
  assert.ok(!seen.includes('InspectionStarted'), 'not inspected');
});

test('paused hosts are left alone', async () => {
  const h = newHarness();
  await h.createManagedHost('h', {}, { annotations: { 'baremetalhost.metal3.io/paused': 'me' } });
  for (let i = 0; i < 3; i++) assert.deepEqual(await h.reconcile('h'), {});
  const host = await h.host('h');
  assert.equal(host.status, undefined);
  assert.equal(host.metadata.finalizers, undefined);
  await h.patchHost('h', { metadata: { annotations: { 'baremetalhost.metal3.io/paused': null } } });
  await h.runUntilState('h', 'registering');
});

test('status is restored from the status annotation, then the annotation is removed', async () => {
  const h = newHarness();
  await h.createSecret('h-bmc', { username: 'u', password: 'p' });
  const saved: Partial<BareMetalHostStatus> = {
    operationalStatus: 'OK',
    provisioning: { state: 'provisioned', ID: 'old-id', image },
    poweredOn: true,
    errorMessage: '',
    errorCount: 0,
    provisioningFailCount: 0,
    hardware: { hostname: 'restored' },
  };
  await h.createHost('h', { bmc: { address: 'fake://h', credentialsName: 'h-bmc' }, image }, { annotations: { 'baremetalhost.metal3.io/status': JSON.stringify(saved) } });
  await h.reconcile('h');
  let host = await h.host('h');
  assert.equal(host.status.provisioning.state, 'provisioned');
  assert.equal(host.status.hardware?.hostname, 'restored');
  await h.reconcile('h');
  host = await h.host('h');
  assert.equal(host.metadata.annotations?.['baremetalhost.metal3.io/status'], undefined);
  // The provisioner never saw this host: it re-registers and adopts without reprovisioning.
  await h.runUntil('h', () => h.sim.node(ns, 'h')?.state === 'active');
  assert.equal(await h.state('h'), 'provisioned');
});

test('online false then true powers the host off and on', async () => {
  const h = newHarness();
  await provisioned(h, 'h');
  await h.runUntil('h', (x) => x.status.poweredOn);
  await h.patchHost('h', { spec: { online: false } });
  await h.runUntil('h', (x) => !x.status.poweredOn);
  assert.equal(h.sim.node(ns, 'h')?.poweredOn, false);
  await h.patchHost('h', { spec: { online: true } });
  await h.runUntil('h', (x) => x.status.poweredOn);
  assert.ok(h.events.some((e) => e.reason === 'PowerOff') && h.events.some((e) => e.reason === 'PowerOn'));
});

test('reboot annotation: a single reboot removes itself; a suffixed one keeps the host off', async () => {
  const h = newHarness();
  await provisioned(h, 'h');
  await h.runUntil('h', (x) => x.status.poweredOn);
  await h.patchHost('h', { metadata: { annotations: { 'reboot.metal3.io': '' } } });
  const offs: boolean[] = [];
  await h.runUntil('h', (x) => {
    offs.push(x.status.poweredOn);
    return x.metadata.annotations?.['reboot.metal3.io'] === undefined && x.status.poweredOn;
  });
  assert.ok(offs.includes(false), 'was off in between');

  await h.patchHost('h', { metadata: { annotations: { 'reboot.metal3.io/remediation': '{"mode":"hard"}' } } });
  await h.runUntil('h', (x) => !x.status.poweredOn);
  for (let i = 0; i < 5; i++) await h.reconcile('h');
  assert.equal((await h.host('h')).status.poweredOn, false, 'kept off while the suffixed annotation stays');
  await h.patchHost('h', { metadata: { annotations: { 'reboot.metal3.io/remediation': null } } });
  await h.runUntil('h', (x) => x.status.poweredOn);
});

test('reboot annotations parse soft/hard and force', () => {
  assert.deepEqual(rebootRequest({ 'reboot.metal3.io': '' }), { requested: true, hasBase: true, hard: false, force: false });
  assert.deepEqual(rebootRequest({ 'reboot.metal3.io/a': '{"mode":"hard"}', 'reboot.metal3.io/b': '' }), { requested: true, hasBase: false, hard: true, force: false });
  assert.equal(rebootRequest({ 'reboot.metal3.io': '' }, true).requested, false, 'only forced ones count outside provisioned states');
  assert.equal(rebootRequest({ 'reboot.metal3.io': '{"force":true}' }, true).requested, true);
  assert.equal(rebootRequest({ 'reboot.metal3.iox': '' }).requested, false);
  assert.deepEqual(detachedArgs({ 'baremetalhost.metal3.io/detached': 'garbage' }), { force: false });
  assert.deepEqual(detachedArgs({ 'baremetalhost.metal3.io/detached': '{"deleteAction":"delay","force":true}' }), { deleteAction: 'delay', force: true });
  assert.equal(detachedArgs({}), undefined);
});

test('missing credentials Secret: registration error and event, then recovery once it exists', async () => {
  const h = newHarness();
  await h.createHost('h', { bmc: { address: 'fake://h', credentialsName: 'h-bmc' } });
  await h.runUntilState('h', 'registering');
  const res = await h.reconcile('h');
  assert.equal(res.requeueAfterMs, 10_000);
  let host = await h.host('h');
  assert.equal(host.status.errorType, 'registration error');
  assert.equal(host.status.operationalStatus, 'error');
  assert.ok(host.status.conditions?.some((c) => c.type === 'Manageable' && c.reason === 'RegistrationFailed'));
  assert.ok(h.events.some((e) => e.reason === 'BMCCredentialError'));
  const count = host.status.errorCount;
  await h.reconcile('h');
  assert.equal((await h.host('h')).status.errorCount, count, 'the same error is not counted twice');
  await h.createSecret('h-bmc', { username: 'admin', password: 'pw' });
  host = await h.runUntilState('h', 'inspecting');
  assert.equal(host.status.errorType, undefined);
  assert.equal(host.status.errorCount, 0);
});

test('bad credentials: registration error; fixing the Secret re-registers', async () => {
  const h = newHarness();
  await h.createSecret('h-bmc', { username: 'bad', password: 'pw' });
  await h.createHost('h', { bmc: { address: 'fake://h', credentialsName: 'h-bmc' } });
  await h.runUntil('h', (x) => x.status.errorType === 'registration error');
  assert.ok(h.events.some((e) => e.reason === 'RegistrationError'));
  const s = await h.kube.get(secretType, ns, 'h-bmc');
  if (!s) throw new Error('secret gone');
  s.data = { username: Buffer.from('admin').toString('base64'), password: Buffer.from('pw').toString('base64') };
  await h.kube.update(secretType, s);
  await h.runUntilState('h', 'inspecting');
  // An empty password is a credentials error of its own.
  const h2 = newHarness();
  await h2.createSecret('h-bmc', { username: 'admin', password: '  ' });
  await h2.createHost('h', { bmc: { address: 'fake://h', credentialsName: 'h-bmc' } });
  const host = await h2.runUntil('h', (x) => x.status.errorType === 'registration error');
  assert.match(host.status.errorMessage, /password/);
});

test('changing the credentials Secret re-registers a provisioned host', async () => {
  const h = newHarness();
  await provisioned(h, 'h');
  const before = (await h.host('h')).status.goodCredentials?.credentialsVersion;
  const s = await h.kube.get(secretType, ns, 'h-bmc');
  if (!s) throw new Error('secret gone');
  s.data = { username: Buffer.from('admin').toString('base64'), password: Buffer.from('new').toString('base64') };
  await h.kube.update(secretType, s);
  const host = await h.runUntil('h', (x) => x.status.goodCredentials?.credentialsVersion !== before);
  assert.equal(host.status.provisioning.state, 'provisioned');
});

test('provisioning failure loops through deprovisioning and stops at the retry limit', async () => {
  const h = newHarness({ config: { maxProvisioningRetries: 2 } });
  await available(h, 'h');
  await h.patchHost('h', { spec: { image: { url: 'http://images.example/fail.qcow2', checksum: 'x' } } });
  const states: string[] = [];
  await h.runUntil(
    'h',
    (x) => {
      if (states.at(-1) !== x.status.provisioning.state) states.push(x.status.provisioning.state);
      return x.status.provisioningFailCount >= 2 && x.status.provisioning.state === 'available' && x.status.errorType === 'provisioning error';
    },
    120,
  );
  assert.deepEqual(states.slice(states.indexOf('provisioning')), ['provisioning', 'deprovisioning', 'available', 'provisioning', 'deprovisioning', 'available']);
  for (let i = 0; i < 5; i++) await h.reconcile('h');
  assert.equal(await h.state('h'), 'available', 'no further attempt at the limit');
  assert.ok(h.events.some((e) => e.reason === 'ProvisioningError'));
  // A new image resets the count and provisions.
  await h.patchHost('h', { spec: { image } });
  const host = await h.runUntilState('h', 'provisioned', 80);
  assert.equal(host.status.provisioningFailCount, 0);
  assert.equal(host.status.errorType, undefined);
});

test('provisioning capacity: a host waits as delayed, then proceeds', async () => {
  const h = newHarness({ sim: { speed: 1, delays: { register: 0, inspect: 0, prepare: 0, provision: 60_000 }, capacity: 1 } });
  await available(h, 'a');
  await available(h, 'b');
  await h.patchHost('a', { spec: { image } });
  await h.runUntilState('a', 'provisioning');
  await h.reconcile('a'); // starts the long deployment, which holds the only slot
  await h.patchHost('b', { spec: { image } });
  const res = await h.reconcile('b');
  const b = await h.host('b');
  assert.equal(b.status.operationalStatus, 'delayed');
  assert.equal(b.status.provisioning.state, 'available');
  assert.ok((res.requeueAfterMs ?? 0) >= 60_000, 'retry after backoff(1)');
  h.sim.reset();
  await h.runUntil('b', (x) => x.status.provisioning.state === 'provisioning' && x.status.operationalStatus === 'OK', 10);
});

test('provisioner not ready: requeue after 30 s, nothing changes', async () => {
  const h = newHarness();
  await h.createManagedHost('h');
  await h.runUntilState('h', 'registering');
  h.sim.setNotReady('Ironic is not reachable');
  assert.deepEqual(await h.reconcile('h'), { requeueAfterMs: 30_000 });
  assert.equal(await h.state('h'), 'registering');
  h.sim.setNotReady(undefined);
  await h.runUntilState('h', 'inspecting');
});

test('a 409 on save asks for a requeue', async () => {
  const h = newHarness();
  await h.createManagedHost('h');
  await h.reconcile('h');
  h.kube.conflictsToInject = 1;
  assert.deepEqual(await h.reconcile('h'), { requeue: true });
});

test('conditions per state', () => {
  const now = new Date('2025-01-01T00:00:00Z');
  const base = (state: string, extra: Partial<BareMetalHostStatus> = {}) =>
    ({ operationalStatus: 'OK', provisioning: { state, ID: '' }, errorMessage: '', poweredOn: false, errorCount: 0, provisioningFailCount: 0, ...extra }) as BareMetalHostStatus;
  const get = (st: BareMetalHostStatus) => Object.fromEntries(computeConditions(st, 1, now).map((c) => [c.type, `${c.status}/${c.reason}`]));
  assert.deepEqual(get(base('')), {
    Manageable: 'False/NotManaged',
    AvailableForProvisioning: 'False/NotAvailable',
    Provisioned: 'False/NotProvisioned',
    Ready: 'False/NotProvisioned',
    Progressing: 'False/NotProgressing',
    Healthy: 'Unknown/Unknown',
  });
  assert.equal(get(base('registering')).Progressing, 'True/Registering');
  assert.equal(get(base('registering', { errorType: 'registration error', operationalStatus: 'error' })).Manageable, 'False/RegistrationFailed');
  for (const [state, reason] of [
    ['inspecting', 'Inspecting'],
    ['preparing', 'Preparing'],
    ['provisioning', 'Provisioning'],
    ['deprovisioning', 'Deprovisioning'],
    ['powering off before delete', 'PoweringOffBeforeDelete'],
    ['deleting', 'Deleting'],
  ]) {
    const c = get(base(state ?? ''));
    assert.equal(c.Manageable, 'True/Manageable');
    assert.equal(c.Progressing, `True/${reason}`);
  }
  assert.equal(get(base('available')).AvailableForProvisioning, 'True/Available');
  assert.equal(get(base('provisioned')).Ready, 'True/Provisioned');
  assert.equal(get(base('externally provisioned')).Provisioned, 'True/Provisioned');
  assert.equal(get(base('provisioned', { operationalStatus: 'error', errorType: 'power management error' })).Ready, 'False/Error');
  const detached = get(base('provisioned', { operationalStatus: 'detached' }));
  assert.equal(detached.Ready, 'False/Detached');
  assert.equal(detached.Progressing, 'False/Detached');
  // lastTransitionTime only moves when the status changes.
  const first = computeConditions(base('available'), 1, now);
  const again = computeConditions({ ...base('available'), conditions: first }, 1, new Date('2025-02-01T00:00:00Z'));
  assert.deepEqual(again.map((c) => c.lastTransitionTime), first.map((c) => c.lastTransitionTime));
});

test('backoff doubles per error with up to 50% jitter, capped at 2^9 minutes', () => {
  assert.equal(backoffMs(1, () => 0), 120_000);
  assert.equal(backoffMs(1, () => 1), 60_000);
  assert.equal(backoffMs(3, () => 0), 480_000);
  assert.equal(backoffMs(20, () => 0), 512 * 60_000);
});

test('boot mode is copied into status and operation history recorded', async () => {
  const h = newHarness();
  await h.createManagedHost('h', { bootMode: 'legacy' });
  const host = await h.runUntilState('h', 'available');
  assert.equal(host.status.provisioning.bootMode, 'legacy');
  assert.ok(host.status.operationHistory?.inspect?.start && host.status.operationHistory.inspect.end);
  assert.ok(host.status.lastUpdated);
});

test('inspection error is recorded with its type and counted', async () => {
  const h = newHarness();
  await h.createSecret('h-bmc', { username: 'admin', password: 'pw' });
  await h.createHost('h', { bmc: { address: 'fake://fail-inspect.example', credentialsName: 'h-bmc' } });
  const host = await h.runUntil('h', (x) => x.status.errorType === 'inspection error');
  assert.equal(host.status.errorCount, 1);
  assert.equal(host.status.provisioning.state, 'inspecting');
});

test('the hardware details annotation fills status.hardware and is removed', async () => {
  const h = newHarness();
  await h.createManagedHost('h', { inspectionMode: 'disabled' }, { annotations: { 'inspect.metal3.io/hardwaredetails': '{"hostname":"given","cpu":{"arch":"x86_64"}}' } });
  await h.reconcile('h');
  const host = await h.host('h');
  assert.equal(host.status.hardware?.hostname, 'given');
  assert.equal(host.metadata.annotations?.['inspect.metal3.io/hardwaredetails'], undefined);
});

test('a host at rest polls power every minute, unless its provisioner reports changes itself; reset() reports them', async () => {
  const h = newHarness();
  await provisioned(h, 'h');
  await h.runUntil('h', (x) => x.status.poweredOn === true);
  assert.equal((await h.reconcile('h')).requeueAfterMs, timing.powerPoll, 'no listener: BMO power poll');
  const woken: string[] = [];
  h.sim.onNodeChange((k) => woken.push(`${k.namespace}/${k.name}`));
  assert.equal((await h.reconcile('h')).requeueAfterMs, timing.steadyResync, 'changes reported: only the resync');
  h.sim.reset();
  assert.deepEqual(woken, [`${ns}/h`], 'losing the records wakes the host');
  // Woken, the host finds its node gone and registers again; until it is at rest it polls as before.
  assert.notEqual((await h.reconcile('h')).requeueAfterMs, timing.steadyResync);
  await h.runUntil('h', () => h.sim.node(ns, 'h')?.state === 'active');
  assert.equal(await h.state('h'), 'provisioned');
});
