// Debian's etcd on loopback as a test peer: one member or a three-member cluster on free ports, each with
// its own data directory, optionally serving clients over TLS with client-certificate authentication.
// stop() ends exactly the processes it started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureStandalonePKI } from '../../apiserver/auth/pki.ts';
import { aptInstall } from '../support/debian.ts';
import { freePort } from '../ironic/harness.ts';

const PACKAGES = ['etcd-server', 'etcd-client'];

export function etcdInstalled(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why an etcd test would skip, or undefined when it must run: under CI=true or as root it always runs. */
export function etcdSkipReason(): string | undefined {
  if (process.env.CI === 'true' || etcdInstalled() || process.getuid?.() === 0) return undefined;
  return `etcd is not installed (run as root to install ${PACKAGES.join(' ')}, or set CI=true to fail instead)`;
}

export function ensureEtcdInstalled(): void {
  if (!etcdInstalled()) aptInstall('etcd', PACKAGES);
}

export { freePort };

/** PEM material a client needs for a TLS etcd: the CA and a client certificate it accepts. */
export interface EtcdClientTLS {
  ca: string;
  cert: string;
  key: string;
}

export interface EtcdMember {
  name: string;
  clientURL: string;
  dataDir: string;
  /** Stops the process, keeping its data directory and ports (a member going away). */
  stop(): Promise<void>;
  /** Starts it again on the same data and ports, and waits until it serves. */
  start(): Promise<void>;
  running(): boolean;
  /** Sends a signal to the process (SIGSTOP: a member that hangs with its connections open). */
  signal(sig: NodeJS.Signals): void;
  log(): string;
}

export interface RunningEtcd {
  /** Client URLs of every member. */
  endpoints: string[];
  members: EtcdMember[];
  tls?: EtcdClientTLS;
  dir: string;
  /** Stops every process it started and removes the directory it created. */
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /** Use this directory (kept on stop) instead of a fresh temporary one. */
  dir?: string;
  /** Serve clients over https and require client certificates signed by a generated CA. */
  tls?: boolean;
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
}

function memberProcess(dir: string, spec: MemberSpec, cluster: MemberSpec[], scheme: 'http' | 'https', certDir: string | undefined) {
  const dataDir = join(dir, spec.name);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const clientURL = `${scheme}://127.0.0.1:${spec.clientPort}`;
  let child: ChildProcess | undefined;
  let output = '';
  const args = [
    '--name', spec.name,
    '--data-dir', dataDir,
    '--listen-client-urls', clientURL,
    '--advertise-client-urls', clientURL,
    '--listen-peer-urls', `http://127.0.0.1:${spec.peerPort}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${spec.peerPort}`,
    '--initial-cluster', cluster.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(','),
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', `test-${cluster[0].clientPort}`,
    // Small timings keep elections short when a member is stopped.
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
    // A member that returns after a kill must not depose a healthy leader (etcd 3.5 turns this on by default).
    '--pre-vote=true',
  ];
  if (certDir) {
    args.push('--cert-file', join(certDir, 'server.crt'), '--key-file', join(certDir, 'server.key'), '--client-cert-auth', '--trusted-ca-file', join(certDir, 'ca.crt'));
  }
  const member: EtcdMember = {
    name: spec.name,
    clientURL,
    dataDir,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    log: () => output.slice(-4000),
    signal: (sig) => void child?.kill(sig),
    async start() {
      if (member.running()) return;
      const c = spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    },
    async stop() {
      const c = child;
      if (!c || !member.running()) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  return member;
}

/** Waits until a member answers its /health endpoint (through etcdctl, which speaks TLS when needed). */
async function waitHealthy(member: EtcdMember, tlsDir: string | undefined, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const tlsArgs = tlsDir ? ['--cacert', join(tlsDir, 'ca.crt'), '--cert', join(tlsDir, 'admin.crt'), '--key', join(tlsDir, 'admin.key')] : [];
  for (;;) {
    if (!member.running()) throw new Error(`etcd ${member.name} exited:\n${member.log()}`);
    const r = spawnSync('etcdctl', ['--endpoints', member.clientURL, ...tlsArgs, '--command-timeout=2s', 'endpoint', 'health'], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    });
    if (r.status === 0) return;
    if (Date.now() > deadline) throw new Error(`etcd ${member.name} not healthy after ${timeoutMs} ms: ${r.stderr}\n${member.log()}`);
    await sleep(100);
  }
}

/** A CA, a serving certificate for 127.0.0.1 and a client certificate, as ca/server/admin .crt and .key in dir. */
async function writeTLS(dir: string): Promise<EtcdClientTLS> {
  const pki = await ensureStandalonePKI(dir, { hosts: ['127.0.0.1', 'localhost'] });
  return { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey };
}

/** Starts a cluster of `size` members on loopback and waits until every member is healthy. */
export async function startEtcdCluster(size = 3, opts: EtcdOptions = {}): Promise<RunningEtcd> {
  ensureEtcdInstalled();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'etcd-test-'));
  mkdirSync(dir, { recursive: true });
  const specs: MemberSpec[] = [];
  for (let i = 0; i < size; i++) specs.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const tls = opts.tls ? await writeTLS(dir) : undefined;
  const tlsDir = tls ? join(dir, 'pki') : undefined;
  const members = specs.map((s) => memberProcess(dir, s, specs, tls ? 'https' : 'http', tlsDir));
  const stopAll = async () => {
    await Promise.all(members.map((m) => m.stop()));
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(members.map((m) => m.start()));
    await Promise.all(members.map((m) => waitHealthy(m, tlsDir)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  for (const m of members) {
    const start = m.start.bind(m);
    m.start = async () => {
      await start();
      await waitHealthy(m, tlsDir);
    };
  }
  return { endpoints: members.map((m) => m.clientURL), members, tls, dir, stop: stopAll };
}

/** A single member on free loopback ports. */
export function startEtcd(opts: EtcdOptions = {}): Promise<RunningEtcd> {
  return startEtcdCluster(1, opts);
}
