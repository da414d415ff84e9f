// Shared pieces of the failure drills: a server process that can be SIGKILLed and started again on the
// same data directory and port (so clients reconnect to the same URL), a raw HTTPS client that survives
// the restarts, an 8-client write load that remembers every acknowledged write, and the check that every
// acknowledged write is still there.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../etcd/harness.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');

/**
 * Node's compile cache (stripped TypeScript and V8 code) for the server processes. The entry point turns it
 * on for every module it imports; NODE_COMPILE_CACHE, set before the process starts, also covers the entry
 * file itself (about 70 ms of TypeScript stripping per start), as a deployment can set it in the image.
 */
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'metal3-drills-compile-cache');

/** `npm run drills` sets DRILL_LONG=1: the full sizes; otherwise CI sizes. */
export const long = process.env.DRILL_LONG === '1';

/** One machine-readable line per drill, so a run's results can be collected from its output. */
export function report(drill: string, result: Record<string, unknown>): void {
  console.log(`DRILL ${JSON.stringify({ drill, ...result })}`);
}

export interface Reply {
  status: number;
  body: string;
}

export interface DrillServerOptions {
  /** Flags after --data-dir/--port; --disable-reconcilers is added unless reconcilers is set. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  reconcilers?: boolean;
  /** Use this directory (kept on stop) instead of a fresh temporary one. */
  dataDir?: string;
}

/**
 * The real server as a child process. start() can be called again after kill9() or stop(): same data
 * directory, same port. The client keeps one keep-alive agent per start, so a dead process's sockets are
 * never reused.
 */
export class DrillServer {
  readonly dataDir: string;
  readonly opts: DrillServerOptions;
  port = 0;
  private child: ChildProcess | undefined;
  private out = '';
  private agent: https.Agent | undefined;
  private readonly ownDir: boolean;

  constructor(opts: DrillServerOptions = {}) {
    this.opts = opts;
    this.ownDir = opts.dataDir === undefined;
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'metal3-drill-'));
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(lines = 40): string {
    return this.out.split('\n').slice(-lines).join('\n');
  }

  /** Spawns the server and resolves with the milliseconds from spawn to the first /readyz 200. */
  async start(timeoutMs = 30_000): Promise<number> {
    if (this.running()) throw new Error('server already running');
    if (!this.port) this.port = await freePort();
    const args = [
      join(repoRoot, 'cmd/metal3-apiserver.ts'),
      '--data-dir', this.dataDir,
      '--port', String(this.port),
      ...(this.opts.reconcilers ? [] : ['--disable-reconcilers']),
      ...(this.opts.args ?? []),
    ];
    const began = performance.now();
    const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, NODE_COMPILE_CACHE: compileCache, ...this.opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.out += `--- start ${new Date().toISOString()}\n`;
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.agent?.destroy();
    this.agent = undefined;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running()) throw new Error(`server exited during start-up:\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`server not ready within ${timeoutMs} ms:\n${this.output()}`);
      // The PKI is written on the first start only; until then there is nothing to connect with.
      if (existsSync(join(this.dataDir, 'pki', 'admin.key'))) {
        const r = await this.request('GET', '/readyz', undefined, { timeoutMs: 1000 }).catch(() => undefined);
        if (r?.status === 200) return performance.now() - began;
      }
      await sleep(10);
    }
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill9(): Promise<void> {
    const c = this.child;
    if (!c || !this.running()) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    this.agent?.destroy();
    this.agent = undefined;
  }

  async stop(opts: { keepDataDir?: boolean } = {}): Promise<void> {
    const c = this.child;
    if (c && this.running()) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    this.agent?.destroy();
    this.agent = undefined;
    if (this.ownDir && !opts.keepDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  private agentNow(): https.Agent {
    if (!this.agent) {
      const pki = join(this.dataDir, 'pki');
      this.agent = new https.Agent({
        keepAlive: true,
        maxSockets: 32,
        ca: readFileSync(join(pki, 'ca.crt')),
        cert: readFileSync(join(pki, 'admin.crt')),
        key: readFileSync(join(pki, 'admin.key')),
      });
    }
    return this.agent;
  }

  /** One request; rejects on a connection error or after timeoutMs (default 5 s). */
  request(method: string, path: string, body?: unknown, opts: { contentType?: string; timeoutMs?: number } = {}): Promise<Reply> {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    return new Promise((resolveReply, reject) => {
      const req = https.request({ method, host: '127.0.0.1', port: this.port, path, headers, agent: this.agentNow(), timeout: opts.timeoutMs ?? 5000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolveReply({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

export async function ensureNamespace(server: DrillServer, name: string): Promise<void> {
  const r = await server.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  if (r.status !== 201 && r.status !== 409) throw new Error(`creating namespace ${name}: ${r.status} ${r.body}`);
}

export const SEQ = 'drills.metal3.io/seq';

export const hostsPath = (ns: string) => `/apis/metal3.io/v1alpha1/namespaces/${ns}/baremetalhosts`;

/** The host a load client writes: the sequence number twice, so a torn or mixed write shows. */
export function loadHost(ns: string, name: string, seq: number): Record<string, unknown> {
  return {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace: ns, annotations: { [SEQ]: String(seq) } },
    spec: { online: false, description: `seq-${seq}`, bmc: { address: `redfish://192.0.2.1/redfish/v1/Systems/${name}`, credentialsName: `${name}-bmc` } },
  };
}

export interface LoadStats {
  ok: number;
  /** Replies that were not 2xx, by status; "conn" for connection errors and timeouts. */
  failed: Record<string, number>;
  /** Each failure: what it was, when it was sent (performance.now()), how long it took, and the start of its reply. */
  failures: { kind: string; sent: number; tookMs: number; detail: string }[];
}

/**
 * `clients` loops, each owning `objectsPerClient` hosts: a host is created once, then merge-patched with
 * a growing sequence number. acked holds, per host, the highest sequence a 2xx reply acknowledged; since
 * one client writes each host in order, what is stored must be that sequence or a newer one.
 */
export class WriteLoad {
  readonly acked = new Map<string, number>();
  /**
   * Writes whose outcome the client never learned (connection lost, timeout): the server may still apply
   * them later, over newer acknowledged ones, as kube-apiserver may. Per host, their sequence numbers.
   */
  readonly inDoubt = new Map<string, Set<number>>();
  readonly stats: LoadStats = { ok: 0, failed: {}, failures: [] };
  private readonly target: () => DrillServer;
  private readonly ns: string;
  private stopping = false;
  private loops: Promise<void>[] = [];

  /** target is asked on every request, so the load can follow a failover to another server. */
  constructor(target: DrillServer | (() => DrillServer), ns: string) {
    this.target = typeof target === 'function' ? target : () => target;
    this.ns = ns;
  }

  start(clients = 8, objectsPerClient = 25): void {
    for (let c = 0; c < clients; c++) this.loops.push(this.loop(c, objectsPerClient));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    this.loops = [];
    this.stopping = false;
  }

  private fail(kind: string, sent: number, detail: string): void {
    this.stats.failed[kind] = (this.stats.failed[kind] ?? 0) + 1;
    this.stats.failures.push({ kind, sent, tookMs: Math.round(performance.now() - sent), detail: detail.slice(0, 200) });
  }

  private async loop(client: number, objects: number): Promise<void> {
    const created = new Set<string>();
    let seq = 0;
    while (!this.stopping) {
      const name = `c${client}-${Math.floor(Math.random() * objects)}`;
      seq += 1;
      let reply: Reply;
      const sent = performance.now();
      try {
        reply = created.has(name)
          ? await this.target().request('PATCH', `${hostsPath(this.ns)}/${name}`, { metadata: { annotations: { [SEQ]: String(seq) } }, spec: { description: `seq-${seq}` } }, { contentType: 'application/merge-patch+json' })
          : await this.target().request('POST', hostsPath(this.ns), loadHost(this.ns, name, seq));
      } catch (err) {
        this.fail('conn', sent, (err as Error).message);
        let doubts = this.inDoubt.get(name);
        if (!doubts) this.inDoubt.set(name, (doubts = new Set()));
        doubts.add(seq);
        await sleep(20);
        continue;
      }
      if (reply.status >= 200 && reply.status < 300) {
        this.stats.ok += 1;
        created.add(name);
        this.acked.set(name, Math.max(this.acked.get(name) ?? 0, seq));
      } else if (reply.status === 409 && !created.has(name)) {
        // A create whose reply was lost to a kill landed after all; from now on this host is patched.
        created.add(name);
      } else {
        this.fail(String(reply.status), sent, reply.body);
        await sleep(20);
      }
    }
  }
}

export interface StoredHost {
  metadata: { name: string; annotations?: Record<string, string>; resourceVersion?: string };
  spec?: { description?: string };
}

/**
 * Lists the namespace and checks every acknowledged write against it. Returns the problems found (empty
 * when nothing is lost or corrupted) and the hosts listed. Take `acked` as a copy made before the call:
 * writes acknowledged during the LIST may or may not be in it.
 */
export async function findLostWrites(server: DrillServer, ns: string, acked: Map<string, number>, inDoubt = new Map<string, Set<number>>()): Promise<{ problems: string[]; hosts: StoredHost[]; supersededByInDoubt: number }> {
  const r = await server.request('GET', hostsPath(ns), undefined, { timeoutMs: 30_000 });
  if (r.status !== 200) return { problems: [`LIST answered ${r.status}: ${r.body.slice(0, 300)}`], hosts: [], supersededByInDoubt: 0 };
  let supersededByInDoubt = 0;
  const list = JSON.parse(r.body) as { items: StoredHost[] };
  const byName = new Map(list.items.map((h) => [h.metadata.name, h]));
  const problems: string[] = [];
  for (const h of list.items) {
    const seq = h.metadata.annotations?.[SEQ];
    if (seq === undefined || h.spec?.description !== `seq-${seq}`) problems.push(`${h.metadata.name}: corrupted (annotation ${seq}, description ${h.spec?.description})`);
  }
  for (const [name, seq] of acked) {
    const h = byName.get(name);
    if (!h) problems.push(`${name}: acknowledged (seq ${seq}) but missing`);
    else if (inDoubt.get(name)?.has(Number(h.metadata.annotations?.[SEQ]))) supersededByInDoubt += 1;
    else if (Number(h.metadata.annotations?.[SEQ]) < seq) problems.push(`${name}: acknowledged seq ${seq}, listed ${h.metadata.annotations?.[SEQ]}`);
  }
  // A GET tells a stale LIST (a watch cache behind storage) from a write really lost.
  for (let i = 0; i < problems.length; i++) {
    const name = problems[i].split(':')[0];
    const g = await server.request('GET', `${hostsPath(ns)}/${name}`).catch((e: unknown) => ({ status: 0, body: String(e) }));
    const got = g.status === 200 ? (JSON.parse(g.body) as StoredHost).metadata.annotations?.[SEQ] : `${g.status}`;
    problems[i] += ` (GET: ${got})`;
  }
  return { problems, hosts: list.items, supersededByInDoubt };
}

/** Every stored host must still pass validation: a dry-run PUT of the object as read. */
export async function findInvalid(server: DrillServer, ns: string, hosts: StoredHost[]): Promise<string[]> {
  const problems: string[] = [];
  for (const h of hosts) {
    const path = `${hostsPath(ns)}/${h.metadata.name}`;
    let r = await server.request('PUT', `${path}?dryRun=All`, h, { timeoutMs: 10_000 });
    // A write whose reply was lost to a kill can land after the LIST was read: validate what is stored now.
    if (r.status === 409) {
      const now = await server.request('GET', path, undefined, { timeoutMs: 10_000 });
      if (now.status === 200) r = await server.request('PUT', `${path}?dryRun=All`, JSON.parse(now.body) as StoredHost, { timeoutMs: 10_000 });
    }
    if (r.status !== 200) problems.push(`${h.metadata.name}: dry-run PUT answered ${r.status}: ${r.body.slice(0, 200)}`);
  }
  return problems;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
