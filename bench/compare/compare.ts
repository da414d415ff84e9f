// The side-by-side suite of issue 6: one workload, in one run, against kube-apiserver serving the generated
// BareMetalHost CRD and against our server with each of its backends, SQLite (its own fsync'ed log) and
// etcd (the very etcd kube-apiserver uses, under another prefix). Both acknowledge a write only after an
// fsync. Optionally also through kube-apiserver to our server behind the APIService, the path kubectl takes
// in cluster mode. Ratios are ours over kube-apiserver's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../../test/cluster/kube-apiserver.ts';
import { adminCredentials, Client, type Credentials } from '../api/client.ts';
import { collectGarbage, cpuTimeMs, residentSet, startServer } from '../api/server.ts';
import { adminOf, installCRD, startAggregated } from './targets.ts';
import { runWorkload, type Plan, type Results, type Target } from './workload.ts';

export const fullPlan: Plan = {
  createClients: 8,
  createSeconds: 10,
  hosts: 10_000,
  rate: 200,
  latencySeconds: 10,
  listRuns: 5,
  watchers: 100,
  watchHosts: 100,
  watchRate: 500,
  watchSeconds: 10,
};

// Every target within ~1.5 minutes on two cores, so that the whole quick suite stays under 10 minutes.
export const quickPlan: Plan = { ...fullPlan, createSeconds: 3, hosts: 2_000, latencySeconds: 4, listRuns: 3, watchSeconds: 3 };

export type TargetName = 'kube' | 'sqlite' | 'etcd' | 'aggregated';

export const targetTitles: Record<TargetName, string> = {
  kube: 'kube-apiserver serving the BareMetalHost CRD (etcd)',
  sqlite: 'metal3-apiserver, SQLite backend',
  etcd: 'metal3-apiserver, etcd backend (same etcd)',
  aggregated: 'kubectl path: kube-apiserver → metal3-apiserver (cluster mode, etcd)',
};

export interface Measured {
  results: Results;
  /** RSS (bytes) of the process that holds the hosts: our server, or kube-apiserver serving the CRD. */
  rss: number;
  detail: Record<string, number>;
}

export interface CompareOptions {
  quick: boolean;
  /** Also measure the aggregated path (through kube-apiserver to our server). */
  aggregated: boolean;
  log: (line: string) => void;
}

export interface CompareRun {
  plan: Plan;
  measured: Partial<Record<TargetName, Measured>>;
  seconds: number;
}

const settleMs = 3000;

const etcdPidsOf = (cp: ControlPlane) => (cp.etcd ? cp.etcd.members.map((m) => m.pid) : []);

async function measure(name: string, creds: Credentials, url: string, pids: number[], storePids: number[], plan: Plan, log: (l: string) => void): Promise<Results> {
  const client = new Client(url, creds, 64);
  const writer = new Client(url, creds, 32);
  const target: Target = { name, client, writer, pids, storePids };
  try {
    log(`${name}:`);
    return await runWorkload(target, plan, log);
  } finally {
    client.close();
    writer.close();
  }
}

async function aggregated(cp: ControlPlane, dir: string, plan: Plan, pids: number[], log: (l: string) => void): Promise<Measured> {
  const server = await startAggregated(cp, dir);
  try {
    const results = await measure(targetTitles.aggregated, adminOf(cp), cp.url, [server.proc.pid, ...pids], etcdPidsOf(cp), plan, log);
    if (server.inspectorUrl) await collectGarbage(server.inspectorUrl);
    await sleep(settleMs);
    return { results, rss: residentSet(server.proc.pid).rss, detail: { kubeApiserverRssBytes: residentSet(cp.kubeApiserver.pid).rss } };
  } finally {
    await server.stop();
  }
}

/**
 * Installing a CRD makes kube-apiserver rebuild its OpenAPI documents and discovery, seconds of CPU; measuring
 * during that would understate it. Waits until it uses under 10 % of a core for two seconds running (at most 60 s).
 */
async function quiesce(pid: number, log: (l: string) => void): Promise<void> {
  const started = Date.now();
  let quiet = 0;
  let last = cpuTimeMs(pid);
  while (quiet < 2 && Date.now() - started < 60_000) {
    await sleep(1000);
    const now = cpuTimeMs(pid);
    quiet = now - last < 100 ? quiet + 1 : 0;
    last = now;
  }
  log(`  kube-apiserver quiet after ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function crd(cp: ControlPlane, plan: Plan, pids: number[], log: (l: string) => void): Promise<Measured> {
  const before = residentSet(cp.kubeApiserver.pid).rss;
  await installCRD(cp);
  await quiesce(cp.kubeApiserver.pid, log);
  const results = await measure(targetTitles.kube, adminOf(cp), cp.url, pids, etcdPidsOf(cp), plan, log);
  // Go's collector cannot be forced from outside; the pause lets it run on its own.
  await sleep(settleMs);
  return { results, rss: residentSet(cp.kubeApiserver.pid).rss, detail: { kubeApiserverRssBeforeCRDBytes: before } };
}

/** Our server alone, reached directly; `backing` are the other processes doing its storing (etcd). */
async function direct(title: string, serverArgs: string[], backing: number[], plan: Plan, log: (l: string) => void): Promise<Measured> {
  const server = await startServer([], undefined, serverArgs);
  try {
    const results = await measure(title, adminCredentials(server.dataDir), server.url, [server.pid, ...backing], backing, plan, log);
    if (server.inspectorUrl) await collectGarbage(server.inspectorUrl);
    await sleep(settleMs);
    return { results, rss: residentSet(server.pid).rss, detail: {} };
  } finally {
    await server.stop();
  }
}

export async function runCompare(opts: CompareOptions): Promise<CompareRun> {
  const plan = opts.quick ? quickPlan : fullPlan;
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
  const cp = await startControlPlane({ dir, log: opts.log });
  const measured: Partial<Record<TargetName, Measured>> = {};
  try {
    const etcdPids = etcdPidsOf(cp);
    // Ours first: the etcd the CRD's hosts then land in is no emptier for kube-apiserver than it was for us.
    measured.sqlite = await direct(targetTitles.sqlite, [], [], plan, opts.log);
    measured.etcd = await direct(targetTitles.etcd, ['--storage-backend', 'etcd', '--etcd-servers', cp.etcdEndpoints.join(','), '--etcd-prefix', '/bench-metal3'], etcdPids, plan, opts.log);
    // The APIService and the CRD both claim metal3.io/v1alpha1: the aggregated run must end before the CRD exists.
    if (opts.aggregated) measured.aggregated = await aggregated(cp, dir, plan, [cp.kubeApiserver.pid, ...etcdPids], opts.log);
    measured.kube = await crd(cp, plan, [cp.kubeApiserver.pid, ...etcdPids], opts.log);
  } catch (e) {
    await cp.stop();
    opts.log(`logs kept in ${dir}`);
    throw e;
  }
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
  return { plan, measured, seconds: (Date.now() - started) / 1000 };
}
