// Standalone mode trusts client certificates only: front-proxy headers (X-Remote-User and friends) carry
// no identity there. A request with them and no certificate is 401, against the real server; with the
// admin certificate it is still the admin, whatever the headers claim.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { startStandalone, type Standalone } from '../../apiserver/standalone.ts';
import { clientCertAuthenticator } from '../../apiserver/auth/authn.ts';

const forged = { 'X-Remote-User': 'alice', 'X-Remote-Group': 'system:masters', 'X-Remote-Extra-Scopes': 'all' };

let dir: string;
let server: Standalone;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metal3-identity-'));
  server = await startStandalone({ dataDir: dir, port: 0, bindAddress: '127.0.0.1' });
});
after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

function get(port: number, path: string, opts: { cert?: string; key?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, agent: false, ca: server.pki.caCert, cert: opts.cert, key: opts.key, headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('no certificate: 401 on every path, front-proxy headers or not', async () => {
  for (const path of ['/api/v1/namespaces/default/secrets', '/apis/metal3.io/v1alpha1/baremetalhosts', '/healthz', '/version', '/openapi/v2']) {
    for (const headers of [{}, forged]) {
      const r = await get(server.port, path, { headers });
      assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { reason: string }).reason, 'Unauthorized');
    }
  }
});

test('with the admin certificate, forged headers change nothing: the request is the admin', async () => {
  // The identity the server's own authenticator gives, shown on a probe endpoint behind it.
  const app = express();
  app.use(clientCertAuthenticator({ caPem: server.pki.caCert }));
  app.get('/whoami', (req, res) => {
    res.json({ user: res.locals.user, remoteUser: req.headers['x-remote-user'] ?? null });
  });
  const probe = https.createServer({ key: server.pki.serverKey, cert: server.pki.serverCert, ca: server.pki.caCert, requestCert: true, rejectUnauthorized: false }, app);
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  try {
    const port = (probe.address() as AddressInfo).port;
    const r = await get(port, '/whoami', { cert: server.pki.adminCert, key: server.pki.adminKey, headers: forged });
    assert.equal(r.status, 200, r.body);
    const seen = JSON.parse(r.body) as { user: { name: string; groups: string[] } };
    assert.equal(seen.user.name, 'admin');
    assert.ok(!seen.user.groups.includes('alice'));
    const without = JSON.parse((await get(port, '/whoami', { cert: server.pki.adminCert, key: server.pki.adminKey })).body) as { user: unknown };
    assert.deepEqual(seen.user, without.user);
  } finally {
    probe.close();
  }
  // And the real server serves the admin as usual with the headers present.
  assert.equal((await get(server.port, '/api/v1/namespaces/default/secrets', { cert: server.pki.adminCert, key: server.pki.adminKey, headers: forged })).status, 200);
});
