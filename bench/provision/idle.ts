// The idle phase: our server's own CPU while it holds N BareMetalHosts that are all provisioned and powered
// on, with its reconcilers running (each host's power is still checked once a minute, as BMO does). The
// server runs its simulated provisioner, so that no Ironic has to carry N nodes: what is measured is the
// controller's own cost of idling (requeues, informers, timers), not Ironic's.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminCredentials, Client } from '../api/client.ts';
import { collectGarbage, cpuTimeMs, residentSet } from '../api/server.ts';
import { createFixtures, runHosts } from './hosts.ts';
import { startProvisionServer, type ProvisionServer } from './server.ts';

export interface IdleOptions {
  hosts: number;
  /** The measured window. */
  windowSeconds: number;
  /** Least pause between the last host powered on and the window (the work queue must be empty too). */
  settleSeconds: number;
  /** For creating and provisioning every host. */
  timeoutMs: number;
  serverArgs?: string[];
  /** Force a full garbage collection before the window (default true). */
  collectGarbage?: boolean;
  /** Node flags of the server (e.g. --trace-gc). */
  nodeArgs?: string[];
  /** Write a CPU profile of the server over the window to DIR/idle-<N>.cpuprofile. */
  cpuProfDir?: string;
  log?: (line: string) => void;
}

export interface IdleResult {
  hosts: number;
  /** From the first create until every host was provisioned and powered on. */
  setupSeconds: number;
  settledSeconds: number;
  windowSeconds: number;
  serverCpuMs: number;
  /** Of one core, over the window. */
  cpuPercent: number;
  /** Reconciles the controller finished in the window, per second (from its metrics). */
  reconcilesPerSecond?: number;
  rssMB: number;
  profile?: string;
  /** The server's output during the window (with --trace-gc: its collections). */
  windowOutput: string;
}

/**
 * Hosts per namespace. Every host of one hardware model shares its namespace's FirmwareSchema, which lists
 * each HostFirmwareSettings as an owner, as BMO's does: each registration rewrites the schema with one owner
 * more, so in one namespace setting up N hosts writes O(N²) bytes (10,000 hosts: gigabytes). Spreading the
 * hosts keeps the setup linear; the idle cost measured is the same.
 */
const hostsPerNamespace = 100;

/** Sum of a Prometheus counter or gauge over its series whose labels contain `labels`. */
export function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

async function metrics(client: Client): Promise<string> {
  return (await client.expect(200, 'GET', '/metrics', { accept: 'text/plain' })).body.toString('utf8');
}

/** Waits until the controller's queue is empty and no reconcile runs, on two samples a second apart. */
async function waitForQuietQueue(client: Client, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 2) {
    if (Date.now() > deadline) throw new Error(`the work queue was still busy ${timeoutMs / 1000} s after every host was powered on`);
    const text = await metrics(client);
    const busy = metricSum(text, 'workqueue_depth', 'name="baremetalhost"') + metricSum(text, 'controller_runtime_active_workers', 'controller="baremetalhost"');
    quiet = busy === 0 ? quiet + 1 : 0;
    await sleep(1000);
  }
}

/** A minimal Chrome DevTools Protocol session on the server's inspector, for Profiler.start/stop. */
class Inspector {
  private readonly ws: WebSocket;
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.onmessage = (m) => {
      const reply = JSON.parse(String(m.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const w = reply.id === undefined ? undefined : this.waiting.get(reply.id);
      if (!w || reply.id === undefined) return;
      this.waiting.delete(reply.id);
      if (reply.error) w.reject(new Error(reply.error.message));
      else w.resolve(reply.result);
    };
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolveOpen, reject) => {
      ws.onopen = () => resolveOpen();
      ws.onerror = () => reject(new Error(`cannot reach the server's inspector at ${url}`));
    });
    return new Inspector(ws);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolveReply, reject) => {
      this.waiting.set(id, { resolve: resolveReply, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

export async function runIdle(opts: IdleOptions): Promise<IdleResult> {
  const log = opts.log ?? (() => {});
  let server: ProvisionServer | undefined;
  let client: Client | undefined;
  let inspector: Inspector | undefined;
  try {
    server = await startProvisionServer({
      // Speed 0: every simulated operation completes on the next call, so setting up N hosts takes no longer
      // than the API writes it needs.
      args: ['--simulator-speed', '0', ...(opts.serverArgs ?? [])],
      // The inspector (a free loopback port, idle until attached) forces a GC before the window and takes profiles.
      nodeArgs: ['--inspect=127.0.0.1:0', ...(opts.nodeArgs ?? [])],
      // The simulator's default PROVISIONING_LIMIT (20) would hold most hosts back for minutes of backoff.
      env: { PROVISIONING_LIMIT: String(opts.hosts) },
    });
    client = new Client(server.url, adminCredentials(server.dataDir), 16);
    log(`idle: creating ${opts.hosts} hosts in a server with the simulated provisioner …`);
    const namespaces = Array.from({ length: Math.ceil(opts.hosts / hostsPerNamespace) }, (_, i) => `idle-${i}`);
    await createFixtures(client, namespaces, opts.hosts);
    const setup = await runHosts(client, namespaces, opts.hosts, opts.timeoutMs, true);
    log(`idle: ${opts.hosts} hosts provisioned and powered on in ${setup.seconds.toFixed(1)} s; settling …`);
    const settleStart = Date.now();
    await sleep(opts.settleSeconds * 1000);
    await waitForQuietQueue(client, 120_000);
    const settledSeconds = (Date.now() - settleStart) / 1000;

    // A scrape of N hosts' metrics is megabytes of text: this one's garbage goes with the collection below.
    const reconciles0 = metricSum(await metrics(client), 'controller_runtime_reconcile_total', 'controller="baremetalhost"');
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(server.output())?.[1];
    if (!url) throw new Error('the server printed no inspector URL');
    // The garbage of setting N hosts up is no part of idling: collected now, its marking does not land in the window.
    if (opts.collectGarbage ?? true) await collectGarbage(url);
    if (opts.cpuProfDir) {
      inspector = await Inspector.connect(url);
      await inspector.send('Profiler.enable');
      // 1 kHz sampling (the default) would cost the idle server more CPU than it spends on its own.
      await inspector.send('Profiler.setSamplingInterval', { interval: 5000 });
      await inspector.send('Profiler.start');
    }
    log(`idle: measuring the server's CPU for ${opts.windowSeconds} s …`);
    const cpu0 = cpuTimeMs(server.pid);
    const outputBefore = server.output().length;
    const t0 = performance.now();
    await sleep(opts.windowSeconds * 1000);
    const cpu = cpuTimeMs(server.pid) - cpu0;
    const seconds = (performance.now() - t0) / 1000;
    const windowOutput = server.output().slice(outputBefore);
    // Read after the CPU sample: the scrape itself costs the server a little.
    const reconciles = metricSum(await metrics(client), 'controller_runtime_reconcile_total', 'controller="baremetalhost"') - reconciles0;
    let profile: string | undefined;
    if (inspector && opts.cpuProfDir) {
      const result = (await inspector.send('Profiler.stop')) as { profile: unknown };
      mkdirSync(resolve(opts.cpuProfDir), { recursive: true });
      profile = join(resolve(opts.cpuProfDir), `idle-${opts.hosts}.cpuprofile`);
      writeFileSync(profile, JSON.stringify(result.profile));
    }
    return {
      hosts: opts.hosts,
      setupSeconds: setup.seconds,
      settledSeconds,
      windowSeconds: seconds,
      serverCpuMs: cpu,
      cpuPercent: (cpu / (seconds * 1000)) * 100,
      reconcilesPerSecond: reconciles / seconds,
      rssMB: residentSet(server.pid).rss / 2 ** 20,
      profile,
      windowOutput,
    };
  } finally {
    inspector?.close();
    client?.close();
    await server?.stop();
  }
}
