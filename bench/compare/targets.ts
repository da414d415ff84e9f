// The compared set-ups, on one kube-apiserver and one etcd: our server in cluster mode (etcd backend)
// behind an APIService, then kube-apiserver itself serving the generated BareMetalHost CRD. They cannot
// coexist (both claim metal3.io/v1alpha1), so the APIService is removed before the CRD is installed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeKubeconfig } from '../../apiserver/auth/kubeconfig.ts';
import type { ControlPlane } from '../../test/cluster/kube-apiserver.ts';
import { issue } from '../../test/cluster/pki.ts';
import { freePort, launch, portOpen, stop, waitFor, type Launched } from '../../test/cluster/process.ts';
import { APISERVICE_NAME, apiServiceCondition, registrationManifest, SERVER_SERVICE, SERVER_USER } from '../../test/cluster/up.ts';
import type { Credentials } from '../api/client.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
export const CRD_FILE = join(repoRoot, 'manifests/crds/metal3.io_baremetalhosts.yaml');
const CRD_NAME = 'baremetalhosts.metal3.io';

function kubectl(cp: ControlPlane, args: string[], input?: string): string {
  return execFileSync('kubectl', ['--kubeconfig', cp.adminKubeconfig, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The cluster admin, as every client of kube-apiserver in this bench. */
export const adminOf = (cp: ControlPlane): Credentials => ({ ca: Buffer.from(cp.pki.ca.cert), cert: Buffer.from(cp.pki.admin.cert), key: Buffer.from(cp.pki.admin.key) });

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await sleep(250);
  }
}

export interface AggregatedServer {
  proc: Launched;
  /** For the forced GC before reading RSS, as bench/api does. */
  inspectorUrl?: string;
  /** Removes the APIService and stops the server. */
  stop(): Promise<void>;
}

/** Our server in cluster mode on the control plane's etcd, registered behind kube-apiserver; reconcilers off, as in bench/api. */
export async function startAggregated(cp: ControlPlane, dir: string): Promise<AggregatedServer> {
  const identity = issue(cp.pki.ca, { commonName: SERVER_USER, clientAuth: true });
  const kubeconfig = join(dir, 'metal3.kubeconfig');
  writeKubeconfig(kubeconfig, { server: cp.url, caPem: cp.pki.ca.cert, certPem: identity.cert, keyPem: identity.key, user: SERVER_SERVICE, context: 'bench' });
  const port = await freePort();
  kubectl(cp, ['apply', '--server-side', '--field-manager=bench-compare', '-f', '-'], registrationManifest(port));
  kubectl(cp, ['apply', '--server-side', '--field-manager=bench-compare', '-f', join(repoRoot, 'manifests/base/rbac.yaml')]);
  const logFile = join(dir, 'metal3-apiserver.log');
  const proc = launch(
    'metal3-apiserver',
    process.execPath,
    [
      '--inspect=127.0.0.1:0',
      join(repoRoot, 'cmd/metal3-apiserver.ts'),
      '--mode=cluster',
      '--kubeconfig',
      kubeconfig,
      '--data-dir',
      join(dir, 'metal3'),
      '--port',
      String(port),
      '--storage-backend',
      'etcd',
      '--etcd-servers',
      cp.etcdEndpoints.join(','),
      '--disable-reconcilers',
    ],
    logFile,
    { cwd: repoRoot },
  );
  await waitFor(`metal3-apiserver on ${port}`, proc, 60_000, async () => (await portOpen(port)) || 'port closed');
  await until(`APIService ${APISERVICE_NAME} Available`, 60_000, async () => (await apiServiceCondition(cp)).status === 'True');
  return {
    proc,
    inspectorUrl: /Debugger listening on (ws:\/\/\S+)/.exec(readFileSync(logFile, 'utf8'))?.[1],
    async stop() {
      kubectl(cp, ['delete', 'apiservice', APISERVICE_NAME, '--wait=true']);
      await stop(proc);
    },
  };
}

/** kube-apiserver serving the generated CRD; returns once it answers for the new resource. */
export async function installCRD(cp: ControlPlane): Promise<void> {
  kubectl(cp, ['apply', '--server-side', '--field-manager=bench-compare', '-f', CRD_FILE]);
  kubectl(cp, ['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD_NAME}`]);
  // Established precedes the handler being routable by a moment.
  await until('the CRD served', 60_000, async () => (await cp.request('/apis/metal3.io/v1alpha1/baremetalhosts?limit=1')).status === 200);
}
