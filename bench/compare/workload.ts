// The one workload every target runs: creates by closed-loop clients, GET and update latency at a fixed
// rate, LISTs of every host as JSON and as Table, and watch fan-out. The measuring itself is bench/api's;
// only the fixed-rate update is new here.
import { performance } from 'node:perf_hooks';
import { cpuTimeMs } from '../api/server.ts';
import type { Client } from '../api/client.ts';
import { hostName, hostPath } from '../api/fixtures.ts';
import { paced } from '../api/pacing.ts';
import { measureGets, measureList, tableAccept } from '../api/reads.ts';
import { summarize, type LatencySummary } from '../api/stats.ts';
import { measureWatch } from '../api/watch.ts';
import { ensureNamespace, measureCreates, resizeHosts } from '../api/writes.ts';

export interface Plan {
  createClients: number;
  createSeconds: number;
  hosts: number;
  rate: number;
  latencySeconds: number;
  listRuns: number;
  watchers: number;
  watchHosts: number;
  watchRate: number;
  watchSeconds: number;
}

/** A server (or chain of servers) the workload is pointed at. */
export interface Target {
  name: string;
  client: Client;
  writer: Client;
  /** Every process that does work for this target's requests; their CPU time is summed per operation. */
  pids: number[];
  /** Those of pids that are the store (etcd), reported apart for creates: the CPU a backend cannot save. */
  storePids: number[];
}

export interface Results {
  createsPerSecond: number;
  createLatencyMs: LatencySummary;
  getMs: LatencySummary;
  getErrors: number;
  updateMs: LatencySummary;
  updateErrors: number;
  listJSONMs: number;
  listJSONSamplesMs: number[];
  listJSONBytes: number;
  listTableMs: number;
  listTableSamplesMs: number[];
  watchDeliveryMs: LatencySummary;
  watchDelivered: number;
  watchExpected: number;
  /** CPU (ms) of the target's processes per operation, by phase: comparable on a busy machine where wall clock is not. */
  cpuMsPerOp: { create: number; get: number; update: number; listJSON: number; listTable: number; watchWrite: number };
  /**
   * Where a create's CPU goes besides the server: the store's processes (part of cpuMsPerOp.create) and this
   * load generator (not part of it). On a machine with few cores their sum bounds creates per second.
   */
  createCpuMs: { store: number; client: number };
  /** Phases that failed outright, with why. */
  errors: string[];
}

const cpuOf = (pids: number[]) => () => pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);

/** Merge patches of one annotation on random hosts among 0..hosts-1, open loop at `rate` per second. */
export async function measureUpdates(client: Client, ns: string, hosts: number, rate: number, seconds: number): Promise<{ latencyMs: LatencySummary; errors: number; sent: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const run = await paced(rate, seconds, async (i) => {
    const body = JSON.stringify({ metadata: { annotations: { 'bench.metal3.io/updated': `${i}-${performance.now().toFixed(1)}` } } });
    const res = await client.request('PATCH', hostPath(ns, hostName(Math.floor(Math.random() * hosts))), { body, contentType: 'application/merge-patch+json' });
    if (res.status === 200) latencies.push(res.ms);
    else errors++;
  });
  return { latencyMs: summarize(latencies), errors, sent: run.started };
}

const NO_LATENCY: LatencySummary = { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN };

/**
 * Runs one phase; a phase that fails (a target overwhelmed into 503s, say) is reported and leaves its
 * figures NaN, so the other phases and the other targets are still measured.
 */
async function phase<T>(name: string, errors: string[], log: (line: string) => void, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (e) {
    const message = `${name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    errors.push(message);
    log(`  FAILED ${message}`);
    return undefined;
  }
}

export async function runWorkload(t: Target, plan: Plan, log: (line: string) => void): Promise<Results> {
  const cpu = cpuOf(t.pids);
  const ns = 'bench';
  const watchNs = 'bench-watch';
  const errors: string[] = [];
  await ensureNamespace(t.client, ns);
  await ensureNamespace(t.client, watchNs);

  const storeCpu = cpuOf(t.storePids);
  let c0 = cpu();
  const s0 = storeCpu();
  const client0 = process.cpuUsage();
  const creates = await measureCreates(t.client, ns, plan.createClients, plan.createSeconds);
  const createCpu = (cpu() - c0) / creates.created;
  const clientCpu = process.cpuUsage(client0);
  const createCpuMs = { store: (storeCpu() - s0) / creates.created, client: (clientCpu.user + clientCpu.system) / 1000 / creates.created };
  log(`  creates: ${creates.perSecond.toFixed(0)}/s (${creates.created} in ${creates.seconds.toFixed(1)} s), p99 ${creates.latencyMs.p99.toFixed(1)} ms`);
  const t0 = performance.now();
  await resizeHosts(t.client, ns, creates.created, plan.hosts);
  log(`  brought ${ns} to ${plan.hosts} hosts in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  c0 = cpu();
  const gets = await phase('GET', errors, log, () => measureGets(t.client, ns, plan.hosts, plan.rate, plan.latencySeconds));
  const getCpu = gets ? (cpu() - c0) / (gets.latencyMs.count + gets.errors) : NaN;
  if (gets) log(`  GET at ${plan.rate}/s: p50 ${gets.latencyMs.p50.toFixed(2)} / p99 ${gets.latencyMs.p99.toFixed(2)} ms, ${gets.errors} errors`);

  c0 = cpu();
  const updates = await phase('update', errors, log, () => measureUpdates(t.client, ns, plan.hosts, plan.rate, plan.latencySeconds));
  const updateCpu = updates ? (cpu() - c0) / updates.sent : NaN;
  if (updates) log(`  update at ${plan.rate}/s: p50 ${updates.latencyMs.p50.toFixed(2)} / p99 ${updates.latencyMs.p99.toFixed(2)} ms, ${updates.errors} errors`);

  c0 = cpu();
  const lj = await phase('LIST JSON', errors, log, () => measureList(t.client, ns, plan.hosts, plan.listRuns));
  const ljCpu = (cpu() - c0) / (plan.listRuns + 1);
  c0 = cpu();
  const lt = await phase('LIST Table', errors, log, () => measureList(t.client, ns, plan.hosts, plan.listRuns, tableAccept));
  const ltCpu = (cpu() - c0) / (plan.listRuns + 1);
  log(`  LIST ${plan.hosts}: JSON ${lj?.medianMs.toFixed(0)} ms (${((lj?.bytes ?? NaN) / 2 ** 20).toFixed(1)} MB), Table ${lt?.medianMs.toFixed(0)} ms`);

  const w = await phase('watch', errors, log, () =>
    measureWatch(t.client, t.writer, watchNs, { watchers: plan.watchers, hosts: plan.watchHosts, rate: plan.watchRate, seconds: plan.watchSeconds, serverCpuMs: cpu }),
  );
  if (w) log(`  watch, ${plan.watchers} watchers at ${plan.watchRate} writes/s: ${w.deliveredEvents}/${w.expectedEvents} delivered, p99 ${w.deliveryMs.p99.toFixed(1)} ms, ${w.writeErrors} writes failed`);

  return {
    createsPerSecond: creates.perSecond,
    createLatencyMs: creates.latencyMs,
    getMs: gets?.latencyMs ?? NO_LATENCY,
    getErrors: gets?.errors ?? NaN,
    updateMs: updates?.latencyMs ?? NO_LATENCY,
    updateErrors: updates?.errors ?? NaN,
    listJSONMs: lj?.medianMs ?? NaN,
    listJSONSamplesMs: lj?.samplesMs ?? [],
    listJSONBytes: lj?.bytes ?? NaN,
    listTableMs: lt?.medianMs ?? NaN,
    listTableSamplesMs: lt?.samplesMs ?? [],
    watchDeliveryMs: w?.deliveryMs ?? NO_LATENCY,
    watchDelivered: w?.deliveredEvents ?? NaN,
    watchExpected: w?.expectedEvents ?? NaN,
    cpuMsPerOp: { create: createCpu, get: getCpu, update: updateCpu, listJSON: lj ? ljCpu : NaN, listTable: lt ? ltCpu : NaN, watchWrite: w?.serverCpuMsPerWrite ?? NaN },
    createCpuMs,
    errors,
  };
}
