// Our server registered behind a real kube-apiserver (test/cluster/up.ts), proven from the outside: kubectl
// talks to kube-apiserver only, which proxies metal3.io to us through the APIService; authentication is
// the front proxy's and authorization the cluster's RBAC; BMC credentials, Events and admission policies
// live in the cluster. One cluster serves every test here, so the tests run in order and name their
// objects apart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsRequest } from '../cluster/client.ts';
import { controlPlaneSkipReason } from '../cluster/kube-apiserver.ts';
import { issue } from '../cluster/pki.ts';
import { APISERVICE_NAME, apiServiceCondition, clusterUp, type RunningCluster } from '../cluster/up.ts';
import { directRequest, eventually, kubectl, kubectlOK, startWatch, type TLSClient } from './cluster-helpers.ts';

const skip = controlPlaneSkipReason();
const NS = 'default';
const HOSTS = `/apis/metal3.io/v1alpha1/namespaces/${NS}/baremetalhosts`;

interface Host {
  metadata: { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; managedFields?: { manager: string; operation: string }[] };
  spec: { online?: boolean; bmc?: { address: string; credentialsName: string } };
  status?: { provisioning?: { state?: string } };
}

const hostManifest = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace: NS },
    spec: { online: true, bootMACAddress: '00:11:22:33:44:55', bmc: { address: `fake://${name}`, credentialsName: `${name}-bmc` }, ...extra },
  });

describe('metal3-apiserver behind kube-apiserver', { skip }, () => {
  let dir: string;
  let cluster: RunningCluster;
  let admin: string;
  let user: string;
  /** What the aggregator presents to us: its front-proxy client certificate. */
  let frontProxy: TLSClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-aggregated-'));
    cluster = await clusterUp({
      dir,
      // Fast simulated hardware: hosts reach `available` in seconds.
      serverArgs: ['--simulator-speed', '0.05'],
      requireAvailable: true,
      log: (l) => console.error(l),
    });
    admin = cluster.controlPlane.adminKubeconfig;
    user = cluster.controlPlane.userKubeconfig;
    const pki = cluster.controlPlane.pki;
    frontProxy = {
      ca: readFileSync(join(dir, 'metal3/pki/ca.crt'), 'utf8'),
      cert: readFileSync(pki.frontProxyClient.certFile, 'utf8'),
      key: readFileSync(pki.frontProxyClient.keyFile, 'utf8'),
    };
  });

  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A BMC Secret and a host referring to it, both created through kube-apiserver; resolves once the host is available. */
  async function availableHost(name: string): Promise<Host> {
    await kubectlOK(admin, ['create', 'secret', 'generic', `${name}-bmc`, '-n', NS, '--from-literal=username=admin', '--from-literal=password=s3cret']);
    await kubectlOK(admin, ['create', '-f', '-'], hostManifest(name));
    return eventually(`${name} available`, 30_000, async () => {
      const h = JSON.parse(await kubectlOK(admin, ['get', 'bmh', name, '-n', NS, '-o', 'json'])) as Host;
      return h.status?.provisioning?.state === 'available' ? h : undefined;
    });
  }

  it('reports the APIService Available', async () => {
    const c = await apiServiceCondition(cluster.controlPlane);
    assert.equal(c.status, 'True', JSON.stringify(c));
    assert.equal(c.reason, 'Passed');
    const out = await kubectlOK(admin, ['get', 'apiservice', APISERVICE_NAME, '-o', 'jsonpath={.spec.service.name}/{.spec.service.port}']);
    assert.equal(out, `metal3-apiserver/${new URL(cluster.serverURL).port}`);
  });

  it('lets kubectl create, apply, server-side apply, watch, explain and delete hosts through kube-apiserver', async () => {
    const watch = startWatch(admin, ['get', 'bmh', '-n', NS, '-w', '--output-watch-events']);
    try {
      await watch.header;
      await kubectlOK(admin, ['create', '-f', '-'], hostManifest('kc-0', { online: false }));
      const created = JSON.parse(await kubectlOK(admin, ['get', 'bmh', 'kc-0', '-n', NS, '-o', 'json'])) as Host;
      assert.equal(created.spec.online, false);

      // Client-side apply: a create, then a three-way merge through our JSON merge patch support.
      const applied = hostManifest('kc-1');
      assert.match(await kubectlOK(admin, ['apply', '-f', '-'], applied), /baremetalhost.metal3.io\/kc-1 created/);
      const changed = JSON.parse(applied) as { metadata: { labels?: Record<string, string> }; spec: { online: boolean } };
      changed.metadata.labels = { rack: 'r1' };
      changed.spec.online = false;
      assert.match(await kubectlOK(admin, ['apply', '-f', '-'], JSON.stringify(changed)), /configured/);
      const kc1 = JSON.parse(await kubectlOK(admin, ['get', 'bmh', 'kc-1', '-n', NS, '-o', 'json'])) as Host;
      assert.equal(kc1.metadata.labels?.rack, 'r1');
      assert.equal(kc1.spec.online, false);
      assert.ok(kc1.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']);

      // Server-side apply takes over kc-0's online field from its creator.
      const ssa = JSON.stringify({ apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: { name: 'kc-0', namespace: NS }, spec: { online: true } });
      await kubectlOK(admin, ['apply', '--server-side', '--force-conflicts', '--field-manager=dd-test', '-f', '-'], ssa);
      const kc0 = JSON.parse(await kubectlOK(admin, ['get', 'bmh', 'kc-0', '-n', NS, '-o', 'json', '--show-managed-fields'])) as Host;
      assert.equal(kc0.spec.online, true);
      assert.ok(kc0.metadata.managedFields?.some((f) => f.manager === 'dd-test' && f.operation === 'Apply'), JSON.stringify(kc0.metadata.managedFields));

      // Our Table: kube-apiserver passes the Accept header through and kubectl prints our columns.
      const table = await kubectlOK(admin, ['get', 'bmh', '-n', NS]);
      assert.deepEqual(table.split('\n')[0].trim().split(/\s+/), ['NAME', 'STATE', 'CONSUMER', 'ONLINE', 'ERROR', 'AGE']);
      assert.match(table, /^kc-0\s/m);

      // kubectl explain reads the OpenAPI v3 document kube-apiserver aggregated from ours.
      const explain = await kubectlOK(admin, ['explain', 'bmh.spec.bmc']);
      assert.match(explain, /KIND:\s+BareMetalHost/);
      assert.match(explain, /address\s+<string> -required-/);
      assert.match(explain, /credentialsName\s+<string>/);

      assert.match(await kubectlOK(admin, ['delete', 'bmh', 'kc-0', 'kc-1', '-n', NS, '--timeout=30s']), /deleted/);
      const gone = await kubectl(admin, ['get', 'bmh', 'kc-0', '-n', NS]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /NotFound|not found/);

      const events = await eventually('the watch to see both deletions', 10_000, async () => {
        const seen = watch.events();
        return ['kc-0', 'kc-1'].every((n) => seen.some((e) => e.type === 'DELETED' && e.name === n)) ? seen : undefined;
      });
      for (const name of ['kc-0', 'kc-1']) {
        const types = events.filter((e) => e.name === name).map((e) => e.type);
        assert.equal(types[0], 'ADDED', `${name}: ${types.join(' ')}`);
        assert.ok(types.includes('MODIFIED'), `${name}: ${types.join(' ')}`);
        assert.equal(types.at(-1), 'DELETED', `${name}: ${types.join(' ')}`);
      }
    } finally {
      watch.stop();
    }
  });

  it('forbids a user without RBAC, in kube-apiserver and in our own SubjectAccessReview', async () => {
    // kube-apiserver authorizes every request before its aggregator proxies it, so kubectl's 403 is the
    // cluster's RBAC verdict...
    const viaKube = await kubectl(user, ['get', 'bmh', '-n', NS]);
    assert.notEqual(viaKube.code, 0);
    assert.match(viaKube.stderr, /Forbidden.*baremetalhosts\.metal3\.io.*User "alice" cannot list resource "baremetalhosts" in API group "metal3\.io"/);

    // ...and our server asks the cluster again for the user the front proxy vouches for.
    const direct = await directRequest(cluster.serverURL, frontProxy, { path: HOSTS, headers: { 'X-Remote-User': 'alice', 'X-Remote-Group': 'system:authenticated' } });
    assert.equal(direct.status, 403, direct.body);
    const status = JSON.parse(direct.body) as { reason: string; message: string; code: number };
    assert.equal(status.reason, 'Forbidden');
    assert.equal(status.code, 403);
    assert.match(status.message, /baremetalhosts\.metal3\.io is forbidden: User "alice" cannot list resource "baremetalhosts" in API group "metal3\.io" in the namespace "default"/);

    // The same front-proxy path with a group RBAC trusts is answered: the refusal was about alice.
    const masters = await directRequest(cluster.serverURL, frontProxy, { path: HOSTS, headers: { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' } });
    assert.equal(masters.status, 200, masters.body);
  });

  it('lets a user granted only create on baremetalhosts/inspect inspect a host but not update it', async () => {
    await availableHost('insp-0');
    await kubectlOK(admin, ['create', 'role', 'bmh-inspector', '-n', NS, '--verb=create', '--resource=baremetalhosts.metal3.io/inspect']);
    await kubectlOK(admin, ['create', 'rolebinding', 'bmh-inspector', '-n', NS, '--role=bmh-inspector', '--user=alice']);
    const body = join(dir, 'inspection.json');
    writeFileSync(body, JSON.stringify({ apiVersion: 'metal3.io/v1alpha1', kind: 'InspectionRequest' }));

    // RBAC's informer in kube-apiserver picks the binding up within moments.
    const answer = await eventually('alice may inspect', 10_000, async () => {
      const r = await kubectl(user, ['create', '--raw', `${HOSTS}/insp-0/inspect`, '-f', body]);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout;
    });
    const req = JSON.parse(answer) as { kind: string; status: { accepted: boolean; hostState: string } };
    assert.equal(req.kind, 'InspectionRequest');
    assert.deepEqual(req.status, { accepted: true, hostState: 'available' });
    const inspected = JSON.parse(await kubectlOK(admin, ['get', 'bmh', 'insp-0', '-n', NS, '-o', 'json'])) as Host;
    const state = inspected.status?.provisioning?.state;
    assert.ok(inspected.metadata.annotations?.['inspect.metal3.io'] === '' || state === 'inspecting', `state ${state}`);

    const alice = { ca: cluster.controlPlane.pki.ca.cert, cert: cluster.controlPlane.pki.user.cert, key: cluster.controlPlane.pki.user.key };
    const patch = await httpsRequest(`${cluster.controlPlane.url}${HOSTS}/insp-0`, alice, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { spec: { online: false } },
    });
    assert.equal(patch.status, 403, patch.body);
    assert.match(patch.json<{ message: string }>().message, /User "alice" cannot patch resource "baremetalhosts" in API group "metal3\.io"/);

    // Our own authorizer sees the subresource too: the direct inspect passes authorization (and meets the
    // pending inspection, 409), the direct patch does not.
    const asAlice = { 'X-Remote-User': 'alice', 'X-Remote-Group': 'system:authenticated' };
    const again = await directRequest(cluster.serverURL, frontProxy, { method: 'POST', path: `${HOSTS}/insp-0/inspect`, headers: asAlice, body: readFileSync(body, 'utf8') });
    assert.notEqual(again.status, 403, again.body);
    assert.ok(again.status === 409 || again.status === 201 || again.status === 200, `${again.status} ${again.body}`);
    const directPatch = await directRequest(cluster.serverURL, frontProxy, {
      method: 'PATCH',
      path: `${HOSTS}/insp-0`,
      headers: { ...asAlice, 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { online: false } }),
    });
    assert.equal(directPatch.status, 403, directPatch.body);
    assert.match(directPatch.body, /User \\"alice\\" cannot patch resource \\"baremetalhosts\\"/);
  });

  it('answers 401 to identity headers that do not come with the front-proxy certificate', async () => {
    const claim = { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' };
    const ca = frontProxy.ca;

    const anonymous = await directRequest(cluster.serverURL, { ca }, { path: HOSTS, headers: claim });
    assert.equal(anonymous.status, 401, anonymous.body);
    assert.equal((JSON.parse(anonymous.body) as { reason: string }).reason, 'Unauthorized');

    // Signed by the front-proxy CA, but not with a name kube-apiserver publishes as allowed.
    const impostor = issue(cluster.controlPlane.pki.frontProxyCA, { commonName: 'not-the-front-proxy', clientAuth: true });
    const badName = await directRequest(cluster.serverURL, { ca, ...impostor }, { path: HOSTS, headers: claim });
    assert.equal(badName.status, 401, badName.body);

    // A genuine client certificate of the cluster's CA is alice, whatever the headers claim.
    const pki = cluster.controlPlane.pki;
    const asAlice = await directRequest(cluster.serverURL, { ca, cert: pki.user.cert, key: pki.user.key }, { path: HOSTS, headers: claim });
    assert.equal(asAlice.status, 403, asAlice.body);
    assert.match(asAlice.body, /User \\"alice\\"/);
  });

  it('reads BMC credentials from a Secret in the cluster and records Events there', async () => {
    const host = await availableHost('cred-0');
    const secret = JSON.parse(await kubectlOK(admin, ['get', 'secret', 'cred-0-bmc', '-n', NS, '-o', 'json'])) as {
      metadata: { labels?: Record<string, string>; ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[] };
    };
    assert.equal(secret.metadata.labels?.['environment.metal3.io'], 'baremetal');
    assert.deepEqual(
      secret.metadata.ownerReferences?.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid })),
      [{ apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', name: 'cred-0', uid: host.metadata.uid }],
    );
    // Our server keeps no core/v1 of its own in cluster mode: the Secret can only have come from the cluster.
    const ours = await directRequest(cluster.serverURL, frontProxy, { path: `/api/v1/namespaces/${NS}/secrets/cred-0-bmc`, headers: { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' } });
    assert.equal(ours.status, 404, ours.body);

    const events = JSON.parse(
      await kubectlOK(admin, ['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=BareMetalHost,involvedObject.name=cred-0', '-o', 'json']),
    ) as { items: { reason: string; involvedObject: { uid?: string } }[] };
    const reasons = events.items.map((e) => e.reason);
    assert.ok(reasons.includes('Registered'), reasons.join(' '));
    assert.ok(reasons.includes('BMCAccessValidated'), reasons.join(' '));
    assert.ok(events.items.every((e) => e.involvedObject.uid === host.metadata.uid));
  });

  it("applies the cluster's ValidatingAdmissionPolicy to hosts created through kube-apiserver", async () => {
    const policy = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'no-quarantined-hosts' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: ['metal3.io'], apiVersions: ['v1alpha1'], operations: ['CREATE'], resources: ['baremetalhosts'] }] },
        validations: [{ expression: "!object.metadata.name.startsWith('quarantined-')", message: 'quarantined hosts may not be enrolled' }],
      },
    };
    const binding = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'no-quarantined-hosts' },
      spec: { policyName: 'no-quarantined-hosts', validationActions: ['Deny'] },
    };
    await kubectlOK(admin, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [policy, binding] }));
    try {
      // Our informers see the policy a moment after kube-apiserver stored it.
      const denied = await eventually('the policy to deny', 15_000, async () => {
        const r = await kubectl(admin, ['create', '-f', '-'], hostManifest('quarantined-0'));
        if (r.code === 0) await kubectlOK(admin, ['delete', 'bmh', 'quarantined-0', '-n', NS]);
        // Anything else (AlreadyExists while an early, admitted attempt is still being deleted) is retried.
        if (!/ValidatingAdmissionPolicy/.test(r.stderr)) throw new Error(r.stderr || 'admitted');
        return r.stderr;
      });
      assert.match(
        denied,
        // kube-apiserver's wording for a policy without a reason (Invalid, with an empty field path).
        /The baremetalhosts "quarantined-0" is invalid: : ValidatingAdmissionPolicy 'no-quarantined-hosts' with binding 'no-quarantined-hosts' denied request: quarantined hosts may not be enrolled/,
      );
      const allowed = await kubectl(admin, ['create', '-f', '-'], hostManifest('vap-ok-0', { online: false }));
      assert.equal(allowed.code, 0, allowed.stderr);
    } finally {
      await kubectl(admin, ['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', 'no-quarantined-hosts']);
    }
  });
});
