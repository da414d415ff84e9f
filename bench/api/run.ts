#!/usr/bin/env node
// npm run bench:api -- [--quick] [--json FILE] [--cpu-prof DIR] [--only PHASES] [--watchers N] [--server-root DIR]
// Starts the standalone server as a child process and measures, from this separate process, each
// performance figure issue 2 sets a target for; prints every figure with its target and PASS/MISS.
// See bench/README.md for what each figure means and how to read it.
import { parseArgs } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import { startEtcd } from '../../test/cluster/etcd.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminCredentials, Client } from './client.ts';
import { collectGarbage, cpuTimeMs, residentSet, startServer } from './server.ts';
import { ensureNamespace, measureCreates, resizeHosts } from './writes.ts';
import { measureGets, measureList, tableAccept } from './reads.ts';
import { measureWatch } from './watch.ts';

interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The target, and whether the value must be at least (>=) or below (<) it. */
  target: number;
  better: '>=' | '<';
  pass: boolean;
  detail: Record<string, unknown>;
}

interface Plan {
  createSeconds: number;
  createClients: number;
  hosts: number;
  getRate: number;
  getSeconds: number;
  listRuns: number;
  watchers: number;
  watchHosts: number;
  watchRate: number;
  watchSeconds: number;
  settleSeconds: number;
}

const fullPlan: Plan = {
  createSeconds: 10,
  createClients: 8,
  hosts: 10_000,
  getRate: 500,
  getSeconds: 10,
  listRuns: 5,
  watchers: 100,
  watchHosts: 100,
  watchRate: 500,
  watchSeconds: 10,
  settleSeconds: 5,
};

// Same counts where a target is defined by them (10,000 hosts, 100 watchers), shorter durations.
const quickPlan: Plan = { ...fullPlan, createSeconds: 3, getSeconds: 3, listRuns: 3, watchSeconds: 3, settleSeconds: 3 };

const round = (n: number, digits = 2) => Number(n.toFixed(digits));

function figure(name: string, value: number, unit: string, better: Figure['better'], target: number, detail: Record<string, unknown> = {}): Figure {
  const pass = better === '>=' ? value >= target : value < target;
  const f: Figure = { name, value: round(value), unit, target, better, pass, detail };
  const shown = `${round(value)} ${unit}`.padEnd(14);
  console.log(`${name.padEnd(46)} ${shown} target ${better === '>=' ? '≥' : '<'} ${target} ${unit}`.padEnd(86) + (pass ? 'PASS' : 'MISS'));
  return f;
}

const fmt = (s: { p50: number; p90: number; p99: number; max: number }) => `p50 ${round(s.p50)} / p90 ${round(s.p90)} / p99 ${round(s.p99)} / max ${round(s.max)} ms`;

/** The heap figures prom-client's default metrics expose, to tell JavaScript heap from native memory. */
async function processMetrics(client: Client): Promise<Record<string, number>> {
  const text = (await client.expect(200, 'GET', '/metrics')).body.toString('utf8');
  const out: Record<string, number> = {};
  for (const name of ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']) {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text);
    if (m) out[name.replace(/^nodejs_|_bytes$/g, '')] = Number(m[1]);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      only: { type: 'string' },
      watchers: { type: 'string' },
      'server-root': { type: 'string' },
      etcd: { type: 'boolean', default: false },
      'node-arg': { type: 'string', multiple: true },
    },
    strict: true,
  });
  const plan = { ...(values.quick ? quickPlan : fullPlan) };
  if (values.watchers !== undefined) plan.watchers = Number(values.watchers);
  const phases = new Set((values.only ?? 'creates,get,rss,list,watch').split(','));
  const unknown = [...phases].filter((p) => !['creates', 'get', 'rss', 'list', 'watch'].includes(p));
  if (unknown.length) throw new Error(`--only: unknown phase(s) ${unknown.join(', ')}`);
  const nodeArgs = [...(values['node-arg'] ?? []), ...(values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [])];
  // --etcd: the etcd backend on an etcd started for the run (its CPU is not counted: see bench/compare for that).
  const etcd = values.etcd ? await startEtcd({ dir: mkdtempSync(join(tmpdir(), 'bench-api-etcd-')) }) : undefined;
  const serverArgs = etcd ? ['--storage-backend', 'etcd', '--etcd-servers', etcd.endpoints.join(',')] : [];
  const server = await startServer(nodeArgs, values['server-root'] ? resolve(values['server-root']) : undefined, serverArgs);
  const figures: Figure[] = [];
  console.log(`metal3-apiserver at ${server.url} (pid ${server.pid}); ${cpus().length} CPUs; ${values.quick ? 'quick' : 'full'} run; node ${process.version}`);
  const creds = adminCredentials(server.dataDir);
  const client = new Client(server.url, creds, 64);
  const writer = new Client(server.url, creds, 32);
  try {
    await ensureNamespace(client, 'bench');
    await ensureNamespace(client, 'bench-watch');

    let created = 0;
    if (phases.has('creates')) {
      const cpu = cpuTimeMs(server.pid);
      const c = await measureCreates(client, 'bench', plan.createClients, plan.createSeconds);
      const cpuPerOp = (cpuTimeMs(server.pid) - cpu) / c.created;
      created = c.created;
      figures.push(
        figure(`BareMetalHost creates/s, ${plan.createClients} clients`, c.perSecond, '/s', '>=', 2000, {
          created: c.created,
          seconds: round(c.seconds),
          latencyMs: c.latencyMs,
          serverCpuMsPerCreate: round(cpuPerOp, 3),
        }),
      );
      console.log(`  ${c.created} creates in ${round(c.seconds)} s; latency ${fmt(c.latencyMs)}; server CPU ${round(cpuPerOp, 3)} ms per create`);
    }

    // The read figures are about a server holding exactly plan.hosts hosts.
    await resizeHosts(client, 'bench', created, plan.hosts);

    if (phases.has('get')) {
      const cpu = cpuTimeMs(server.pid);
      const g = await measureGets(client, 'bench', plan.hosts, plan.getRate, plan.getSeconds);
      const cpuPerOp = (cpuTimeMs(server.pid) - cpu) / (g.latencyMs.count + g.errors);
      figures.push(figure(`GET p99 at ${plan.getRate}/s`, g.latencyMs.p99, 'ms', '<', 5, { ...g, serverCpuMsPerGet: round(cpuPerOp, 3) }));
      console.log(
        `  ${g.latencyMs.count} GETs, ${g.errors} errors; ${fmt(g.latencyMs)}; client schedule lag p99 ${round(g.scheduleLagMs.p99)} ms, loop delay max ${round(g.clientLoopDelayMaxMs)} ms; server CPU ${round(cpuPerOp, 3)} ms per GET`,
      );
    }

    if (phases.has('list')) {
      let cpu = cpuTimeMs(server.pid);
      const lj = await measureList(client, 'bench', plan.hosts, plan.listRuns);
      const cpuJSON = (cpuTimeMs(server.pid) - cpu) / (plan.listRuns + 1);
      figures.push(figure(`LIST ${plan.hosts} hosts, JSON (median of ${plan.listRuns})`, lj.medianMs, 'ms', '<', 150, { ...lj, serverCpuMsPerList: round(cpuJSON) }));
      console.log(`  ${round(lj.bytes / 2 ** 20)} MB; runs ${lj.samplesMs.map((s) => round(s, 1)).join(', ')} ms; server CPU ${round(cpuJSON)} ms per LIST`);
      cpu = cpuTimeMs(server.pid);
      const lt = await measureList(client, 'bench', plan.hosts, plan.listRuns, tableAccept);
      const cpuTable = (cpuTimeMs(server.pid) - cpu) / (plan.listRuns + 1);
      figures.push(figure(`LIST ${plan.hosts} hosts, Table (median of ${plan.listRuns})`, lt.medianMs, 'ms', '<', 250, { ...lt, serverCpuMsPerList: round(cpuTable) }));
      console.log(`  ${round(lt.bytes / 2 ** 20)} MB; runs ${lt.samplesMs.map((s) => round(s, 1)).join(', ')} ms; server CPU ${round(cpuTable)} ms per LIST`);
    }

    if (phases.has('watch')) {
      const w = await measureWatch(client, writer, 'bench-watch', {
        watchers: plan.watchers,
        hosts: plan.watchHosts,
        rate: plan.watchRate,
        seconds: plan.watchSeconds,
        serverCpuMs: () => cpuTimeMs(server.pid),
      });
      figures.push(figure(`watch delivery p99, ${w.watchers} watchers, ${w.writeRate} writes/s`, w.deliveryMs.p99, 'ms', '<', 20, { ...w }));
      console.log(
        `  ${w.writes} writes (${w.writeErrors} failed), ${w.deliveredEvents}/${w.expectedEvents} events delivered; ${fmt(w.deliveryMs)}; write latency ${fmt(w.writeLatencyMs)}; server CPU ${w.serverCpuMsPerWrite} ms per write`,
      );
    }

    if (phases.has('rss')) {
      // Last, so the figure includes what serving every other request left behind (cached
      // serializations, history); after a forced full GC and a pause, so garbage is not counted.
      const before = residentSet(server.pid);
      if (server.inspectorUrl) await collectGarbage(server.inspectorUrl);
      await sleep(plan.settleSeconds * 1000);
      const mem = residentSet(server.pid);
      const heap = await processMetrics(client);
      figures.push(
        figure(`server RSS holding ${plan.hosts} hosts`, mem.rss / 2 ** 20, 'MB', '<', 300, {
          rssBytes: mem.rss,
          rssBeforeGCBytes: before.rss,
          peakBytes: mem.peak,
          gcForced: !!server.inspectorUrl,
          heap,
        }),
      );
      console.log(
        `  VmRSS ${round(mem.rss / 2 ** 20)} MB after a full GC and ${plan.settleSeconds} s idle (${round(before.rss / 2 ** 20)} MB before); peak (VmHWM) ${round(mem.peak / 2 ** 20)} MB`,
      );
      console.log(`  server's own view: ${Object.entries(heap).map(([k, v]) => `${k} ${round(v / 2 ** 20)} MB`).join(', ')}`);
    }
  } catch (e) {
    console.error(`server output (tail):\n${server.output().slice(-3000)}`);
    throw e;
  } finally {
    client.close();
    writer.close();
    await server.stop();
    await etcd?.stop();
  }
  const missed = figures.filter((f) => !f.pass).length;
  console.log(missed ? `${missed} of ${figures.length} targets missed` : `all ${figures.length} targets met`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: values.quick, figures }, null, 2) + '\n');
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
