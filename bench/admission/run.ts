#!/usr/bin/env node
// npm run bench:admission [-- --quick] [-- --json FILE] [-- --cpu-prof DIR] [-- --only inprocess|http]
// Issue 3's performance points: built-in admission adds under 0.2 ms p50 per create, and twenty CEL
// policies bound to BareMetalHost add under 0.5 ms p99; each figure against the same run with admission
// off. Measured in-process (store.create called directly, so nothing but admission differs) and over
// HTTPS against the real server with 8 clients (where queueing and TLS are in the figures too).
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cpus } from 'node:os';
import { configurations, describeConfiguration, measureInProcess, type InProcessFigures } from './inprocess.ts';
import { measureHTTP, type HTTPFigures } from './http.ts';
import { policyCount } from './policies.ts';
import type { LatencySummary } from '../api/stats.ts';

interface Target {
  name: string;
  valueMs: number;
  targetMs: number;
  pass: boolean;
}

const plans = {
  full: { creates: 10_000, warmup: 2_000, batch: 250, httpSeconds: 10, httpWarmupSeconds: 2, clients: 8 },
  quick: { creates: 3_000, warmup: 1_000, batch: 250, httpSeconds: 3, httpWarmupSeconds: 1, clients: 8 },
};

const ms = (n: number) => `${n.toFixed(3)} ms`;
const row = (label: string, s: LatencySummary, extra = '') =>
  console.log(`  ${label.padEnd(26)} p50 ${ms(s.p50).padStart(10)}  p99 ${ms(s.p99).padStart(10)}  max ${ms(s.max).padStart(10)}${extra}`);

function target(name: string, valueMs: number, targetMs: number): Target {
  const pass = valueMs < targetMs;
  console.log(`${name.padEnd(60)} ${ms(valueMs).padStart(10)}  target < ${targetMs} ms  ${pass ? 'PASS' : 'MISS'}`);
  return { name, valueMs: Number(valueMs.toFixed(4)), targetMs, pass };
}

function reportInProcess(figs: InProcessFigures[]): Target[] {
  const by = Object.fromEntries(figs.map((f) => [f.config, f])) as Record<(typeof configurations)[number], InProcessFigures>;
  console.log(`in-process: ${by.off.creates} BareMetalHost creates per configuration (Store.create, in-memory SQLite)`);
  for (const f of figs) row(describeConfiguration[f.config], f.latencyMs);
  const plugin = by.policies.policyPluginMs;
  if (plugin) row('  (policy plugin alone)', plugin);
  const targets = [
    target('built-in admission, added p50 per create', by.builtin.latencyMs.p50 - by.off.latencyMs.p50, 0.2),
    target(`${policyCount} CEL policies, added p99 per create`, by.policies.latencyMs.p99 - by.builtin.latencyMs.p99, 0.5),
  ];
  console.log(
    `  (for reference: built-in added p99 ${ms(by.builtin.latencyMs.p99 - by.off.latencyMs.p99)}; policies added p50 ${ms(by.policies.latencyMs.p50 - by.builtin.latencyMs.p50)})`,
  );
  return targets;
}

function reportHTTP(figs: HTTPFigures[]): void {
  console.log(`over HTTPS: ${figs[0].clients} clients, closed loop`);
  for (const f of figs) row(describeConfiguration[f.config], f.latencyMs, `  ${f.perSecond.toFixed(0).padStart(6)} creates/s (${f.created})`);
  const off = figs.find((f) => f.config === 'off');
  if (!off) return;
  for (const f of figs) {
    if (f === off) continue;
    console.log(
      `  ${describeConfiguration[f.config]} vs off: p50 ${ms(f.latencyMs.p50 - off.latencyMs.p50)}, p99 ${ms(f.latencyMs.p99 - off.latencyMs.p99)}, throughput ${((f.perSecond / off.perSecond - 1) * 100).toFixed(1)}%`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      only: { type: 'string' },
    },
    strict: true,
  });
  const plan = values.quick ? plans.quick : plans.full;
  const phases = new Set((values.only ?? 'inprocess,http').split(','));
  const unknown = [...phases].filter((p) => p !== 'inprocess' && p !== 'http');
  if (unknown.length) throw new Error(`--only: unknown phase(s) ${unknown.join(', ')}`);
  const nodeArgs = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [];
  console.log(`bench/admission; ${cpus().length} CPUs; ${values.quick ? 'quick' : 'full'} run; node ${process.version}`);

  let targets: Target[] = [];
  let inProcess: InProcessFigures[] | undefined;
  let http: HTTPFigures[] | undefined;
  if (phases.has('inprocess')) {
    inProcess = await measureInProcess(plan);
    targets = reportInProcess(inProcess);
  }
  if (phases.has('http')) {
    http = [];
    for (const config of configurations) {
      http.push(await measureHTTP(config, { clients: plan.clients, seconds: plan.httpSeconds, warmupSeconds: plan.httpWarmupSeconds, nodeArgs }));
    }
    reportHTTP(http);
  }
  const missed = targets.filter((t) => !t.pass).length;
  if (targets.length) console.log(missed ? `${missed} of ${targets.length} targets missed` : `all ${targets.length} targets met`);
  if (values.json) {
    const out = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: values.quick, policies: policyCount, targets, inProcess, http };
    writeFileSync(values.json, JSON.stringify(out, null, 2) + '\n');
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
