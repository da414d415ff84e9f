#!/usr/bin/env node
// npm run bench:provision -- [--quick] [--json FILE] [--nodes N] [--steady-seconds S] [--idle-hosts N]
//   [--idle-seconds S] [--server-arg ARG]... [--skip-direct] [--no-inspection] [--cpu-prof DIR]
// The CLI of bench.ts (runProvisionBench): prints each figure with its target, writes them as JSON, and
// exits 1 when one misses. See bench/README.md.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runProvisionBench, type ProvisionBenchOptions } from './bench.ts';

export { runProvisionBench, type ProvisionBenchOptions, type ProvisionSummary } from './bench.ts';

function optionalNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`${flag} must be a number, not ${JSON.stringify(text)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      json: { type: 'string' },
      nodes: { type: 'string' },
      'steady-seconds': { type: 'string' },
      'idle-hosts': { type: 'string' },
      'idle-seconds': { type: 'string' },
      'server-arg': { type: 'string', multiple: true },
      'skip-direct': { type: 'boolean' },
      'no-inspection': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
    },
    strict: true,
  });
  const opts: ProvisionBenchOptions = {
    quick: values.quick,
    nodes: optionalNumber('--nodes', values.nodes),
    steadySeconds: optionalNumber('--steady-seconds', values['steady-seconds']),
    idleHosts: optionalNumber('--idle-hosts', values['idle-hosts']),
    idleSeconds: optionalNumber('--idle-seconds', values['idle-seconds']),
    serverArgs: values['server-arg'],
    skipDirect: values['skip-direct'],
    inspection: !values['no-inspection'],
    cpuProfDir: values['cpu-prof'],
  };
  const summary = await runProvisionBench(opts);
  if (values.json) {
    writeFileSync(resolve(values.json), JSON.stringify(summary, null, 2) + '\n');
    console.log(`\nwrote ${values.json}`);
  }
  const missed = summary.figures.filter((f) => f.pass === false);
  if (missed.length > 0) {
    console.log(`\nMISS: ${missed.map((f) => f.name).join('; ')}`);
    process.exitCode = 1;
  }
}

if (import.meta.main) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
}
