// A real kube-apiserver on loopback, configured as a cluster that hosts aggregated API servers: front-proxy
// (requestheader) certificates, service-account signing keys and RBAC. No controller-manager, scheduler or
// kubelet runs, so only the API itself is real; see the admission note below.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeKubeconfig } from '../../apiserver/auth/kubeconfig.ts';
import { ensureKubeApiserver, goBinary, KUBE_VERSION, kubeApiserverPath } from './build.ts';
import { httpsRequest, type Reply } from './client.ts';
import { etcdInstalled, startEtcd, type EtcdClientTLS, type RunningEtcd } from './etcd.ts';
import { createControlPlanePKI, UNPRIVILEGED_USER, type ControlPlanePKI } from './pki.ts';
import { freePort, launch, stop, tail, waitFor, type Launched } from './process.ts';

export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ControlPlaneOptions {
  /** Everything lives here: pki/, etcd/, kube-apiserver.log, the kubeconfigs. */
  dir: string;
  /** An etcd to use instead of starting one in dir/etcd (it is then left running on stop). */
  etcd?: { endpoints: string[]; tls?: EtcdClientTLS };
  port?: number;
  /** Appended to kube-apiserver's flags, for tests that need one more. */
  extraArgs?: string[];
  /** Keep the processes running after this Node process exits (`cluster:up`). */
  outlive?: boolean;
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  dir: string;
  pki: ControlPlanePKI;
  etcdEndpoints: string[];
  /** The etcd this control plane started, if it started one. */
  etcd?: RunningEtcd;
  kubeApiserver: Launched;
  /** DIR/admin.kubeconfig: kubernetes-admin in system:masters. */
  adminKubeconfig: string;
  /** DIR/user.kubeconfig: `alice`, authenticated, with no RBAC grants. */
  userKubeconfig: string;
  /** A request to kube-apiserver as the admin. */
  request(path: string, opts?: { method?: string; body?: unknown; contentType?: string; accept?: string }): Promise<Reply>;
  logTail(lines?: number): string;
  /** Stops kube-apiserver and the etcd it started (not an etcd it was given). */
  stop(): Promise<void>;
}

/**
 * kube-apiserver's flags. ServiceAccount admission is off: it rejects every Pod whose namespace lacks the
 * `default` ServiceAccount, which only kube-controller-manager creates. The endpoint reconciler is off
 * because it would publish 127.0.0.1 into the `kubernetes` Endpoints, which validation rejects as loopback;
 * the aggregator reaches `default/kubernetes` through its own loopback resolver regardless.
 */
export function kubeApiserverArgs(o: { pki: ControlPlanePKI; port: number; etcdServers: string[]; etcdTLS?: EtcdClientTLS; certDir: string }): string[] {
  const p = o.pki;
  return [
    `--etcd-servers=${o.etcdServers.join(',')}`,
    ...(o.etcdTLS ? [`--etcd-cafile=${o.etcdTLS.caFile}`, `--etcd-certfile=${o.etcdTLS.certFile}`, `--etcd-keyfile=${o.etcdTLS.keyFile}`] : []),
    `--secure-port=${o.port}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--cert-dir=${o.certDir}`,
    `--tls-cert-file=${p.serving.certFile}`,
    `--tls-private-key-file=${p.serving.keyFile}`,
    `--client-ca-file=${p.ca.certFile}`,
    '--authorization-mode=RBAC',
    `--requestheader-client-ca-file=${p.frontProxyCA.certFile}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${p.frontProxyClient.certFile}`,
    `--proxy-client-key-file=${p.frontProxyClient.keyFile}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${p.serviceAccount.publicKeyFile}`,
    `--service-account-signing-key-file=${p.serviceAccount.privateKeyFile}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--enable-aggregator-routing=false',
    '--disable-admission-plugins=ServiceAccount',
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ];
}

/** Starts etcd (unless given) and kube-apiserver, waits for /readyz and the default namespaces, writes the kubeconfigs. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const binary = await ensureKubeApiserver({ log });
  let t = Date.now();
  const pki = createControlPlanePKI(join(dir, 'pki'));
  log(`control plane certificates: ${Date.now() - t}ms`);
  let etcd: RunningEtcd | undefined;
  let etcdEndpoints = opts.etcd?.endpoints;
  if (!etcdEndpoints) {
    t = Date.now();
    etcd = await startEtcd({ dir: join(dir, 'etcd'), outlive: opts.outlive });
    etcdEndpoints = etcd.endpoints;
    log(`etcd ${etcd.endpoints.join(',')} (pid ${etcd.members[0].pid}): ready in ${Date.now() - t}ms`);
  }
  const port = opts.port ?? (await freePort());
  const url = `https://127.0.0.1:${port}`;
  const certDir = join(dir, 'kube-apiserver');
  mkdirSync(certDir, { recursive: true });
  const args = [...kubeApiserverArgs({ pki, port, etcdServers: etcdEndpoints, etcdTLS: opts.etcd?.tls, certDir }), ...(opts.extraArgs ?? [])];
  t = Date.now();
  const proc = launch('kube-apiserver', binary, args, join(dir, 'kube-apiserver.log'), { cwd: dir, outlive: opts.outlive });
  const admin = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
  const req = (path: string, o: { method?: string; body?: unknown; contentType?: string; accept?: string } = {}) => httpsRequest(`${url}${path}`, admin, o);
  const stopAll = async () => {
    await stop(proc);
    await etcd?.stop();
  };
  try {
    const timeout = opts.readyTimeoutMs ?? 90_000;
    await waitFor(`kube-apiserver ${KUBE_VERSION} on ${url}`, proc, timeout, async () => {
      const r = await req('/readyz');
      return r.status === 200 || `/readyz ${r.status}: ${r.body.slice(0, 300)}`;
    });
    // The system namespaces are created by a post-start controller, shortly after /readyz turns ok.
    for (const ns of ['default', 'kube-system']) {
      await waitFor(`namespace ${ns}`, proc, timeout, async () => {
        const r = await req(`/api/v1/namespaces/${ns}`);
        return r.status === 200 || `${r.status}`;
      });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  log(`kube-apiserver ${KUBE_VERSION} ${url} (pid ${proc.pid}): ready in ${Date.now() - t}ms`);
  const adminKubeconfig = join(dir, 'admin.kubeconfig');
  const userKubeconfig = join(dir, 'user.kubeconfig');
  writeKubeconfig(adminKubeconfig, { server: url, caPem: pki.ca.cert, certPem: pki.admin.cert, keyPem: pki.admin.key, user: 'kubernetes-admin', context: 'harness' });
  writeKubeconfig(userKubeconfig, { server: url, caPem: pki.ca.cert, certPem: pki.user.cert, keyPem: pki.user.key, user: UNPRIVILEGED_USER, context: 'harness' });
  return {
    url,
    port,
    dir,
    pki,
    etcdEndpoints,
    etcd,
    kubeApiserver: proc,
    adminKubeconfig,
    userKubeconfig,
    request: req,
    logTail: (lines) => tail(proc.logFile, lines),
    stop: stopAll,
  };
}

/**
 * Why a control-plane test would have to skip, or undefined when it must run. Under CI=true it always runs
 * (and fails when a component cannot start); as root etcd is installed on demand, and kube-apiserver is
 * built whenever Go is present.
 */
export function controlPlaneSkipReason(): string | undefined {
  if (process.env.CI === 'true') return undefined;
  if (!etcdInstalled() && process.getuid?.() !== 0) return 'etcd-server is not installed (run as root to install it, or set CI=true to fail instead)';
  if (!existsSync(kubeApiserverPath())) {
    try {
      goBinary();
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }
  return undefined;
}
