import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { healthRouter, pingCheck } from '../../apiserver/health.ts';
import type { HealthCheck } from '../../apiserver/health.ts';

const ok = (name: string): HealthCheck => ({ name, check: () => {} });
const failing = (name: string, message = 'boom'): HealthCheck => ({
  name,
  check: async () => {
    throw new Error(message);
  },
});

function app(livez: HealthCheck[], readyz: HealthCheck[]) {
  const router = healthRouter({ livez, readyz });
  const a = express();
  a.use(router);
  return { app: a, router };
}

const standard = () =>
  app([pingCheck, ok('log'), ok('poststarthook/start-informers')], [pingCheck, ok('log'), ok('informer-sync')]);

const assertTextHeaders = (res: request.Response) => {
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
};

describe('healthRouter', () => {
  it('answers ok on /livez, /readyz and /healthz', async () => {
    const { app: a } = standard();
    for (const path of ['/livez', '/readyz', '/healthz']) {
      const res = await request(a).get(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.text, 'ok', path);
      assertTextHeaders(res);
    }
  });

  it('lists every check with ?verbose, in order, readyz ending with shutdown', async () => {
    const { app: a } = standard();
    const livez = await request(a).get('/livez?verbose');
    assert.equal(livez.status, 200);
    assert.equal(livez.text, '[+]ping ok\n[+]log ok\n[+]poststarthook/start-informers ok\nlivez check passed\n');
    assertTextHeaders(livez);
    const readyz = await request(a).get('/readyz?verbose=1');
    assert.equal(readyz.text, '[+]ping ok\n[+]log ok\n[+]informer-sync ok\n[+]shutdown ok\nreadyz check passed\n');
  });

  it('serves the union of livez and readyz checks on /healthz, without shutdown', async () => {
    const { app: a } = standard();
    const res = await request(a).get('/healthz?verbose');
    assert.equal(
      res.text,
      '[+]ping ok\n[+]log ok\n[+]poststarthook/start-informers ok\n[+]informer-sync ok\nhealthz check passed\n',
    );
  });

  it('reports excluded checks and warns about unknown names', async () => {
    const { app: a } = standard();
    const res = await request(a).get('/readyz?verbose&exclude=log&exclude=zeta&exclude=alpha');
    assert.equal(res.status, 200);
    assert.equal(
      res.text,
      '[+]ping ok\n[+]log excluded: ok\n[+]informer-sync ok\n[+]shutdown ok\n' +
        'warn: some health checks cannot be excluded: no matches for "alpha","zeta"\n' +
        'readyz check passed\n',
    );
    const quiet = await request(a).get('/readyz?exclude=log');
    assert.equal(quiet.text, 'ok');
  });

  it('fails with 500 and verbose output when a check fails, withholding the reason', async () => {
    const { app: a } = app([pingCheck, failing('etcd'), ok('log')], []);
    const res = await request(a).get('/livez');
    assert.equal(res.status, 500);
    assert.equal(res.text, '[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nlivez check failed\n');
    assertTextHeaders(res);
    const healthz = await request(a).get('/healthz?verbose');
    assert.equal(healthz.status, 500);
    assert.equal(healthz.text, '[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nhealthz check failed\n');
  });

  it('passes again when the failing check is excluded', async () => {
    const { app: a } = app([pingCheck, failing('etcd')], []);
    const res = await request(a).get('/livez?exclude=etcd&verbose');
    assert.equal(res.status, 200);
    assert.equal(res.text, '[+]ping ok\n[+]etcd excluded: ok\nlivez check passed\n');
  });

  it('serves each check on its own path, with the reason on failure', async () => {
    const { app: a } = app([pingCheck, failing('etcd', 'connection refused'), ok('poststarthook/start-informers')], []);
    const ping = await request(a).get('/livez/ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.text, 'ok');
    const hook = await request(a).get('/livez/poststarthook/start-informers');
    assert.equal(hook.status, 200);
    assert.equal(hook.text, 'ok');
    const etcd = await request(a).get('/healthz/etcd');
    assert.equal(etcd.status, 500);
    assert.equal(etcd.text, 'internal server error: connection refused\n');
    assertTextHeaders(etcd);
    assert.equal((await request(a).get('/livez/nope')).status, 404);
    assert.equal((await request(a).get('/readyz/etcd')).status, 404);
  });

  it('fails readyz but not livez once shutting down', async () => {
    const { app: a, router } = standard();
    router.markShuttingDown();
    const readyz = await request(a).get('/readyz');
    assert.equal(readyz.status, 500);
    assert.equal(
      readyz.text,
      '[+]ping ok\n[+]log ok\n[+]informer-sync ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n',
    );
    const single = await request(a).get('/readyz/shutdown');
    assert.equal(single.status, 500);
    assert.equal(single.text, 'internal server error: process is shutting down\n');
    assert.equal((await request(a).get('/livez')).text, 'ok');
    assert.equal((await request(a).get('/healthz')).text, 'ok');
  });

  it('keeps routers independent', async () => {
    const first = standard();
    const second = standard();
    first.router.markShuttingDown();
    assert.equal((await request(second.app).get('/readyz')).status, 200);
  });

  it('leaves other paths and methods to later handlers', async () => {
    const { app: a } = standard();
    assert.equal((await request(a).get('/livezz')).status, 404);
    assert.equal((await request(a).post('/livez')).status, 404);
  });
});
