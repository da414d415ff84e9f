// A restart loads only what serving needs (issue 6: back within 2 s of a kill -9): the etcd client, the
// CEL implementation, node-forge, ajv and cluster mode's token checks wait until something uses them,
// and then load on demand. The server runs with a module hook that records every module it loads.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from './harness.ts';
import { closeClient, request } from './client.ts';

/** What a standalone SQLite server must not load before the first request that needs it. */
const ON_DEMAND = ['etcd3', '@grpc/grpc-js', 'protobufjs', '@bufbuild/cel', 'node-forge', 'ajv', 'ajv-formats', 'jose'];

const policy = (name: string, expression: string) =>
  JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: {
      matchConstraints: { resourceRules: [{ apiGroups: ['metal3.io'], apiVersions: ['v1alpha1'], operations: ['CREATE'], resources: ['baremetalhosts'] }] },
      validations: [{ expression }],
    },
  });

describe('start-up module graph', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'metal3-startup-modules-'));
  const record = join(dir, 'loaded.txt');
  let server: RunningServer;

  /** npm packages the server has loaded so far. */
  const loadedPackages = () => {
    const names = new Set<string>();
    for (const url of readFileSync(record, 'utf8').split('\n')) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
      if (m) names.add(m[1]);
    }
    return names;
  };

  before(async () => {
    const hook = join(dir, 'record-modules.mjs');
    writeFileSync(
      hook,
      `import { registerHooks } from 'node:module';\nimport { appendFileSync } from 'node:fs';\n` +
        `registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(record)}, url + '\\n'); return next(url, context); } });\n`,
    );
    writeFileSync(record, '');
    // The first start writes the PKI and the default namespaces; the second is the restart under test.
    const first = await startServer([], {}, join(dir, 'data'));
    await first.stop({ keepDataDir: true });
    server = await startServer([], { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(hook).href}` }, join(dir, 'data'));
  });

  after(async () => {
    if (server) {
      closeClient(server);
      await server.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a restart on an existing data directory loads none of the on-demand packages', () => {
    const loaded = loadedPackages();
    assert.ok(loaded.has('express') && loaded.has('prom-client'), `the hook recorded the server's modules: ${[...loaded].join(', ')}`);
    assert.deepEqual(ON_DEMAND.filter((p) => loaded.has(p)), []);
  });

  it('the first ValidatingAdmissionPolicy loads CEL, and its expressions are compiled', async () => {
    const bad = await request(server, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', { body: policy('broken', 'object.spec.online ==') });
    assert.equal(bad.status, 422, bad.body);
    assert.match(bad.body, /spec\.validations\[0\]\.expression/);
    const good = await request(server, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', { body: policy('online-is-bool', 'object.spec.online == true || object.spec.online == false') });
    assert.equal(good.status, 201, good.body);
    assert.ok(loadedPackages().has('@bufbuild/cel'));
  });

  it('the first BareMetalHost write loads ajv, and the schema is enforced', async () => {
    const host = { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: { name: 'h0', namespace: 'default' }, spec: { online: 'yes' } };
    const r = await request(server, 'POST', '/apis/metal3.io/v1alpha1/namespaces/default/baremetalhosts', { body: JSON.stringify(host) });
    assert.equal(r.status, 422, r.body);
    assert.match(r.body, /spec\.online/);
    assert.ok(loadedPackages().has('ajv'));
  });
});
