import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:https';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { verifyChain } from '../../apiserver/auth/x509.ts';
import { requestHeaderConfigFrom, stripHeaders, userFromRequestHeaders } from '../../apiserver/auth/requestheader.ts';
import { TTLCache } from '../../apiserver/auth/ttlcache.ts';
import { ClusterClient, fetchAuthenticationConfigMap } from '../../apiserver/auth/kubeapi.ts';
import { APIError } from '../../api/client/types.ts';
import { close, listen, makeCerts, portOf } from './auth-fixtures.ts';

// --- a tiny certificate factory for chains pki.ts does not make (intermediates, expired leaves, EKUs) ---

interface Issued {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  x509: X509Certificate;
}

const HOUR = 3600_000;
let serial = 1;

function issue(cn: string, opts: { by?: Issued; ca?: boolean; from?: number; to?: number; eku?: 'client' | 'server' }): Issued {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = (serial++).toString(16).padStart(4, '0');
  cert.validity.notBefore = new Date(Date.now() + (opts.from ?? -HOUR));
  cert.validity.notAfter = new Date(Date.now() + (opts.to ?? HOUR));
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer(opts.by ? opts.by.cert.subject.attributes : [{ name: 'commonName', value: cn }]);
  const ext: object[] = [{ name: 'basicConstraints', cA: opts.ca ?? false, critical: true }];
  if (opts.ca) ext.push({ name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true });
  if (opts.eku === 'client') ext.push({ name: 'extKeyUsage', clientAuth: true });
  if (opts.eku === 'server') ext.push({ name: 'extKeyUsage', serverAuth: true });
  cert.setExtensions(ext);
  const key = forge.pki.privateKeyFromPem(privateKey);
  cert.sign(opts.by ? opts.by.key : key, forge.md.sha256.create());
  return { cert, key, x509: new X509Certificate(forge.pki.certificateToPem(cert)) };
}

describe('verifyChain', () => {
  const root = issue('front-proxy-ca', { ca: true });
  const intermediate = issue('front-proxy-intermediate', { ca: true, by: root });
  const other = issue('other-ca', { ca: true });

  it('accepts a leaf signed directly by a CA of the bundle', () => {
    assert.equal(verifyChain([issue('p', { by: root, eku: 'client' }).x509], [root.x509]), undefined);
  });

  it('follows presented intermediates to the bundle', () => {
    const leaf = issue('p', { by: intermediate, eku: 'client' });
    assert.equal(verifyChain([leaf.x509, intermediate.x509], [root.x509]), undefined);
    assert.equal(verifyChain([leaf.x509], [root.x509]), 'certificate signed by unknown authority');
  });

  it('refuses an intermediate that is not a CA', () => {
    const notCA = issue('not-a-ca', { by: root });
    const leaf = issue('p', { by: notCA, eku: 'client' });
    assert.equal(verifyChain([leaf.x509, notCA.x509], [root.x509]), 'certificate signed by unknown authority');
  });

  it('refuses expired and not-yet-valid certificates', () => {
    assert.match(verifyChain([issue('p', { by: root, from: -2 * HOUR, to: -HOUR }).x509], [root.x509]) ?? '', /expired or is not yet valid/);
    assert.match(verifyChain([issue('p', { by: root, from: HOUR, to: 2 * HOUR }).x509], [root.x509]) ?? '', /expired or is not yet valid/);
  });

  it('refuses a leaf only good for serving, and one from another CA', () => {
    assert.match(verifyChain([issue('p', { by: root, eku: 'server' }).x509], [root.x509]) ?? '', /client authentication/);
    assert.equal(verifyChain([issue('p', { by: other, eku: 'client' }).x509], [root.x509]), 'certificate signed by unknown authority');
  });
});

// --- request headers, on an IncomingMessage built by hand ---

/** What inspect() makes of a real request carrying exactly the raw headers given (names, values, in order). */
async function throughServer<T>(raw: string[], inspect: (req: IncomingMessage) => T): Promise<T> {
  let seen: T | undefined;
  const server = createHttpServer((req, res) => {
    seen = inspect(req);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: ['Host', 'localhost', ...raw], agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
  }
  return seen as T;
}

describe('request-header parsing', () => {
  const data = {
    'requestheader-client-ca-file': '',
    'requestheader-username-headers': '["X-Remote-User","X-Other-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
    'requestheader-allowed-names': '[]',
  };

  it('is disabled without a requestheader CA', () => {
    assert.equal(requestHeaderConfigFrom(data), undefined);
  });

  it('reads the JSON lists of the ConfigMap and rejects malformed ones', async () => {
    const certs = await makeCerts();
    try {
      const cfg = requestHeaderConfigFrom({ ...data, 'requestheader-client-ca-file': certs.proxy.caCert });
      assert.ok(cfg);
      assert.equal(cfg.cas.length, 1);
      assert.deepEqual(cfg.usernameHeaders, ['X-Remote-User', 'X-Other-User']);
      assert.deepEqual(cfg.allowedNames, []);
      assert.deepEqual(cfg.uidHeaders, []);
      assert.throws(() => requestHeaderConfigFrom({ ...data, 'requestheader-client-ca-file': certs.proxy.caCert, 'requestheader-allowed-names': '"x"' }));
    } finally {
      certs.cleanup();
    }
  });

  const cfg = { cas: [], allowedNames: [], usernameHeaders: ['X-Remote-User', 'X-Other-User'], uidHeaders: [], groupHeaders: ['X-Remote-Group'], extraHeaderPrefixes: ['X-Remote-Extra-'] };

  it('takes the first non-empty username header, every group value, and decoded lower-case extra keys', async () => {
    const user = await throughServer([
      'X-Remote-User', '',
      'X-Other-User', 'dave',
      'X-Remote-Group', 'g1',
      'x-remote-group', 'g2',
      'X-Remote-Extra-Reason%2fWhy', 'a',
      'X-Remote-Extra-reason%2fwhy', 'b',
      'X-Remote-Extra-Bad%zz', 'c',
      'Accept', 'application/json',
    ], (req) => userFromRequestHeaders(req, cfg));
    assert.deepEqual(user, {
      name: 'dave',
      groups: ['g1', 'g2'],
      extra: { 'reason/why': ['a', 'b'], 'bad%zz': ['c'] },
    });
    assert.equal(await throughServer(['X-Remote-Group', 'g1'], (req) => userFromRequestHeaders(req, cfg)), undefined);
  });

  it('strips matching headers from headers, headersDistinct and rawHeaders', async () => {
    const seen = await throughServer(['X-Remote-User', 'u', 'Accept', 'a', 'x-remote-extra-k', 'v'], (req) => {
      stripHeaders(req, (h) => h.toLowerCase().startsWith('x-remote-'));
      return { raw: [...req.rawHeaders], headers: Object.keys(req.headers), distinct: Object.keys(req.headersDistinct) };
    });
    assert.deepEqual(seen.raw.filter((h) => /remote/i.test(h)), []);
    assert.ok(seen.raw.includes('Accept'));
    assert.ok(seen.headers.includes('accept') && !seen.headers.some((h) => h.startsWith('x-remote')), seen.headers.join());
    assert.ok(seen.distinct.includes('accept') && !seen.distinct.some((h) => h.startsWith('x-remote')), seen.distinct.join());
  });
});

describe('TTLCache', () => {
  it('shares one load between concurrent misses and keeps it for its TTL', async () => {
    let now = 0;
    let loads = 0;
    const cache = new TTLCache<number>(() => now);
    const load = async () => ({ value: ++loads, ttlMs: 100 });
    assert.deepEqual(await Promise.all([cache.get('k', load), cache.get('k', load)]), [1, 1]);
    now = 99;
    assert.equal(await cache.get('k', load), 1);
    now = 100;
    assert.equal(await cache.get('k', load), 2);
  });

  it('does not keep a failed load', async () => {
    const cache = new TTLCache<string>();
    await assert.rejects(cache.get('k', () => Promise.reject(new Error('down'))), /down/);
    assert.equal(await cache.get('k', async () => ({ value: 'up', ttlMs: 1000 })), 'up');
    assert.equal(cache.size, 1);
  });

  it('stays bounded under a flood of distinct keys', async () => {
    const cache = new TTLCache<number>();
    for (let i = 0; i < 10_000; i++) await cache.get(`k${i}`, async () => ({ value: i, ttlMs: 60_000 }));
    assert.ok(cache.size <= 4096, String(cache.size));
  });
});

describe('ClusterClient', () => {
  it('retries 5xx answers, returns undefined for 404, and reports other errors with their status', async () => {
    const certs = await makeCerts();
    let attempts = 0;
    const server = createServer({ key: certs.cluster.serverKey, cert: certs.cluster.serverCert }, (req, res) => {
      if (req.url === '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication') {
        attempts++;
        if (attempts < 3) {
          res.writeHead(503).end('{"kind":"Status","message":"starting"}');
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ data: { 'client-ca-file': 'PEM', n: 1 } }));
        return;
      }
      if (req.url === '/forbidden') {
        res.writeHead(403).end('{"kind":"Status","message":"nope"}');
        return;
      }
      res.writeHead(404).end('{}');
    });
    await listen(server);
    const client = new ClusterClient({ server: `https://127.0.0.1:${portOf(server)}`, caPem: certs.cluster.caCert, token: () => 'abc' }, { retries: 3, backoffMs: 1 });
    try {
      assert.deepEqual(await fetchAuthenticationConfigMap(client), { 'client-ca-file': 'PEM' });
      assert.equal(attempts, 3);
      assert.equal(await client.getJSON('/missing'), undefined);
      await assert.rejects(client.getJSON('/forbidden'), (e: unknown) => e instanceof APIError && e.code === 403 && e.message === 'GET /forbidden: 403 nope');
    } finally {
      client.close();
      await close(server);
      certs.cleanup();
    }
  });
});
