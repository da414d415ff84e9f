// What the cluster-mode suites share: kubectl as a user would run it, a `kubectl get -w` in the
// background, polling for an eventual outcome, and HTTPS requests straight to our server with the
// identity headers the aggregator would send.
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with the given kubeconfig; never throws on a non-zero exit, so refusals can be asserted on. */
export function kubectl(kubeconfig: string, args: string[], input?: string, timeoutMs = 60_000): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** kubectl's stdout, or a failure that carries its stderr. */
export async function kubectlOK(kubeconfig: string, args: string[], input?: string): Promise<string> {
  const r = await kubectl(kubeconfig, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Polls until check returns a value other than undefined; fails at the deadline with the last error. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(250);
  }
}

export interface WatchLine {
  type: string;
  name: string;
}

export interface RunningWatch {
  /** Resolves when kubectl printed its header, i.e. the watch is established. */
  header: Promise<void>;
  events(): WatchLine[];
  stop(): void;
}

/** `kubectl get -w --output-watch-events` in the background, its table rows parsed into event type and name. */
export function startWatch(kubeconfig: string, args: string[]): RunningWatch {
  const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: WatchLine[] = [];
  let buffered = '';
  let stderr = '';
  let onHeader: () => void = () => {};
  let onFail: (e: Error) => void = () => {};
  const header = new Promise<void>((resolve, reject) => {
    onHeader = resolve;
    onFail = reject;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      const [type, name] = line.trim().split(/\s+/);
      if (type === 'EVENT') onHeader();
      else if (type && name) lines.push({ type, name });
    }
  });
  child.on('exit', (code) => onFail(new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr}`)));
  // With nothing to list yet kubectl prints no header: the watch is open once kubectl has run a moment.
  setTimeout(onHeader, 1500).unref();
  return {
    header,
    events: () => [...lines],
    stop: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

export interface TLSClient {
  ca: string;
  cert?: string;
  key?: string;
}

/** One HTTPS request to our server, bypassing kube-apiserver, with whatever headers a test wants to claim. */
export function directRequest(
  baseURL: string,
  tls: TLSClient,
  opts: { path: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${baseURL}${opts.path}`,
      {
        method: opts.method ?? 'GET',
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        timeout: 10_000,
        headers: { Accept: 'application/json', ...(opts.body === undefined ? {} : { 'Content-Type': 'application/json' }), ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${opts.path}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
