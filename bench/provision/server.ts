// The server under test: the real command, reconcilers in-process, accepting fake:// BMC addresses; pointed at
// Ironic (through the counting proxy) for phase (b), or running the simulated provisioner for the idle phase.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '../..');

export interface ProvisionServer {
  url: string;
  dataDir: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export interface ProvisionServerOptions {
  /** Ironic's endpoint; without one the server runs its simulated provisioner. */
  ironicEndpoint?: string;
  /** After the script (server flags). */
  args?: string[];
  /** Before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** How long stop() waits after SIGTERM before SIGKILL (default 15 s; a CPU profile needs a clean exit). */
  stopGraceMs?: number;
}

export async function startProvisionServer(opts: ProvisionServerOptions = {}): Promise<ProvisionServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'metal3-bench-provision-'));
  const ironic = opts.ironicEndpoint ? ['--ironic-endpoint', opts.ironicEndpoint] : [];
  const args = [...(opts.nodeArgs ?? []), join(repoRoot, 'cmd/metal3-apiserver.ts'), '--data-dir', dataDir, '--port', '0', '--enable-fake-bmc', ...ironic, ...(opts.args ?? [])];
  // BMO's variables from the caller's shell must not redirect the server elsewhere; the basic-auth root
  // points at an empty place so the default /opt/metal3/auth cannot be picked up either.
  const clean = { ...process.env };
  for (const k of ['IRONIC_ENDPOINT', 'METAL3_AUTH_ROOT_DIR', 'PROVISIONING_LIMIT', 'BMO_CONCURRENCY']) delete clean[k];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...clean, METAL3_AUTH_ROOT_DIR: join(dataDir, 'no-auth'), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    // Reconciler logs of a 200-host run are long; the tail is what explains a failure.
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 60s:\n${out}`)), 60_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    };
    child.once('exit', onExit);
    child.stdout.on('data', function check() {
      const m = /serving on (https:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout.off('data', check);
      resolveUrl(m[1]);
    });
  });
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`server exited unexpectedly (${signal ?? code}); its output:\n${out.slice(-5000)}`);
  });
  return {
    url,
    dataDir,
    pid: child.pid!,
    output: () => out,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), opts.stopGraceMs ?? 15_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
