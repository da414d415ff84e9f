// PROVISIONING_LIMIT as hosts feel it: with one slot and three hosts to inspect and provision, each host
// waits its turn (operationalStatus delayed), and a slot that frees up goes to a waiting host at once
// rather than after BMO's one to two minutes of backoff.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createNamespace, kubectlOK, requireKubectl, startServer, withReconcilers, type RunningServer } from './harness.ts';
import { closeClient, request } from './client.ts';

interface Host {
  status?: { operationalStatus?: string; provisioning?: { state?: string } };
}

const ns = 'capacity';
const names = ['c0', 'c1', 'c2'];
let server: RunningServer;

before(async () => {
  requireKubectl();
  // At 0.25 the simulator inspects for 1.25 s and provisions for 2 s.
  server = await startServer([withReconcilers, '--simulator-speed', '0.25'], { PROVISIONING_LIMIT: '1', IRONIC_ENDPOINT: '' });
  await createNamespace(server, ns);
  await kubectlOK(server, ['-n', ns, 'create', 'secret', 'generic', 'bmc-creds', '--from-literal=username=admin', '--from-literal=password=pw']);
});

after(async () => {
  if (server) closeClient(server);
  await server?.stop();
});

test('hosts held back by PROVISIONING_LIMIT take a freed slot at once, not after their backoff', async () => {
  const started = Date.now();
  for (const [i, name] of names.entries()) {
    const host = {
      apiVersion: 'metal3.io/v1alpha1',
      kind: 'BareMetalHost',
      metadata: { name, namespace: ns },
      spec: {
        online: true,
        bootMACAddress: `52:54:00:12:34:5${i}`,
        bmc: { address: `ipmi://10.0.0.${10 + i}`, credentialsName: 'bmc-creds' },
        image: { url: 'http://images.example.com/os.qcow2', checksum: 'a'.repeat(64), checksumType: 'sha256' },
      },
    };
    await kubectlOK(server, ['apply', '-f', '-'], { input: JSON.stringify(host) });
  }
  const delayed = new Set<string>();
  // The backoff of a delayed host is one to two minutes: every host provisioned well within one proves the wake-up.
  const deadline = started + 45_000;
  for (;;) {
    const states = await Promise.all(
      names.map(async (name) => {
        const r = await request(server, 'GET', `/apis/metal3.io/v1alpha1/namespaces/${ns}/baremetalhosts/${name}`);
        assert.equal(r.status, 200, r.body);
        const h = r.json() as Host;
        if (h.status?.operationalStatus === 'delayed') delayed.add(name);
        return h.status?.provisioning?.state ?? '';
      }),
    );
    if (states.every((s) => s === 'provisioned')) break;
    assert.ok(Date.now() < deadline, `after 45 s: ${states.join(', ')} (delayed: ${[...delayed].join(', ')})`);
    await sleep(100);
  }
  assert.ok(delayed.size >= 1, 'with one slot for three hosts, some host waited its turn');
  console.log(`3 hosts provisioned through 1 slot in ${((Date.now() - started) / 1000).toFixed(1)} s; delayed on the way: ${[...delayed].join(', ')}`);
});
