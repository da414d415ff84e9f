// The kustomize base and overlays, built by the machine's kubectl (its built-in kustomize) as
// `kubectl apply -k` would build them, then checked for what the cluster install depends on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { metal3Kinds } from '../../api/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, what: string): Json {
  assert.ok(isObj(v), `${what} should be an object, got ${JSON.stringify(v)}`);
  return v;
}

function arr(v: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(v), `${what} should be a list, got ${JSON.stringify(v)}`);
  return v;
}

const strings = (v: unknown, what: string): string[] => arr(v ?? [], what).map(String);

/** `kubectl kustomize DIR`; a missing kubectl fails the test rather than skipping it. */
function build(dir: string): Json[] {
  const out = execFileSync('kubectl', ['kustomize', `manifests/${dir}`], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return parseAllDocuments(out).map((d, i) => {
    assert.equal(d.errors.length, 0, `document ${i} of ${dir}: ${d.errors.join('; ')}`);
    return obj(d.toJS(), `document ${i} of ${dir}`);
  });
}

const meta = (o: Json) => obj(o.metadata, `${String(o.kind)} metadata`);

function find(objs: Json[], kind: string, name: string): Json | undefined {
  return objs.find((o) => o.kind === kind && (meta(o).name === name || String(meta(o).name).startsWith(`${name}-`)));
}

function must(objs: Json[], kind: string, name: string): Json {
  const o = objs.find((x) => x.kind === kind && meta(x).name === name);
  assert.ok(o, `${kind} ${name} is missing; have ${objs.map((x) => `${String(x.kind)}/${String(meta(x).name)}`).join(', ')}`);
  return o;
}

const podSpec = (deploy: Json) => obj(obj(obj(deploy.spec, 'spec').template, 'template').spec, 'pod spec');

function container(deploy: Json, name: string): Json {
  const c = arr(podSpec(deploy).containers, 'containers').map((x) => obj(x, 'container')).find((x) => x.name === name);
  assert.ok(c, `container ${name} missing`);
  return c;
}

const apiserver = (objs: Json[]) => container(must(objs, 'Deployment', 'metal3-apiserver'), 'apiserver');
const args = (c: Json) => strings(c.args, 'args');

/** The value of `--name=value` in args, or true for a bare `--name`, or undefined. */
function flag(c: Json, name: string): string | true | undefined {
  for (const a of args(c)) {
    if (a === `--${name}`) return true;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

function flagPath(c: Json, name: string): string {
  const v = flag(c, name);
  assert.equal(typeof v, 'string', `--${name} should have a value`);
  return v as string;
}

/** Where the volume that holds `path` comes from, as the pod spec declares it. */
function volumeFor(deploy: Json, c: Json, path: string): Json {
  const mounts = arr(c.volumeMounts, 'volumeMounts').map((m) => obj(m, 'volumeMount'));
  const mount = mounts
    .filter((m) => path === m.mountPath || path.startsWith(`${String(m.mountPath)}/`))
    .sort((a, b) => String(b.mountPath).length - String(a.mountPath).length)[0];
  assert.ok(mount, `nothing is mounted at ${path}`);
  const volume = arr(podSpec(deploy).volumes, 'volumes')
    .map((v) => obj(v, 'volume'))
    .find((v) => v.name === mount.name);
  assert.ok(volume, `volume ${String(mount.name)} is mounted but not declared`);
  return volume;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

function rules(role: Json): Rule[] {
  return arr(role.rules, 'rules').map((r) => {
    const o = obj(r, 'rule');
    return { apiGroups: strings(o.apiGroups, 'apiGroups'), resources: strings(o.resources, 'resources'), verbs: strings(o.verbs, 'verbs') };
  });
}

/** RBAC's own matching: "*" matches any group, resource (subresources included) and verb. */
function allows(rs: Rule[], verb: string, group: string, resource: string): boolean {
  return rs.some(
    (r) =>
      (r.apiGroups.includes(group) || r.apiGroups.includes('*')) &&
      (r.resources.includes(resource) || r.resources.includes('*')) &&
      (r.verbs.includes(verb) || r.verbs.includes('*')),
  );
}

function boundToOurServiceAccount(binding: Json): boolean {
  return arr(binding.subjects, 'subjects').some((s) => {
    const o = obj(s, 'subject');
    return o.kind === 'ServiceAccount' && o.name === 'metal3-apiserver' && o.namespace === 'metal3';
  });
}

/** What the server's ServiceAccount may do, through every binding in the build. */
function serviceAccountRules(objs: Json[], namespace: string): Rule[] {
  const out: Rule[] = [];
  for (const b of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    if (!boundToOurServiceAccount(b)) continue;
    if (b.kind === 'RoleBinding' && meta(b).namespace !== namespace) continue;
    const ref = obj(b.roleRef, 'roleRef');
    const role = objs.find((o) => o.kind === ref.kind && meta(o).name === ref.name && (ref.kind === 'ClusterRole' || meta(o).namespace === meta(b).namespace));
    if (role) out.push(...rules(role));
  }
  return out;
}

const serverFlags = (() => {
  const help = execFileSync(process.execPath, ['cmd/metal3-apiserver.ts', '--help'], { cwd: root, encoding: 'utf8' });
  return new Set([...help.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]));
})();

/** Checks every build shares: references resolve and the server gets only flags it knows. */
function checkConsistency(objs: Json[]): void {
  for (const deploy of objs.filter((o) => o.kind === 'Deployment')) {
    const spec = podSpec(deploy);
    const volumes = new Set(arr(spec.volumes ?? [], 'volumes').map((v) => obj(v, 'volume').name));
    const all = [...arr(spec.containers, 'containers'), ...arr(spec.initContainers ?? [], 'initContainers')].map((c) => obj(c, 'container'));
    for (const c of all) {
      for (const m of arr(c.volumeMounts ?? [], 'volumeMounts')) {
        assert.ok(volumes.has(obj(m, 'mount').name), `${String(meta(deploy).name)}/${String(c.name)} mounts undeclared volume ${String(obj(m, 'mount').name)}`);
      }
      const env = arr(c.env ?? [], 'env').map((e) => obj(e, 'env'));
      const names = new Set(env.map((e) => e.name));
      for (const a of strings(c.args, 'args')) {
        for (const [, v] of a.matchAll(/\$\(([A-Z_]+)\)/g)) assert.ok(names.has(v), `${a} uses $(${v}), which is not in env`);
      }
      const configMaps = [
        ...env.map((e) => (isObj(e.valueFrom) && isObj(e.valueFrom.configMapKeyRef) ? e.valueFrom.configMapKeyRef : undefined)),
        ...arr(c.envFrom ?? [], 'envFrom').map((e) => obj(e, 'envFrom').configMapRef),
      ].filter(isObj);
      for (const ref of configMaps) {
        if (ref.optional === true) continue;
        assert.ok(
          objs.some((o) => o.kind === 'ConfigMap' && meta(o).name === ref.name),
          `${String(meta(deploy).name)}/${String(c.name)} reads ConfigMap ${String(ref.name)}, which the build does not contain`,
        );
      }
    }
  }
  const server = objs.find((o) => o.kind === 'Deployment' && meta(o).name === 'metal3-apiserver');
  if (server) {
    for (const a of args(container(server, 'apiserver'))) {
      const name = /^--([a-z0-9-]+)/.exec(a)?.[1];
      assert.ok(name && serverFlags.has(name), `metal3-apiserver has no flag ${a}`);
    }
  }
  for (const o of objs) {
    const ns = meta(o).namespace;
    if (ns === undefined) continue;
    const expected = o.kind === 'RoleBinding' && String(meta(o).name).includes('extension-apiserver-authentication') ? 'kube-system' : 'metal3';
    assert.equal(ns, expected, `${String(o.kind)} ${String(meta(o).name)} namespace`);
  }
}

describe('manifests/base', () => {
  const objs = build('base');

  it('builds consistently', () => checkConsistency(objs));

  it('has the Namespace and the ServiceAccount the Deployment runs as', () => {
    must(objs, 'Namespace', 'metal3');
    assert.equal(meta(must(objs, 'ServiceAccount', 'metal3-apiserver')).namespace, 'metal3');
    assert.equal(podSpec(must(objs, 'Deployment', 'metal3-apiserver')).serviceAccountName, 'metal3-apiserver');
  });

  it('delegates authentication and authorization', () => {
    const delegator = objs.find(
      (o) => o.kind === 'ClusterRoleBinding' && obj(o.roleRef, 'roleRef').name === 'system:auth-delegator' && boundToOurServiceAccount(o),
    );
    assert.ok(delegator, 'no ClusterRoleBinding to system:auth-delegator for metal3/metal3-apiserver');
    const reader = objs.find(
      (o) =>
        o.kind === 'RoleBinding' &&
        meta(o).namespace === 'kube-system' &&
        obj(o.roleRef, 'roleRef').kind === 'Role' &&
        obj(o.roleRef, 'roleRef').name === 'extension-apiserver-authentication-reader' &&
        boundToOurServiceAccount(o),
    );
    assert.ok(reader, 'no RoleBinding in kube-system to extension-apiserver-authentication-reader');
  });

  it('lets the server read admission configuration, Namespaces and ConfigMaps, use Secrets and write Events', () => {
    const rs = serviceAccountRules(objs, 'metal3');
    for (const verb of ['get', 'list', 'watch']) {
      assert.ok(allows(rs, verb, '', 'namespaces'), `${verb} namespaces`);
      assert.ok(allows(rs, verb, '', 'configmaps'), `${verb} configmaps`);
      for (const r of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings']) {
        assert.ok(allows(rs, verb, 'admissionregistration.k8s.io', r), `${verb} ${r}`);
      }
    }
    for (const verb of ['get', 'list', 'watch', 'update', 'patch']) assert.ok(allows(rs, verb, '', 'secrets'), `${verb} secrets`);
    for (const verb of ['create', 'delete', 'deletecollection']) assert.ok(!allows(rs, verb, '', 'secrets'), `${verb} secrets is more than BMO needs`);
    for (const group of ['', 'events.k8s.io']) {
      for (const verb of ['create', 'patch', 'update']) assert.ok(allows(rs, verb, group, 'events'), `${verb} events in "${group}"`);
    }
  });

  it('lets the reconcilers use every metal3.io kind and its status, and hold their Lease', () => {
    const rs = serviceAccountRules(objs, 'metal3');
    for (const def of metal3Kinds) {
      for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) {
        assert.ok(allows(rs, verb, 'metal3.io', def.plural), `${verb} ${def.plural}`);
        if (def.subresources.status && verb !== 'create' && verb !== 'delete') {
          assert.ok(allows(rs, verb, 'metal3.io', `${def.plural}/status`), `${verb} ${def.plural}/status`);
        }
      }
    }
    for (const verb of ['get', 'create', 'update']) assert.ok(allows(rs, verb, 'coordination.k8s.io', 'leases'), `${verb} leases in metal3`);
    // The Lease rights are namespaced, not cluster-wide.
    const clusterWide = objs
      .filter((o) => o.kind === 'ClusterRoleBinding' && boundToOurServiceAccount(o))
      .flatMap((b) => {
        // Built-in roles (system:auth-delegator) are not in the build; none of them grants leases.
        const role = objs.find((o) => o.kind === 'ClusterRole' && meta(o).name === obj(b.roleRef, 'roleRef').name);
        return role ? rules(role) : [];
      });
    assert.ok(!allows(clusterWide, 'update', 'coordination.k8s.io', 'leases'));
  });

  it('runs two replicas, spread over nodes, on etcd', () => {
    const deploy = must(objs, 'Deployment', 'metal3-apiserver');
    assert.equal(obj(deploy.spec, 'spec').replicas, 2);
    const anti = obj(obj(podSpec(deploy).affinity, 'affinity').podAntiAffinity, 'podAntiAffinity');
    const term = obj(arr(anti.preferredDuringSchedulingIgnoredDuringExecution, 'preferred')[0], 'term');
    assert.equal(obj(term.podAffinityTerm, 'podAffinityTerm').topologyKey, 'kubernetes.io/hostname');
    const c = apiserver(objs);
    assert.equal(flag(c, 'mode'), 'cluster');
    assert.equal(flag(c, 'storage-backend'), 'etcd');
    assert.equal(flag(c, 'bind-address'), '0.0.0.0');
    assert.equal(flag(c, 'etcd-servers'), '$(ETCD_SERVERS)');
    const env = arr(c.env, 'env').map((e) => obj(e, 'env'));
    const servers = env.find((e) => e.name === 'ETCD_SERVERS');
    const ref = obj(obj(servers?.valueFrom, 'valueFrom').configMapKeyRef, 'configMapKeyRef');
    const cm = objs.find((o) => o.kind === 'ConfigMap' && meta(o).name === ref.name);
    assert.match(String(obj(cm?.data, 'data')[String(ref.key)]), /^https:\/\/[^,]+:2379(,https:\/\/[^,]+:2379)*$/);
    for (const f of ['etcd-cafile', 'etcd-certfile', 'etcd-keyfile']) {
      assert.equal(obj(volumeFor(deploy, c, flagPath(c, f)).secret, 'secret').secretName, 'metal3-etcd-client', f);
    }
  });

  it('serves HTTPS from the metal3-apiserver-tls Secret and probes /livez and /readyz over it', () => {
    const deploy = must(objs, 'Deployment', 'metal3-apiserver');
    const c = apiserver(objs);
    for (const f of ['tls-cert-file', 'tls-private-key-file']) {
      assert.equal(obj(volumeFor(deploy, c, flagPath(c, f)).secret, 'secret').secretName, 'metal3-apiserver-tls', f);
    }
    const port = arr(c.ports, 'ports').map((p) => obj(p, 'port')).find((p) => p.name === 'https');
    assert.equal(port?.containerPort, 6443);
    assert.equal(flag(c, 'port'), '6443');
    for (const [probe, path] of [['livenessProbe', '/livez'], ['readinessProbe', '/readyz']] as const) {
      const get = obj(obj(c[probe], probe).httpGet, `${probe}.httpGet`);
      assert.deepEqual([get.path, get.scheme, get.port], [path, 'HTTPS', 'https'], probe);
    }
    // Probes carry no credentials; without anonymous authentication they would be answered 401.
    assert.equal(flag(c, 'anonymous-auth'), true);
  });

  it('keeps its scratch data on an emptyDir and sets resources', () => {
    const deploy = must(objs, 'Deployment', 'metal3-apiserver');
    const c = apiserver(objs);
    assert.ok(isObj(volumeFor(deploy, c, flagPath(c, 'data-dir')).emptyDir), '--data-dir is not on an emptyDir');
    const res = obj(c.resources, 'resources');
    for (const k of ['requests', 'limits']) {
      assert.ok(obj(res[k], k).cpu !== undefined && obj(res[k], k).memory !== undefined, `${k} needs cpu and memory`);
    }
  });

  it('runs as a non-root user on a read-only root filesystem with no capabilities', () => {
    const pod = obj(podSpec(must(objs, 'Deployment', 'metal3-apiserver')).securityContext, 'pod securityContext');
    assert.equal(pod.runAsNonRoot, true);
    assert.equal(pod.runAsUser, 65532);
    assert.equal(obj(pod.seccompProfile, 'seccompProfile').type, 'RuntimeDefault');
    const sc = obj(apiserver(objs).securityContext, 'container securityContext');
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(obj(sc.capabilities, 'capabilities').drop, ['ALL']);
  });

  it('exposes the pods through Service metal3-apiserver 443 → https, registered by APIService v1alpha1.metal3.io', () => {
    const svc = obj(must(objs, 'Service', 'metal3-apiserver').spec, 'Service spec');
    const port = obj(arr(svc.ports, 'ports')[0], 'port');
    assert.deepEqual([port.port, port.targetPort], [443, 'https']);
    const labels = obj(obj(obj(obj(must(objs, 'Deployment', 'metal3-apiserver').spec, 'spec').template, 'template').metadata, 'metadata').labels, 'labels');
    for (const [k, v] of Object.entries(obj(svc.selector, 'selector'))) assert.equal(labels[k], v, `selector ${k}`);

    const spec = obj(must(objs, 'APIService', 'v1alpha1.metal3.io').spec, 'APIService spec');
    assert.equal(spec.group, 'metal3.io');
    assert.equal(spec.version, 'v1alpha1');
    assert.deepEqual(spec.service, { name: 'metal3-apiserver', namespace: 'metal3', port: 443 });
    assert.equal(spec.groupPriorityMinimum, 1000);
    assert.equal(spec.versionPriority, 15);
    assert.notEqual(spec.insecureSkipTLSVerify, true, 'only the kind overlay may skip verification');
  });

  it('keeps one replica up through voluntary disruptions', () => {
    const pdb = obj(must(objs, 'PodDisruptionBudget', 'metal3-apiserver').spec, 'PDB spec');
    assert.equal(pdb.maxUnavailable, 1);
  });
});

describe('manifests/overlays/production (cert-manager)', () => {
  const objs = build('overlays/production');

  it('builds consistently', () => checkConsistency(objs));

  it('has cert-manager issue metal3-apiserver-tls for the Service name and inject its CA into the APIService', () => {
    const cert = obj(must(objs, 'Certificate', 'metal3-apiserver-tls').spec, 'Certificate spec');
    assert.equal(cert.secretName, 'metal3-apiserver-tls');
    assert.ok(strings(cert.dnsNames, 'dnsNames').includes('metal3-apiserver.metal3.svc'));
    const issuer = obj(cert.issuerRef, 'issuerRef');
    must(objs, String(issuer.kind), String(issuer.name));
    const annotations = obj(meta(must(objs, 'APIService', 'v1alpha1.metal3.io')).annotations, 'annotations');
    assert.equal(annotations['cert-manager.io/inject-ca-from'], 'metal3/metal3-apiserver-tls');
  });
});

describe('manifests/overlays/with-ironic', () => {
  const objs = build('overlays/with-ironic');

  it('builds consistently', () => checkConsistency(objs));

  it('deploys Ironic from the Metal3 image and points the reconcilers at its Service', () => {
    const ironic = must(objs, 'Deployment', 'ironic');
    const main = container(ironic, 'ironic');
    assert.match(String(main.image), /^quay\.io\/metal3-io\/ironic:/);
    assert.deepEqual(main.command, ['/bin/runironic']);
    assert.deepEqual(container(ironic, 'ironic-httpd').command, ['/bin/runhttpd']);
    const svc = obj(must(objs, 'Service', 'ironic').spec, 'Service spec');
    const port = obj(arr(svc.ports, 'ports')[0], 'port');

    const env = arr(apiserver(objs).env, 'env').map((e) => obj(e, 'env'));
    const endpoint = new URL(String(env.find((e) => e.name === 'IRONIC_ENDPOINT')?.value));
    assert.equal(endpoint.hostname, 'ironic.metal3.svc');
    assert.equal(Number(endpoint.port), port.port);
  });
});

describe('manifests/overlays/crd-mode', () => {
  const objs = build('overlays/crd-mode');

  it('builds consistently', () => checkConsistency(objs));

  it('installs the generated CRD of every kind and no APIService', () => {
    for (const def of metal3Kinds) must(objs, 'CustomResourceDefinition', `${def.plural}.metal3.io`);
    assert.equal(objs.filter((o) => o.kind === 'APIService').length, 0);
    assert.equal(find(objs, 'Service', 'metal3-apiserver'), undefined);
  });

  for (const [kind, prefix] of [
    ['ValidatingWebhookConfiguration', 'validate'],
    ['MutatingWebhookConfiguration', 'mutate'],
  ] as const) {
    it(`sends every kind to /${prefix}-metal3-io-v1alpha1-<kind> on metal3-webhook (${kind})`, () => {
      const configs = objs.filter((o) => o.kind === kind);
      assert.equal(configs.length, 1);
      assert.equal(obj(meta(configs[0]).annotations, 'annotations')['cert-manager.io/inject-ca-from'], 'metal3/metal3-apiserver-tls');
      const hooks = arr(configs[0].webhooks, 'webhooks').map((w) => obj(w, 'webhook'));
      assert.equal(hooks.length, metal3Kinds.length);
      for (const def of metal3Kinds) {
        const path = `/${prefix}-metal3-io-v1alpha1-${def.kind.toLowerCase()}`;
        const hook = hooks.find((h) => obj(obj(h.clientConfig, 'clientConfig').service, 'service').path === path);
        assert.ok(hook, `no webhook at ${path}`);
        assert.deepEqual(obj(hook.clientConfig, 'clientConfig').service, { name: 'metal3-webhook', namespace: 'metal3', path, port: 443 });
        assert.equal(hook.sideEffects, 'None');
        assert.deepEqual(hook.admissionReviewVersions, ['v1']);
        assert.equal(hook.failurePolicy, 'Fail');
        const rule = obj(arr(hook.rules, 'rules')[0], 'rule');
        assert.deepEqual([rule.apiGroups, rule.apiVersions, rule.resources], [['metal3.io'], ['v1alpha1'], [def.plural]]);
        assert.deepEqual(rule.operations, ['CREATE', 'UPDATE']);
      }
    });
  }

  it('serves the webhooks on 9443 behind Service metal3-webhook 443, with a certificate for that name', () => {
    const c = apiserver(objs);
    assert.equal(flag(c, 'webhook-port'), '9443');
    assert.equal(flag(c, 'service-name'), 'metal3-webhook');
    assert.equal(flag(c, 'storage-backend'), 'sqlite');
    assert.ok(!args(c).some((a) => a.startsWith('--etcd-')), 'no etcd in CRD mode');
    const svcPort = obj(arr(obj(must(objs, 'Service', 'metal3-webhook').spec, 'spec').ports, 'ports')[0], 'port');
    assert.equal(svcPort.port, 443);
    const target = arr(c.ports, 'ports').map((p) => obj(p, 'port')).find((p) => p.name === svcPort.targetPort || p.containerPort === svcPort.targetPort);
    assert.equal(target?.containerPort, 9443);
    const cert = obj(must(objs, 'Certificate', 'metal3-apiserver-tls').spec, 'Certificate spec');
    assert.ok(strings(cert.dnsNames, 'dnsNames').includes('metal3-webhook.metal3.svc'));
  });
});

describe('manifests/overlays/kind', () => {
  const objs = build('overlays/kind');

  it('builds consistently', () => checkConsistency(objs));

  it('runs one replica on SQLite with a generated certificate and the simulator', () => {
    const deploy = must(objs, 'Deployment', 'metal3-apiserver');
    assert.equal(obj(deploy.spec, 'spec').replicas, 1);
    const c = apiserver(objs);
    assert.equal(flag(c, 'storage-backend'), 'sqlite');
    assert.ok(isObj(volumeFor(deploy, c, flagPath(c, 'data-dir')).emptyDir));
    assert.ok(!args(c).some((a) => a.startsWith('--etcd-') || a.startsWith('--tls-')), args(c).join(' '));
    assert.ok(!arr(c.env, 'env').some((e) => obj(e, 'env').name === 'IRONIC_ENDPOINT'));
    const secrets = arr(podSpec(deploy).volumes, 'volumes').filter((v) => isObj(v) && v.secret !== undefined);
    assert.deepEqual(secrets, []);
    assert.match(String(c.image), /:dev$/);
    assert.equal(find(objs, 'ConfigMap', 'metal3-apiserver-etcd'), undefined);
  });

  it('registers the APIService without verifying the per-pod certificate', () => {
    const spec = obj(must(objs, 'APIService', 'v1alpha1.metal3.io').spec, 'APIService spec');
    assert.equal(spec.insecureSkipTLSVerify, true);
    assert.equal(spec.caBundle, undefined);
  });

  it('keeps the production hardening', () => {
    const sc = obj(apiserver(objs).securityContext, 'securityContext');
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.runAsNonRoot, true);
  });
});

describe('scripts/kind-up.sh', () => {
  it('checks for its tools, applies the kind overlay and waits for the APIService', () => {
    const script = readFileSync(join(root, 'scripts/kind-up.sh'), 'utf8');
    for (const tool of ['docker', 'kind', 'kubectl']) assert.match(script, new RegExp(`\\b${tool}\\b.*(command -v|for tool)|for tool in .*\\b${tool}\\b`));
    assert.match(script, /kind load docker-image/);
    assert.match(script, /apply -k manifests\/overlays\/kind/);
    assert.match(script, /wait --for=condition=Available apiservice\/v1alpha1\.metal3\.io/);
    execFileSync('bash', ['-n', 'scripts/kind-up.sh'], { cwd: root });
  });
});

/** Every module the entry point loads, following relative imports; bare specifiers are returned apart. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(join(root, file), 'utf8');
    const imports = /(?:^|\s)(?:import|export)\s[^'";]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|^import\s+'([^']+)'/gm;
    for (const m of text.matchAll(imports)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) pending.push(relative(root, resolve(root, dirname(file), spec)));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  }
  return { files, packages };
}

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages[stages.length - 1];

  it('builds on Node 24 and runs the entry point as a non-root user on distroless', () => {
    assert.match(stages[0], /^node:24[-\w.]*slim/);
    assert.match(stages[0], /npm ci --omit=dev/);
    assert.match(final, /^gcr\.io\/distroless\/nodejs24-debian12:nonroot/);
    assert.match(final, /^USER 65532(:65532)?$/m);
    assert.match(final, /^ENTRYPOINT \["\/nodejs\/bin\/node", "cmd\/metal3-apiserver\.ts"\]$/m);
  });

  it('copies every source folder the server loads, and every package it imports is a production dependency', () => {
    const { files, packages } = importGraph('cmd/metal3-apiserver.ts');
    const copied = new Set([...final.matchAll(/^COPY (?!--from)(\S+) /gm)].map((m) => m[1]));
    for (const dir of new Set([...files].map((f) => f.split('/')[0]))) assert.ok(copied.has(dir), `the image lacks ${dir}/`);
    assert.ok(copied.has('package.json'), 'the server reads its version from package.json');
    // What `npm ci --omit=dev` installs is what the lock file lists without dev: true.
    const lock = obj(obj(JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')), 'package-lock.json').packages, 'packages');
    const notInstalled = [...packages].filter((p) => {
      const entry = lock[`node_modules/${p}`];
      return !isObj(entry) || entry.dev === true;
    });
    assert.deepEqual(notInstalled, [], `the server imports packages that npm ci --omit=dev does not install; add them to dependencies`);
  });
});
