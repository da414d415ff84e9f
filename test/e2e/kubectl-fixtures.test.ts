// Every manifest under test/fixtures must be accepted by `kubectl create -f` as a user would run it:
// kubectl's default validation is Strict, so an unknown or misspelt field would fail here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { createNamespace, kubectl, kubectlOK, repoRoot, requireKubectl, startServer, type RunningServer } from './harness.ts';

const fixturesDir = join(repoRoot, 'test/fixtures');
const fixtureFiles = readdirSync(fixturesDir).filter((f) => f.endsWith('.yaml')).sort();

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
}

function manifestsOf(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(fixturesDir, file), 'utf8')).map((d) => d.toJS() as Manifest);
}

/** Every field of `want` is present with the same value in `got` (the server may add defaults). */
function assertContains(got: unknown, want: unknown, path = ''): void {
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    assert.ok(got !== null && typeof got === 'object', `${path} should be an object, got ${JSON.stringify(got)}`);
    for (const [k, v] of Object.entries(want)) assertContains((got as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  assert.deepEqual(got, want, `${path} differs`);
}

describe('kubectl create -f test/fixtures', () => {
  let server: RunningServer;

  before(async () => {
    requireKubectl();
    server = await startServer();
    await createNamespace(server, 'fixtures');
  });
  after(async () => {
    await server?.stop();
  });

  test('the fixture set covers the documented BareMetalHost shapes', () => {
    const hosts = fixtureFiles.flatMap(manifestsOf).filter((m) => m.kind === 'BareMetalHost');
    const specs = hosts.map((h) => h.spec ?? {});
    const addresses = specs.map((s) => String((s.bmc as { address?: string } | undefined)?.address ?? ''));
    for (const scheme of ['redfish-virtualmedia', 'ipmi', 'idrac-virtualmedia']) {
      assert.ok(addresses.some((a) => a.startsWith(`${scheme}:`) || a.startsWith(`${scheme}+`)), `a fixture with a ${scheme} BMC`);
    }
    const withImage = specs.find((s) => s.image !== undefined);
    assert.deepEqual(
      { ...(withImage?.image as object), url: undefined, checksum: undefined },
      { url: undefined, checksum: undefined, checksumType: 'sha256', format: 'qcow2' },
    );
    assert.ok(withImage?.userData && withImage.networkData, 'the image fixture refers to userData and networkData Secrets');
    assert.ok(specs.some((s) => (s.raid as { hardwareRAIDVolumes?: unknown[] } | undefined)?.hardwareRAIDVolumes?.length && s.rootDeviceHints));
    assert.ok(specs.some((s) => (s.customDeploy as { method?: string } | undefined)?.method));
  });

  test('no fixture hard-codes a namespace, so `-n` chooses it', () => {
    for (const file of fixtureFiles) {
      for (const m of manifestsOf(file)) assert.equal(m.metadata.namespace, undefined, `${file}: ${m.kind}/${m.metadata.name}`);
    }
  });

  test('strict validation is in force: an unknown field in a fixture is rejected', async () => {
    const text = readFileSync(join(fixturesDir, 'bmh-ipmi.yaml'), 'utf8').replace('  online: false', '  online: false\n  onlineMode: always');
    // Its own namespace: kubectl creates the Secret of the file before the host is refused.
    await createNamespace(server, 'strict');
    const r = await kubectl(server, ['-n', 'strict', 'create', '-f', '-'], { input: text });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown field "spec\.onlineMode"/);
    const host = await kubectl(server, ['-n', 'strict', 'get', 'bmh', 'worker-ipmi']);
    assert.notEqual(host.code, 0, 'a rejected host must not be stored');
    assert.match(host.stderr, /NotFound|not found/);
  });

  for (const file of fixtureFiles) {
    test(`${file} is created with fieldValidation=Strict and stored as written`, async () => {
      const out = await kubectlOK(server, ['-n', 'fixtures', 'create', '--validate=strict', '-f', join(fixturesDir, file)]);
      for (const m of manifestsOf(file)) {
        const resource = m.kind === 'Secret' ? 'secret' : 'baremetalhost.metal3.io';
        assert.match(out, new RegExp(`^${resource.replace(/\./g, '\\.')}/${m.metadata.name} created$`, 'm'));
        const stored = JSON.parse(await kubectlOK(server, ['-n', 'fixtures', 'get', m.kind === 'Secret' ? 'secret' : 'bmh', m.metadata.name, '-o', 'json'])) as {
          spec?: unknown;
          data?: Record<string, string>;
        };
        if (m.kind === 'Secret') {
          // stringData is write-only: it lands base64-encoded in data.
          for (const [k, v] of Object.entries(m.stringData ?? {})) assert.equal(Buffer.from(stored.data?.[k] ?? '', 'base64').toString('utf8'), v);
        } else {
          assertContains(stored.spec, m.spec, 'spec');
        }
      }
    });
  }

  test('the README quick start: secret bmc-creds, then the Redfish fixture applied in metal3', async () => {
    await createNamespace(server, 'metal3');
    await kubectlOK(server, ['-n', 'metal3', 'create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bmc-creds' }, stringData: { username: 'admin', password: 'password' } }),
    });
    const out = await kubectlOK(server, ['-n', 'metal3', 'apply', '-f', join(fixturesDir, 'bmh-redfish-virtualmedia.yaml')]);
    assert.match(out, /^baremetalhost\.metal3\.io\/worker-0 created$/m);
    const credentials = await kubectlOK(server, ['-n', 'metal3', 'get', 'bmh', 'worker-0', '-o', 'jsonpath={.spec.bmc.credentialsName}']);
    assert.equal(credentials, 'bmc-creds');
  });
});
