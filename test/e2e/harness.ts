// Black-box harness: starts the real server as a child process (`node cmd/metal3-apiserver.ts`) on a free port
// with a fresh data directory, and runs the machine's real kubectl against it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');

export interface RunningServer {
  url: string;
  dataDir: string;
  kubeconfig: string;
  process: ChildProcess;
  /** Everything the server printed, for assertions (e.g. that no credential was logged). */
  output(): string;
  /** Stops the server and removes its data directory, unless keepDataDir (to start another server on it). */
  stop(opts?: { keepDataDir?: boolean }): Promise<void>;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl must exist; a suite that needs it fails (never skips) when it does not. */
export function requireKubectl(): void {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl is required for the black-box suite: ${r.error?.message ?? r.stderr}`);
}

/** Pass in extraArgs to run the reconcilers too; without it the server serves the API only. */
export const withReconcilers = '--with-reconcilers';

/**
 * `dataDir` reuses an existing data directory (a restart); by default each server gets a fresh one.
 * The API suites run without reconcilers, so that no controller writes to the objects they assert on.
 */
export async function startServer(extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, dataDir = mkdtempSync(join(tmpdir(), 'metal3-e2e-'))): Promise<RunningServer> {
  const args = extraArgs.includes(withReconcilers) ? extraArgs.filter((a) => a !== withReconcilers) : ['--disable-reconcilers', ...extraArgs];
  const child = spawn(process.execPath, [join(repoRoot, 'cmd/metal3-apiserver.ts'), '--data-dir', dataDir, '--port', '0', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 30s:\n${out}`)), 30_000);
    const check = () => {
      const m = /serving on (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    dataDir,
    kubeconfig: join(dataDir, 'kubeconfig'),
    process: child,
    output: () => out,
    async stop(opts = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (!opts.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Run kubectl to completion. `input` goes to stdin (for `-f -`). */
export function kubectl(server: RunningServer, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolveResult, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', server.kubeconfig, ...args], {
      env: { ...process.env, KUBECACHEDIR: join(server.dataDir, 'kubecache'), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubectl ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A long-running kubectl (e.g. `get -w`): collect output until stopped. */
export function kubectlBackground(server: RunningServer, args: string[]): { output(): string; stop(): Promise<KubectlResult> } {
  const child = spawn('kubectl', ['--kubeconfig', server.kubeconfig, ...args], {
    env: { ...process.env, KUBECACHEDIR: join(server.dataDir, 'kubecache') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number>((r) => child.once('close', (code) => r(code ?? -1)));
  return {
    output: () => stdout,
    async stop() {
      child.kill('SIGTERM');
      const code = await closed;
      return { code, stdout, stderr };
    },
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Run kubectl and fail with everything it printed unless it exits 0; returns its stdout. */
export async function kubectlOK(server: RunningServer, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const r = await kubectl(server, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/**
 * Create a namespace from a manifest. `kubectl create namespace` sends protobuf; a manifest goes as JSON,
 * so suites that only need a namespace to exist do not depend on protobuf decoding.
 */
export async function createNamespace(server: RunningServer, name: string): Promise<void> {
  await kubectlOK(server, ['create', '-f', '-'], { input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n` });
}
