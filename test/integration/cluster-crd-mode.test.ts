// The manifests against a real kube-apiserver, and CRD mode: kube-apiserver serving the generated CRDs
// and calling our AdmissionReview endpoints through the webhook configurations the crd-mode overlay
// ships. The harness registers our server through the APIService first (so the base's dry run meets the
// objects it would update); the CRD-mode tests then take metal3.io over from the APIService.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { controlPlaneSkipReason } from '../cluster/kube-apiserver.ts';
import { freePort } from '../cluster/process.ts';
import { APISERVICE_NAME, clusterUp, type RunningCluster } from '../cluster/up.ts';
import { directRequest, eventually, kubectl, kubectlOK } from './cluster-helpers.ts';

const skip = controlPlaneSkipReason();
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const manifests = join(repoRoot, 'manifests');
const overlays = readdirSync(join(manifests, 'overlays'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

interface WebhookClientConfig {
  service?: { name: string; namespace: string; path?: string; port?: number };
  url?: string;
  caBundle?: string;
}

async function render(dir: string): Promise<Doc[]> {
  const r = await kubectl('/dev/null', ['kustomize', dir]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Doc);
}

const kindsOf = (docs: Doc[]) => new Set(docs.map((d) => `${d.apiVersion.split('/').length > 1 ? d.apiVersion.split('/')[0] : 'core'}/${d.kind}`));

/** cert-manager is a prerequisite of the overlays, not part of this cluster: stand-in CRDs for its two kinds let their objects through dry runs. */
function certManagerStandIns(): string {
  const crd = (kind: string, plural: string) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.cert-manager.io` },
    spec: {
      group: 'cert-manager.io',
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  });
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [crd('Issuer', 'issuers'), crd('Certificate', 'certificates')] });
}

describe('manifests and CRD mode against kube-apiserver', { skip }, () => {
  let dir: string;
  let cluster: RunningCluster;
  let admin: string;
  let webhookPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-crd-mode-'));
    webhookPort = await freePort();
    cluster = await clusterUp({
      dir,
      // The reconcilers would chase the hosts across the switch from APIService to CRDs; this suite is about admission.
      serverArgs: ['--webhook-port', String(webhookPort), '--disable-reconcilers'],
      requireAvailable: true,
      log: (l) => console.error(l),
    });
    admin = cluster.controlPlane.adminKubeconfig;
  });

  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders the base and every overlay with kubectl kustomize', async () => {
    assert.ok(overlays.includes('crd-mode') && overlays.includes('kind'), overlays.join(' '));
    const base = await render(join(manifests, 'base'));
    const kinds = kindsOf(base);
    for (const k of ['core/Namespace', 'core/ServiceAccount', 'core/Service', 'apps/Deployment', 'apiregistration.k8s.io/APIService', 'rbac.authorization.k8s.io/ClusterRoleBinding']) {
      assert.ok(kinds.has(k), `base lacks ${k}: ${[...kinds].join(' ')}`);
    }
    const delegator = base.find((d) => d.kind === 'ClusterRoleBinding' && (d.roleRef as { name: string }).name === 'system:auth-delegator');
    assert.ok(delegator, 'base binds system:auth-delegator');
    const reader = base.find((d) => d.kind === 'RoleBinding' && d.metadata.namespace === 'kube-system');
    assert.equal((reader?.roleRef as { name: string } | undefined)?.name, 'extension-apiserver-authentication-reader');
    const deployment = base.find((d) => d.kind === 'Deployment' && d.metadata.name === 'metal3-apiserver');
    assert.equal((deployment?.spec as { replicas: number }).replicas, 2);

    for (const overlay of overlays) {
      const docs = await render(join(manifests, 'overlays', overlay));
      assert.ok(docs.some((d) => d.kind === 'Deployment' && d.metadata.name === 'metal3-apiserver'), `${overlay} has the server's Deployment`);
    }
    const crdMode = await render(join(manifests, 'overlays', 'crd-mode'));
    assert.ok(!crdMode.some((d) => d.kind === 'APIService'), 'crd-mode leaves metal3.io to the CRDs');
    assert.ok(crdMode.some((d) => d.kind === 'CustomResourceDefinition' && d.metadata.name === 'baremetalhosts.metal3.io'));
    assert.ok(crdMode.some((d) => d.kind === 'ValidatingWebhookConfiguration'));
  });

  it('passes kube-apiserver validation with apply --dry-run=server, base and crd-mode overlay', async () => {
    await kubectlOK(admin, ['apply', '--server-side', '-f', '-'], certManagerStandIns());
    await kubectlOK(admin, ['wait', '--for=condition=Established', '--timeout=30s', 'crd/issuers.cert-manager.io', 'crd/certificates.cert-manager.io']);
    for (const target of ['base', 'overlays/crd-mode']) {
      // kubectl's discovery cache may predate the stand-in CRDs for a moment.
      const out = await eventually(`dry run of ${target}`, 15_000, async () => {
        const r = await kubectl(admin, ['apply', '--dry-run=server', '-k', join(manifests, target)]);
        if (r.code !== 0) throw new Error(r.stderr);
        return r.stdout;
      });
      assert.match(out, /deployment\.apps\/metal3-apiserver (created|configured|unchanged) \(server dry run\)/, out);
      if (target === 'base') assert.match(out, /apiservice\.apiregistration\.k8s\.io\/v1alpha1\.metal3\.io (created|configured|unchanged) \(server dry run\)/, out);
      else assert.match(out, /validatingwebhookconfiguration\.admissionregistration\.k8s\.io\/metal3-validating-webhook-configuration created \(server dry run\)/, out);
    }
    // Nothing was persisted: the harness's APIService still points at the ExternalName Service.
    const svc = JSON.parse(await kubectlOK(admin, ['get', 'apiservice', APISERVICE_NAME, '-o', 'json'])) as { spec: { service: { port: number } } };
    assert.equal(svc.spec.service.port, Number(new URL(cluster.serverURL).port));
  });

  it('serves the generated CRDs and has kube-apiserver call our AdmissionReview webhook', async () => {
    await kubectlOK(admin, ['delete', 'apiservice', APISERVICE_NAME]);
    await kubectlOK(admin, ['apply', '--server-side', '-k', join(manifests, 'crds')]);
    await kubectlOK(admin, ['wait', '--for=condition=Established', '--timeout=30s', 'crd/baremetalhosts.metal3.io']);
    // The CRDs registered metal3.io/v1alpha1 as a local APIService: kube-apiserver serves it itself now.
    const local = await eventually('a local APIService for metal3.io', 15_000, async () => {
      const r = await kubectl(admin, ['get', 'apiservice', APISERVICE_NAME, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const spec = (JSON.parse(r.stdout) as { spec: { service?: unknown } }).spec;
      return spec.service ? undefined : spec;
    });
    assert.equal(local.service, undefined);

    // The overlay's webhook configurations, pointed at our --webhook-port instead of the in-cluster Service.
    const caBundle = Buffer.from(readFileSync(join(dir, 'metal3/pki/ca.crt'))).toString('base64');
    const rendered = await render(join(manifests, 'overlays', 'crd-mode'));
    const configs = rendered.filter((d) => d.kind === 'ValidatingWebhookConfiguration' || d.kind === 'MutatingWebhookConfiguration');
    assert.ok(configs.length > 0);
    for (const c of configs) {
      delete (c.metadata as { annotations?: unknown }).annotations;
      for (const w of c.webhooks as { clientConfig: WebhookClientConfig }[]) {
        const path = w.clientConfig.service?.path ?? '/';
        w.clientConfig = { url: `https://127.0.0.1:${webhookPort}${path}`, caBundle };
      }
    }
    await kubectlOK(admin, ['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: configs }));

    const invalid = JSON.stringify({
      apiVersion: 'metal3.io/v1alpha1',
      kind: 'BareMetalHost',
      metadata: { name: 'crd-bad', namespace: 'default' },
      spec: { online: true, bootMACAddress: '00:11:22:33:44:66', bmc: { address: 'carrier-pigeon://10.0.0.9', credentialsName: 'crd-bad-bmc' } },
    });
    // kube-apiserver's webhook informer takes the configuration up within moments.
    const rejected = await eventually('the webhook to reject', 15_000, async () => {
      const r = await kubectl(admin, ['create', '-f', '-'], invalid);
      if (r.code === 0) await kubectlOK(admin, ['delete', 'bmh', 'crd-bad', '-n', 'default']);
      if (!/admission webhook/.test(r.stderr)) throw new Error(r.stderr || 'admitted');
      return r.stderr;
    });
    assert.match(rejected, /admission webhook "validate\.baremetalhosts\.metal3\.io" denied the request/, rejected);
    assert.match(rejected, /Unknown BMC type 'carrier-pigeon' for address carrier-pigeon:\/\/10\.0\.0\.9/, rejected);

    const valid = JSON.stringify({
      apiVersion: 'metal3.io/v1alpha1',
      kind: 'BareMetalHost',
      metadata: { name: 'crd-good', namespace: 'default' },
      spec: { online: true, bootMACAddress: '00:11:22:33:44:77', bmc: { address: 'redfish://10.0.0.10/redfish/v1/Systems/1', credentialsName: 'crd-good-bmc' } },
    });
    await kubectlOK(admin, ['create', '-f', '-'], valid);
    const stored = JSON.parse(await kubectlOK(admin, ['get', 'bmh', 'crd-good', '-n', 'default', '-o', 'json'])) as { spec: { bmc: { address: string } } };
    assert.equal(stored.spec.bmc.address, 'redfish://10.0.0.10/redfish/v1/Systems/1');
    // kube-apiserver stored it in the CRD's storage: our server, still running, never saw it.
    const ours = await directRequest(
      cluster.serverURL,
      {
        ca: readFileSync(join(dir, 'metal3/pki/ca.crt'), 'utf8'),
        cert: readFileSync(cluster.controlPlane.pki.frontProxyClient.certFile, 'utf8'),
        key: readFileSync(cluster.controlPlane.pki.frontProxyClient.keyFile, 'utf8'),
      },
      { path: '/apis/metal3.io/v1alpha1/namespaces/default/baremetalhosts/crd-good', headers: { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' } },
    );
    assert.equal(ours.status, 404, ours.body);
  });
});
