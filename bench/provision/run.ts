#!/usr/bin/env node
// npm run bench:provision -- [--quick] [--json FILE] [--nodes N] [--steady-seconds S] [--server-arg ARG]...
//   [--skip-direct] [--no-inspection]
// Issue 4's provisioning figures against one real Ironic (Debian's, split API + conductor, fake-hardware,
// noauth), started for the run: (a) a direct driver of Ironic's REST API, the limit of this machine; (b)
// the same number of BareMetalHosts provisioned through our server and its controller. Every Ironic request
// of both goes through a counting proxy. See bench/README.md.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { descendants, startIronic, type RunningIronic } from '../../test/ironic/harness.ts';
import { adminCredentials, Client } from '../api/client.ts';
import { cpuTimeMs } from '../api/server.ts';
import { removeNodes, runDirect, type DirectResult } from './direct.ts';
import { createFixtures, runHosts, type HostsResult } from './hosts.ts';
import { startCountingProxy, subtractCounts, type CountingProxy, type RequestCounts } from './proxy.ts';
import { startProvisionServer, type ProvisionServer } from './server.ts';

interface Plan {
  nodes: number;
  workers: number;
  /** Pause after the last host is provisioned before the steady-state window opens. */
  settleSeconds: number;
  steadySeconds: number;
  timeoutSeconds: number;
}

// The steady-state window spans two of BMO's 60 s power polls: a 60 s window counts each host's one poll plus any
// readiness check and reads just over 1 even when the period is longer than a minute.
const fullPlan: Plan = { nodes: 200, workers: 16, settleSeconds: 15, steadySeconds: 120, timeoutSeconds: 900 };
const quickPlan: Plan = { nodes: 20, workers: 16, settleSeconds: 5, steadySeconds: 30, timeoutSeconds: 300 };

interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: number;
  better?: '>=' | '<=';
  pass?: boolean;
}

const round = (n: number, digits = 2) => Number(n.toFixed(digits));

function figure(name: string, value: number, unit: string, target?: { better: '>=' | '<='; value: number }): Figure {
  const pass = target === undefined ? undefined : target.better === '>=' ? value >= target.value : value <= target.value;
  const shown = `${round(value)} ${unit}`.padEnd(22);
  const goal = target ? `target ${target.better === '>=' ? '≥' : '≤'} ${target.value} ${unit}` : '';
  console.log(`${name.padEnd(52)} ${shown} ${goal}`.padEnd(110) + (pass === undefined ? '' : pass ? 'PASS' : 'MISS'));
  return { name, value: round(value, 3), unit, target: target?.value, better: target?.better, pass };
}

/** CPU time of Ironic's processes (API, its worker, conductor), in ms. */
function ironicCpuMs(ironic: RunningIronic): number {
  const pids = [...new Set(ironic.pids().flatMap((p) => [p, ...descendants(p)]))];
  let total = 0;
  for (const p of pids) {
    try {
      total += cpuTimeMs(p);
    } catch {
      // A worker that ended.
    }
  }
  return total;
}

function topKinds(c: RequestCounts, per: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(c.byKind)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, round(v / per, 2)]),
  );
}

function printKinds(title: string, c: RequestCounts, per: number): void {
  console.log(`  ${title}`);
  for (const [k, v] of Object.entries(topKinds(c, per))) console.log(`    ${String(v).padStart(7)}  ${k}`);
  if (Object.keys(c.errors).length > 0) console.log(`    error replies: ${JSON.stringify(c.errors)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      json: { type: 'string' },
      nodes: { type: 'string' },
      'steady-seconds': { type: 'string' },
      'server-arg': { type: 'string', multiple: true },
      'skip-direct': { type: 'boolean' },
      'no-inspection': { type: 'boolean' },
    },
    strict: true,
  });
  const plan: Plan = { ...(values.quick ? quickPlan : fullPlan) };
  if (values.nodes) plan.nodes = Number(values.nodes);
  if (values['steady-seconds']) plan.steadySeconds = Number(values['steady-seconds']);
  if (!(plan.nodes > 0) || !(plan.steadySeconds > 0)) throw new Error('--nodes and --steady-seconds must be positive');

  const figures: Figure[] = [];
  const details: Record<string, unknown> = { plan, serverArgs: values['server-arg'] ?? [], inspection: !values['no-inspection'] };
  let ironic: RunningIronic | undefined;
  let proxy: CountingProxy | undefined;
  let server: ProvisionServer | undefined;
  let client: Client | undefined;
  try {
    console.log(`starting Ironic (split API + conductor, noauth, fake-hardware) …`);
    ironic = await startIronic({ auth: 'noauth', split: true });
    proxy = await startCountingProxy(ironic.endpoint);
    console.log(`Ironic at ${ironic.endpoint}, counted through ${proxy.endpoint}; ${plan.nodes} nodes/hosts\n`);

    let direct: DirectResult | undefined;
    if (!values['skip-direct']) {
      const before = proxy.counts();
      const cpu0 = ironicCpuMs(ironic);
      direct = await runDirect({ endpoint: proxy.endpoint, nodes: plan.nodes, workers: plan.workers, prefix: 'direct', timeoutMs: plan.timeoutSeconds * 1000 });
      const counts = subtractCounts(proxy.counts(), before);
      const cpu = ironicCpuMs(ironic) - cpu0;
      figures.push(figure('(a) direct Ironic driver: enroll→manage→provide→active', direct.nodesPerSecond, 'nodes/s'));
      figures.push(figure('(a) Ironic requests per node', counts.total / plan.nodes, 'req/node'));
      console.log(`  ${plan.nodes} nodes in ${round(direct.seconds)} s; ${direct.listPolls} list polls; ${direct.retries} busy answers; Ironic CPU ${round(cpu / plan.nodes)} ms/node`);
      details.direct = { ...direct, uuids: undefined, requests: counts, ironicCpuMsPerNode: round(cpu / plan.nodes) };
      // (b) starts on an Ironic as empty as (a) did.
      await removeNodes(proxy.endpoint, direct.uuids, plan.workers);
    }

    server = await startProvisionServer(proxy.endpoint, values['server-arg'] ?? []);
    client = new Client(server.url, adminCredentials(server.dataDir), 16);
    await createFixtures(client, 'bench', plan.nodes);
    // The controller's readiness probe and informer start-up are not part of any host's lifecycle.
    await sleep(1000);
    const before = proxy.counts();
    const cpu0 = ironicCpuMs(ironic);
    const serverCpu0 = cpuTimeMs(server.pid);
    let hosts: HostsResult;
    try {
      hosts = await runHosts(client, 'bench', plan.nodes, plan.timeoutSeconds * 1000, !values['no-inspection']);
    } catch (e) {
      console.error(`server output (tail):\n${server.output().slice(-4000)}`);
      throw e;
    }
    const lifecycle = subtractCounts(proxy.counts(), before);
    const cpu = ironicCpuMs(ironic) - cpu0;
    const serverCpu = cpuTimeMs(server.pid) - serverCpu0;
    console.log('');
    const how = values['no-inspection'] ? ' (inspection disabled)' : '';
    figures.push(figure(`(b) BareMetalHosts created → provisioned${how}`, hosts.hostsPerSecond, 'hosts/s'));
    if (direct) figures.push(figure('(b)/(a)', hosts.hostsPerSecond / direct.nodesPerSecond, 'ratio', { better: '>=', value: 0.9 }));
    figures.push(figure('(b) Ironic requests per host, registering→provisioned', lifecycle.total / plan.nodes, 'req/host'));
    console.log(
      `  ${plan.nodes} hosts in ${round(hosts.seconds)} s; Ironic CPU ${round(cpu / plan.nodes)} ms/host; server CPU ${round(serverCpu / plan.nodes)} ms/host`,
    );
    console.log(`  seconds after the first create until the median / last host reached each state:`);
    for (const [state, t] of Object.entries(hosts.stateTimes).sort((a, b) => a[1].median - b[1].median)) {
      console.log(`    ${state.padEnd(22)} ${String(t.median).padStart(8)} / ${t.last}`);
    }
    if (hosts.errors.length > 0) console.log(`  hosts seen in an error state: ${hosts.errors.length}; first: ${JSON.stringify(hosts.errors[0])}`);
    printKinds('Ironic requests per host by kind:', lifecycle, plan.nodes);
    details.hosts = { ...hosts, requests: lifecycle, ironicCpuMsPerHost: round(cpu / plan.nodes), serverCpuMsPerHost: round(serverCpu / plan.nodes) };

    console.log(`\nsteady state: ${plan.settleSeconds} s to settle, then ${plan.steadySeconds} s counted …`);
    await sleep(plan.settleSeconds * 1000);
    const steady0 = proxy.counts();
    const steadyCpu0 = cpuTimeMs(server.pid);
    await sleep(plan.steadySeconds * 1000);
    const steady = subtractCounts(proxy.counts(), steady0);
    const steadyCpu = cpuTimeMs(server.pid) - steadyCpu0;
    const perHostPerMinute = steady.total / plan.nodes / (plan.steadySeconds / 60);
    figures.push(figure('steady-state Ironic requests per provisioned host', perHostPerMinute, 'req/host/min', { better: '<=', value: 1 }));
    console.log(`  ${steady.total} requests in ${plan.steadySeconds} s; server CPU ${round(steadyCpu / plan.steadySeconds / 10, 1)} % of a core`);
    printKinds('per host per window, by kind:', steady, plan.nodes);
    details.steady = { requests: steady, seconds: plan.steadySeconds, serverCpuMs: steadyCpu };
  } finally {
    client?.close();
    await server?.stop();
    await proxy?.close();
    await ironic?.stop();
  }

  if (values.json) {
    writeFileSync(resolve(values.json), JSON.stringify({ figures, details }, null, 2) + '\n');
    console.log(`\nwrote ${values.json}`);
  }
  const missed = figures.filter((f) => f.pass === false);
  if (missed.length > 0) {
    console.log(`\nMISS: ${missed.map((f) => f.name).join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
