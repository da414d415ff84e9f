// Several replicas of our server in cluster mode on one etcd, behind the harness's kube-apiserver, as the
// Deployment in manifests/base runs them: the registration they need, each replica's process and a client
// for it, and the reconciler Lease they share. Used by the suites that kill a replica (cluster-replicas,
// the leader-kill drill).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeKubeconfig } from '../../apiserver/auth/kubeconfig.ts';
import type { ControlPlane } from './kube-apiserver.ts';
import { issue } from './pki.ts';
import { freePort, launch, portOpen, tail, waitFor, type Launched } from './process.ts';
import { apiServiceCondition, registrationManifest, SERVER_NAMESPACE, SERVER_SERVICE, SERVER_USER } from './up.ts';

const repoRoot = resolve(import.meta.dirname, '../..');

/** The reconcilers' Lease (cmd/metal3-apiserver.ts), in SERVER_NAMESPACE. */
export const LEASE_NAME = 'metal3-baremetal-controller';

export interface Reply {
  status: number;
  body: string;
}

/** One replica: its process, and a keep-alive HTTPS client that presents the cluster admin's certificate. */
export class Replica {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  proc!: Launched;
  private agent?: https.Agent;

  constructor(name: string, port: number, dataDir: string) {
    this.name = name;
    this.port = port;
    this.dataDir = dataDir;
  }

  /** The LeaderElector's identity for this process (cmd/metal3-apiserver.ts). */
  get identity(): string {
    return `${hostname()}_${this.proc.pid}`;
  }

  log(): string {
    return readFileSync(this.proc.logFile, 'utf8');
  }

  /** The serving CA only exists once the replica has written its PKI, so the agent is made on first use. */
  private agentFor(cp: ControlPlane): https.Agent {
    this.agent ??= new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ca: readFileSync(join(this.dataDir, 'pki', 'ca.crt')),
      cert: cp.pki.admin.cert,
      key: cp.pki.admin.key,
    });
    return this.agent;
  }

  request(cp: ControlPlane, method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolvePromise, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agentFor(cp),
          timeout: timeoutMs,
          headers: { Accept: 'application/json', ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A raw watch stream (its own connection, not the pooled ones). */
  watch(cp: ControlPlane, path: string): Promise<IncomingMessage> {
    return new Promise((resolvePromise, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: this.port, path, ca: readFileSync(join(this.dataDir, 'pki', 'ca.crt')), cert: cp.pki.admin.cert, key: cp.pki.admin.key, agent: false },
        (res) => (res.statusCode === 200 ? resolvePromise(res) : reject(new Error(`watch ${path}: HTTP ${res.statusCode}`))),
      );
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent?.destroy();
  }
}

export interface ReplicaOptions {
  /** Flags after the cluster-mode, storage and listening ones (e.g. --ironic-endpoint, --disable-reconcilers). */
  args?: string[];
  /** Added to this process's environment; a variable given as undefined is left out. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts our server in cluster mode on etcd as `name`, with its log in dir; resolves once its port is open.
 * kubeconfig is its identity towards kube-apiserver (see registerServer).
 */
export async function startReplica(cp: ControlPlane, dir: string, kubeconfig: string, name: string, opts: ReplicaOptions = {}): Promise<Replica> {
  const r = new Replica(name, await freePort(), join(dir, name));
  r.proc = launch(
    `metal3-apiserver-${name}`,
    process.execPath,
    [
      join(repoRoot, 'cmd/metal3-apiserver.ts'),
      '--mode=cluster',
      '--kubeconfig',
      kubeconfig,
      '--data-dir',
      r.dataDir,
      '--port',
      String(r.port),
      '--bind-address',
      '127.0.0.1',
      '--storage-backend',
      'etcd',
      '--etcd-servers',
      cp.etcdEndpoints.join(','),
      '--enable-fake-bmc',
      ...(opts.args ?? []),
    ],
    join(dir, `metal3-apiserver-${name}.log`),
    { cwd: repoRoot, env: { ...process.env, ...opts.env } },
  );
  await waitFor(`replica ${name} on ${r.port}`, r.proc, 60_000, async () => (await portOpen(r.port)) || 'port closed');
  return r;
}

/**
 * Our server's identity towards kube-apiserver (a client certificate named as its ServiceAccount), written
 * to dir/metal3.kubeconfig, and the RBAC of manifests/base. Done before any replica starts: cluster mode
 * reads the front-proxy configuration at start-up, and the APIService needs a port, so it is registered
 * with pointApiServiceAt once a replica runs.
 */
export async function registerServer(cp: ControlPlane, dir: string, fieldManager: string): Promise<string> {
  const identity = issue(cp.pki.ca, { commonName: SERVER_USER, clientAuth: true });
  const kubeconfig = join(dir, 'metal3.kubeconfig');
  writeKubeconfig(kubeconfig, { server: cp.url, caPem: cp.pki.ca.cert, certPem: identity.cert, keyPem: identity.key, user: SERVER_SERVICE, context: 'harness' });
  // A port nobody listens on yet: the namespace, Service and the two bindings are what matters here.
  await applyStdin(cp.adminKubeconfig, registrationManifest(1), fieldManager);
  await applyFile(cp.adminKubeconfig, join(repoRoot, 'manifests/base/rbac.yaml'), fieldManager);
  return kubeconfig;
}

/**
 * Routes the aggregator to one replica and waits until the APIService is Available. The ExternalName
 * Service can name one port only, as a real Service stops routing to a dead pod.
 */
export async function pointApiServiceAt(cp: ControlPlane, r: Replica, fieldManager: string): Promise<void> {
  await applyStdin(cp.adminKubeconfig, registrationManifest(r.port), fieldManager);
  await until(`APIService Available on replica ${r.name}`, 30_000, async () => ((await apiServiceCondition(cp)).status === 'True' ? true : undefined));
}

/** Resolves once r logs that it leads the Lease; fails early when it exits. */
export function untilLeading(r: Replica, timeoutMs = 45_000): Promise<true> {
  return until(`replica ${r.name} leading`, timeoutMs, () => {
    if (r.proc.exited()) throw new Error(`${r.proc.exited()}\n${tail(r.proc.logFile)}`);
    return / leads /.test(r.log()) || undefined;
  });
}

export interface LeaseView {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}

/** The reconcilers' Lease as kube-apiserver stores it, or undefined when it cannot be read. */
export async function readLease(cp: ControlPlane): Promise<LeaseView | undefined> {
  const r = await cp.request(`/apis/coordination.k8s.io/v1/namespaces/${SERVER_NAMESPACE}/leases/${LEASE_NAME}`).catch(() => undefined);
  return r?.status === 200 ? r.json<{ spec: LeaseView }>().spec : undefined;
}

/** Polls probe every 100 ms until it returns a value; fails at the deadline. */
export async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}

/** `kubectl apply --server-side` of a manifest given on stdin. */
export function applyStdin(kubeconfig: string, manifest: string, fieldManager: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--force-conflicts', `--field-manager=${fieldManager}`, '-f', '-'], (err, _out, stderr) =>
      err ? reject(new Error(`kubectl apply: ${stderr || err.message}`)) : resolvePromise(),
    );
    child.stdin?.end(manifest);
  });
}

function applyFile(kubeconfig: string, file: string, fieldManager: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', `--field-manager=${fieldManager}`, '-f', file], (err, _out, stderr) =>
      err ? reject(new Error(`kubectl apply -f ${file}: ${stderr || err.message}`)) : resolvePromise(),
    );
  });
}
