// Overload protection: the max-in-flight filter (429 with Retry-After beyond the limits, watches not
// counted, probes exempt), watches bounded per client, and slow watchers dropped with an ERROR event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { inFlightLimiter, overloadOptions, requestKind, defaultOverloadOptions } from '../../apiserver/overload.ts';
import { requestInfoFor } from '../../apiserver/requestinfo.ts';
import { createAPIServer } from '../../apiserver/server.ts';
import { standaloneKinds } from '../../apiserver/standalone.ts';
import { SqliteStorage } from '../../apiserver/storage/sqlite.ts';
import type { WatchBounds } from '../../apiserver/handlers/watch.ts';

const kindOf = (method: string, path: string) => {
  const url = new URL(path, 'https://x');
  return requestKind(url.pathname, requestInfoFor(method, url.pathname, url.searchParams));
};

test('requests are classified as kube-apiserver classifies them', () => {
  assert.equal(kindOf('GET', '/api/v1/namespaces/a/configmaps'), 'readOnly');
  assert.equal(kindOf('GET', '/apis/metal3.io/v1alpha1/namespaces/a/baremetalhosts/h'), 'readOnly');
  assert.equal(kindOf('GET', '/openapi/v2'), 'readOnly');
  assert.equal(kindOf('GET', '/apis'), 'readOnly');
  assert.equal(kindOf('POST', '/api/v1/namespaces/a/configmaps'), 'mutating');
  assert.equal(kindOf('PATCH', '/apis/metal3.io/v1alpha1/namespaces/a/baremetalhosts/h/status'), 'mutating');
  assert.equal(kindOf('DELETE', '/api/v1/namespaces/a/configmaps'), 'mutating');
  assert.equal(kindOf('GET', '/api/v1/namespaces/a/configmaps?watch=true'), 'longRunning');
  assert.equal(kindOf('GET', '/api/v1/watch/namespaces/a/configmaps'), 'longRunning');
  assert.equal(kindOf('GET', '/healthz'), 'exempt');
  assert.equal(kindOf('GET', '/readyz/ping'), 'exempt');
  assert.equal(kindOf('GET', '/livez?verbose'), 'exempt');
  assert.equal(kindOf('GET', '/healthzz'), 'readOnly');
});

test('options default to kube-apiserver flags; an undefined option keeps its default', () => {
  assert.deepEqual(defaultOverloadOptions, { maxRequestsInflight: 400, maxMutatingRequestsInflight: 200, maxWatchesPerClient: 100 });
  assert.deepEqual(overloadOptions({ maxRequestsInflight: 3, maxWatchesPerClient: undefined }), {
    maxRequestsInflight: 3,
    maxMutatingRequestsInflight: 200,
    maxWatchesPerClient: 100,
  });
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function listenOn(app: express.Express): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** One request on its own connection; resolves when the response has ended. */
function call(port: number, method: string, path: string, opts: { user?: string; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', method, path, agent: false, localAddress: opts.localAddress, headers: { 'x-test-user': opts.user ?? 'alice' } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A request whose response headers have arrived and whose body stays open until close(). */
function open(port: number, path: string, opts: { user?: string; localAddress?: string } = {}): Promise<{ status: number; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', path, agent: false, localAddress: opts.localAddress, headers: { 'x-test-user': opts.user ?? 'alice' } },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const testUser: RequestHandler = (req, res, next) => {
  res.locals.user = { name: String(req.headers['x-test-user']), groups: ['system:masters'] };
  next();
};

/** An app whose resource requests are held until released, so that the test controls what is in flight. */
function heldApp(limits: Parameters<typeof inFlightLimiter>[0]) {
  const limiter = inFlightLimiter(limits);
  const held: (() => void)[] = [];
  const app = express();
  app.use(testUser);
  app.use(limiter.handler);
  app.get('/healthz', (_req, res) => {
    res.end('ok');
  });
  app.use((req, res) => {
    if (req.query.watch === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      return; // open until the client goes
    }
    held.push(() => res.end('done'));
  });
  const releaseAll = () => held.splice(0).forEach((r) => r());
  return { app, limiter, held, releaseAll };
}

const until = async (cond: () => boolean, what: string, timeoutMs = 5000) => {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

function assertTooManyRequests(r: Reply): void {
  assert.equal(r.status, 429, r.body);
  assert.equal(r.headers['retry-after'], '1');
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const status = JSON.parse(r.body) as Record<string, unknown>;
  assert.deepEqual(status, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Too many requests, please try again later.',
    reason: 'TooManyRequests',
    details: { retryAfterSeconds: 1 },
    code: 429,
  });
}

test('beyond the read-only and mutating limits: 429 with Retry-After; watches and probes pass', async () => {
  const h = heldApp({ maxRequestsInflight: 2, maxMutatingRequestsInflight: 1, maxWatchesPerClient: 0 });
  const srv = await listenOn(h.app);
  try {
    const reads = [call(srv.port, 'GET', '/api/v1/configmaps'), call(srv.port, 'GET', '/apis')];
    const write = call(srv.port, 'POST', '/api/v1/namespaces/a/configmaps');
    await until(() => h.held.length === 3, 'three requests in flight');
    assert.deepEqual({ ...h.limiter.state(), watches: undefined }, { readOnly: 2, mutating: 1, watches: undefined });

    assertTooManyRequests(await call(srv.port, 'GET', '/api/v1/namespaces/a/configmaps/x'));
    assertTooManyRequests(await call(srv.port, 'DELETE', '/api/v1/namespaces/a/configmaps/x'));
    // Each limit is its own: a full mutating limit does not refuse reads, and the other way round.
    assert.equal(h.held.length, 3);
    const probe = await call(srv.port, 'GET', '/healthz');
    assert.equal(probe.status, 200);
    const w = await open(srv.port, '/api/v1/configmaps?watch=true');
    assert.equal(w.status, 200);
    w.close();

    h.releaseAll();
    assert.deepEqual((await Promise.all([...reads, write])).map((r) => r.status), [200, 200, 200]);
    await until(() => h.limiter.state().readOnly === 0 && h.limiter.state().mutating === 0, 'the counts to return to zero');
    const again = call(srv.port, 'PUT', '/api/v1/namespaces/a/configmaps/x');
    await until(() => h.held.length === 1, 'the next write to be admitted');
    h.releaseAll();
    assert.equal((await again).status, 200);
  } finally {
    h.releaseAll();
    await srv.close();
  }
});

test('a client that goes away mid-request frees its slot', async () => {
  const h = heldApp({ maxRequestsInflight: 1, maxMutatingRequestsInflight: 1, maxWatchesPerClient: 0 });
  const srv = await listenOn(h.app);
  try {
    const gone = new Promise<void>((resolve) => {
      const req = http.request({ port: srv.port, host: '127.0.0.1', path: '/api/v1/configmaps', agent: false, headers: { 'x-test-user': 'a' } });
      req.on('error', () => resolve());
      req.end();
      void until(() => h.held.length === 1, 'the request in flight').then(() => req.destroy());
    });
    await gone;
    await until(() => h.limiter.state().readOnly === 0, 'the slot to be freed');
    const next = call(srv.port, 'GET', '/api/v1/configmaps');
    await until(() => h.held.length === 2, 'the next read to be admitted');
    h.releaseAll();
    assert.equal((await next).status, 200);
  } finally {
    h.releaseAll();
    await srv.close();
  }
});

test('watches are bounded per client, a client being its user and remote address', async () => {
  const h = heldApp({ maxRequestsInflight: 1, maxMutatingRequestsInflight: 1, maxWatchesPerClient: 2 });
  const srv = await listenOn(h.app);
  const streams: { close(): void }[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const w = await open(srv.port, '/api/v1/configmaps?watch=true');
      assert.equal(w.status, 200);
      streams.push(w);
    }
    assertTooManyRequests(await call(srv.port, 'GET', '/api/v1/namespaces/a/configmaps?watch=true'));
    // Another user from the same address, and the same user from another address, are other clients.
    const bob = await open(srv.port, '/api/v1/configmaps?watch=true', { user: 'bob' });
    assert.equal(bob.status, 200);
    streams.push(bob);
    const elsewhere = await open(srv.port, '/api/v1/configmaps?watch=true', { localAddress: '127.0.0.2' });
    assert.equal(elsewhere.status, 200);
    streams.push(elsewhere);
    assert.deepEqual([...h.limiter.state().watches.values()].sort(), [1, 1, 2]);

    streams[0].close();
    await until(() => h.limiter.state().watches.size === 3 && [...h.limiter.state().watches.values()].every((n) => n === 1), 'the closed watch to be forgotten');
    const again = await open(srv.port, '/api/v1/configmaps?watch=true');
    assert.equal(again.status, 200);
    streams.push(again);
  } finally {
    for (const s of streams) s.close();
    await srv.close();
  }
});

// ---- slow watchers, against the real API server in-process ----

async function apiServer(watchBounds: WatchBounds) {
  const server = createAPIServer({
    storage: SqliteStorage.open(':memory:'),
    kinds: standaloneKinds({ enableFakeBMC: false }),
    authenticate: testUser,
    serverAddress: '127.0.0.1:0',
    watchBounds,
  });
  await server.start();
  const configmaps = server.stores.get('/v1/configmaps')!;
  const ctx = { user: { name: 'admin', groups: ['system:masters'] }, dryRun: false, fieldManager: 'test', fieldValidation: 'Strict' as const, warnings: [] };
  await server.stores.get('/v1/namespaces')!.create('', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, ctx);
  const listener = await listenOn(server.app);
  return {
    port: listener.port,
    createConfigMap: (name: string, bytes: number) =>
      configmaps.create('a', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { blob: 'x'.repeat(bytes) } }, ctx),
    async close() {
      await listener.close();
      await server.stop();
    },
  };
}

/** A watch that reads as fast as it can, counting events by their newlines. */
function fastWatcher(port: number, path: string): Promise<{ events(): number; bytes(): number; close(): void }> {
  return new Promise((resolve, reject) => {
    let events = 0;
    let bytes = 0;
    const req = http.get({ port, host: '127.0.0.1', path, agent: false, headers: { 'x-test-user': 'reader' } }, (res) => {
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) events++;
      });
      resolve({ events: () => events, bytes: () => bytes, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** A watch on a raw socket that is not read until drain() is called. */
async function stuckWatcher(port: number, path: string) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-test-user: stuck\r\n\r\n`);
  return {
    /** Read everything the server sent until the response ended (its last chunk) or the connection closed. */
    async drain(timeoutMs = 10_000): Promise<Buffer> {
      const chunks: Buffer[] = [];
      let tail = '';
      const ended = new Promise<void>((resolve) => {
        socket.on('data', (d: Buffer) => {
          chunks.push(d);
          tail = (tail + d.toString('latin1')).slice(-16);
          if (tail.endsWith('\r\n0\r\n\r\n')) resolve();
        });
        socket.once('close', () => resolve());
      });
      socket.resume();
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([ended, timer])) === 'timeout') {
        socket.destroy();
        throw new Error(`the server did not end the slow watch; read ${Buffer.concat(chunks).length} bytes`);
      }
      return Buffer.concat(chunks);
    },
    destroy: () => socket.destroy(),
  };
}

const lastEvent = (raw: Buffer) => {
  const text = raw.toString('utf8');
  const lines = text.split(/\r\n|\n/).filter((l) => l.startsWith('{"type"'));
  return JSON.parse(lines[lines.length - 1] ?? 'null') as { type: string; object: { reason: string; code: number } } | null;
};

test('a watcher that never reads is dropped with an ERROR event, while 100 readers get every event', async () => {
  const maxBacklogBytes = 256 * 1024;
  const server = await apiServer({ maxBacklogBytes, maxStallMs: 60_000 });
  const path = '/api/v1/namespaces/a/configmaps?watch=true';
  const readers = await Promise.all(Array.from({ length: 100 }, () => fastWatcher(server.port, path)));
  const stuck = await stuckWatcher(server.port, path);
  try {
    const eventBytes = 128 * 1024;
    const count = 32; // 4 MiB, sixteen times the bound
    for (let i = 0; i < count; i++) {
      await server.createConfigMap(`cm-${i}`, eventBytes);
      // Deliveries continue while the stuck watcher holds its backlog: readers are never more than a few events behind.
      if (i % 16 === 15) await until(() => readers.every((r) => r.events() >= i + 1), `event ${i + 1} at every reader`, 20_000);
    }
    await until(() => readers.every((r) => r.events() === count), 'every event at every reader', 20_000);

    const raw = await stuck.drain();
    const pushed = count * eventBytes;
    // What the server held for the stuck watcher is what it sent once read: the bound, the event that
    // crossed it, the ERROR event, and the little the loopback socket took before it filled. Without the
    // drop it would be all 4 MiB, and the response would not end.
    const held = maxBacklogBytes + eventBytes + 64 * 1024;
    assert.ok(raw.length < held, `the stuck watcher was sent ${raw.length} of ${pushed} bytes, more than ${held}`);
    assert.deepEqual(
      (({ type, object }) => ({ type, reason: object.reason, code: object.code }))(lastEvent(raw)!),
      { type: 'ERROR', reason: 'Expired', code: 410 },
    );
  } finally {
    stuck.destroy();
    for (const r of readers) r.close();
    await server.close();
  }
});

test('a watcher whose socket has not drained for maxStallMs is dropped at its next event', async () => {
  const server = await apiServer({ maxBacklogBytes: 1024 * 1024 * 1024, maxStallMs: 300 });
  const stuck = await stuckWatcher(server.port, '/api/v1/namespaces/a/configmaps?watch=true');
  try {
    // Enough to fill the loopback buffers, so that the server's writes stall.
    for (let i = 0; i < 64; i++) await server.createConfigMap(`cm-${i}`, 128 * 1024);
    await new Promise((r) => setTimeout(r, 400));
    await server.createConfigMap('after-the-stall', 10);
    const raw = await stuck.drain();
    assert.deepEqual(
      (({ type, object }) => ({ type, reason: object.reason, code: object.code }))(lastEvent(raw)!),
      { type: 'ERROR', reason: 'Expired', code: 410 },
    );
    assert.ok(!raw.toString('utf8').includes('"name":"after-the-stall"'), 'the event after the stall was not queued');
  } finally {
    stuck.destroy();
    await server.close();
  }
});
