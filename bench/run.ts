#!/usr/bin/env node
// npm run bench -- [--quick] [--json FILE] [--skip-compare] [--skip-provision] [--aggregated]
// Issue 6's side-by-side suite in one run: bench/compare (kube-apiserver serving the BareMetalHost CRD
// against our server on SQLite and on the same etcd) and bench/provision (our reconciler against Ironic
// driven directly, steady-state Ironic requests, idle CPU). Prints one table of ratios and, with --json,
// writes the keys (ours over kube-apiserver's for the API figures; for the headline keys "ours"
// is the embedded default, SQLite, and the etcd backend's ratios carry an etcd_ prefix).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { runCompare, type CompareRun } from './compare/compare.ts';
import { runProvisionBench, type ProvisionSummary } from './provision/bench.ts';
import { printRatioTable, show, type RatioRow } from './ratios.ts';

const log = (l: string) => console.log(l);

function provisionRows(p: ProvisionSummary): { figure: string; value: number | null; target: string; pass: boolean | null }[] {
  const row = (figure: string, value: number | null, better: '>=' | '<=' | '<', target: number) => ({
    figure,
    value,
    target: `${better === '>=' ? '≥' : better === '<=' ? '≤' : '<'} ${target}`,
    pass: value === null ? null : better === '>=' ? value >= target : better === '<=' ? value <= target : value < target,
  });
  return [
    row('provisioning rate, ours / Ironic driven directly', p.provision_ratio, '>=', 0.9),
    row('steady Ironic requests per host per minute', p.steady_ironic_requests_per_host_minute, '<=', 1),
    row(`idle CPU % of one core with ${p.idle_hosts} hosts`, p.idle_cpu_percent, '<', 5),
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      'skip-compare': { type: 'boolean', default: false },
      'skip-provision': { type: 'boolean', default: false },
      aggregated: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const quick = values.quick;
  const started = Date.now();
  log(`npm run bench: ${quick ? 'quick' : 'full'} run; ${cpus().length} CPUs; node ${process.version}; ${new Date().toISOString()}`);

  let compare: CompareRun | undefined;
  let provision: ProvisionSummary | undefined;
  if (!values['skip-compare']) compare = await runCompare({ quick, aggregated: values.aggregated, log });
  if (!values['skip-provision']) provision = await runProvisionBench({ quick, log });

  log('\n==== ratios (ours over kube-apiserver; ratio targets from issue 6) ====');
  const rows: RatioRow[] = compare ? printRatioTable(compare, log) : [];
  const prov = provision ? provisionRows(provision) : [];
  if (provision) {
    log('');
    for (const r of prov) log(`${r.figure.padEnd(52)}${(r.value === null ? 'n/a' : show(r.value)).padStart(10)}  target ${r.target.padEnd(8)} ${r.pass === null ? '' : r.pass ? 'PASS' : 'MISS'}`);
  }
  const seconds = (Date.now() - started) / 1000;
  log(`\ndone in ${seconds.toFixed(0)} s`);

  if (values.json) {
    const keys: Record<string, number | null> = {};
    for (const r of rows) {
      keys[r.key] = r.ratios.sqlite ?? null;
      if (r.ratios.etcd !== undefined) keys[`etcd_${r.key}`] = r.ratios.etcd;
      if (r.ratios.aggregated !== undefined) keys[`aggregated_${r.key}`] = r.ratios.aggregated;
    }
    if (provision) {
      keys.provision_ratio = provision.provision_ratio;
      keys.steady_ironic_requests_per_host_minute = provision.steady_ironic_requests_per_host_minute;
      keys.idle_cpu_percent = provision.idle_cpu_percent;
    }
    // JSON has no Infinity: a figure a side could not produce is null.
    const finite = (k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);
    writeFileSync(
      values.json,
      `${JSON.stringify({ ...keys, date: new Date().toISOString(), quick, seconds, cpus: cpus().length, node: process.version, rows, provision: provision ? { rows: prov, ...provision } : null, compare: compare ?? null }, finite, 2)}\n`,
    );
    log(`wrote ${values.json}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
