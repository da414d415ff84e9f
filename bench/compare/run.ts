#!/usr/bin/env node
// npm run bench:compare -- [--quick] [--aggregated] [--json FILE]
// The side-by-side part of `npm run bench` alone: kube-apiserver serving the CRD against our server with
// each backend (and, with --aggregated, behind kube-apiserver). See bench/README.md.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { printRatioTable } from '../ratios.ts';
import { runCompare } from './compare.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, aggregated: { type: 'boolean', default: false }, json: { type: 'string' } }, strict: true });
  const log = (l: string) => console.log(l);
  log(`${cpus().length} CPUs; ${values.quick ? 'quick' : 'full'} run; node ${process.version}`);
  const run = await runCompare({ quick: values.quick, aggregated: values.aggregated, log });
  log('');
  const rows = printRatioTable(run, log);
  log(`done in ${run.seconds.toFixed(0)} s`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: values.quick, ...run, rows }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
