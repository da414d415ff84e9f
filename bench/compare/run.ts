#!/usr/bin/env node
// npm run bench:compare -- [--quick] [--json FILE]
// One workload, run three ways in one run on one machine: (i) through kube-apiserver to our server in
// cluster mode on etcd; (ii) kube-apiserver serving the generated BareMetalHost CRD on the same etcd;
// (iii) our server alone (standalone, SQLite), for reference. Prints each figure and the ratio (i)/(ii).
// See bench/README.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startControlPlane, type ControlPlane } from '../../test/cluster/kube-apiserver.ts';
import { adminCredentials, Client, type Credentials } from '../api/client.ts';
import { collectGarbage, residentSet, startServer } from '../api/server.ts';
import { adminOf, installCRD, startAggregated } from './targets.ts';
import { runWorkload, type Plan, type Results, type Target } from './workload.ts';

const fullPlan: Plan = {
  createClients: 8,
  createSeconds: 10,
  hosts: 10_000,
  rate: 200,
  latencySeconds: 10,
  listRuns: 5,
  watchers: 100,
  watchHosts: 100,
  watchRate: 300,
  watchSeconds: 10,
};

// Everything three times over must stay within a few minutes on two cores.
const quickPlan: Plan = { ...fullPlan, createSeconds: 3, hosts: 2_000, latencySeconds: 3, listRuns: 3, watchRate: 200, watchSeconds: 3 };

interface Measured {
  results: Results;
  /** RSS (bytes) of the process that holds the hosts: our server, or kube-apiserver serving the CRD. */
  rss: number;
  detail: Record<string, number>;
}

const settleMs = 3000;
const MB = 2 ** 20;

async function measure(name: string, creds: Credentials, url: string, pids: number[], plan: Plan): Promise<Results> {
  const client = new Client(url, creds, 64);
  const writer = new Client(url, creds, 32);
  const target: Target = { name, client, writer, pids };
  try {
    console.log(`${name}:`);
    return await runWorkload(target, plan, (l) => console.log(l));
  } finally {
    client.close();
    writer.close();
  }
}

async function aggregated(cp: ControlPlane, dir: string, plan: Plan, pids: number[]): Promise<Measured> {
  const server = await startAggregated(cp, dir);
  try {
    const results = await measure('(i) kube-apiserver → metal3-apiserver (cluster mode, etcd)', adminOf(cp), cp.url, [server.proc.pid, ...pids], plan);
    if (server.inspectorUrl) await collectGarbage(server.inspectorUrl);
    await sleep(settleMs);
    return { results, rss: residentSet(server.proc.pid).rss, detail: { kubeApiserverRssBytes: residentSet(cp.kubeApiserver.pid).rss } };
  } finally {
    await server.stop();
  }
}

async function crd(cp: ControlPlane, plan: Plan, pids: number[]): Promise<Measured> {
  const before = residentSet(cp.kubeApiserver.pid).rss;
  await installCRD(cp);
  const results = await measure('(ii) kube-apiserver serving the BareMetalHost CRD (etcd)', adminOf(cp), cp.url, pids, plan);
  // Go's collector cannot be forced from outside; the pause lets it run on its own.
  await sleep(settleMs);
  return { results, rss: residentSet(cp.kubeApiserver.pid).rss, detail: { kubeApiserverRssBeforeCRDBytes: before } };
}

async function standalone(plan: Plan): Promise<Measured> {
  const server = await startServer();
  try {
    const results = await measure('(iii) metal3-apiserver direct (standalone, SQLite)', adminCredentials(server.dataDir), server.url, [server.pid], plan);
    if (server.inspectorUrl) await collectGarbage(server.inspectorUrl);
    await sleep(settleMs);
    return { results, rss: residentSet(server.pid).rss, detail: {} };
  } finally {
    await server.stop();
  }
}

interface Row {
  figure: string;
  unit: string;
  higherIsBetter: boolean;
  value: (m: Measured) => number;
}

function rows(plan: Plan): Row[] {
  const r = (figure: string, unit: string, higherIsBetter: boolean, value: (m: Measured) => number): Row => ({ figure, unit, higherIsBetter, value });
  return [
    r(`creates/s, ${plan.createClients} clients`, '/s', true, (m) => m.results.createsPerSecond),
    r(`GET p99 at ${plan.rate}/s`, 'ms', false, (m) => m.results.getMs.p99),
    r(`update p99 at ${plan.rate}/s`, 'ms', false, (m) => m.results.updateMs.p99),
    r(`LIST ${plan.hosts}, JSON (median)`, 'ms', false, (m) => m.results.listJSONMs),
    r(`LIST ${plan.hosts}, Table (median)`, 'ms', false, (m) => m.results.listTableMs),
    r(`watch p99, ${plan.watchers} watchers`, 'ms', false, (m) => m.results.watchDeliveryMs.p99),
    r(`RSS holding ${plan.hosts} hosts`, 'MB', false, (m) => m.rss / MB),
    r('CPU per create', 'ms', false, (m) => m.results.cpuMsPerOp.create),
    r('CPU per GET', 'ms', false, (m) => m.results.cpuMsPerOp.get),
    r('CPU per update', 'ms', false, (m) => m.results.cpuMsPerOp.update),
    r('CPU per LIST JSON', 'ms', false, (m) => m.results.cpuMsPerOp.listJSON),
    r('CPU per LIST Table', 'ms', false, (m) => m.results.cpuMsPerOp.listTable),
    r('CPU per watched write', 'ms', false, (m) => m.results.cpuMsPerOp.watchWrite),
  ];
}

const show = (n: number) => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2)) : String(n));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } }, strict: true });
  const plan = values.quick ? quickPlan : fullPlan;
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
  const cp = await startControlPlane({ dir, log: (l) => console.log(l) });
  console.log(`${cpus().length} CPUs; ${values.quick ? 'quick' : 'full'} run; node ${process.version}; plan ${JSON.stringify(plan)}`);
  let measured: { i: Measured; ii: Measured; iii: Measured };
  try {
    // etcd does the storing for (i) and (ii): its CPU counts towards both.
    const backing = [cp.kubeApiserver.pid, ...(cp.etcd ? [cp.etcd.members[0].pid] : [])];
    const i = await aggregated(cp, dir, plan, backing);
    const ii = await crd(cp, plan, backing);
    const iii = await standalone(plan);
    measured = { i, ii, iii };
  } catch (e) {
    await cp.stop();
    console.error(`logs kept in ${dir}`);
    throw e;
  }
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });

  console.log(`\n${'figure'.padEnd(34)}${'(i) ours via kube'.padStart(19)}${'(ii) kube CRD'.padStart(15)}${'(i)/(ii)'.padStart(10)}${'(iii) standalone'.padStart(18)}`);
  const table = rows(plan).map((row) => {
    const [a, b, c] = [row.value(measured.i), row.value(measured.ii), row.value(measured.iii)];
    const ratio = a / b;
    // A ratio reads "ours is N times kube's"; whether above 1 is good depends on the figure.
    const verdict = ratio === 1 ? '' : (ratio > 1) === row.higherIsBetter ? ' better' : ' worse';
    console.log(
      `${`${row.figure} (${row.unit})`.padEnd(34)}${show(a).padStart(19)}${show(b).padStart(15)}${show(ratio).padStart(10)}${show(c).padStart(18)}${verdict}`,
    );
    return { figure: row.figure, unit: row.unit, higherIsBetter: row.higherIsBetter, ours: a, kube: b, ratio, standalone: c };
  });
  console.log(
    `(RSS: (i) is our server alone; kube-apiserver meanwhile ${show(measured.i.detail.kubeApiserverRssBytes / MB)} MB, ` +
      `${show(measured.ii.detail.kubeApiserverRssBeforeCRDBytes / MB)} MB before the CRD; CPU sums every process serving the request: (i) ours + kube-apiserver + etcd, (ii) kube-apiserver + etcd)`,
  );
  for (const [k, m] of Object.entries(measured)) if (m.results.errors.length) console.log(`(${k}) failed phases: ${m.results.errors.join('; ')}`);
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (values.json) {
    writeFileSync(
      values.json,
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: values.quick, plan, figures: table, raw: measured }, null, 2)}\n`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
