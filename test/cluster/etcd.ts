// etcd from Debian's etcd-server (3.4) on loopback: one member for kube-apiserver, or a three-member cluster
// for the storage tests and failure drills, optionally with TLS and client certificates on both the client
// and the peer side as a production etcd runs.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issue, writePair } from './pki.ts';
import { freePort, launch, stop, waitFor, type Launched } from './process.ts';


import { ensureEtcdInstalled, etcdInstalled } from '../etcd/harness.ts';

export { ensureEtcdInstalled, etcdInstalled };

/** Files a client needs to reach a TLS etcd (kube-apiserver's --etcd-cafile/--etcd-certfile/--etcd-keyfile). */
export interface EtcdClientTLS {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
}

export interface RunningEtcd {
  /** Client URLs, one per member. */
  endpoints: string[];
  /** Present when the cluster was started with tls: true. */
  tls?: EtcdClientTLS;
  dir: string;
  members: Launched[];
  /** Arguments for etcdctl reaching this cluster (endpoints and, with TLS, the client certificate). */
  etcdctlArgs(endpoints?: string[]): string[];
  /** Stops one member (a failure drill); its data stays. */
  stopMember(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /** Working directory; a fresh temporary one (removed on stop) when absent. */
  dir?: string;
  clientPort?: number;
  peerPort?: number;
  tls?: boolean;
  outlive?: boolean;
  readyTimeoutMs?: number;
}

export interface EtcdClusterOptions {
  dir?: string;
  tls?: boolean;
  outlive?: boolean;
  readyTimeoutMs?: number;
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
}

function healthy(endpoint: string, tls: EtcdClientTLS | undefined): Promise<boolean | string> {
  const url = new URL('/health', endpoint);
  if (!tls) {
    return fetch(url, { signal: AbortSignal.timeout(2000) }).then(async (r) => (r.ok && (await r.text()).includes('"true"')) || `HTTP ${r.status}`);
  }
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { ca: tls.ca, cert: tls.cert, key: tls.key, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolvePromise((res.statusCode === 200 && body.includes('"true"')) || `HTTP ${res.statusCode} ${body}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function startMembers(count: number, opts: EtcdClusterOptions & { ports?: Partial<Member> }): Promise<RunningEtcd> {
  ensureEtcdInstalled();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'etcd-'));
  mkdirSync(dir, { recursive: true });
  const scheme = opts.tls ? 'https' : 'http';
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    members.push({
      name: `etcd-${i}`,
      clientPort: (count === 1 ? opts.ports?.clientPort : undefined) ?? (await freePort()),
      peerPort: (count === 1 ? opts.ports?.peerPort : undefined) ?? (await freePort()),
    });
  }
  let tls: EtcdClientTLS | undefined;
  let serverCert: { certFile: string; keyFile: string } | undefined;
  let caFile = '';
  if (opts.tls) {
    const pkiDir = join(dir, 'pki');
    const ca = createCA('etcd-ca');
    caFile = writePair(pkiDir, 'ca', ca).certFile;
    // One certificate for every member, serving clients and peers and presenting itself to peers.
    serverCert = writePair(pkiDir, 'member', issue(ca, { commonName: 'etcd', serverAuth: true, clientAuth: true, hosts: ['127.0.0.1', 'localhost'] }));
    const client = issue(ca, { commonName: 'kube-apiserver-etcd-client', clientAuth: true });
    const files = writePair(pkiDir, 'client', client);
    tls = { caFile, ...files, ca: ca.cert, cert: client.cert, key: client.key };
  }
  const initialCluster = members.map((m) => `${m.name}=${scheme}://127.0.0.1:${m.peerPort}`).join(',');
  const token = `harness-${process.pid}-${Date.now()}`;
  const launched: Launched[] = [];
  const endpoints = members.map((m) => `${scheme}://127.0.0.1:${m.clientPort}`);
  const stopAll = async () => {
    await Promise.all(launched.map((p) => stop(p)));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const m of members) {
      const client = `${scheme}://127.0.0.1:${m.clientPort}`;
      const peer = `${scheme}://127.0.0.1:${m.peerPort}`;
      const args = [
        `--name=${m.name}`,
        `--data-dir=${join(dir, m.name)}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${token}`,
        '--logger=zap',
        // Leaves metrics and pprof off the loopback ports other tests pick.
        '--listen-metrics-urls=',
      ];
      if (serverCert) {
        args.push(
          `--cert-file=${serverCert.certFile}`,
          `--key-file=${serverCert.keyFile}`,
          '--client-cert-auth',
          `--trusted-ca-file=${caFile}`,
          `--peer-cert-file=${serverCert.certFile}`,
          `--peer-key-file=${serverCert.keyFile}`,
          '--peer-client-cert-auth',
          `--peer-trusted-ca-file=${caFile}`,
        );
      }
      launched.push(launch(m.name, 'etcd', args, join(dir, `${m.name}.log`), { cwd: dir, outlive: opts.outlive }));
    }
    // A member reports healthy only once the cluster has a leader, so this also waits for quorum.
    await Promise.all(launched.map((p, i) => waitFor(`etcd member ${p.name}`, p, opts.readyTimeoutMs ?? 30_000, () => healthy(endpoints[i], tls))));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    endpoints,
    tls,
    dir,
    members: launched,
    etcdctlArgs: (eps = endpoints) => [
      `--endpoints=${eps.join(',')}`,
      ...(tls ? [`--cacert=${tls.caFile}`, `--cert=${tls.certFile}`, `--key=${tls.keyFile}`] : []),
    ],
    stopMember: (i) => stop(launched[i]),
    stop: stopAll,
  };
}

/** A single etcd member on loopback (free ports unless given). */
export function startEtcd(opts: EtcdOptions = {}): Promise<RunningEtcd> {
  return startMembers(1, { ...opts, ports: { clientPort: opts.clientPort, peerPort: opts.peerPort } });
}

/** count members (three unless given) forming one cluster on loopback. */
export function startEtcdCluster(count = 3, opts: EtcdClusterOptions = {}): Promise<RunningEtcd> {
  return startMembers(count, opts);
}
