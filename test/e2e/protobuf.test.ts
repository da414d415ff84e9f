// kubectl's typed `create` commands send protobuf bodies; the real server must accept them as
// kube-apiserver does, store the same object a JSON client would, and answer those clients in JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeClient, request } from './client.ts';
import { kubectl, kubectlOK, requireKubectl, startServer, type RunningServer } from './harness.ts';

const protobuf = 'application/vnd.kubernetes.protobuf';

/** A protobuf body as client-go frames it: `k8s\0` then runtime.Unknown{typeMeta, raw}. */
function envelope(apiVersion: string, kind: string, raw: Buffer): Buffer {
  const bytes = (num: number, b: Buffer) => Buffer.concat([Buffer.from([(num << 3) | 2]), lengthOf(b), b]);
  const lengthOf = (b: Buffer) => {
    const out: number[] = [];
    let n = b.length;
    do {
      out.push(n > 0x7f ? (n & 0x7f) | 0x80 : n);
      n >>= 7;
    } while (n);
    return Buffer.from(out);
  };
  const typeMeta = Buffer.concat([bytes(1, Buffer.from(apiVersion)), bytes(2, Buffer.from(kind))]);
  return Buffer.concat([Buffer.from('k8s\0', 'binary'), bytes(1, typeMeta), bytes(2, raw)]);
}
const nameOnly = (name: string) => Buffer.concat([Buffer.from([0x0a, name.length + 2, 0x0a, name.length]), Buffer.from(name)]);

describe('protobuf request bodies from kubectl', () => {
  let server: RunningServer;
  const password = 'pa55:w0rd/with+symbols=';

  before(async () => {
    requireKubectl();
    server = await startServer();
  });

  after(async () => {
    closeClient(server);
    await server.stop();
  });

  test('kubectl create namespace', async () => {
    assert.equal((await kubectlOK(server, ['create', 'namespace', 'metal3'])).trim(), 'namespace/metal3 created');
    const ns = JSON.parse(await kubectlOK(server, ['get', 'namespace', 'metal3', '-o', 'json', '--show-managed-fields'])) as { metadata: { name: string; managedFields?: { manager: string }[] }; status?: { phase?: string } };
    assert.equal(ns.metadata.name, 'metal3');
    assert.equal(ns.status?.phase, 'Active');
    assert.equal(ns.metadata.managedFields?.[0]?.manager, 'kubectl-create');
  });

  test('kubectl create secret generic, and the password reads back', async () => {
    const out = await kubectlOK(server, ['create', 'secret', 'generic', 'bmc-creds', '-n', 'metal3', '--from-literal=username=admin', `--from-literal=password=${password}`]);
    assert.equal(out.trim(), 'secret/bmc-creds created');
    const b64 = await kubectlOK(server, ['get', 'secret', 'bmc-creds', '-n', 'metal3', '-o', 'jsonpath={.data.password}']);
    assert.equal(Buffer.from(b64, 'base64').toString('utf8'), password);
    const secret = JSON.parse(await kubectlOK(server, ['get', 'secret', 'bmc-creds', '-n', 'metal3', '-o', 'json'])) as { type?: string; data: Record<string, string> };
    assert.equal(Buffer.from(secret.data.username, 'base64').toString('utf8'), 'admin');
    assert.equal(secret.type, 'Opaque');
  });

  test('kubectl create secret tls and docker-registry', async () => {
    const pki = join(server.dataDir, 'pki');
    await kubectlOK(server, ['create', 'secret', 'tls', 'bmc-tls', '-n', 'metal3', `--cert=${join(pki, 'admin.crt')}`, `--key=${join(pki, 'admin.key')}`]);
    await kubectlOK(server, ['create', 'secret', 'docker-registry', 'regcred', '-n', 'metal3', '--docker-server=quay.example', '--docker-username=bot', '--docker-password=hunter2']);
    const list = await kubectlOK(server, ['get', 'secrets', '-n', 'metal3', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.type}{"\\n"}{end}']);
    assert.deepEqual(list.trim().split('\n').sort(), ['bmc-creds=Opaque', 'bmc-tls=kubernetes.io/tls', 'regcred=kubernetes.io/dockerconfigjson']);
    const cfg = await kubectlOK(server, ['get', 'secret', 'regcred', '-n', 'metal3', '-o', 'jsonpath={.data.\\.dockerconfigjson}']);
    const auths = (JSON.parse(Buffer.from(cfg, 'base64').toString('utf8')) as { auths: Record<string, { password: string }> }).auths;
    assert.equal(auths['quay.example'].password, 'hunter2');
  });

  test('a duplicate create is AlreadyExists, decoded from protobuf like any body', async () => {
    const r = await kubectl(server, ['create', 'namespace', 'metal3']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /AlreadyExists.*namespaces "metal3" already exists/);
  });

  test('--dry-run=server returns the object without storing it', async () => {
    const out = JSON.parse(await kubectlOK(server, ['create', 'namespace', 'dry', '--dry-run=server', '-o', 'json'])) as { metadata: { name: string } };
    assert.equal(out.metadata.name, 'dry');
    const r = await kubectl(server, ['get', 'namespace', 'dry']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound/);
  });

  test('client-go\'s protobuf-first Accept gets a JSON answer', async () => {
    const r = await request(server, 'POST', '/api/v1/namespaces', {
      body: envelope('v1', 'Namespace', nameOnly('raw-pb')),
      headers: { 'Content-Type': protobuf, Accept: `${protobuf}, */*` },
    });
    assert.equal(r.status, 201, r.body);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal((r.json() as { metadata: { name: string } }).metadata.name, 'raw-pb');
  });

  test('a custom resource in protobuf is 415, malformed protobuf is 400', async () => {
    const bmh = await request(server, 'POST', '/apis/metal3.io/v1alpha1/namespaces/metal3/baremetalhosts', {
      body: envelope('metal3.io/v1alpha1', 'BareMetalHost', nameOnly('h')),
      headers: { 'Content-Type': protobuf },
    });
    assert.equal(bmh.status, 415, bmh.body);
    assert.equal((bmh.json() as { reason: string }).reason, 'UnsupportedMediaType');
    const bad = await request(server, 'POST', '/api/v1/namespaces', {
      body: Buffer.concat([Buffer.from('k8s\0', 'binary'), Buffer.from([0x12, 0x7f, 0x01])]),
      headers: { 'Content-Type': protobuf },
    });
    assert.equal(bad.status, 400, bad.body);
    assert.equal((bad.json() as { reason: string }).reason, 'BadRequest');
  });
});
