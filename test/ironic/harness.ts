// Debian's own Ironic (ironic-api + ironic-conductor) on loopback as a test peer: a fresh state directory
// and SQLite database per instance, free ports so test files can run side by side, the fake-hardware
// driver, and a stop that ends exactly the processes it started. The configuration and its pitfalls are
// recorded in ../shared/reference/ironic.md.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { aptInstall } from '../support/debian.ts';

const execFileAsync = promisify(execFile);

export type IronicAuth = 'noauth' | 'http_basic';

/** Seconds the fake interfaces sleep; Ironic accepts integers only (a fraction breaks every fake call). */
export interface FakeDelays {
  power?: number;
  boot?: number;
  deploy?: number;
  inspect?: number;
  management?: number;
}

export interface IronicOptions {
  auth?: IronicAuth;
  fakeDelays?: FakeDelays;
  /** API and conductor as two processes over JSON-RPC (default): it uses both cores. */
  split?: boolean;
  apiPort?: number;
  jsonRpcPort?: number;
  /** Use this directory instead of a fresh temporary one; it is kept on stop(). */
  dir?: string;
  /** Leave Ironic running when this Node process exits (the developer script); tests never want that. */
  outliveProcess?: boolean;
  /** Readiness timeout (default 60 s). */
  readyTimeoutMs?: number;
}

export interface RunningIronic {
  /** e.g. http://127.0.0.1:41234 (no /v1). */
  endpoint: string;
  basicAuth?: { username: string; password: string };
  /** State directory: ironic.conf, the SQLite database, logs, PID files, auth/ironic/{username,password}. */
  dir: string;
  configDir: string;
  /** PIDs of the processes started (not their children). */
  pids(): number[];
  /** Tail of Ironic's logs, for failure messages. */
  logTail(lines?: number): string;
  /** Stops the processes but keeps the database and ports: Ironic going away mid-flight. */
  stopProcesses(): Promise<void>;
  /** Starts the processes again on the same database and ports, and waits until ready. */
  startProcesses(): Promise<void>;
  /** Stops everything it started and removes the directory it created. */
  stop(): Promise<void>;
}

const PACKAGES = ['ironic-api', 'ironic-conductor'];

export function ironicInstalled(): boolean {
  return spawnSync('dpkg', ['-s', ...PACKAGES], { stdio: 'ignore' }).status === 0;
}

/**
 * Why an Ironic test would have to skip, or undefined when it must run. Under CI=true it always runs (and
 * fails when Ironic cannot start); as root the packages are installed on demand.
 */
export function ironicSkipReason(): string | undefined {
  if (process.env.CI === 'true' || ironicInstalled() || process.getuid?.() === 0) return undefined;
  return `Debian packages ${PACKAGES.join(', ')} are not installed (run as root to install them, or set CI=true to fail instead)`;
}

export async function ensureIronicInstalled(): Promise<void> {
  if (!ironicInstalled()) aptInstall('Ironic', PACKAGES);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function delay(name: keyof FakeDelays, delays: FakeDelays): number {
  const v = delays[name] ?? 0;
  if (!Number.isInteger(v) || v < 0) throw new Error(`fake ${name} delay must be a whole number of seconds, got ${v}`);
  return v;
}

export interface IronicConfig {
  dir: string;
  auth: IronicAuth;
  split: boolean;
  apiPort: number;
  jsonRpcPort: number;
  fakeDelays: FakeDelays;
  basicAuth?: { username: string; password: string };
}

/** ironic.conf for a loopback, standalone Ironic (no Keystone, no message bus, no DHCP). */
export function renderConfig(c: IronicConfig): string {
  const d = c.dir;
  const jsonRpcAuth =
    c.auth === 'http_basic' && c.basicAuth
      ? // Both sides of JSON-RPC need it: the server to check, the API's client to send (pitfall 2).
        [
          'auth_strategy = http_basic',
          `http_basic_auth_user_file = ${d}/htpasswd`,
          'auth_type = http_basic',
          `username = ${c.basicAuth.username}`,
          `password = ${c.basicAuth.password}`,
        ]
      : ['auth_strategy = noauth'];
  return [
    '[DEFAULT]',
    `auth_strategy = ${c.auth}`,
    ...(c.auth === 'http_basic' ? [`http_basic_auth_user_file = ${d}/htpasswd`] : []),
    'host = localhost',
    `rpc_transport = ${c.split ? 'json-rpc' : 'none'}`,
    'my_ip = 127.0.0.1',
    `state_path = ${d}/state`,
    `tempdir = ${d}/tmp`,
    `log_dir = ${d}/log`,
    'use_stderr = false',
    'debug = false',
    'enabled_hardware_types = fake-hardware,redfish,ipmi',
    'enabled_bios_interfaces = fake,no-bios,redfish',
    // ipxe/pxe refuse to load without writable http/tftp roots, set below (pitfall 1); ipmi needs one.
    'enabled_boot_interfaces = fake,ipxe,pxe,redfish-virtual-media',
    'enabled_console_interfaces = fake,no-console',
    'enabled_deploy_interfaces = fake,direct,ramdisk',
    'enabled_inspect_interfaces = fake,no-inspect,redfish',
    'enabled_management_interfaces = fake,redfish,ipmitool,noop',
    'enabled_network_interfaces = noop',
    'enabled_power_interfaces = fake,redfish,ipmitool',
    'enabled_raid_interfaces = fake,no-raid',
    'enabled_rescue_interfaces = fake,no-rescue',
    'enabled_storage_interfaces = fake,noop',
    'enabled_vendor_interfaces = fake,no-vendor,ipmitool,redfish',
    'default_network_interface = noop',
    '',
    '[api]',
    'host_ip = 127.0.0.1',
    `port = ${c.apiPort}`,
    'api_workers = 1',
    '',
    '[conductor]',
    'automated_clean = true',
    // Periodic tasks off: tests poll, and the benchmark measures our requests, not Ironic's housekeeping.
    'sync_power_state_interval = 0',
    'check_provision_state_interval = 0',
    'check_allocations_interval = 0',
    'sync_local_state_interval = 0',
    'node_history = false',
    'workers_pool_size = 300',
    // The defaults (50 / 250) answer 503 to extra provide/deploy requests instead of queueing (pitfall 7).
    'max_concurrent_clean = 1000',
    'max_concurrent_deploy = 1000',
    '',
    '[database]',
    `connection = sqlite:///${d}/ironic.sqlite`,
    'sqlite_synchronous = false',
    '',
    '[deploy]',
    `http_root = ${d}/httpboot`,
    'http_url = http://127.0.0.1:8088',
    '',
    '[pxe]',
    `tftp_root = ${d}/tftpboot`,
    `tftp_master_path = ${d}/tftpboot/master_images`,
    '',
    '[dhcp]',
    'dhcp_provider = none',
    '',
    '[json_rpc]',
    'host_ip = 127.0.0.1',
    `port = ${c.jsonRpcPort}`,
    ...jsonRpcAuth,
    '',
    '[oslo_concurrency]',
    `lock_path = ${d}/locks`,
    '',
    '[fake]',
    `power_delay = ${delay('power', c.fakeDelays)}`,
    `boot_delay = ${delay('boot', c.fakeDelays)}`,
    `deploy_delay = ${delay('deploy', c.fakeDelays)}`,
    `inspect_delay = ${delay('inspect', c.fakeDelays)}`,
    `management_delay = ${delay('management', c.fakeDelays)}`,
    '',
  ].join('\n');
}

/** Ironic reads bcrypt hashes only; rounds=4 keeps its per-request check cheap (pitfall 8). */
function bcryptHash(password: string): string {
  // /usr/bin/python3: the python3 on PATH may be a pyenv build without Debian's bcrypt (pitfall 9). The
  // password goes through stdin so it never shows in a process listing.
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import bcrypt,sys;print(bcrypt.hashpw(sys.stdin.readline().strip().encode(),bcrypt.gensalt(rounds=4)).decode())'],
    { input: `${password}\n`, encoding: 'utf8', env: cleanEnv() },
  );
  if (r.status !== 0 || !r.stdout.trim().startsWith('$2')) throw new Error(`bcrypt hashing with /usr/bin/python3 failed: ${r.stderr}`);
  return r.stdout.trim();
}

// A pyenv or virtualenv in the caller's environment must not shadow Debian's Python modules.
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(PYTHON|PYENV|VIRTUAL_ENV)/.test(k)) env[k] = v;
  return env;
}

function procState(pid: number): string | undefined {
  try {
    // "pid (comm) S ppid pgrp …": comm may hold spaces and parentheses, so parse from the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Running (a zombie awaiting its reaper does not count). */
export function alive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** Every live descendant of pid (ironic-api forks its worker; the conductor may fork too). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // The process ended while we read.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out.filter(alive);
}

/** Whether pid is still the Ironic we started (PIDs are reused): its command line names our config file. */
function isOurs(pid: number, configFile: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(configFile);
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** SIGTERM, then SIGKILL after graceMs, to the given processes and their descendants. */
export async function terminate(pids: number[], graceMs = 5000): Promise<void> {
  const all = [...new Set(pids.flatMap((p) => [p, ...descendants(p)]))].filter(alive);
  for (const p of all) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && all.some(alive)) await sleep(50);
  // Children forked after the first scan are caught here too.
  const left = [...new Set(all.flatMap((p) => (alive(p) ? [p, ...descendants(p)] : [])))];
  for (const p of left) signal(p, 'SIGKILL');
  const killDeadline = Date.now() + 2000;
  while (Date.now() < killDeadline && left.some(alive)) await sleep(20);
}

function readPids(dir: string): number[] {
  const out: number[] = [];
  for (const name of ['api.pid', 'conductor.pid', 'ironic.pid']) {
    const f = join(dir, name);
    if (existsSync(f)) {
      const pid = Number(readFileSync(f, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) out.push(pid);
    }
  }
  return out;
}

export function logTail(dir: string, lines = 40): string {
  const logDir = join(dir, 'log');
  if (!existsSync(logDir)) return '(no logs)';
  return readdirSync(logDir)
    .sort()
    .map((f) => {
      const text = readFileSync(join(logDir, f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      return `--- ${f}\n${text}`;
    })
    .join('\n');
}

/** Stops the Ironic whose PID files are in dir (the developer script's `down`); only processes still ours. */
export async function stopIronicDir(dir: string): Promise<number[]> {
  const conf = join(dir, 'ironic.conf');
  const pids = readPids(dir).filter((p) => alive(p) && isOurs(p, conf));
  await terminate(pids);
  for (const name of ['api.pid', 'conductor.pid', 'ironic.pid']) rmSync(join(dir, name), { force: true });
  return pids;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function waitReady(
  endpoint: string,
  auth: string | undefined,
  timeoutMs: number,
  exited: () => string | undefined,
  dir: string,
  rpcPort?: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone) throw new Error(`Ironic exited during start-up (${gone}):\n${logTail(dir)}`);
    try {
      const res = await fetch(`${endpoint}/v1/drivers`, {
        headers: { ...(auth ? { Authorization: auth } : {}), 'X-OpenStack-Ironic-API-Version': '1.1' },
        signal: AbortSignal.timeout(5000),
      });
      const text = await res.text();
      // The API answers before the conductor has registered its drivers (pitfall 11).
      const listed = res.ok && (JSON.parse(text) as { drivers?: { name?: string }[] }).drivers?.some((d) => d.name === 'fake-hardware');
      // The conductor registers its drivers before its JSON-RPC server listens; a busy machine widens the gap,
      // and the API's first call to it then fails with a 500.
      if (listed && (rpcPort === undefined || (await listening(rpcPort)))) return;
      last = listed ? `the conductor's JSON-RPC port ${rpcPort} is not listening yet` : `${res.status} ${text.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`Ironic did not list fake-hardware at ${endpoint}/v1/drivers within ${timeoutMs / 1000}s (last: ${last}):\n${logTail(dir)}`);
}

const started = new Set<number>();
let exitHookInstalled = false;

// A test that throws before stop() must not leave Ironic running behind the test runner.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of started) for (const p of [pid, ...descendants(pid)]) signal(p, 'SIGKILL');
  });
}

export async function startIronic(opts: IronicOptions = {}): Promise<RunningIronic> {
  await ensureIronicInstalled();
  // Bad delays are refused before anything is created.
  for (const name of ['power', 'boot', 'deploy', 'inspect', 'management'] as const) delay(name, opts.fakeDelays ?? {});
  const auth = opts.auth ?? 'noauth';
  const split = opts.split ?? true;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ironic-'));
  const apiPort = opts.apiPort ?? (await freePort());
  const jsonRpcPort = opts.jsonRpcPort ?? (await freePort());
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const configFile = join(dir, 'ironic.conf');
  const endpoint = `http://127.0.0.1:${apiPort}`;
  let basicAuth: { username: string; password: string } | undefined;
  try {
    for (const sub of ['state', 'tmp', 'log', 'httpboot', 'tftpboot/master_images', 'locks']) mkdirSync(join(dir, sub), { recursive: true });
    if (auth === 'http_basic') {
      basicAuth = { username: 'admin', password: randomBytes(12).toString('hex') };
      writeFileSync(join(dir, 'htpasswd'), `${basicAuth.username}:${bcryptHash(basicAuth.password)}\n`, { mode: 0o600 });
      // The layout BMO reads from METAL3_AUTH_ROOT_DIR, so the server can be pointed at this Ironic as is.
      mkdirSync(join(dir, 'auth/ironic'), { recursive: true });
      writeFileSync(join(dir, 'auth/ironic/username'), basicAuth.username, { mode: 0o600 });
      writeFileSync(join(dir, 'auth/ironic/password'), basicAuth.password, { mode: 0o600 });
    }
    writeFileSync(configFile, renderConfig({ dir, auth, split, apiPort, jsonRpcPort, fakeDelays: opts.fakeDelays ?? {}, basicAuth }), { mode: 0o600 });
    writeFileSync(join(dir, 'endpoint'), `${endpoint}\n`);
    // A developer's directory that already has a database keeps its nodes across up/down.
    if (!existsSync(join(dir, 'ironic.sqlite'))) {
      await execFileAsync('ironic-dbsync', ['--config-file', configFile, 'create_schema'], { cwd: dir, env: cleanEnv() }).catch((err: unknown) => {
        const e = err as Error & { stderr?: string };
        throw new Error(`ironic-dbsync create_schema failed: ${e.stderr?.slice(-2000) ?? e.message}`);
      });
    }
  } catch (err) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const authHeader = basicAuth ? `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}` : undefined;
  let pids: number[] = [];
  const exits = new Map<number, string>();

  const launch = (command: string, pidFile: string): number => {
    const out = openSync(join(dir, 'log', `${command}.stdout`), 'a');
    // Spawned directly (no shell, no cd subshell), so the PID is Ironic's own (pitfall 10).
    const child = spawn(command, ['--config-file', configFile], { cwd: dir, env: cleanEnv(), stdio: ['ignore', out, out], detached: true });
    closeSync(out);
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    const pid = child.pid;
    child.on('error', (e) => exits.set(pid, `${command}: ${e.message}`));
    child.on('exit', (code, sig) => exits.set(pid, `${command} exited with ${sig ?? code}`));
    child.unref();
    writeFileSync(join(dir, pidFile), `${pid}\n`);
    if (!opts.outliveProcess) started.add(pid);
    return pid;
  };

  const startProcesses = async (): Promise<void> => {
    exits.clear();
    pids = split
      ? // The conductor first: the API is only ready once a conductor has registered the drivers.
        [launch('ironic-conductor', 'conductor.pid'), launch('ironic-api', 'api.pid')]
      : [launch('ironic', 'ironic.pid')];
    installExitHook();
    try {
      await waitReady(endpoint, authHeader, readyTimeoutMs, () => pids.map((p) => exits.get(p)).find(Boolean), dir, split ? jsonRpcPort : undefined);
    } catch (err) {
      await stopProcesses();
      throw err;
    }
  };

  const stopProcesses = async (): Promise<void> => {
    await terminate(pids);
    for (const p of pids) started.delete(p);
    for (const name of ['api.pid', 'conductor.pid', 'ironic.pid']) rmSync(join(dir, name), { force: true });
    pids = [];
  };

  try {
    await startProcesses();
  } catch (err) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    endpoint,
    basicAuth,
    dir,
    configDir: dir,
    pids: () => [...pids],
    logTail: (lines) => logTail(dir, lines),
    stopProcesses,
    startProcesses,
    stop: async () => {
      await stopProcesses();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
