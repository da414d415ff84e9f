// The same three configurations over HTTPS: the real server (cmd/metal3-apiserver.ts) with its built-in
// admission, with twenty policies applied through the API, and bench/admission/serve-off.ts with
// admission off; 8 closed-loop clients POSTing fresh BareMetalHosts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { KubeObject } from '../../api/types.ts';
import { adminCredentials, Client } from '../api/client.ts';
import { measureCreates, type CreateFigures } from '../api/writes.ts';
import { admissionObjects, benchNamespace, benchNamespaceObject } from './policies.ts';
import type { Configuration } from './inprocess.ts';

const repoRoot = resolve(import.meta.dirname, '../..');

interface Child {
  url: string;
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node SCRIPT --data-dir TMP [args]` and waits for its `serving on URL` line. */
async function startChild(script: string, args: string[], nodeArgs: string[]): Promise<Child> {
  const dataDir = mkdtempSync(join(tmpdir(), 'metal3-bench-admission-'));
  const child = spawn(process.execPath, [...nodeArgs, join(repoRoot, script), '--data-dir', dataDir, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${script} did not start within 60 s:\n${out}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${script} exited with ${code}:\n${out}`));
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving on (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  return {
    url,
    dataDir,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The REST collection path of an object, as kubectl would POST it. */
function collectionPath(obj: KubeObject): string {
  const kind = obj.kind.toLowerCase();
  const plural = kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`;
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : '';
  return `${base}${ns}/${plural}`;
}

async function post(client: Client, obj: KubeObject): Promise<void> {
  const res = await client.request('POST', collectionPath(obj), { body: JSON.stringify(obj) });
  if (res.status !== 201 && res.status !== 409) throw new Error(`create ${obj.kind} ${obj.metadata.name}: HTTP ${res.status}: ${res.body.toString()}`);
}

export interface HTTPFigures extends CreateFigures {
  config: Configuration;
  clients: number;
}

export async function measureHTTP(config: Configuration, opts: { clients: number; seconds: number; warmupSeconds: number; nodeArgs: string[] }): Promise<HTTPFigures> {
  const server =
    config === 'off'
      ? await startChild('bench/admission/serve-off.ts', [], opts.nodeArgs)
      : await startChild('cmd/metal3-apiserver.ts', ['--port', '0', '--disable-reconcilers'], opts.nodeArgs);
  const client = new Client(server.url, adminCredentials(server.dataDir), 64);
  try {
    await post(client, benchNamespaceObject());
    if (config === 'policies') for (const obj of admissionObjects()) await post(client, obj);
    // Warm-up creates use indices far above the measured ones, so names never collide.
    await measureCreates(client, benchNamespace, opts.clients, opts.warmupSeconds, 1_000_000);
    const figures = await measureCreates(client, benchNamespace, opts.clients, opts.seconds);
    return { config, clients: opts.clients, ...figures };
  } catch (e) {
    console.error(`server output (tail):\n${server.output().slice(-3000)}`);
    throw e;
  } finally {
    client.close();
    await server.stop();
  }
}
