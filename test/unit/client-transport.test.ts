import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStandalonePKI, issueClientCertificate, type PKI } from '../../apiserver/auth/pki.ts';
import { statusError, Transport } from '../../api/client/transport.ts';
import { APIError } from '../../api/client/types.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  caller?: string;
}

let dir: string;
let pki: PKI;
let server: Server;
let base: string;
const seen: Seen[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'client-transport-'));
  pki = await ensureStandalonePKI(dir, { hosts: ['127.0.0.1'] });
  server = createServer({ key: pki.serverKey, cert: pki.serverCert, ca: [pki.caCert], requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, caller: typeof cn === 'string' ? cn : undefined });
      if (req.url?.endsWith('/slow')) return; // never answers
      if (req.url?.endsWith('/conflict')) {
        res.writeHead(409).end(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'the object has been modified', reason: 'Conflict', code: 409 }));
        return;
      }
      if (req.url?.endsWith('/text')) {
        res.writeHead(200).end('not json');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: body ? (JSON.parse(body) as unknown) : null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const last = () => seen[seen.length - 1];

describe('Transport', () => {
  it('sends JSON under the server path prefix with the accept and user-agent asked for, and a token read per request', async () => {
    let n = 0;
    const t = new Transport({ server: `${base}/prefix/`, caPem: pki.caCert, token: () => `tok-${++n}` }, { userAgent: 'ua-test', timeoutMs: 5000, accept: 'application/json, application/jwk-set+json' });
    try {
      assert.deepEqual(await t.json('POST', '/apis/x/v1/things?dryRun=All', { a: 1 }), { echo: { a: 1 } });
      assert.equal(last().method, 'POST');
      assert.equal(last().url, '/prefix/apis/x/v1/things?dryRun=All');
      assert.equal(last().headers.authorization, 'Bearer tok-1');
      assert.equal(last().headers.accept, 'application/json, application/jwk-set+json');
      assert.equal(last().headers['user-agent'], 'ua-test');
      assert.equal(last().headers['content-type'], 'application/json');
      await t.json('PATCH', '/p', [], 'application/json-patch+json');
      assert.equal(last().headers.authorization, 'Bearer tok-2');
      assert.equal(last().headers['content-type'], 'application/json-patch+json');
    } finally {
      t.close();
    }
  });

  it('presents the client certificate, and basic auth only without a token', async () => {
    const alice = issueClientCertificate(pki, 'alice', []);
    const t = new Transport({ server: base, caPem: pki.caCert, certPem: alice.cert, keyPem: alice.key, basicAuth: { username: 'u', password: 'p' } }, { userAgent: 'x', timeoutMs: 5000 });
    const withToken = new Transport({ server: base, caPem: pki.caCert, token: 'static', basicAuth: { username: 'u', password: 'p' } }, { userAgent: 'x', timeoutMs: 5000 });
    try {
      await t.json('GET', '/who');
      assert.equal(last().caller, 'alice');
      assert.equal(last().headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
      assert.equal(last().headers.accept, 'application/json');
      await withToken.json('GET', '/who');
      assert.equal(last().headers.authorization, 'Bearer static');
      assert.equal(last().caller, undefined);
    } finally {
      t.close();
      withToken.close();
    }
  });

  it('turns Status answers and non-JSON bodies into APIError, and gives up after timeoutMs', async () => {
    const t = new Transport({ server: base, caPem: pki.caCert }, { userAgent: 'x', timeoutMs: 100 });
    try {
      await assert.rejects(t.json('PUT', '/conflict', {}), (e: unknown) => e instanceof APIError && e.code === 409 && e.reason === 'Conflict' && e.message === 'the object has been modified');
      await assert.rejects(t.json('GET', '/text'), (e: unknown) => e instanceof APIError && e.code === 500 && e.message === 'GET /text: the answer is not JSON');
      assert.deepEqual(await t.send('GET', '/text'), { status: 200, body: 'not json' });
      await assert.rejects(t.json('GET', '/slow'), /GET \/slow: timed out after 100 ms/);
    } finally {
      t.close();
    }
  });

  it('refuses anything but https and a server whose certificate it cannot verify', async () => {
    assert.throws(() => new Transport({ server: 'http://127.0.0.1:1' }, { userAgent: 'x', timeoutMs: 100 }), /only https/);
    const untrusted = new Transport({ server: base }, { userAgent: 'x', timeoutMs: 5000 });
    const skipping = new Transport({ server: base, insecureSkipTLSVerify: true }, { userAgent: 'x', timeoutMs: 5000 });
    try {
      await assert.rejects(untrusted.json('GET', '/x'), /self-signed|unable to verify|certificate/i);
      assert.deepEqual(await skipping.json('GET', '/x'), { echo: null });
    } finally {
      untrusted.close();
      skipping.close();
    }
  });
});

describe('statusError', () => {
  it('takes code, reason and message from a Status, or a reason from the HTTP code', () => {
    const e = statusError(409, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'the object has been modified', reason: 'Conflict', code: 409 }));
    assert.deepEqual([e.code, e.reason, e.message], [409, 'Conflict', 'the object has been modified']);
    const p = statusError(404, '404 page not found\n');
    assert.deepEqual([p.code, p.reason, p.message], [404, 'NotFound', '404 page not found']);
    const empty = statusError(502, '');
    assert.deepEqual([empty.code, empty.reason, empty.message], [502, 'Unknown', 'the server responded with status 502']);
  });
});
