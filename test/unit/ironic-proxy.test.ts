// The counting proxy that bench/provision and the drills put in front of Ironic: it must pass requests and
// replies through unchanged and count each by kind, or the benchmark's requests-per-host figures mean
// nothing; and it must record each accepted node operation under the node's name, or a drill's "no
// duplicated Ironic operation" means nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { duplicateOperations, requestKind, startCountingProxy, subtractCounts, type NodeOperation } from '../support/ironic-proxy.ts';

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
    assert.deepEqual(proxy.counts(), { total: 2, byKind: { 'PUT /v1/nodes/{id}/states/power': 1, 'GET /missing': 1 }, errors: { '404 GET /missing': 1 } });
  } finally {
    await proxy.close();
    upstream.close();
  }
});

test('the proxy records accepted node operations under the name the node was created with', async () => {
  // A miniature Ironic: creations answer 201 with a UUID, a provision change of node "locked" answers 409.
  const uuid = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123';
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/nodes') {
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ uuid, name: 'ns~host-0' }));
      } else if (req.url?.startsWith('/v1/nodes/locked/')) {
        res.writeHead(409, { 'Content-Type': 'application/json' });
        res.end('{}');
      } else {
        res.writeHead(202);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const proxy = await startCountingProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  const send = async (method: string, path: string, body: unknown) => {
    const r = await fetch(`${proxy.endpoint}${path}`, { method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    await r.text();
    return r.status;
  };
  try {
    assert.equal(await send('POST', '/v1/nodes', { name: 'ns~host-0', driver: 'fake-hardware' }), 201);
    assert.equal(await send('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' }), 202);
    assert.equal(await send('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' }), 202);
    assert.equal(await send('PUT', '/v1/nodes/ns~host-1/states/provision', { target: 'inspect' }), 202);
    assert.equal(await send('PUT', '/v1/nodes/locked/states/provision', { target: 'provide' }), 409);
    assert.equal(await send('GET', `/v1/nodes/${uuid}`, undefined), 202);
    const ops = proxy.operations().map(({ op, node, target, status }) => ({ op, node, target, status }));
    assert.deepEqual(ops, [
      { op: 'create', node: 'ns~host-0', target: undefined, status: 201 },
      { op: 'provision', node: 'ns~host-0', target: 'manage', status: 202 },
      { op: 'power', node: 'ns~host-0', target: 'power on', status: 202 },
      { op: 'provision', node: 'ns~host-1', target: 'inspect', status: 202 },
    ]);
    assert.ok(proxy.operations().every((o) => o.at > 0));
    assert.equal(proxy.requestTimes().length, 6);
  } finally {
    await proxy.close();
    upstream.close();
  }
});

test('duplicateOperations finds a node created twice and a provision target accepted twice, not power changes', () => {
  const op = (o: Partial<NodeOperation>): NodeOperation => ({ op: 'provision', node: 'ns~a', status: 202, at: 0, ...o });
  const clean = [op({ op: 'create' }), op({ target: 'manage' }), op({ target: 'inspect' }), op({ target: 'provide' }), op({ target: 'active' }), op({ op: 'power', target: 'power on' }), op({ op: 'power', target: 'power on' }), op({ node: 'ns~b', target: 'manage' })];
  assert.deepEqual(duplicateOperations(clean), []);
  assert.deepEqual(duplicateOperations([...clean, op({ op: 'create' }), op({ target: 'inspect' })]), ['create ns~a accepted 2 times', 'ns~a provision inspect accepted 2 times']);
});
