// The counting proxy bench/provision puts in front of Ironic: it must pass requests and replies through
// unchanged and count each by kind, or the benchmark's requests-per-host figures mean nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestKind, startCountingProxy, subtractCounts } from '../../bench/provision/proxy.ts';

test('requestKind folds node identifiers, UUIDs and query strings', () => {
  assert.equal(requestKind('GET', '/v1/nodes/1be26c0b-03f2-4d2e-ae87-c02d7f33c123?fields=uuid'), 'GET /v1/nodes/{id}');
  assert.equal(requestKind('GET', '/v1/nodes/bench~bench-0001'), 'GET /v1/nodes/{id}');
  assert.equal(requestKind('PUT', '/v1/nodes/1be26c0b-03f2-4d2e-ae87-c02d7f33c123/states/provision'), 'PUT /v1/nodes/{id}/states/provision');
  assert.equal(requestKind('GET', '/v1/nodes?fields=uuid&limit=1000'), 'GET /v1/nodes');
  assert.equal(requestKind('GET', '/'), 'GET /');
});

test('subtractCounts keeps only what a phase added', () => {
  const earlier = { total: 3, byKind: { 'GET /': 1, 'GET /v1/nodes/{id}': 2 }, errors: { '404': 1 } };
  const later = { total: 7, byKind: { 'GET /': 1, 'GET /v1/nodes/{id}': 5, 'POST /v1/nodes': 1 }, errors: { '404': 1, '409': 2 } };
  assert.deepEqual(subtractCounts(later, earlier), { total: 4, byKind: { 'GET /v1/nodes/{id}': 3, 'POST /v1/nodes': 1 }, errors: { '409': 2 } });
});

test('the proxy forwards bodies and statuses and counts every request', async () => {
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const proxy = await startCountingProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  try {
    const put = await fetch(`${proxy.endpoint}/v1/nodes/abc/states/power`, { method: 'PUT', body: '{"target":"power on"}' });
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { echo: '{"target":"power on"}' });
    const missing = await fetch(`${proxy.endpoint}/missing`);
    assert.equal(missing.status, 404);
    await missing.text();
    assert.deepEqual(seen, ['PUT /v1/nodes/abc/states/power {"target":"power on"}', 'GET /missing ']);
    assert.deepEqual(proxy.counts(), { total: 2, byKind: { 'PUT /v1/nodes/{id}/states/power': 1, 'GET /missing': 1 }, errors: { '404': 1 } });
  } finally {
    await proxy.close();
    upstream.close();
  }
});
