// The server under test: the real standalone binary in its own process, on a fresh data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '../..');

export interface BenchServer {
  url: string;
  dataDir: string;
  pid: number;
  process: ChildProcess;
  /** The inspector's WebSocket URL: the bench uses it only to force a full GC before reading RSS. */
  inspectorUrl: string | undefined;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `node cmd/metal3-apiserver.ts --data-dir TMP --port 0`; nodeArgs go before the script (e.g. --cpu-prof),
 * serverArgs after it (e.g. another storage backend). root is the checkout whose server runs (another one gives an
 * A/B comparison against this one).
 */
export async function startServer(nodeArgs: string[] = [], root = repoRoot, serverArgs: string[] = []): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'metal3-bench-'));
  // The inspector listens on a free loopback port and costs nothing until a client attaches.
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', ...nodeArgs, join(root, 'cmd/metal3-apiserver.ts'), '--data-dir', dataDir, '--port', '0', '--disable-reconcilers', ...serverArgs], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 60s:\n${out}`)), 60_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    };
    child.once('exit', onExit);
    child.stdout!.on('data', function check() {
      const m = /serving on (https:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout!.off('data', check);
      resolveUrl(m[1]);
    });
  });
  let stopping = false;
  child.once('exit', (code, signal) => {
    // A server that dies mid-run shows up client-side only as a reset connection: say why it died.
    if (!stopping) console.error(`server exited unexpectedly (${signal ?? code}); its output:\n${out.slice(-5000)}`);
  });
  return {
    url,
    dataDir,
    pid: child.pid!,
    inspectorUrl: /Debugger listening on (ws:\/\/\S+)/.exec(out)?.[1],
    process: child,
    output: () => out,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        // A CPU profile is written on exit, which can take a while for a long run.
        const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Resident set size of a process in bytes, from /proc/PID/status (VmRSS), plus its peak (VmHWM). */
export function residentSet(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/**
 * CPU time (user + system) a process has used, in ms, from /proc/PID/stat. Per operation, it is the
 * figure that stays comparable when other work on the machine makes wall-clock latencies noisy.
 */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** Forces a full garbage collection in the server through its inspector (HeapProfiler.collectGarbage). */
export async function collectGarbage(inspectorUrl: string): Promise<void> {
  const ws = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot reach the server's inspector at ${inspectorUrl}`));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('HeapProfiler.collectGarbage timed out')), 30_000);
      ws.onmessage = (m) => {
        const reply = JSON.parse(String(m.data)) as { id?: number; error?: { message: string } };
        if (reply.id !== 1) return;
        clearTimeout(timer);
        if (reply.error) reject(new Error(reply.error.message));
        else resolve();
      };
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    });
  } finally {
    ws.close();
  }
}
