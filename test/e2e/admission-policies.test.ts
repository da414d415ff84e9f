// The cluster's own ValidatingAdmissionPolicies enforced on bare-metal hosts: the five policies of
// test/fixtures/policies, applied with kubectl, each shown to deny, warn or audit with its message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNamespace, kubectl, kubectlOK, repoRoot, requireKubectl, startServer, type RunningServer } from './harness.ts';
import { bmhManifest } from './kubectl-output.ts';

const policies = join(repoRoot, 'test/fixtures/policies');

interface AuditEntry {
  verb: string;
  objectRef: { resource: string; namespace?: string; name?: string };
  annotations: Record<string, string>;
  validationFailures: { message: string; policy: string; binding: string; validationActions: string[] }[];
}

/** A host whose other fields pass every policy that is not under test (and BMO's own rules). */
function host(name: string, namespace: string, address: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): string {
  return bmhManifest(name, {
    namespace,
    labels,
    spec: { online: false, bootMACAddress: '52:54:00:12:34:56', bmc: { address, credentialsName: `${name}-bmc-secret` }, ...spec },
  });
}

const vmedia = (n: number) => `redfish-virtualmedia://10.30.0.${n}/redfish/v1/Systems/1`;

describe('ValidatingAdmissionPolicies on bare-metal hosts, applied and observed with kubectl', () => {
  let server: RunningServer;
  const create = (manifest: string, ...extra: string[]) => kubectl(server, ['create', ...extra, '-f', '-'], { input: manifest });
  const auditLog = (): AuditEntry[] => {
    const file = join(server.dataDir, 'audit.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry);
  };

  before(async () => {
    requireKubectl();
    server = await startServer();
    for (const ns of ['prod', 'lab', 'strict']) await createNamespace(server, ns);
    const out = await kubectlOK(server, ['apply', '-f', policies]);
    for (const name of ['virtual-media-in-prod', 'image-url-prefix', 'online-needs-workload', 'provision-by-label', 'allowed-bmc-schemes']) {
      assert.match(out, new RegExp(`validatingadmissionpolicy\\.admissionregistration\\.k8s\\.io/${name} created`));
      assert.match(out, new RegExp(`validatingadmissionpolicybinding\\.admissionregistration\\.k8s\\.io/${name} created`));
    }
    assert.match(out, /configmap\/allowed-bmc-schemes created/);
  });
  after(async () => {
    await server?.stop();
  });

  test('virtual media only in prod: an ipmi host in prod is denied; virtual media in prod and ipmi elsewhere are allowed', async () => {
    const denied = await create(host('db-ipmi', 'prod', 'ipmi://10.30.0.1:623'));
    assert.notEqual(denied.code, 0, denied.stdout);
    assert.equal(
      denied.stderr.trim(),
      `Error from server (Forbidden): error when creating "STDIN": baremetalhosts.metal3.io "db-ipmi" is forbidden: ValidatingAdmissionPolicy 'virtual-media-in-prod' with binding 'virtual-media-in-prod' denied request: hosts in prod must boot from virtual media (redfish-virtualmedia, idrac-virtualmedia or ilo5-virtualmedia BMC addresses)`,
    );
    assert.match((await kubectl(server, ['-n', 'prod', 'get', 'bmh', 'db-ipmi'])).stderr, /not found/);

    const ok = await create(host('db-vmedia', 'prod', vmedia(2)));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'baremetalhost.metal3.io/db-vmedia created');

    const lab = await create(host('lab-ipmi', 'lab', 'ipmi://10.30.0.3:623'));
    assert.equal(lab.code, 0, lab.stderr);

    // An update that moves a prod host off virtual media is denied as well (while registering, so
    // that BMO's own rule lets the BMC address change).
    const registering = { status: { errorMessage: '', operationalStatus: 'OK', poweredOn: false, provisioning: { ID: '', state: 'registering' } } };
    await kubectlOK(server, ['-n', 'prod', 'patch', 'bmh', 'db-vmedia', '--subresource=status', '--type=merge', '-p', JSON.stringify(registering)]);
    const r = await kubectl(server, ['-n', 'prod', 'patch', 'bmh', 'db-vmedia', '--type=merge', '-p', '{"spec":{"bmc":{"address":"redfish://10.30.0.2/redfish/v1/Systems/1"}}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ValidatingAdmissionPolicy 'virtual-media-in-prod' with binding 'virtual-media-in-prod' denied request/);
  });

  test("the README's policy example is the fixture, and its denied create is what the server answers", async () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Admission and policies'));
    const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    const fixture = readFileSync(join(policies, 'virtual-media-in-prod.yaml'), 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');
    assert.equal(yamlBlock, fixture);
    const manifest = /create -f - <<'YAML'\n([\s\S]*?)YAML\n/.exec(section)?.[1];
    const printed = /^Error from server.*$/m.exec(section)?.[0];
    assert.ok(manifest && printed, 'the README shows the manifest and the denial');
    const r = await kubectl(server, ['-n', 'prod', 'create', '-f', '-'], { input: manifest });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), printed);
  });

  test('image URLs under an allowed prefix: a Warn binding prints the warning and the host is created', async () => {
    const image = { url: 'http://mirror.example.org/ubuntu-24.04.qcow2', checksum: 'http://mirror.example.org/ubuntu-24.04.qcow2.sha256sum' };
    const r = await create(host('img-outside', 'lab', vmedia(4), { image }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'baremetalhost.metal3.io/img-outside created');
    assert.match(r.stderr, /^Warning: Validation failed for ValidatingAdmissionPolicy 'image-url-prefix' with binding 'image-url-prefix': image URLs must be under https:\/\/images\.corp\.example\/$/m);
    await kubectlOK(server, ['-n', 'lab', 'get', 'bmh', 'img-outside']);

    const inside = { url: 'https://images.corp.example/ubuntu-24.04.qcow2', checksum: 'https://images.corp.example/ubuntu-24.04.qcow2.sha256sum' };
    const quiet = await create(host('img-inside', 'lab', vmedia(5), { image: inside }));
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /Warning/);
  });

  test('no online host without an image or consumerRef: denied with a messageExpression naming the host', async () => {
    await kubectlOK(server, ['label', 'namespace', 'strict', 'policy.example.com/online-needs-workload=enforced']);
    const r = await create(host('idle-1', 'strict', vmedia(6), { online: true }));
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /is invalid: .*ValidatingAdmissionPolicy 'online-needs-workload' with binding 'online-needs-workload' denied request: host idle-1 is online but has no image, customDeploy or consumerRef/);

    const consumer = { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1', kind: 'Metal3Machine', name: 'worker-0', namespace: 'strict' };
    assert.equal((await create(host('owned-1', 'strict', vmedia(7), { online: true, consumerRef: consumer }))).code, 0);
    assert.equal((await create(host('off-1', 'strict', vmedia(8), { online: false }))).code, 0);
    // Turning a host on later is held to the same rule.
    const on = await kubectl(server, ['-n', 'strict', 'patch', 'bmh', 'off-1', '--type=merge', '-p', '{"spec":{"online":true}}']);
    assert.notEqual(on.code, 0);
    assert.match(on.stderr, /host off-1 is online but has no image, customDeploy or consumerRef/);
  });

  test('allowed BMC schemes from a ConfigMap: Audit records, Deny denies, parameterNotFoundAction decides without params', async () => {
    const before = auditLog().length;
    const audited = await create(host('legacy-ipmi', 'lab', 'ipmi://10.30.0.9:623'));
    assert.equal(audited.code, 0, audited.stderr);
    assert.doesNotMatch(audited.stderr, /allowed-bmc-schemes/, 'Audit alone neither denies nor warns');
    const entries = auditLog().slice(before);
    const entry = entries.find((e) => e.objectRef.name === 'legacy-ipmi');
    assert.ok(entry, `an audit entry for legacy-ipmi in ${JSON.stringify(entries)}`);
    assert.equal(entry.verb, 'create');
    assert.deepEqual(entry.validationFailures.map((f) => [f.policy, f.binding, f.message, f.validationActions]), [
      ['allowed-bmc-schemes', 'allowed-bmc-schemes', 'BMC scheme ipmi is not in the allowed list: redfish-virtualmedia, idrac-virtualmedia, redfish', ['Audit']],
    ]);
    assert.match(entry.annotations['validation.policy.admission.k8s.io/validation_failure'] ?? '', /BMC scheme ipmi is not in the allowed list/);

    await kubectlOK(server, ['patch', 'validatingadmissionpolicybinding', 'allowed-bmc-schemes', '--type=merge', '-p', '{"spec":{"validationActions":["Deny"]}}']);
    const denied = await create(host('legacy-ipmi-2', 'lab', 'ipmi://10.30.0.10:623'));
    assert.notEqual(denied.code, 0);
    assert.equal(
      denied.stderr.trim(),
      `Error from server (Forbidden): error when creating "STDIN": baremetalhosts.metal3.io "legacy-ipmi-2" is forbidden: ValidatingAdmissionPolicy 'allowed-bmc-schemes' with binding 'allowed-bmc-schemes' denied request: BMC scheme ipmi is not in the allowed list: redfish-virtualmedia, idrac-virtualmedia, redfish`,
    );
    // The params are read per request: widening the list in the ConfigMap lets ipmi in.
    await kubectlOK(server, ['-n', 'kube-system', 'patch', 'configmap', 'allowed-bmc-schemes', '--type=merge', '-p', '{"data":{"schemes":"redfish-virtualmedia, ipmi"}}']);
    assert.equal((await create(host('legacy-ipmi-3', 'lab', 'ipmi://10.30.0.11:623'))).code, 0);

    await kubectlOK(server, ['-n', 'kube-system', 'delete', 'configmap', 'allowed-bmc-schemes']);
    const noParams = await create(host('no-params', 'lab', vmedia(12)));
    assert.notEqual(noParams.code, 0);
    assert.match(noParams.stderr, /ValidatingAdmissionPolicy 'allowed-bmc-schemes' with binding 'allowed-bmc-schemes' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction/);
    await kubectlOK(server, ['patch', 'validatingadmissionpolicybinding', 'allowed-bmc-schemes', '--type=merge', '-p', '{"spec":{"paramRef":{"parameterNotFoundAction":"Allow"}}}']);
    const allowed = await create(host('no-params', 'lab', vmedia(12)));
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  test('a policy whose CEL does not compile is rejected at kubectl apply, naming the expression', async () => {
    const broken = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'broken-online' },
      spec: {
        matchConstraints: { resourceRules: [{ apiGroups: ['metal3.io'], apiVersions: ['v1alpha1'], operations: ['CREATE'], resources: ['baremetalhosts'] }] },
        validations: [{ expression: 'object.spec.online == true' }, { expression: 'object.spec.online ==' }],
      },
    };
    const r = await kubectl(server, ['apply', '-f', '-'], { input: JSON.stringify(broken) });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /The ValidatingAdmissionPolicy "broken-online" is invalid: spec\.validations\[1\]\.expression: Invalid value: "object\.spec\.online ==": compilation failed: ERROR: <input>/);
    assert.doesNotMatch(r.stderr, /validations\[0\]/, 'only the broken expression is named');
    assert.match((await kubectl(server, ['get', 'validatingadmissionpolicy', 'broken-online'])).stderr, /not found/);
  });

  // The provision subresource: POST baremetalhosts/NAME/provision with a ProvisionRequest.
  test('provision requests are limited to hosts labelled as released', async () => {
    await kubectlOK(server, ['create', '-f', '-'], { input: host('held', 'lab', vmedia(20)) });
    await kubectlOK(server, ['create', '-f', '-'], { input: host('released', 'lab', vmedia(21), {}, { 'provisioning.example.com/released': 'true' }) });
    const request = JSON.stringify({
      apiVersion: 'metal3.io/v1alpha1',
      kind: 'ProvisionRequest',
      image: { url: 'https://images.corp.example/ubuntu-24.04.qcow2', checksum: 'https://images.corp.example/ubuntu-24.04.qcow2.sha256sum' },
    });
    const provision = (name: string) =>
      kubectl(server, ['create', '--raw', `/apis/metal3.io/v1alpha1/namespaces/lab/baremetalhosts/${name}/provision`, '-f', '-'], { input: request });

    const denied = await provision('held');
    assert.notEqual(denied.code, 0, denied.stdout);
    assert.match(denied.stderr, /ValidatingAdmissionPolicy 'provision-by-label' with binding 'provision-by-label' denied request: host held is not released for provisioning \(label provisioning\.example\.com\/released=true\)/);
    assert.equal((await kubectlOK(server, ['-n', 'lab', 'get', 'bmh', 'held', '-o', 'jsonpath={.spec.image}'])).trim(), '', 'a denied request writes nothing');

    const ok = await provision('released');
    assert.equal(ok.code, 0, ok.stderr);
    const image = JSON.parse(await kubectlOK(server, ['-n', 'lab', 'get', 'bmh', 'released', '-o', 'jsonpath={.spec.image}'])) as { url: string };
    assert.equal(image.url, 'https://images.corp.example/ubuntu-24.04.qcow2');

    // The policy matches only the subresource: ordinary writes to an unlabelled host are untouched.
    await kubectlOK(server, ['-n', 'lab', 'patch', 'bmh', 'held', '--type=merge', '-p', '{"spec":{"description":"waiting for release"}}']);
  });
});
