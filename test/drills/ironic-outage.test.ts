// Drill: Ironic (API and conductor) goes away while hosts are provisioning, and comes back on the same
// database. Every host must reach provisioned afterwards, with exactly one Ironic node per host and no host
// stuck. The conductor fails a deploy that was running when it died ("can't be resumed"); the host then
// retries after BMO's error backoff, so the wait is bounded but generous, and the retries are reported.
// CI: 10 hosts and a 15 s outage; `npm run drills`: 50 hosts and 60 s.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCountingProxy, type CountingProxy } from '../support/ironic-proxy.ts';
import { ironicSkipReason, startIronic, type RunningIronic } from '../ironic/harness.ts';
import { DrillServer, ensureNamespace, hostsPath, long, report } from './lib.ts';

const NS = 'drill';
const HOSTS = long ? 50 : 10;
const OUTAGE_MS = long ? 60_000 : 15_000;
const SETTLE_MS = long ? 600_000 : 240_000;

const image = { url: 'http://127.0.0.1:8088/images/os.qcow2', checksum: 'a'.repeat(64), checksumType: 'sha256', format: 'qcow2' };

interface HostView {
  metadata: { name: string };
  status?: { provisioning?: { state?: string }; errorType?: string; errorCount?: number; errorMessage?: string };
}

async function hosts(server: DrillServer): Promise<HostView[]> {
  const r = await server.request('GET', hostsPath(NS), undefined, { timeoutMs: 15_000 });
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { items: HostView[] }).items;
}

const stateOf = (h: HostView) => h.status?.provisioning?.state ?? '';

describe('drill: Ironic stops while hosts provision', { skip: ironicSkipReason(), timeout: SETTLE_MS + 180_000 }, () => {
  let ironic: RunningIronic | undefined;
  let proxy: CountingProxy | undefined;
  let server: DrillServer | undefined;
  after(async () => {
    await server?.stop();
    await proxy?.close();
    await ironic?.stop();
  });

  it('every host reaches provisioned, one Ironic node each, none stuck', async () => {
    const began = performance.now();
    // A deploy that takes a few seconds, so the outage lands on deploys in flight.
    ironic = await startIronic({ fakeDelays: { deploy: 3 } });
    proxy = await startCountingProxy(ironic.endpoint);
    server = new DrillServer({
      reconcilers: true,
      args: ['--enable-fake-bmc', '--ironic-endpoint', proxy.endpoint],
      env: { METAL3_AUTH_ROOT_DIR: join(ironic.dir, 'no-auth-files'), IRONIC_ENDPOINT: '', PROVISIONING_LIMIT: '', METAL3_IRONIC_POLL_INTERVAL_MS: '500' },
    });
    await server.start();
    await ensureNamespace(server, NS);
    for (let i = 0; i < HOSTS; i++) {
      const name = `host-${i}`;
      const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-bmc`, namespace: NS }, data: { username: Buffer.from('admin').toString('base64'), password: Buffer.from(`pw-${i}`).toString('base64') } };
      const s = await server.request('POST', `/api/v1/namespaces/${NS}/secrets`, secret);
      assert.equal(s.status, 201, s.body);
      const host = { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: { name, namespace: NS }, spec: { online: true, bootMode: 'UEFI', bmc: { address: `fake://${name}`, credentialsName: `${name}-bmc` }, image } };
      const h = await server.request('POST', hostsPath(NS), host);
      assert.equal(h.status, 201, h.body);
    }

    // The outage starts once some host is deploying.
    const startWait = Date.now();
    while (!(await hosts(server)).some((h) => stateOf(h) === 'provisioning')) {
      assert.ok(Date.now() - startWait < 120_000, `no host started provisioning: ${JSON.stringify((await hosts(server)).map(stateOf))}`);
      await sleep(200);
    }
    const atStop = (await hosts(server)).map(stateOf);
    await ironic.stopProcesses();
    await sleep(OUTAGE_MS);
    // The API stays up while Ironic is away.
    const during = await server.request('GET', hostsPath(NS));
    assert.equal(during.status, 200, during.body);
    await ironic.startProcesses();
    const back = performance.now();

    let last: HostView[] = [];
    const errored = new Set<string>();
    for (;;) {
      last = await hosts(server);
      for (const h of last) if (h.status?.errorType) errored.add(h.metadata.name);
      if (last.every((h) => stateOf(h) === 'provisioned')) break;
      if (performance.now() - back > SETTLE_MS) {
        const stuck = last.filter((h) => stateOf(h) !== 'provisioned').map((h) => `${h.metadata.name}: ${stateOf(h)} ${h.status?.errorType ?? ''} ${h.status?.errorMessage ?? ''}`);
        assert.fail(`hosts not provisioned ${SETTLE_MS / 1000}s after Ironic returned:\n${stuck.join('\n')}\n${server.output(30)}`);
      }
      await sleep(1000);
    }
    const settledS = Math.round((performance.now() - back) / 100) / 10;

    const r = await fetch(`${ironic.endpoint}/v1/nodes?fields=uuid,name,provision_state`, { headers: { 'X-OpenStack-Ironic-API-Version': '1.81' } });
    const nodes = ((await r.json()) as { nodes: { uuid: string; name?: string; provision_state: string }[] }).nodes;
    const names = nodes.map((n) => n.name ?? '').sort();
    const expected = last.map((h) => `${NS}~${h.metadata.name}`).sort();
    const counts = proxy.counts();
    report('ironic-outage', {
      hosts: HOSTS,
      outageSeconds: OUTAGE_MS / 1000,
      statesAtStop: Object.fromEntries([...new Set(atStop)].map((s) => [s, atStop.filter((x) => x === s).length])),
      hostsThatErrored: errored.size,
      secondsToAllProvisioned: settledS,
      ironicNodes: nodes.length,
      provisionStateRequests: counts.byKind['PUT /v1/nodes/{id}/states/provision'] ?? 0,
      ironicErrors: counts.errors,
      seconds: Math.round((performance.now() - began) / 100) / 10,
    });
    assert.deepEqual(names, expected, 'exactly one Ironic node per host');
    assert.ok(nodes.every((n) => n.provision_state === 'active'), `nodes not active: ${JSON.stringify(nodes.filter((n) => n.provision_state !== 'active'))}`);
  });
});
