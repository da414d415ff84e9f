// Bearer tokens against a real kube-apiserver: a ServiceAccount token sent straight to our server is
// checked by TokenReview (the default) or verified locally against the cluster's JWKS (--token-auth jwt),
// and the ServiceAccount is then authorized by SubjectAccessReview like any other user.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlPlaneSkipReason } from '../cluster/kube-apiserver.ts';
import { clusterUp, type RunningCluster } from '../cluster/up.ts';
import { directRequest, kubectlOK } from './cluster-helpers.ts';

const skip = controlPlaneSkipReason();
const HOSTS = '/apis/metal3.io/v1alpha1/namespaces/default/baremetalhosts';

for (const mode of ['tokenreview', 'jwt'] as const) {
  describe(`service-account bearer tokens (--token-auth ${mode})`, { skip }, () => {
    let dir: string;
    let cluster: RunningCluster;
    let admin: string;
    let ca: string;
    let token: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `cluster-tokens-${mode}-`));
      cluster = await clusterUp({
        dir,
        serverArgs: ['--disable-reconcilers', '--token-auth', mode],
        requireAvailable: true,
        log: (l) => console.error(l),
      });
      admin = cluster.controlPlane.adminKubeconfig;
      ca = readFileSync(join(dir, 'metal3/pki/ca.crt'), 'utf8');
      await kubectlOK(admin, ['create', 'serviceaccount', 'inventory', '-n', 'default']);
      token = (await kubectlOK(admin, ['create', 'token', 'inventory', '-n', 'default', '--duration=10m'])).trim();
    });
    after(async () => {
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('a valid token is authenticated as the ServiceAccount, then denied by RBAC with its name', async () => {
      const r = await directRequest(cluster.serverURL, { ca }, { path: HOSTS, headers: { Authorization: `Bearer ${token}` } });
      assert.equal(r.status, 403, r.body);
      assert.match(r.body, /User \\"system:serviceaccount:default:inventory\\" cannot list resource \\"baremetalhosts\\" in API group \\"metal3.io\\"/);
    });

    it('once RBAC grants it, the same token lists hosts', async () => {
      await kubectlOK(admin, ['create', 'role', 'bmh-reader', '-n', 'default', '--verb=get,list', '--resource=baremetalhosts.metal3.io']);
      await kubectlOK(admin, ['create', 'rolebinding', 'bmh-reader', '-n', 'default', '--role=bmh-reader', '--serviceaccount=default:inventory']);
      // Denials are cached for 10 s, as k8s.io/apiserver caches them.
      const deadline = Date.now() + 20_000;
      let r = await directRequest(cluster.serverURL, { ca }, { path: HOSTS, headers: { Authorization: `Bearer ${token}` } });
      while (r.status !== 200 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 1000));
        r = await directRequest(cluster.serverURL, { ca }, { path: HOSTS, headers: { Authorization: `Bearer ${token}` } });
      }
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as { kind: string }).kind, 'BareMetalHostList');
    });

    it('a forged or tampered token is 401', async () => {
      const [h, p] = token.split('.');
      const tampered = `${h}.${p}.${'A'.repeat(40)}`;
      for (const bad of [tampered, 'not-a-token']) {
        const r = await directRequest(cluster.serverURL, { ca }, { path: HOSTS, headers: { Authorization: `Bearer ${bad}` } });
        assert.equal(r.status, 401, `${bad.slice(0, 20)}…: ${r.body}`);
        assert.equal((JSON.parse(r.body) as { reason: string }).reason, 'Unauthorized');
      }
    });

    it('no credentials at all is 401: anonymous access is off unless enabled', async () => {
      const r = await directRequest(cluster.serverURL, { ca }, { path: HOSTS });
      assert.equal(r.status, 401, r.body);
    });

    it('no bearer token, valid or forged, reaches the log or an error body', async () => {
      const [h, p] = token.split('.');
      const forged = `${h}.${p}.${'B'.repeat(43)}`;
      const bodies: string[] = [];
      for (const t of [token, forged]) {
        for (const path of [HOSTS, `${HOSTS}/missing`, '/apis/metal3.io/v1alpha1/namespaces/kube-system/baremetalhosts']) {
          bodies.push((await directRequest(cluster.serverURL, { ca }, { path, headers: { Authorization: `Bearer ${t}` } })).body);
        }
      }
      // Each token's signature part alone is unique to it: finding any of it means the token leaked.
      const secrets = [token, forged, token.split('.')[2], forged.split('.')[2]];
      const log = readFileSync(cluster.server.logFile, 'utf8');
      assert.ok(log.length > 0, 'the server wrote a log to scan');
      for (const s of secrets) {
        assert.ok(!log.includes(s), 'a bearer token appears in the server log');
        for (const b of bodies) assert.ok(!b.includes(s), `a bearer token appears in an error body: ${b.slice(0, 200)}`);
      }
    });
  });
}
