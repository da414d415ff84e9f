// Issue 6's provisioning figures, as a function the CLI (run.ts) and the top-level bench call: against one
// real Ironic (Debian's, split API + conductor, fake-hardware, noauth) started for the run, (a) a direct
// driver of Ironic's REST API doing the Ironic work of our controller, the limit of this machine; (b) the
// same number of BareMetalHosts provisioned through our server and its controller; then the steady state's
// Ironic requests; then, without Ironic, our server's idle CPU while it holds many provisioned hosts. Every
// Ironic request of (a) and (b) goes through a counting proxy. See bench/README.md.
import { setTimeout as sleep } from 'node:timers/promises';
import { descendants, startIronic, type RunningIronic } from '../../test/ironic/harness.ts';
import { startCountingProxy, subtractCounts, type CountingProxy, type RequestCounts } from '../../test/support/ironic-proxy.ts';
import { adminCredentials, Client } from '../api/client.ts';
import { cpuTimeMs } from '../api/server.ts';
import { removeNodes, runDirect, type DirectResult } from './direct.ts';
import { createFixtures, runHosts, type HostsResult } from './hosts.ts';
import { runIdle, type IdleResult } from './idle.ts';
import { startProvisionServer, type ProvisionServer } from './server.ts';

export interface Plan {
  nodes: number;
  workers: number;
  /** Pause after the last host is provisioned before the steady-state window opens. */
  settleSeconds: number;
  steadySeconds: number;
  /** Hosts stored for the idle phase (0: no idle phase). */
  idleHosts: number;
  idleSeconds: number;
}

// Every host is polled once a minute (BMO's power poll), so the steady-state and idle windows last at least
// 60 s: a shorter one may catch no poll at all (all hosts finish within seconds of each other). The full plan's
// 120 s span two polls per host.
export const fullPlan: Plan = { nodes: 1000, workers: 16, settleSeconds: 15, steadySeconds: 120, idleHosts: 10_000, idleSeconds: 120 };
export const quickPlan: Plan = { nodes: 50, workers: 16, settleSeconds: 5, steadySeconds: 60, idleHosts: 1000, idleSeconds: 60 };

/** Generous: (a) and (b) each run at 1-4 nodes/s on 2 cores; a stuck run still ends. */
export const phaseTimeoutMs = (nodes: number) => (300 + 3 * nodes) * 1000;

export interface ProvisionBenchOptions {
  quick?: boolean;
  /** Overrides of the plan's fields. */
  nodes?: number;
  steadySeconds?: number;
  idleHosts?: number;
  idleSeconds?: number;
  /** Extra flags of the server of phase (b) and of the idle phase. */
  serverArgs?: string[];
  skipDirect?: boolean;
  /** Hosts inspected (default), or `inspectionMode: disabled` with a boot MAC; (a) follows suit. */
  inspection?: boolean;
  /** A CPU profile of the server over the idle window, written to this directory. */
  cpuProfDir?: string;
  log?: (line: string) => void;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: number;
  better?: Better;
  pass?: boolean;
}

type Better = '>=' | '<=' | '<';

const meets = (value: number, better: Better, target: number) => (better === '>=' ? value >= target : better === '<=' ? value <= target : value < target);

export interface ProvisionSummary {
  /** (b)/(a) in nodes per second; null without phase (a). Target ≥ 0.9. */
  provision_ratio: number | null;
  /** Ironic requests per provisioned host per minute in the steady state. Target ≤ 1. */
  steady_ironic_requests_per_host_minute: number;
  /** Our server's CPU, % of one core, idle with idle_hosts provisioned hosts; null without the phase. Target < 5. */
  idle_cpu_percent: number | null;
  idle_hosts: number;
  figures: Figure[];
  details: Record<string, unknown>;
  /** Every figure with a target met. */
  pass: boolean;
}

export const round = (n: number, digits = 2) => Number(n.toFixed(digits));

function figure(log: (line: string) => void, name: string, value: number, unit: string, target?: { better: Better; value: number }): Figure {
  const pass = target === undefined ? undefined : meets(value, target.better, target.value);
  const shown = `${round(value)} ${unit}`.padEnd(22);
  const goal = target ? `target ${{ '>=': '≥', '<=': '≤', '<': '<' }[target.better]} ${target.value} ${unit}` : '';
  log(`${name.padEnd(56)} ${shown} ${goal}`.padEnd(114) + (pass === undefined ? '' : pass ? 'PASS' : 'MISS'));
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

function perKind(c: RequestCounts, per: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(c.byKind)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, round(v / per, 2)]),
  );
}

function printKinds(log: (line: string) => void, title: string, c: RequestCounts, per: number): void {
  log(`  ${title}`);
  for (const [k, v] of Object.entries(perKind(c, per))) log(`    ${String(v).padStart(7)}  ${k}`);
  if (Object.keys(c.errors).length > 0) log(`    error replies: ${JSON.stringify(c.errors)}`);
}

function printTimes(log: (line: string) => void, title: string, times: Record<string, { median: number; last: number }>): void {
  log(`  ${title}`);
  for (const [state, t] of Object.entries(times).sort((a, b) => a[1].median - b[1].median)) {
    log(`    ${state.padEnd(26)} ${String(t.median).padStart(8)} / ${t.last}`);
  }
}

interface IronicPhases {
  figures: Figure[];
  ratio: number | null;
  steadyPerHostMinute: number;
}

/** Phases (a), (b) and the steady state, on one Ironic. */
async function ironicPhases(plan: Plan, opts: ProvisionBenchOptions, details: Record<string, unknown>, log: (line: string) => void): Promise<IronicPhases> {
  const inspection = opts.inspection ?? true;
  const figures: Figure[] = [];
  const timeoutMs = phaseTimeoutMs(plan.nodes);
  let ironic: RunningIronic | undefined;
  let proxy: CountingProxy | undefined;
  let server: ProvisionServer | undefined;
  let client: Client | undefined;
  try {
    log(`starting Ironic (split API + conductor, noauth, fake-hardware) …`);
    ironic = await startIronic({ auth: 'noauth', split: true });
    proxy = await startCountingProxy(ironic.endpoint);
    log(`Ironic at ${ironic.endpoint}, counted through ${proxy.endpoint}; ${plan.nodes} nodes/hosts${inspection ? '' : ', inspection disabled'}\n`);

    let direct: DirectResult | undefined;
    if (!opts.skipDirect) {
      const before = proxy.counts();
      const cpu0 = ironicCpuMs(ironic);
      direct = await runDirect({ endpoint: proxy.endpoint, nodes: plan.nodes, workers: plan.workers, prefix: 'direct', inspect: inspection, timeoutMs });
      const counts = subtractCounts(proxy.counts(), before);
      const cpu = ironicCpuMs(ironic) - cpu0;
      const what = inspection ? 'enroll→manage→inspect→provide→active→power on' : 'enroll→manage→provide→active→power on';
      figures.push(figure(log, `(a) direct Ironic driver: ${what}`, direct.nodesPerSecond, 'nodes/s'));
      figures.push(figure(log, '(a) Ironic requests per node', counts.total / plan.nodes, 'req/node'));
      log(`  ${plan.nodes} nodes in ${round(direct.seconds)} s; ${direct.listPolls} list polls (median ${direct.listPollMedianMs} ms); ${direct.retries} busy answers; Ironic CPU ${round(cpu / plan.nodes)} ms/node`);
      printTimes(log, 'seconds after the start until the median / last node finished each step:', direct.stepTimes);
      printKinds(log, 'Ironic requests per node by kind:', counts, plan.nodes);
      details.direct = { ...direct, uuids: undefined, requests: counts, ironicCpuMsPerNode: round(cpu / plan.nodes) };
      // (b) starts on an Ironic as empty as (a) did.
      const removal = performance.now();
      await removeNodes(proxy.endpoint, direct.uuids, plan.workers);
      log(`  (the direct driver's nodes removed in ${round((performance.now() - removal) / 1000, 1)} s)\n`);
    }

    server = await startProvisionServer({ ironicEndpoint: proxy.endpoint, args: opts.serverArgs ?? [] });
    client = new Client(server.url, adminCredentials(server.dataDir), 16);
    await createFixtures(client, ['bench'], plan.nodes);
    // The controller's readiness probe and informer start-up are not part of any host's lifecycle.
    await sleep(1000);
    const before = proxy.counts();
    const cpu0 = ironicCpuMs(ironic);
    const serverCpu0 = cpuTimeMs(server.pid);
    let hosts: HostsResult;
    try {
      hosts = await runHosts(client, ['bench'], plan.nodes, timeoutMs, inspection);
    } catch (e) {
      log(`server output (tail):\n${server.output().slice(-4000)}`);
      throw e;
    }
    const lifecycle = subtractCounts(proxy.counts(), before);
    const cpu = ironicCpuMs(ironic) - cpu0;
    const serverCpu = cpuTimeMs(server.pid) - serverCpu0;
    const how = inspection ? '' : ' (inspection disabled)';
    figures.push(figure(log, `(b) BareMetalHosts created → provisioned, powered on${how}`, hosts.hostsPerSecond, 'hosts/s'));
    const ratio = direct ? hosts.hostsPerSecond / direct.nodesPerSecond : null;
    if (ratio !== null) figures.push(figure(log, '(b)/(a)', ratio, 'ratio', { better: '>=', value: 0.9 }));
    figures.push(figure(log, '(b) Ironic requests per host, registering→powered on', lifecycle.total / plan.nodes, 'req/host'));
    log(`  ${plan.nodes} hosts in ${round(hosts.seconds)} s; Ironic CPU ${round(cpu / plan.nodes)} ms/host; server CPU ${round(serverCpu / plan.nodes)} ms/host`);
    printTimes(log, 'seconds after the first create until the median / last host reached each state:', hosts.stateTimes);
    if (hosts.errors.length > 0) log(`  hosts seen in an error state: ${hosts.errors.length}; first: ${JSON.stringify(hosts.errors[0])}`);
    printKinds(log, 'Ironic requests per host by kind:', lifecycle, plan.nodes);
    details.hosts = { ...hosts, requests: lifecycle, ironicCpuMsPerHost: round(cpu / plan.nodes), serverCpuMsPerHost: round(serverCpu / plan.nodes) };

    log(`\nsteady state: ${plan.settleSeconds} s to settle, then ${plan.steadySeconds} s counted …`);
    await sleep(plan.settleSeconds * 1000);
    const steady0 = proxy.counts();
    const steadyCpu0 = cpuTimeMs(server.pid);
    await sleep(plan.steadySeconds * 1000);
    const steady = subtractCounts(proxy.counts(), steady0);
    const steadyCpu = cpuTimeMs(server.pid) - steadyCpu0;
    const steadyPerHostMinute = steady.total / plan.nodes / (plan.steadySeconds / 60);
    figures.push(figure(log, 'steady-state Ironic requests per provisioned host', steadyPerHostMinute, 'req/host/min', { better: '<=', value: 1 }));
    log(`  ${steady.total} requests in ${plan.steadySeconds} s; server CPU ${round(steadyCpu / plan.steadySeconds / 10, 1)} % of a core`);
    printKinds(log, 'per host per window, by kind:', steady, plan.nodes);
    details.steady = { requests: steady, seconds: plan.steadySeconds, serverCpuMs: steadyCpu };
    return { figures, ratio, steadyPerHostMinute };
  } finally {
    client?.close();
    await server?.stop();
    await proxy?.close();
    await ironic?.stop();
  }
}

export async function runProvisionBench(opts: ProvisionBenchOptions = {}): Promise<ProvisionSummary> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const plan: Plan = { ...(opts.quick ? quickPlan : fullPlan) };
  if (opts.nodes !== undefined) plan.nodes = opts.nodes;
  if (opts.steadySeconds !== undefined) plan.steadySeconds = opts.steadySeconds;
  if (opts.idleHosts !== undefined) plan.idleHosts = opts.idleHosts;
  if (opts.idleSeconds !== undefined) plan.idleSeconds = opts.idleSeconds;
  if (!(plan.nodes > 0) || !(plan.steadySeconds > 0) || !(plan.idleHosts >= 0) || !(plan.idleSeconds > 0)) {
    throw new Error('nodes, steady seconds and idle seconds must be positive, idle hosts not negative');
  }
  const details: Record<string, unknown> = { plan, serverArgs: opts.serverArgs ?? [], inspection: opts.inspection ?? true };
  const started = performance.now();
  const { figures, ratio, steadyPerHostMinute } = await ironicPhases(plan, opts, details, log);

  let idle: IdleResult | undefined;
  if (plan.idleHosts > 0) {
    log(`\nidle: ${plan.idleHosts} hosts, ${plan.idleSeconds} s window (Ironic stopped; the server's simulated provisioner)`);
    idle = await runIdle({
      hosts: plan.idleHosts,
      windowSeconds: plan.idleSeconds,
      // The watch cache holds the setup's changes for 75 s and lets them go at its next sweep (15 s): idling
      // starts after that, not while the set-up's history is still being released.
      settleSeconds: 90,
      timeoutMs: (600 + plan.idleHosts / 2) * 1000,
      serverArgs: opts.serverArgs,
      cpuProfDir: opts.cpuProfDir,
      log: (line) => log(`  ${line}`),
    });
    figures.push(figure(log, `idle server CPU with ${plan.idleHosts} provisioned hosts`, idle.cpuPercent, '% of a core', { better: '<', value: 5 }));
    log(
      `  set up in ${round(idle.setupSeconds, 1)} s (${round(plan.idleHosts / idle.setupSeconds, 1)} hosts/s); ${round(idle.serverCpuMs)} ms CPU in ${round(idle.windowSeconds, 1)} s; ` +
        `${round(idle.reconcilesPerSecond ?? 0, 1)} reconciles/s; RSS ${round(idle.rssMB)} MB${idle.profile ? `; profile ${idle.profile}` : ''}`,
    );
    details.idle = idle;
  }
  details.seconds = round((performance.now() - started) / 1000, 1);
  return {
    provision_ratio: ratio === null ? null : round(ratio, 3),
    steady_ironic_requests_per_host_minute: round(steadyPerHostMinute, 3),
    idle_cpu_percent: idle ? round(idle.cpuPercent, 2) : null,
    idle_hosts: idle ? plan.idleHosts : 0,
    figures,
    details,
    pass: figures.every((f) => f.pass !== false),
  };
}
