import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensureStandalonePKI, issueClientCertificate, signedBy } from '../../apiserver/auth/pki.ts';
import type { PKI } from '../../apiserver/auth/pki.ts';
import { writeKubeconfig } from '../../apiserver/auth/kubeconfig.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const HOSTS = ['127.0.0.1', 'localhost', '::1', 'metal3-apiserver.metal3.svc'];
const FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'admin.crt', 'admin.key'];
const YEAR_MS = 365 * 24 * 3600 * 1000;

const lifetime = (c: X509Certificate) => Date.parse(c.validTo) - Date.parse(c.validFrom);
const mtimes = (dir: string) => Object.fromEntries(FILES.map((f) => [f, statSync(join(dir, f)).mtimeMs]));

describe('ensureStandalonePKI', () => {
  let dataDir: string;
  let pki: PKI;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pki-test-'));
    pki = await ensureStandalonePKI(dataDir, { hosts: HOSTS });
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('writes the six PEM files under dataDir/pki, keys readable only by the owner', () => {
    assert.equal(pki.dir, join(dataDir, 'pki'));
    for (const f of FILES.filter((name) => name.endsWith('.key'))) {
      assert.equal(statSync(join(pki.dir, f)).mode & 0o777, 0o600, f);
    }
    assert.equal(readFileSync(join(pki.dir, 'ca.crt'), 'utf8'), pki.caCert);
    assert.equal(readFileSync(join(pki.dir, 'server.key'), 'utf8'), pki.serverKey);
    assert.equal(readFileSync(join(pki.dir, 'admin.crt'), 'utf8'), pki.adminCert);
  });

  it('creates a self-signed 10-year CA', () => {
    const ca = new X509Certificate(pki.caCert);
    assert.equal(ca.ca, true);
    assert.equal(ca.subject, 'CN=metal3-apiserver-ca');
    assert.equal(ca.issuer, ca.subject);
    assert.ok(signedBy(pki.caCert, pki.caCert));
    assert.ok(lifetime(ca) >= 10 * YEAR_MS);
  });

  it('creates a one-year serving certificate for every requested host', () => {
    const server = new X509Certificate(pki.serverCert);
    assert.ok(signedBy(pki.caCert, pki.serverCert));
    assert.equal(server.ca, false);
    assert.deepEqual(server.keyUsage, [SERVER_AUTH]);
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(server.checkIP('::1'));
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkHost('metal3-apiserver.metal3.svc'), 'metal3-apiserver.metal3.svc');
    assert.equal(server.checkHost('example.com'), undefined);
    assert.ok(lifetime(server) >= YEAR_MS && lifetime(server) < 2 * YEAR_MS);
    assert.ok(server.checkPrivateKey(createPrivateKey(pki.serverKey)));
  });

  it('creates the admin client certificate in system:masters', () => {
    const admin = new X509Certificate(pki.adminCert);
    assert.ok(signedBy(pki.caCert, pki.adminCert));
    assert.deepEqual(admin.keyUsage, [CLIENT_AUTH]);
    assert.equal(admin.subject, 'CN=admin\nO=system:masters');
    assert.ok(admin.checkPrivateKey(createPrivateKey(pki.adminKey)));
  });

  it('reuses the files on a later run without rewriting them', async () => {
    const before = mtimes(pki.dir);
    const again = await ensureStandalonePKI(dataDir, { hosts: ['localhost', '127.0.0.1'] });
    assert.deepEqual(again, pki);
    assert.deepEqual(mtimes(pki.dir), before);
  });

  it('re-issues only the serving certificate when a new host is requested', async () => {
    const before = mtimes(pki.dir);
    const next = await ensureStandalonePKI(dataDir, { hosts: [...HOSTS, 'api.example.test', '10.0.0.7'] });
    assert.equal(next.caCert, pki.caCert);
    assert.equal(next.adminCert, pki.adminCert);
    assert.notEqual(next.serverCert, pki.serverCert);
    const server = new X509Certificate(next.serverCert);
    assert.ok(server.checkHost('api.example.test'));
    assert.ok(server.checkIP('10.0.0.7'));
    assert.ok(server.checkHost('metal3-apiserver.metal3.svc'));
    const after = mtimes(next.dir);
    assert.equal(after['ca.key'], before['ca.key']);
    assert.equal(after['admin.crt'], before['admin.crt']);
    pki = next;
  });

  it('re-issues a leaf whose key file went missing', async () => {
    unlinkSync(join(pki.dir, 'admin.key'));
    const next = await ensureStandalonePKI(dataDir, { hosts: HOSTS });
    assert.notEqual(next.adminCert, pki.adminCert);
    assert.equal(next.caCert, pki.caCert);
    assert.equal(next.serverCert, pki.serverCert);
    assert.ok(signedBy(next.caCert, next.adminCert));
    pki = next;
  });

  it('issues client certificates with CN as user and O as groups', () => {
    const issued = issueClientCertificate(pki, 'alice', ['dev', 'ops']);
    const cert = new X509Certificate(issued.cert);
    assert.equal(cert.subject, 'CN=alice\nO=dev\nO=ops');
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.ok(signedBy(pki.caCert, issued.cert));
    assert.ok(cert.checkPrivateKey(createPrivateKey(issued.key)));
  });

  it('signedBy rejects certificates of another CA and garbage', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'pki-other-'));
    try {
      const other = await ensureStandalonePKI(otherDir, { hosts: ['localhost'] });
      assert.equal(signedBy(pki.caCert, other.adminCert), false);
      assert.equal(signedBy(other.caCert, pki.serverCert), false);
      assert.equal(signedBy(pki.adminCert, pki.caCert), false);
      assert.equal(signedBy(pki.caCert, 'not a certificate'), false);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('writes a kubeconfig with embedded credentials, mode 0600', () => {
    const path = join(dataDir, 'nested', 'admin.kubeconfig');
    writeKubeconfig(path, {
      server: 'https://127.0.0.1:6443',
      caPem: pki.caCert,
      certPem: pki.adminCert,
      keyPem: pki.adminKey,
    });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const cfg = parse(readFileSync(path, 'utf8'));
    const decode = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    assert.equal(cfg.apiVersion, 'v1');
    assert.equal(cfg.kind, 'Config');
    assert.equal(cfg['current-context'], 'metal3');
    assert.deepEqual(cfg.contexts, [{ name: 'metal3', context: { cluster: 'metal3', user: 'metal3' } }]);
    assert.equal(cfg.clusters[0].name, 'metal3');
    assert.equal(cfg.clusters[0].cluster.server, 'https://127.0.0.1:6443');
    assert.equal(decode(cfg.clusters[0].cluster['certificate-authority-data']), pki.caCert);
    assert.equal(cfg.users[0].name, 'metal3');
    assert.equal(decode(cfg.users[0].user['client-certificate-data']), pki.adminCert);
    assert.equal(decode(cfg.users[0].user['client-key-data']), pki.adminKey);
  });

  it('names the kubeconfig user and context as asked', () => {
    const path = join(dataDir, 'alice.kubeconfig');
    writeKubeconfig(path, {
      server: 'https://localhost:8443',
      caPem: pki.caCert,
      certPem: pki.adminCert,
      keyPem: pki.adminKey,
      user: 'alice',
      context: 'dev',
    });
    const cfg = parse(readFileSync(path, 'utf8'));
    assert.equal(cfg['current-context'], 'dev');
    assert.deepEqual(cfg.contexts, [{ name: 'dev', context: { cluster: 'dev', user: 'alice' } }]);
    assert.equal(cfg.users[0].name, 'alice');
  });
});
