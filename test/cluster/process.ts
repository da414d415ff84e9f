// Child processes of the cluster harness: started detached with their output in a log file, remembered so a
// crashing test run cannot leave them behind, and stopped by PID only after checking the PID is still ours.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive, descendants, terminate } from '../ironic/harness.ts';

export { alive, freePort, terminate } from '../ironic/harness.ts';

export interface Launched {
  pid: number;
  name: string;
  logFile: string;
  /** Why the process ended, once it has. */
  exited(): string | undefined;
}

const owned = new Set<number>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.once('exit', () => {
    for (const pid of owned) {
      for (const p of [pid, ...descendants(pid)]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  });
}

export interface LaunchOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep running after this Node process exits (`cluster:up`); tests never want that. */
  outlive?: boolean;
}

export function launch(name: string, command: string, args: string[], logFile: string, opts: LaunchOptions = {}): Launched {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = child.pid;
  let why: string | undefined;
  child.on('error', (e) => (why = `${name}: ${e.message}`));
  child.on('exit', (code, sig) => {
    why = `${name} exited with ${sig ?? code}`;
    owned.delete(pid);
  });
  child.unref();
  if (!opts.outlive) {
    owned.add(pid);
    installExitHook();
  }
  return { pid, name, logFile, exited: () => why };
}

export async function stop(p: Launched | number, graceMs = 10_000): Promise<void> {
  const pid = typeof p === 'number' ? p : p.pid;
  await terminate([pid], graceMs);
  owned.delete(pid);
}

export function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Whether pid still runs a command line containing marker (PIDs are reused after a reboot or a long time). */
export function runsWith(pid: number, marker: string): boolean {
  if (!alive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(marker));
  } catch {
    return false;
  }
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ port, host });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolvePromise(false);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

/**
 * Polls check until it returns true; fails early with the log tail when the process exits, and at the
 * deadline with the last error seen.
 */
export async function waitFor(what: string, p: Launched, timeoutMs: number, check: () => Promise<boolean | string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const gone = p.exited();
    if (gone) throw new Error(`${what}: ${gone}\n${tail(p.logFile)}`);
    try {
      const r = await check();
      if (r === true) return;
      if (typeof r === 'string') last = r;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(200);
  }
  throw new Error(`${what}: not ready within ${timeoutMs / 1000}s (last: ${last})\n${tail(p.logFile)}`);
}

/** Whether the command exists on PATH. */
export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
