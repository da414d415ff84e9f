import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { connectionFromKubeconfig, inClusterConnection, readKubeconfig } from '../../api/client/kubeconfig.ts';
import { buildKubeconfig } from '../../apiserver/auth/kubeconfig.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'client-kubeconfig-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const twoContexts = stringify({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'b',
  clusters: [
    { name: 'c1', cluster: { server: 'https://a:1', 'certificate-authority-data': Buffer.from('CA-DATA').toString('base64'), 'insecure-skip-tls-verify': true } },
    { name: 'c2', cluster: { server: 'https://b:2/prefix', 'certificate-authority': 'ca.pem' } },
  ],
  contexts: [
    { name: 'a', context: { cluster: 'c1', user: 'u1' } },
    { name: 'b', context: { cluster: 'c2', user: 'u2', namespace: 'metal3' } },
    { name: 'c', context: { cluster: 'c1', user: 'u3' } },
    { name: 'd', context: { cluster: 'nowhere', user: 'u1' } },
  ],
  users: [
    { name: 'u1', user: { token: 'static', username: 'ignored-beside-a-token' } },
    { name: 'u2', user: { tokenFile: 'token', 'client-certificate': 'certs/client.crt', 'client-key': 'certs/client.key' } },
    { name: 'u3', user: { username: 'admin', password: 'pw' } },
  ],
});

function writeReferencedFiles(dir: string): void {
  mkdirSync(join(dir, 'certs'));
  writeFileSync(join(dir, 'ca.pem'), 'CA-FILE');
  writeFileSync(join(dir, 'certs/client.crt'), 'CERT-FILE');
  writeFileSync(join(dir, 'certs/client.key'), 'KEY-FILE');
  writeFileSync(join(dir, 'token'), 'tok-1\n');
}

describe('connectionFromKubeconfig', () => {
  it('reads back what buildKubeconfig writes', () => {
    const doc = buildKubeconfig({ server: 'https://127.0.0.1:6443', caPem: 'CA', certPem: 'CERT', keyPem: 'KEY' });
    assert.deepEqual(connectionFromKubeconfig(stringify(doc), '/'), {
      server: 'https://127.0.0.1:6443',
      caPem: 'CA',
      certPem: 'CERT',
      keyPem: 'KEY',
      token: undefined,
      basicAuth: undefined,
      insecureSkipTLSVerify: false,
      namespace: undefined,
    });
  });

  it('follows the current context, resolves file references against baseDir and re-reads token files', () => {
    withDir((dir) => {
      writeReferencedFiles(dir);
      const conn = connectionFromKubeconfig(twoContexts, dir);
      assert.deepEqual(
        [conn.server, conn.caPem, conn.certPem, conn.keyPem, conn.namespace, conn.insecureSkipTLSVerify],
        ['https://b:2/prefix', 'CA-FILE', 'CERT-FILE', 'KEY-FILE', 'metal3', false],
      );
      assert.ok(typeof conn.token === 'function');
      assert.equal(conn.token(), 'tok-1');
      writeFileSync(join(dir, 'token'), 'tok-2\n');
      assert.equal(conn.token(), 'tok-2');
    });
  });

  it('takes a named context: embedded data, a static token, basic auth', () => {
    const a = connectionFromKubeconfig(twoContexts, '/nonexistent', 'a');
    assert.deepEqual([a.server, a.caPem, a.token, a.basicAuth, a.insecureSkipTLSVerify, a.namespace], ['https://a:1', 'CA-DATA', 'static', { username: 'ignored-beside-a-token', password: '' }, true, undefined]);
    const c = connectionFromKubeconfig(twoContexts, '/nonexistent', 'c');
    assert.deepEqual([c.token, c.basicAuth], [undefined, { username: 'admin', password: 'pw' }]);
  });

  it('names what is missing', () => {
    assert.throws(() => connectionFromKubeconfig(twoContexts, '/', 'nope'), /context "nope" not found/);
    assert.throws(() => connectionFromKubeconfig(twoContexts, '/', 'd'), /cluster "nowhere" has no server/);
    assert.throws(() => connectionFromKubeconfig('- a list', '/'), /not a YAML mapping/);
    assert.throws(() => connectionFromKubeconfig(twoContexts, '/nonexistent'), /ENOENT/);
  });
});

describe('readKubeconfig', () => {
  it('resolves file references against the kubeconfig file, not the working directory', () => {
    withDir((dir) => {
      writeReferencedFiles(dir);
      writeFileSync(join(dir, 'config'), twoContexts);
      const conn = readKubeconfig(join(dir, 'config'), 'b');
      assert.deepEqual([conn.caPem, conn.certPem], ['CA-FILE', 'CERT-FILE']);
    });
  });
});

describe('inClusterConnection', () => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  const restore = () => {
    for (const [key, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };

  it('needs the service host and port', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      assert.throws(() => inClusterConnection('/nonexistent'), /KUBERNETES_SERVICE_HOST/);
      assert.throws(() => readKubeconfig(), /KUBERNETES_SERVICE_HOST/, 'no kubeconfig means in-cluster');
    } finally {
      restore();
    }
  });

  it('reads the service account and re-reads its token once a minute', () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '6443';
    try {
      withDir((dir) => {
        writeFileSync(join(dir, 'ca.crt'), 'SA-CA');
        writeFileSync(join(dir, 'token'), 'sa-1\n');
        assert.equal(inClusterConnection(dir).namespace, undefined, 'the namespace file is optional');
        writeFileSync(join(dir, 'namespace'), 'metal3\n');
        const conn = inClusterConnection(dir);
        assert.deepEqual([conn.server, conn.caPem, conn.namespace], ['https://[fd00::1]:6443', 'SA-CA', 'metal3']);
        assert.ok(typeof conn.token === 'function');
        assert.equal(conn.token(), 'sa-1');
        writeFileSync(join(dir, 'token'), 'sa-2\n');
        mock.timers.tick(59_000);
        assert.equal(conn.token(), 'sa-1');
        mock.timers.tick(2_000);
        assert.equal(conn.token(), 'sa-2');
      });
    } finally {
      mock.timers.reset();
      restore();
    }
  });
});
