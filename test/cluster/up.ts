// The whole harness in one call: etcd, kube-apiserver, and our server registered behind it through an
// APIService whose Service is an ExternalName `localhost` (kube-api.md §7.3), so the aggregator reaches a
// server running on this machine. `clusterUp` records what it started in DIR/pids.json; `clusterDown`
// stops exactly those processes, and only while they still are the ones recorded.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeKubeconfig } from '../../apiserver/auth/kubeconfig.ts';
import { startIronic, stopIronicDir } from '../ironic/harness.ts';
import { startControlPlane, type ControlPlane } from './kube-apiserver.ts';
import { issue } from './pki.ts';
import { freePort, launch, portOpen, runsWith, stop, tail, waitFor, type Launched } from './process.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const MANIFEST_RBAC = join(repoRoot, 'manifests/base/rbac.yaml');

export const APISERVICE_NAME = 'v1alpha1.metal3.io';
export const SERVER_NAMESPACE = 'metal3';
export const SERVER_SERVICE = 'metal3-apiserver';
/** Our server's identity towards kube-apiserver: a client certificate named as its ServiceAccount, so RBAC bound to that ServiceAccount applies to it. */
export const SERVER_USER = `system:serviceaccount:${SERVER_NAMESPACE}:${SERVER_SERVICE}`;

export interface ClusterUpOptions {
  dir: string;
  /** Start a test Ironic in DIR/ironic (unless IRONIC_ENDPOINT is set) and point our server at it. */
  ironic?: boolean;
  /** `cluster` (default) passes --mode=cluster --kubeconfig DIR/metal3.kubeconfig; `standalone` runs our server with its own CA, which the aggregator's front-proxy certificate cannot pass (401). */
  serverMode?: 'standalone' | 'cluster';
  serverArgs?: string[];
  /** How long to wait for the APIService to report Available (default 30 s). */
  availableTimeoutMs?: number;
  /** Fail instead of reporting when the APIService does not become Available. */
  requireAvailable?: boolean;
  outlive?: boolean;
  log?: (line: string) => void;
}

export interface APIServiceCondition {
  status: string;
  reason?: string;
  message?: string;
}

export interface RunningCluster {
  dir: string;
  controlPlane: ControlPlane;
  /** https://127.0.0.1:PORT of our server (direct, bypassing kube-apiserver). */
  serverURL: string;
  server: Launched;
  ironicEndpoint?: string;
  /** The APIService's Available condition when clusterUp returned. */
  available: APIServiceCondition;
  stop(): Promise<void>;
}

interface PidRecord {
  name: string;
  pid: number;
  /** A command-line argument that only this process has, checked before it is signalled. */
  marker: string;
}

function kubectl(kubeconfig: string, args: string[], input?: string): string {
  return execFileSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Namespace, ExternalName Service and APIService; plus the two RBAC bindings every aggregated server needs (kube-api.md §3.3). */
export function registrationManifest(port: number): string {
  const docs: unknown[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SERVER_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: SERVER_SERVICE, namespace: SERVER_NAMESPACE },
      spec: { type: 'ExternalName', externalName: 'localhost' },
    },
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: APISERVICE_NAME },
      spec: {
        group: 'metal3.io',
        version: 'v1alpha1',
        service: { namespace: SERVER_NAMESPACE, name: SERVER_SERVICE, port },
        // Our serving certificate does not (yet) carry the metal3-apiserver.metal3.svc name the aggregator
        // verifies against, so the hop to localhost is not verified.
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 1000,
        versionPriority: 15,
      },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'metal3-apiserver:system:auth-delegator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', namespace: SERVER_NAMESPACE, name: SERVER_SERVICE }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'metal3-apiserver:extension-apiserver-authentication-reader', namespace: 'kube-system' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' },
      subjects: [{ kind: 'ServiceAccount', namespace: SERVER_NAMESPACE, name: SERVER_SERVICE }],
    },
  ];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs });
}

export async function apiServiceCondition(cp: ControlPlane): Promise<APIServiceCondition> {
  const r = await cp.request(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`);
  if (r.status !== 200) return { status: 'Unknown', reason: `HTTP ${r.status}` };
  const conds = r.json<{ status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }>().status?.conditions ?? [];
  const c = conds.find((x) => x.type === 'Available');
  return c ? { status: c.status, reason: c.reason, message: c.message } : { status: 'Unknown', reason: 'NoCondition' };
}

export async function clusterUp(opts: ClusterUpOptions): Promise<RunningCluster> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'pids.json');
  if (existsSync(pidFile)) {
    const live = (JSON.parse(readFileSync(pidFile, 'utf8')) as PidRecord[]).filter((r) => runsWith(r.pid, r.marker));
    if (live.length) throw new Error(`${dir} already has a running cluster (pids ${live.map((r) => r.pid).join(' ')}); run cluster:down first`);
  }
  const started = Date.now();
  const records: PidRecord[] = [];
  const save = () => writeFileSync(pidFile, `${JSON.stringify(records, null, 2)}\n`);
  const cp = await startControlPlane({ dir, outlive: opts.outlive, log });
  if (cp.etcd) records.push({ name: 'etcd', pid: cp.etcd.members[0].pid, marker: join(cp.etcd.dir, 'etcd-0') });
  records.push({ name: 'kube-apiserver', pid: cp.kubeApiserver.pid, marker: join(dir, 'kube-apiserver') });
  save();

  let server: Launched | undefined;
  let ironicDir: string | undefined;
  const teardown = async () => {
    if (server) await stop(server);
    if (ironicDir) await stopIronicDir(ironicDir);
    await cp.stop();
    rmSync(pidFile, { force: true });
  };
  try {
    let ironicEndpoint = process.env.IRONIC_ENDPOINT || undefined;
    if (opts.ironic && !ironicEndpoint) {
      const t = Date.now();
      ironicDir = join(dir, 'ironic');
      const ironic = await startIronic({ dir: ironicDir, outliveProcess: opts.outlive });
      ironicEndpoint = ironic.endpoint;
      log(`ironic ${ironic.endpoint} (pids ${ironic.pids().join(' ')}): ready in ${Date.now() - t}ms`);
    }

    // Our server's own identity towards kube-apiserver in cluster mode.
    const identity = issue(cp.pki.ca, { commonName: SERVER_USER, clientAuth: true });
    const metal3Kubeconfig = join(dir, 'metal3.kubeconfig');
    writeKubeconfig(metal3Kubeconfig, { server: cp.url, caPem: cp.pki.ca.cert, certPem: identity.cert, keyPem: identity.key, user: SERVER_SERVICE, context: 'harness' });

    const port = await freePort();
    const serverURL = `https://127.0.0.1:${port}`;
    const dataDir = join(dir, 'metal3');
    let t = Date.now();
    const args = [
      join(repoRoot, 'cmd/metal3-apiserver.ts'),
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--bind-address',
      '127.0.0.1',
      '--enable-fake-bmc',
      ...(ironicEndpoint ? ['--ironic-endpoint', ironicEndpoint] : []),
      ...((opts.serverMode ?? 'cluster') === 'cluster' ? ['--mode=cluster', '--kubeconfig', metal3Kubeconfig] : []),
      ...(opts.serverArgs ?? []),
    ];
    // Registered before our server starts: in cluster mode it reads the front-proxy configuration at start-up.
    kubectl(cp.adminKubeconfig, ['apply', '--server-side', '--field-manager=cluster-harness', '-f', '-'], registrationManifest(port));
    // The RBAC a real installation grants our ServiceAccount, so the harness proves those rules suffice.
    if (existsSync(MANIFEST_RBAC)) kubectl(cp.adminKubeconfig, ['apply', '--server-side', '--field-manager=cluster-harness', '-f', MANIFEST_RBAC]);
    log(`registered APIService ${APISERVICE_NAME} -> ExternalName localhost:${port}${existsSync(MANIFEST_RBAC) ? ' with manifests/base/rbac.yaml' : ''}: ${Date.now() - t}ms`);
    t = Date.now();
    // process.execPath: the Node 24 that npm put first on PATH runs this file, and runs our server too.
    server = launch('metal3-apiserver', process.execPath, args, join(dir, 'metal3-apiserver.log'), { cwd: repoRoot, outlive: opts.outlive });
    records.push({ name: 'metal3-apiserver', pid: server.pid, marker: dataDir });
    save();
    const srv = server;
    await waitFor(`metal3-apiserver on ${serverURL}`, srv, 60_000, async () => (await portOpen(port)) || 'port closed');
    log(`metal3-apiserver ${serverURL} (pid ${srv.pid}${ironicEndpoint ? `, Ironic ${ironicEndpoint}` : ', simulator'}): ready in ${Date.now() - t}ms`);

    t = Date.now();
    let available = await apiServiceCondition(cp);
    const deadline = Date.now() + (opts.availableTimeoutMs ?? 30_000);
    while (available.status !== 'True' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      available = await apiServiceCondition(cp);
    }
    log(
      `APIService ${APISERVICE_NAME}: Available=${available.status}${available.reason ? ` (${available.reason})` : ''} after ${Date.now() - t}ms` +
        (available.status === 'True' ? '' : `\n  ${available.message ?? ''}`),
    );
    if (opts.requireAvailable && available.status !== 'True') {
      throw new Error(`APIService ${APISERVICE_NAME} is not Available: ${available.reason}: ${available.message}\n${tail(srv.logFile)}`);
    }
    log(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return {
      dir,
      controlPlane: cp,
      serverURL,
      server: srv,
      ironicEndpoint,
      available,
      stop: teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** Stops what clusterUp recorded in DIR (newest first) and the test Ironic in DIR/ironic; returns what it stopped. */
export async function clusterDown(dirArg: string): Promise<PidRecord[]> {
  const dir = resolve(dirArg);
  const pidFile = join(dir, 'pids.json');
  const stopped: PidRecord[] = [];
  if (existsSync(pidFile)) {
    const records = JSON.parse(readFileSync(pidFile, 'utf8')) as PidRecord[];
    for (const r of records.reverse()) {
      if (!runsWith(r.pid, r.marker)) continue;
      await stop(r.pid);
      stopped.push(r);
    }
    rmSync(pidFile, { force: true });
  }
  if (existsSync(join(dir, 'ironic'))) {
    for (const pid of await stopIronicDir(join(dir, 'ironic'))) stopped.push({ name: 'ironic', pid, marker: join(dir, 'ironic') });
  }
  return stopped;
}
