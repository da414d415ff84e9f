// Shared by the fuzz suites: the seed and case budget, an in-process API server on a loopback port, a
// bounded HTTP client, and the properties every answer must have.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import type { Parameters } from 'fast-check';
import { createAPIServer, type APIServer } from '../../apiserver/server.ts';
import { standaloneKinds } from '../../apiserver/standalone.ts';
import { SqliteStorage } from '../../apiserver/storage/sqlite.ts';
import { bareMetalHostActions } from '../../apiserver/actions/baremetalhost.ts';
import { maxHeaderBytes } from '../../apiserver/serving.ts';
import { collectionPath, kinds, minimalObject } from './arbitraries.ts';

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The seed of this file's properties. `npm run fuzz` sets one for every file, so a whole run replays from
 * one number; under `npm test` each file draws its own and prints it.
 */
export const seed = envInt('FUZZ_SEED') ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

/** Cases across all the fuzz suites together; each property takes a share of them. */
export const totalRuns = envInt('FUZZ_RUNS') ?? 5000;

/** Any request slower than this is a hang. */
export const requestTimeoutMs = 5000;

console.log(`fuzz seed: ${seed} (FUZZ_SEED=${seed} replays it), ${totalRuns} cases in total (FUZZ_RUNS)`);

/**
 * Shares of the total case budget per property, summing to 1. HTTP properties are cheap enough that
 * they get most of it; the pure parser property runs many more per second but finds less.
 */
export const shares = {
  createBodies: 0.2,
  updateBodies: 0.12,
  rawBodies: 0.06,
  jsonPatch: 0.1,
  mergePatch: 0.08,
  applyPatch: 0.08,
  listSelectors: 0.08,
  watchSelectors: 0.05,
  openWatches: 0.01,
  watchResourceVersions: 0.06,
  bmcParse: 0.06,
  bmcCreate: 0.04,
  admissionReview: 0.06,
} as const;

export function runsFor(property: keyof typeof shares): number {
  return Math.max(1, Math.round(totalRuns * shares[property]));
}

/** fast-check parameters for one property; the run and seed are printed whatever the outcome. */
export function params(property: keyof typeof shares): Parameters<unknown> {
  const numRuns = runsFor(property);
  console.log(`fuzz ${property}: ${numRuns} cases, seed ${seed}`);
  return { seed, numRuns, endOnFailure: true };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
}

export interface RequestOptions {
  body?: string | Buffer;
  contentType?: string;
  accept?: string;
}

interface Pending {
  what: string;
  since: number;
  fail: (e: Error) => void;
}

const pending = new Set<Pending>();
let watchdog: NodeJS.Timeout | undefined;

/**
 * A second line behind each request's own timer. One run (seed 1795895230, since unreproduced) sat idle for
 * minutes on a LIST whose 5 s timer never fired, while an interval elsewhere kept firing; a property must
 * fail on that, saying what was pending, and not wait until CI's deadline.
 */
function track(what: string, fail: (e: Error) => void): () => void {
  const p: Pending = { what, since: Date.now(), fail };
  pending.add(p);
  watchdog ??= setInterval(() => {
    const now = Date.now();
    for (const q of pending) {
      if (now - q.since < 3 * requestTimeoutMs) continue;
      pending.delete(q);
      const why = `hang: ${q.what.slice(0, 200)} still pending after ${now - q.since} ms, past its own ${requestTimeoutMs} ms timer; active resources: ${JSON.stringify(process.getActiveResourcesInfo())}`;
      console.error(`fuzz: ${why}`);
      q.fail(new Error(why));
    }
  }, requestTimeoutMs);
  return () => {
    pending.delete(p);
    // Nothing pending, nothing to watch: the interval must not keep a finished file's process alive.
    if (!pending.size && watchdog) {
      clearInterval(watchdog);
      watchdog = undefined;
    }
  };
}

/** One request with the hang budget; a timeout rejects, so the property fails naming it. */
export function request(base: string, method: string, path: string, opts: RequestOptions = {}, agent?: http.Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Accept: opts.accept ?? 'application/json' };
    if (opts.body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(opts.body);
    }
    const req = http.request(`${base}${path}`, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        untrack();
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      untrack();
      req.destroy();
      reject(new Error(`hang: ${method} ${path.slice(0, 200)} took more than ${requestTimeoutMs} ms`));
    }, requestTimeoutMs);
    const untrack = track(`${method} ${path}`, (e) => {
      req.destroy();
      reject(e);
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      untrack();
      reject(e);
    });
    req.end(opts.body);
  });
}

export interface WatchReply {
  status: number;
  text: string;
  /** The newline-delimited events received before the stream ended or was cut. */
  events: unknown[];
}

/**
 * A watch that is read until the server ends it or `readMs` pass after the headers; then the client hangs
 * up, as informers do. The headers must come within the hang budget.
 */
export function watch(base: string, path: string, readMs = 30): Promise<WatchReply> {
  return new Promise((resolve, reject) => {
    // A fresh connection: the stream is cut from this side, which must not poison the shared agent.
    const req = http.request(`${base}${path}`, { method: 'GET', headers: { Accept: 'application/json' }, agent: false }, (res) => {
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        untrack();
        clearTimeout(cut);
        req.destroy();
        const text = Buffer.concat(chunks).toString('utf8');
        const events: unknown[] = [];
        for (const line of text.split('\n')) {
          if (line.trim() === '') continue;
          try {
            events.push(JSON.parse(line));
          } catch {
            events.push(line);
          }
        }
        resolve({ status: res.statusCode ?? 0, text, events });
      };
      const cut = setTimeout(finish, readMs);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', finish);
      res.on('error', finish);
      res.on('aborted', finish);
    });
    const timer = setTimeout(() => {
      untrack();
      req.destroy();
      reject(new Error(`hang: watch ${path.slice(0, 200)} sent no headers within ${requestTimeoutMs} ms`));
    }, requestTimeoutMs);
    const untrack = track(`WATCH ${path}`, (e) => {
      req.destroy();
      reject(e);
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      untrack();
      reject(e);
    });
    req.end();
  });
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A Status as kube writes one, whose code is `code`. */
export function assertStatus(body: unknown, code: number, what: string): void {
  assert.ok(isObj(body), `${what}: a ${code} whose body is not a JSON object`);
  assert.equal(body.kind, 'Status', `${what}: a ${code} whose body is not a Status: ${JSON.stringify(body).slice(0, 300)}`);
  assert.equal(body.apiVersion, 'v1', `${what}: Status without apiVersion v1`);
  assert.equal(body.code, code, `${what}: Status code ${String(body.code)} on a ${code} response`);
  assert.equal(body.status, 'Failure', `${what}: an error Status not marked Failure`);
  assert.equal(typeof body.message, 'string', `${what}: Status without a message`);
}

/**
 * kube-apiserver's deliberate 504 for a resourceVersion the cache has not reached after its wait
 * (reason Timeout, cause ResourceVersionTooLarge): client-go retries on exactly this answer.
 */
function tooLargeResourceVersion(body: unknown): boolean {
  if (!isObj(body) || body.code !== 504 || body.reason !== 'Timeout' || !isObj(body.details)) return false;
  const causes = body.details.causes;
  return Array.isArray(causes) && causes.some((c) => isObj(c) && c.reason === 'ResourceVersionTooLarge');
}

/** Never a 5xx but a deliberate 503; every 4xx is a Status with the same code. */
export function assertSane(reply: { status: number; body: unknown; text: string }, what: string): void {
  assert.ok(reply.status >= 200, `${what}: status ${reply.status}`);
  assert.ok(reply.status < 500 || reply.status === 503 || tooLargeResourceVersion(reply.body), `${what}: answered ${reply.status}: ${reply.text.slice(0, 500)}`);
  if (reply.status >= 400) assertStatus(reply.body, reply.status, what);
}

/** Watch streams carry errors as ERROR events: the same properties apply to their Status objects. */
export function assertSaneWatch(reply: WatchReply, what: string): void {
  if (reply.status !== 200) {
    let body: unknown;
    try {
      body = JSON.parse(reply.text);
    } catch {
      body = undefined;
    }
    assertSane({ status: reply.status, body, text: reply.text }, what);
    return;
  }
  for (const ev of reply.events) {
    assert.ok(isObj(ev), `${what}: a watch line that is not a JSON object: ${String(ev).slice(0, 200)}`);
    assert.ok(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'].includes(String(ev.type)), `${what}: event type ${String(ev.type)}`);
    if (ev.type === 'ERROR') {
      assert.ok(isObj(ev.object), `${what}: ERROR event without an object`);
      const code = Number(ev.object.code);
      assert.ok(code >= 400 && (code < 500 || code === 503 || tooLargeResourceVersion(ev.object)), `${what}: ERROR event with code ${code}: ${JSON.stringify(ev.object).slice(0, 300)}`);
      assertStatus(ev.object, code, `${what} (ERROR event)`);
    }
  }
}

export interface FuzzServer {
  url: string;
  server: APIServer;
  storage: SqliteStorage;
  request(method: string, path: string, opts?: RequestOptions): Promise<Reply>;
  watch(path: string, readMs?: number): Promise<WatchReply>;
  /** Throws if the process saw an unhandled rejection or uncaught exception since start. */
  assertNoCrash(): void;
  close(): Promise<void>;
}

/** The standalone kinds and strategies over in-memory SQLite, as an authenticated cluster admin. */
export async function startFuzzServer(opts: { enableFakeBMC?: boolean } = {}): Promise<FuzzServer> {
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => {
    crashes.push(e);
    // Said at once: a crash can leave the property waiting forever, before assertNoCrash gets to say it.
    console.error('fuzz: unhandled in the process:', e);
  };
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const storage = SqliteStorage.open(':memory:');
  const server = createAPIServer({
    storage,
    kinds: standaloneKinds({ enableFakeBMC: opts.enableFakeBMC ?? false }),
    actions: bareMetalHostActions(),
    authenticate: (_req, res, next) => {
      res.locals.user = { name: 'fuzz', groups: ['system:masters', 'system:authenticated'] };
      next();
    },
    serverAddress: '127.0.0.1:0',
  });
  await server.start();
  // The production listeners' header limit, so that long selectors meet what they would meet there.
  const httpServer = http.createServer({ maxHeaderSize: maxHeaderBytes }, server.app);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  for (const ns of ['default', 'fuzz']) {
    const r = await request(url, 'POST', '/api/v1/namespaces', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }) }, agent);
    assert.equal(r.status, 201, r.text);
  }
  return {
    url,
    server,
    storage,
    request: (method, path, o) => request(url, method, path, o, agent),
    watch: (path, readMs) => watch(url, path, readMs),
    assertNoCrash() {
      assert.deepEqual(crashes.map((e) => (e instanceof Error ? e.stack : String(e))), [], 'the process saw an unhandled rejection or uncaught exception');
      assert.ok(httpServer.listening, 'the server stopped listening');
    },
    async close() {
      process.off('unhandledRejection', onCrash);
      process.off('uncaughtException', onCrash);
      agent.destroy();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await server.stop();
    },
  };
}

/** One object of every standalone kind, named `name` in `namespace`: what the write properties aim at. */
export async function createTargets(s: FuzzServer, namespace: string, name: string, labels?: Record<string, string>): Promise<void> {
  for (const def of kinds) {
    const obj = minimalObject(def, name);
    if (labels) (obj.metadata as Record<string, unknown>).labels = labels;
    const r = await s.request('POST', collectionPath(def, namespace), { body: JSON.stringify(obj) });
    assert.equal(r.status, 201, `${def.kind}: ${r.text}`);
  }
}

/** After a file's properties: any crash the process saw fails the file, then the server closes. */
export async function stopFuzzServer(s: FuzzServer): Promise<void> {
  s.assertNoCrash();
  await s.close();
}
