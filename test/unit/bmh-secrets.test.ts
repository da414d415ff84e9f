// No BMC password or user data may reach status, events, errors or logs: plant unique values and search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHarness, ns } from './bmh-harness.ts';
import { bareMetalHostType, hardwareDataType, hostFirmwareSettingsType, secretType } from '../../reconcilers/baremetalhost/resources.ts';

test('passwords and user data never appear in status, events, errors or logs', async () => {
  const password = 'S3cr3t-pw-7f3a9c1e';
  const userData = '#cloud-config\npassword: UD-4b8e2d6f\n';
  const h = newHarness();
  const errors: string[] = [];
  await h.createSecret('h-bmc', { username: 'admin', password });
  await h.createSecret('h-ud', { userData });
  await h.createHost('h', {
    bmc: { address: 'fake://h', credentialsName: 'h-bmc' },
    userData: { name: 'h-ud' },
    image: { url: 'http://images.example/fail.qcow2', checksum: 'x' },
  });
  // A failing image, a failing power BMC and bad credentials, so error paths run too.
  for (let i = 0; i < 40; i++) await h.reconcile('h').catch((e: Error) => errors.push(e.message));
  await h.createSecret('h2-bmc', { username: 'bad', password });
  await h.createHost('h2', { bmc: { address: 'fake://fail-power.example', credentialsName: 'h2-bmc' } });
  for (let i = 0; i < 10; i++) await h.reconcile('h2').catch((e: Error) => errors.push(e.message));
  await h.createSecret('h3-bmc', { username: 'admin', password });
  await h.createHost('h3', { bmc: { address: `redfish://admin:${password}@bad host/`, credentialsName: 'h3-bmc' } });
  for (let i = 0; i < 5; i++) await h.reconcile('h3').catch((e: Error) => errors.push(e.message));

  assert.ok((await h.host('h')).status.provisioningFailCount > 0, 'the failure path ran');
  assert.ok(h.sim.node(ns, 'h') !== undefined);
  const stored = [bareMetalHostType, hardwareDataType, hostFirmwareSettingsType].map((t) => [...h.kube.objects.entries()].filter(([k]) => k.startsWith(`${t.plural}/`)).map(([, o]) => (t === bareMetalHostType ? o.status : o)));
  // The address in spec.bmc is the user's own input; everything we wrote must be clean.
  const haystack = JSON.stringify({ stored, events: h.events, errors, logs: h.logs });
  for (const needle of [password, 'UD-4b8e2d6f', Buffer.from(password).toString('base64')]) {
    const at = haystack.indexOf(needle);
    assert.ok(at < 0, `${needle} leaked: ${haystack.slice(Math.max(0, at - 300), at + 50)}`);
  }
  assert.ok(h.events.length > 5, 'events were recorded');
});

test('Secrets are read only in the host’s own namespace: one of the same name elsewhere is never used', async () => {
  const h = newHarness();
  // The credentials and user data exist, but in another namespace only.
  const elsewhere = 'other-tenant';
  for (const [name, data] of [
    ['x-bmc', { username: 'admin', password: 'tenant-b-pw' }],
    ['x-ud', { userData: '#cloud-config\n' }],
  ] as const) {
    await h.kube.create(secretType, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: elsewhere }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) });
  }
  const reads: string[] = [];
  const get = h.kube.get.bind(h.kube);
  h.kube.get = async (type, namespace, name) => {
    if (type.plural === 'secrets') reads.push(`${namespace}/${name}`);
    return get(type, namespace, name);
  };
  await h.createHost('x', { bmc: { address: 'fake://x', credentialsName: 'x-bmc' }, userData: { name: 'x-ud', namespace: elsewhere } as { name: string } });
  for (let i = 0; i < 10; i++) await h.reconcile('x').catch(() => undefined);

  assert.ok(reads.length > 0, 'the controller looked for the credentials');
  assert.deepEqual([...new Set(reads.map((r) => r.split('/')[0]))], [ns], `every Secret read is in ${ns}: ${reads.join(', ')}`);
  const host = await h.host('x');
  assert.equal(host.status.errorType, 'registration error', 'without its own Secret the host cannot register');
  assert.equal(h.sim.node(ns, 'x'), undefined, 'no node was registered with another tenant’s credentials');
});
