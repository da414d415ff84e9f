// The cluster harness itself: a real kube-apiserver (built from the k8s.io/kubernetes module) on a Debian
// etcd, with RBAC and front-proxy configuration; a three-member etcd cluster with TLS; and cluster:up /
// cluster:down with our server registered behind kube-apiserver. Every cluster-mode suite stands on these.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { httpsRequest } from '../cluster/client.ts';
import { startEtcdCluster, type RunningEtcd } from '../cluster/etcd.ts';
import { controlPlaneSkipReason, startControlPlane, type ControlPlane } from '../cluster/kube-apiserver.ts';
import { alive } from '../cluster/process.ts';
import { APISERVICE_NAME, clusterDown, clusterUp, type RunningCluster } from '../cluster/up.ts';

const run = promisify(execFile);
const skip = controlPlaneSkipReason();

/** kubectl's outcome without throwing, so a refusal can be asserted on. */
async function kubectl(kubeconfig: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('kube-apiserver from the harness', { skip }, () => {
  let dir: string;
  let cp: ControlPlane;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-harness-'));
    cp = await startControlPlane({ dir, log: (l) => console.error(l) });
  });

  after(async () => {
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the system namespaces to the admin through kubectl', async () => {
    const r = await kubectl(cp.adminKubeconfig, ['get', 'ns', '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    const names = r.stdout.trim().split('\n');
    assert.ok(names.includes('namespace/default'), r.stdout);
    assert.ok(names.includes('namespace/kube-system'), r.stdout);
  });

  it('authenticates the unprivileged user and forbids it to list namespaces', async () => {
    const who = await kubectl(cp.userKubeconfig, ['auth', 'whoami', '-o', 'json']);
    assert.equal(who.code, 0, who.stderr);
    const info = (JSON.parse(who.stdout) as { status: { userInfo: { username: string; groups?: string[] } } }).status.userInfo;
    assert.equal(info.username, 'alice');
    assert.deepEqual(info.groups, ['system:authenticated']);

    const denied = await kubectl(cp.userKubeconfig, ['get', 'ns']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Forbidden.*User "alice" cannot list resource "namespaces"/);

    const raw = await httpsRequest(`${cp.url}/api/v1/namespaces`, { ca: cp.pki.ca.cert, cert: cp.pki.user.cert, key: cp.pki.user.key });
    assert.equal(raw.status, 403);
    assert.equal(raw.json<{ reason: string }>().reason, 'Forbidden');
  });

  it('refuses a client certificate from another CA', async () => {
    // The front-proxy client certificate is valid, but for the request-header CA only: without an
    // X-Remote-User header it authenticates no one, and the client-certificate authenticator rejects it.
    const r = await httpsRequest(`${cp.url}/api/v1/namespaces`, {
      ca: cp.pki.ca.cert,
      cert: readFileSync(cp.pki.frontProxyClient.certFile, 'utf8'),
      key: readFileSync(cp.pki.frontProxyClient.keyFile, 'utf8'),
    });
    assert.equal(r.status, 401, r.body);
  });

  it('publishes the front-proxy configuration aggregated servers read', async () => {
    const r = await cp.request('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication');
    assert.equal(r.status, 200, r.body);
    const data = r.json<{ data: Record<string, string> }>().data;
    assert.deepEqual(JSON.parse(data['requestheader-allowed-names']), ['front-proxy-client']);
    assert.deepEqual(JSON.parse(data['requestheader-username-headers']), ['X-Remote-User']);
    assert.deepEqual(JSON.parse(data['requestheader-group-headers']), ['X-Remote-Group']);
    assert.deepEqual(JSON.parse(data['requestheader-extra-headers-prefix']), ['X-Remote-Extra-']);
    assert.equal(data['requestheader-client-ca-file'].trim(), cp.pki.frontProxyCA.cert.trim());
    assert.equal(data['client-ca-file'].trim(), cp.pki.ca.cert.trim());
  });

  it('serves the service-account issuer keys and signs tokens', async () => {
    const jwks = await cp.request('/openid/v1/jwks', { accept: 'application/jwk-set+json' });
    assert.equal(jwks.status, 200, jwks.body);
    assert.equal(jwks.json<{ keys: unknown[] }>().keys.length, 1);
    const ns = await kubectl(cp.adminKubeconfig, ['create', 'serviceaccount', 'probe', '-n', 'default']);
    assert.equal(ns.code, 0, ns.stderr);
    const token = await kubectl(cp.adminKubeconfig, ['create', 'token', 'probe', '-n', 'default']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout.trim().split('.').length, 3);
  });
});

describe('three-member etcd cluster with TLS', { skip }, () => {
  let etcd: RunningEtcd;

  before(async () => {
    etcd = await startEtcdCluster(3, { tls: true });
  });

  after(async () => {
    await etcd?.stop();
  });

  it('forms one cluster of three members', async () => {
    const r = await run('etcdctl', [...etcd.etcdctlArgs(), 'member', 'list', '-w', 'json'], { encoding: 'utf8' });
    const members = (JSON.parse(r.stdout) as { members: { name: string; clientURLs: string[] }[] }).members;
    assert.equal(members.length, 3);
    assert.deepEqual(members.map((m) => m.clientURLs[0]).sort(), [...etcd.endpoints].sort());
  });

  it('reads through every member what was written through one', async () => {
    for (const [i, writer] of etcd.endpoints.entries()) {
      await run('etcdctl', [...etcd.etcdctlArgs([writer]), 'put', `/harness/k${i}`, `v${i}`]);
      for (const reader of etcd.endpoints) {
        const r = await run('etcdctl', [...etcd.etcdctlArgs([reader]), 'get', `/harness/k${i}`, '--print-value-only'], { encoding: 'utf8' });
        assert.equal(r.stdout.trim(), `v${i}`, `written via ${writer}, read via ${reader}`);
      }
    }
  });

  it('refuses a client without a certificate', async () => {
    await assert.rejects(run('etcdctl', [`--endpoints=${etcd.endpoints[0]}`, `--cacert=${etcd.tls?.caFile}`, '--command-timeout=3s', 'get', '/harness/k0']));
  });
});

describe('cluster:up and cluster:down', { skip }, () => {
  it('registers our server behind kube-apiserver and stops exactly what it started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cluster-up-'));
    let cluster: RunningCluster | undefined;
    try {
      cluster = await clusterUp({ dir, availableTimeoutMs: 15_000, log: (l) => console.error(l) });
      const records = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as { name: string; pid: number }[];
      assert.deepEqual(records.map((r) => r.name), ['etcd', 'kube-apiserver', 'metal3-apiserver']);
      assert.ok(records.every((r) => alive(r.pid)));

      const svc = await cluster.controlPlane.request(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`);
      assert.equal(svc.status, 200, svc.body);
      const spec = svc.json<{ spec: { service: { namespace: string; name: string; port: number } } }>().spec;
      assert.deepEqual(spec.service, { namespace: 'metal3', name: 'metal3-apiserver', port: Number(new URL(cluster.serverURL).port) });
      // The aggregator reached our server through the ExternalName Service and passed its discovery probe.
      assert.equal(cluster.available.status, 'True', JSON.stringify(cluster.available));
      const bmh = await run('kubectl', ['--kubeconfig', cluster.controlPlane.adminKubeconfig, 'get', 'baremetalhosts', '-A', '-o', 'json'], { encoding: 'utf8' });
      assert.deepEqual((JSON.parse(bmh.stdout) as { items: unknown[] }).items, []);

      const stopped = await clusterDown(dir);
      assert.deepEqual(stopped.map((r) => r.pid).sort(), records.map((r) => r.pid).sort());
      assert.ok(records.every((r) => !alive(r.pid)));
      assert.equal(existsSync(join(dir, 'pids.json')), false);
      assert.deepEqual(await clusterDown(dir), []);
      cluster = undefined;
    } finally {
      await cluster?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
