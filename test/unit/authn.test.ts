import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { clientCertAuthenticator } from '../../apiserver/auth/authn.ts';
import { ensureStandalonePKI, issueClientCertificate } from '../../apiserver/auth/pki.ts';
import type { PKI } from '../../apiserver/auth/pki.ts';

const UNAUTHORIZED =
  '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}';

interface Reply {
  status: number;
  contentType: string | undefined;
  body: string;
}

function get(port: number, path: string, tls: { ca: string; cert?: string; key?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // agent: false so no TLS session or connection is reused across identities.
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listen(pki: PKI, trusted: string[], authCA: string): Promise<Server> {
  const app = express();
  app.use(clientCertAuthenticator({ caPem: authCA }));
  app.get('/whoami', (_req, res) => {
    res.json(res.locals.user);
  });
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  const server = createServer(
    { key: pki.serverKey, cert: pki.serverCert, ca: trusted, requestCert: true, rejectUnauthorized: false },
    app,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (s: Server) => (s.address() as AddressInfo).port;

describe('clientCertAuthenticator', () => {
  let dir: string;
  let pki: PKI;
  let foreign: PKI;
  let server: Server;
  // Trusts both CAs at the TLS layer but authenticates only against ours, as with a front-proxy CA.
  let mixedServer: Server;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'authn-test-'));
    pki = await ensureStandalonePKI(join(dir, 'ours'), { hosts: ['127.0.0.1', 'localhost'] });
    foreign = await ensureStandalonePKI(join(dir, 'foreign'), { hosts: ['127.0.0.1'] });
    server = await listen(pki, [pki.caCert], pki.caCert);
    mixedServer = await listen(pki, [pki.caCert, foreign.caCert], pki.caCert);
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await new Promise((r) => mixedServer.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 401 with a Status when no certificate is presented', async () => {
    const r = await get(portOf(server), '/whoami', { ca: pki.caCert });
    assert.equal(r.status, 401);
    assert.match(r.contentType ?? '', /^application\/json/);
    assert.equal(r.body, UNAUTHORIZED);
  });

  it('protects /healthz as well: there is no anonymous access', async () => {
    const r = await get(portOf(server), '/healthz', { ca: pki.caCert });
    assert.equal(r.status, 401);
    assert.equal(r.body, UNAUTHORIZED);
  });

  it('answers 401 for a certificate signed by another CA', async () => {
    const r = await get(portOf(server), '/whoami', { ca: pki.caCert, cert: foreign.adminCert, key: foreign.adminKey });
    assert.equal(r.status, 401);
    assert.equal(r.body, UNAUTHORIZED);
  });

  it('answers 401 when the TLS layer trusts the issuer but the authenticator does not', async () => {
    const r = await get(portOf(mixedServer), '/whoami', {
      ca: pki.caCert,
      cert: foreign.adminCert,
      key: foreign.adminKey,
    });
    assert.equal(r.status, 401);
    assert.equal(r.body, UNAUTHORIZED);
  });

  it('answers 401 for a serving certificate used as a client certificate', async () => {
    const r = await get(portOf(server), '/whoami', { ca: pki.caCert, cert: pki.serverCert, key: pki.serverKey });
    assert.equal(r.status, 401);
  });

  it('authenticates the admin certificate: CN is the user, O the groups', async () => {
    const r = await get(portOf(server), '/whoami', { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { name: 'admin', groups: ['system:masters', 'system:authenticated'] });
  });

  it('authenticates other users of the CA with their groups', async () => {
    const alice = issueClientCertificate(pki, 'alice', ['dev', 'ops']);
    const r = await get(portOf(mixedServer), '/whoami', { ca: pki.caCert, cert: alice.cert, key: alice.key });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { name: 'alice', groups: ['dev', 'ops', 'system:authenticated'] });
    const bob = issueClientCertificate(pki, 'bob', []);
    const r2 = await get(portOf(server), '/healthz', { ca: pki.caCert, cert: bob.cert, key: bob.key });
    assert.equal(r2.status, 200);
    assert.equal(r2.body, 'ok');
  });

  it('refuses to start without a CA certificate', () => {
    assert.throws(() => clientCertAuthenticator({ caPem: '' }), /no certificate/);
  });
});
