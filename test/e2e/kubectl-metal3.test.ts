// The kubectl-metal3 plugin as users run it: `kubectl metal3 ...` with the plugin's directory on PATH,
// against the real server with its reconcilers on a fast simulator. The hosts must really act on what
// the plugin asked: inspect again, reach provisioned, power off and on, reboot.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createNamespace, kubectl, kubectlOK, repoRoot, requireKubectl, startServer, withReconcilers, type KubectlResult, type RunningServer } from './harness.ts';

interface Host {
  metadata: { annotations?: Record<string, string> };
  spec: { online: boolean; image?: { url: string }; userData?: { name: string }; consumerRef?: Record<string, string> };
  status?: { poweredOn?: boolean; provisioning?: { state?: string; image?: { url: string } }; operationHistory?: { inspect?: { start?: string } } };
}

// Without node_modules/.bin on PATH (npm run adds it), so the wrapper's own choice of Node is what runs.
const pluginPath = [join(repoRoot, 'bin'), ...(process.env.PATH ?? '').split(delimiter).filter((d) => !d.includes('node_modules'))].join(delimiter);

/** `kubectl metal3 ARGS`: kubectl refuses flags before a plugin's name, so --kubeconfig goes last. */
function metal3(server: RunningServer, args: string[], kubeconfig = server.kubeconfig): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['metal3', ...args, '--kubeconfig', kubeconfig], {
      env: { ...process.env, PATH: pluginPath, KUBECACHEDIR: join(server.dataDir, 'kubecache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function metal3OK(server: RunningServer, args: string[], kubeconfig?: string): Promise<string> {
  const r = await metal3(server, args, kubeconfig);
  assert.equal(r.code, 0, `kubectl metal3 ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

const hostManifest = (name: string, namespace: string, credentialsName = 'bmc-creds') =>
  JSON.stringify({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace },
    spec: {
      online: true,
      bootMACAddress: '52:54:00:12:34:56',
      bmc: { address: `redfish-virtualmedia://10.0.0.9/redfish/v1/Systems/${name}`, credentialsName },
    },
  });

describe('kubectl metal3', () => {
  let server: RunningServer;
  const ns = 'plugin';

  const get = async (name: string, namespace = ns) => JSON.parse(await kubectlOK(server, ['-n', namespace, 'get', 'bmh', name, '-o', 'json'])) as Host;

  /** Poll the host until cond holds; the message carries the last state seen. */
  async function waitHost(name: string, cond: (h: Host) => boolean, what: string, timeoutMs = 30_000, namespace = ns): Promise<Host> {
    const start = Date.now();
    let last: Host | undefined;
    while (Date.now() - start < timeoutMs) {
      last = await get(name, namespace);
      if (cond(last)) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${name}: ${what}; last seen ${JSON.stringify({ annotations: last?.metadata.annotations, spec: last?.spec, status: last?.status })}`);
  }

  const state = (h: Host) => h.status?.provisioning?.state;

  async function availableHost(name: string, namespace = ns): Promise<Host> {
    await kubectlOK(server, ['create', '-f', '-'], { input: hostManifest(name, namespace) });
    return waitHost(name, (h) => state(h) === 'available' && h.status?.poweredOn === true, 'available and powered on', 30_000, namespace);
  }

  before(async () => {
    requireKubectl();
    server = await startServer([withReconcilers, '--simulator-speed', '0.05']);
    for (const namespace of [ns, 'other']) {
      await createNamespace(server, namespace);
      await kubectlOK(server, ['-n', namespace, 'create', 'secret', 'generic', 'bmc-creds', '--from-literal=username=admin', '--from-literal=password=pw']);
    }
    await kubectlOK(server, ['-n', ns, 'create', 'secret', 'generic', 'worker-user-data', '--from-literal=userData=#cloud-config']);
  });
  after(async () => {
    await server?.stop();
  });

  test('help for each verb; usage errors the way kubectl words them', async () => {
    const top = await metal3OK(server, ['--help']);
    for (const verb of ['inspect', 'provision', 'power']) assert.match(top, new RegExp(`\\n  ${verb} `));
    assert.match(await metal3OK(server, ['inspect', '--help']), /kubectl metal3 inspect HOST .*--force/);
    assert.match(await metal3OK(server, ['provision', '-h']), /--checksum-type/);
    assert.match(await metal3OK(server, ['power', '--help']), /kubectl metal3 power reboot HOST .*--hard/);
    const bad = await metal3(server, ['inspect', 'h', '--bogus']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, "error: unknown flag: --bogus\nSee 'kubectl metal3 inspect --help' for usage.\n");
    const noImage = await metal3(server, ['provision', 'h']);
    assert.equal(noImage.code, 1);
    assert.match(noImage.stderr, /^error: one of --image or --custom-deploy is required/);
    assert.equal((await metal3(server, ['power', 'sideways', 'h'])).code, 1);
    assert.match((await metal3(server, ['inspect', 'h', '--dry-run=client'])).stderr, /use --dry-run=server/);
  });

  test('inspect: 409 shown as kubectl shows it for a host that is not available; an available host inspects again', async () => {
    // No credentials Secret: the host stays in registering with a registration error.
    await kubectlOK(server, ['create', '-f', '-'], { input: hostManifest('stuck', ns, 'missing-creds') });
    await waitHost('stuck', (h) => state(h) === 'registering', 'registering');
    const refused = await metal3(server, ['inspect', 'stuck', '-n', ns]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /^Error from server \(Conflict\): .*a host in state "registering" cannot be inspected; only available hosts can/);

    const first = await availableHost('i1');
    const firstStart = first.status?.operationHistory?.inspect?.start;
    assert.ok(firstStart, 'the host was inspected on its way to available');

    assert.equal(await metal3OK(server, ['inspect', 'i1', '-n', ns, '--dry-run=server']), 'baremetalhost.metal3.io/i1 inspection requested (server dry run)\n');
    assert.equal((await get('i1')).metadata.annotations?.['inspect.metal3.io'], undefined, 'a dry run requests nothing');

    // operationHistory timestamps have one-second resolution: a new inspection must start in a later second.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await metal3OK(server, ['inspect', 'i1', '-n', ns]), 'baremetalhost.metal3.io/i1 inspection requested\n');
    const again = await waitHost('i1', (h) => h.status?.operationHistory?.inspect?.start !== firstStart && state(h) === 'available', 'a second inspection');
    assert.equal(again.metadata.annotations?.['inspect.metal3.io'], undefined, 'the controller consumed the request');
  });

  test('inspect -o yaml prints the server answer; the namespace comes from the kubeconfig context', async () => {
    await availableHost('ctx', 'other');
    const kubeconfig = join(server.dataDir, 'kubeconfig-other');
    copyFileSync(server.kubeconfig, kubeconfig);
    await kubectlOK(server, ['config', 'set-context', '--current', '--namespace=other', '--kubeconfig', kubeconfig]);
    const out = await metal3OK(server, ['inspect', 'ctx', '-o', 'yaml'], kubeconfig);
    assert.match(out, /^apiVersion: metal3.io\/v1alpha1\nkind: InspectionRequest\n/);
    assert.match(out, /namespace: other\n/);
    assert.match(out, /accepted: true\n\s+hostState: available\n/);
  });

  test('provision: a bad checksum type is the server 422; a good request takes the host to provisioned', async () => {
    await availableHost('p1');
    const image = ['--image', 'http://images.example.com/os.qcow2', '--checksum', 'http://images.example.com/os.qcow2.sha256sum', '--format', 'qcow2'];
    const bad = await metal3(server, ['provision', 'p1', '-n', ns, ...image, '--checksum-type', 'sha1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /The ProvisionRequest "p1" is invalid: image\.checksumType: Unsupported value: "sha1"/);

    const out = await metal3OK(server, [
      'provision', 'p1', '-n', ns, ...image, '--checksum-type', 'sha256', '--user-data', 'worker-user-data',
      '--consumer', 'Metal3Machine.v1beta1.infrastructure.cluster.x-k8s.io/worker-0',
    ]);
    assert.equal(out, 'baremetalhost.metal3.io/p1 provisioning requested\n');
    const h = await waitHost('p1', (x) => state(x) === 'provisioned', 'provisioned');
    assert.equal(h.status?.provisioning?.image?.url, 'http://images.example.com/os.qcow2');
    assert.deepEqual(h.spec.userData, { name: 'worker-user-data' });
    assert.deepEqual(h.spec.consumerRef, { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1', kind: 'Metal3Machine', name: 'worker-0', namespace: ns });

    const other = await metal3(server, ['provision', 'p1', '-n', ns, ...image, '--consumer', 'Metal3Machine.v1beta1.infrastructure.cluster.x-k8s.io/worker-1']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /^Error from server \(Conflict\): .*consumed by Metal3Machine plugin\/worker-0/);
  });

  test('power off and on: spec.online and then status.poweredOn follow; a missing host is kubectl\'s NotFound', async () => {
    await availableHost('w1');
    assert.equal(await metal3OK(server, ['power', 'off', 'w1', '-n', ns]), 'baremetalhost.metal3.io/w1 power off requested\n');
    assert.equal((await get('w1')).spec.online, false);
    await waitHost('w1', (h) => h.status?.poweredOn === false, 'powered off');
    assert.equal(await metal3OK(server, ['power', 'on', 'w1', '-n', ns]), 'baremetalhost.metal3.io/w1 power on requested\n');
    assert.equal((await get('w1')).spec.online, true);
    await waitHost('w1', (h) => h.status?.poweredOn === true, 'powered on');
    const missing = await metal3(server, ['power', 'off', 'nope', '-n', ns]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error from server (NotFound): baremetalhosts.metal3.io "nope" not found\n');
  });

  test('power reboot --hard: the annotation asks for a hard reboot; the host goes off, then back on', async () => {
    await availableHost('r1');
    await kubectlOK(server, ['-n', ns, 'patch', 'bmh', 'r1', '--type', 'merge', '-p', '{"spec":{"image":{"url":"http://i/os.img","checksum":"abc","checksumType":"md5"}}}']);
    await waitHost('r1', (h) => state(h) === 'provisioned' && h.status?.poweredOn === true, 'provisioned and on');
    assert.equal(await metal3OK(server, ['power', 'reboot', 'r1', '-n', ns, '--hard']), 'baremetalhost.metal3.io/r1 reboot requested\n');
    assert.equal((await get('r1')).metadata.annotations?.['reboot.metal3.io'], '{"mode":"hard"}');
    await waitHost('r1', (h) => h.status?.poweredOn === false, 'powered off for the reboot');
    // The controller drops the annotation on its next look at the powered-off host (its power poll) and powers on.
    await waitHost('r1', (h) => h.metadata.annotations?.['reboot.metal3.io'] === undefined && h.status?.poweredOn === true, 'back on', 90_000);
    const events = await kubectl(server, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.name=r1', '-o', 'jsonpath={.items[*].reason}']);
    assert.match(events.stdout, /PowerOff/);
  });
});
