// Write-side kubectl commands against the real server: create, dry run, client- and server-side apply,
// edit, the three patch types, label, annotate and the status subresource.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNamespace, kubectl, kubectlOK, requireKubectl, startServer, type RunningServer } from './harness.ts';
import { bmhManifest } from './kubectl-output.ts';

interface ManagedFieldsEntry {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

interface HostJSON {
  metadata: {
    name: string;
    generation: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: ManagedFieldsEntry[];
  };
  spec: Record<string, unknown> & { online: boolean; description?: string };
  status?: { operationalStatus?: string; provisioning?: { state?: string } };
}

const NS = 'writes';

describe('kubectl create, apply, edit, patch, label and annotate', () => {
  let server: RunningServer;
  const k = (...args: string[]) => kubectlOK(server, ['-n', NS, ...args]);
  const getHost = async (name: string, ...extra: string[]) => JSON.parse(await k('get', 'bmh', name, '-o', 'json', ...extra)) as HostJSON;
  const fails = async (args: string[], input?: string) => {
    const r = await kubectl(server, ['-n', NS, ...args], { input });
    assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should fail; stdout: ${r.stdout}`);
    return r.stderr;
  };

  before(async () => {
    requireKubectl();
    server = await startServer();
    await createNamespace(server, NS);
  });
  after(async () => {
    await server?.stop();
  });

  test('create -f stores the host; creating it again is AlreadyExists', async () => {
    const out = await kubectlOK(server, ['-n', NS, 'create', '-f', '-'], { input: bmhManifest('created', { spec: { description: 'from create' } }) });
    assert.equal(out.trim(), 'baremetalhost.metal3.io/created created');
    const host = await getHost('created');
    assert.equal(host.spec.description, 'from create');
    assert.equal(host.metadata.generation, 1);
    const err = await fails(['create', '-f', '-'], bmhManifest('created'));
    assert.match(err, /AlreadyExists.*baremetalhosts\.metal3\.io "created" already exists/);
  });

  test('create --dry-run=server validates and answers but stores nothing', async () => {
    const r = await kubectl(server, ['-n', NS, 'create', '--dry-run=server', '-f', '-'], { input: bmhManifest('dry') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'baremetalhost.metal3.io/dry created (server dry run)');
    const get = await kubectl(server, ['-n', NS, 'get', 'bmh', 'dry']);
    assert.notEqual(get.code, 0);
    assert.match(get.stderr, /baremetalhosts\.metal3\.io "dry" not found/);
    // The dry run still validates: a schema violation is reported.
    const err = await fails(['create', '--dry-run=server', '-f', '-'], bmhManifest('dry', { spec: { bootMode: 'BIOS' } }));
    assert.match(err, /spec\.bootMode: Unsupported value: "BIOS"/);
  });

  test('client-side apply: created, unchanged, then configured with the change visible', async () => {
    const manifest = bmhManifest('applied', { spec: { description: 'v1' } });
    assert.equal((await kubectlOK(server, ['-n', NS, 'apply', '-f', '-'], { input: manifest })).trim(), 'baremetalhost.metal3.io/applied created');
    const first = await getHost('applied');
    assert.ok(first.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], 'client-side apply records the last applied configuration');
    assert.equal((await kubectlOK(server, ['-n', NS, 'apply', '-f', '-'], { input: manifest })).trim(), 'baremetalhost.metal3.io/applied unchanged');
    const changed = bmhManifest('applied', { spec: { description: 'v2', online: false } });
    assert.equal((await kubectlOK(server, ['-n', NS, 'apply', '-f', '-'], { input: changed })).trim(), 'baremetalhost.metal3.io/applied configured');
    const host = await getHost('applied');
    assert.equal(host.spec.description, 'v2');
    assert.equal(host.spec.online, false);
    assert.equal(host.metadata.generation, 2);
  });

  test('server-side apply: a conflicting manager is refused until --force-conflicts moves ownership', async () => {
    const apply = (description: string, ...flags: string[]) =>
      kubectl(server, ['-n', NS, 'apply', '--server-side', ...flags, '-f', '-'], { input: bmhManifest('ssa', { spec: { description } }) });
    const first = await apply('owned by kubectl');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), 'baremetalhost.metal3.io/ssa serverside-applied');

    const conflict = await apply('owned by other', '--field-manager=other');
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /Apply failed with 1 conflict: conflict with "kubectl": \.spec\.description/);
    assert.equal((await getHost('ssa')).spec.description, 'owned by kubectl');

    const forced = await apply('owned by other', '--field-manager=other', '--force-conflicts');
    assert.equal(forced.code, 0, forced.stderr);
    const host = await getHost('ssa', '--show-managed-fields');
    assert.equal(host.spec.description, 'owned by other');
    const owners = (field: string) =>
      (host.metadata.managedFields ?? []).filter((m) => Object.hasOwn((m.fieldsV1?.['f:spec'] ?? {}) as object, field)).map((m) => `${m.manager}/${m.operation}`);
    assert.deepEqual(owners('f:description'), ['other/Apply']);
    // Fields both applied with the same value stay shared.
    assert.deepEqual(owners('f:online').sort(), ['kubectl/Apply', 'other/Apply']);
    // managedFields are hidden unless asked for.
    assert.equal((await getHost('ssa')).metadata.managedFields, undefined);
  });

  test('edit through KUBE_EDITOR writes the edited object back', async () => {
    await kubectlOK(server, ['-n', NS, 'create', '-f', '-'], { input: bmhManifest('edited', { spec: { description: 'before edit' } }) });
    const editor = join(server.dataDir, 'editor.sh');
    writeFileSync(editor, '#!/bin/sh\nsed -i -e "s/description: before edit/description: after edit/" -e "s/online: true/online: false/" "$1"\n');
    chmodSync(editor, 0o755);
    const out = await kubectlOK(server, ['-n', NS, 'edit', 'bmh', 'edited'], { env: { KUBE_EDITOR: editor, EDITOR: editor } });
    assert.equal(out.trim(), 'baremetalhost.metal3.io/edited edited');
    const host = await getHost('edited');
    assert.equal(host.spec.description, 'after edit');
    assert.equal(host.spec.online, false);
  });

  test('patch --type merge, --type json, and the default strategic merge that a custom resource refuses', async () => {
    await kubectlOK(server, ['-n', NS, 'create', '-f', '-'], { input: bmhManifest('patched', { labels: { keep: 'yes' } }) });
    assert.equal((await k('patch', 'bmh', 'patched', '--type', 'merge', '-p', '{"spec":{"description":"merged","online":false}}')).trim(), 'baremetalhost.metal3.io/patched patched');
    let host = await getHost('patched');
    assert.equal(host.spec.description, 'merged');
    assert.equal(host.spec.online, false);

    await k('patch', 'bmh', 'patched', '--type', 'json', '-p', '[{"op":"test","path":"/spec/description","value":"merged"},{"op":"replace","path":"/spec/description","value":"json"},{"op":"remove","path":"/metadata/labels/keep"}]');
    host = await getHost('patched');
    assert.equal(host.spec.description, 'json');
    assert.equal(host.metadata.labels?.keep, undefined);
    const failedTest = await fails(['patch', 'bmh', 'patched', '--type', 'json', '-p', '[{"op":"test","path":"/spec/description","value":"other"}]']);
    // kube answers a failed JSON-patch operation with a generic 422, which kubectl prints so.
    assert.match(failedTest, /The request is invalid: the server rejected our request due to an error in our request/);
    assert.equal((await getHost('patched')).spec.description, 'json');

    const strategic = await fails(['patch', 'bmh', 'patched', '-p', '{"spec":{"description":"strategic"}}']);
    assert.match(
      strategic,
      /application\/strategic-merge-patch\+json is not supported by metal3\.io\/v1alpha1, Kind=BareMetalHost: the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/,
    );
    assert.equal((await getHost('patched')).spec.description, 'json');
  });

  test('label: add, refuse to overwrite without --overwrite, overwrite, remove with key-', async () => {
    await kubectlOK(server, ['-n', NS, 'create', '-f', '-'], { input: bmhManifest('labelled') });
    assert.equal((await k('label', 'bmh', 'labelled', 'role=worker')).trim(), 'baremetalhost.metal3.io/labelled labeled');
    assert.equal((await getHost('labelled')).metadata.labels?.role, 'worker');
    assert.match(await fails(['label', 'bmh', 'labelled', 'role=storage']), /'role' already has a value \(worker\), and --overwrite is false/);
    await k('label', 'bmh', 'labelled', 'role=storage', '--overwrite');
    assert.equal((await getHost('labelled')).metadata.labels?.role, 'storage');
    assert.equal((await k('label', 'bmh', 'labelled', 'role-')).trim(), 'baremetalhost.metal3.io/labelled unlabeled');
    assert.equal((await getHost('labelled')).metadata.labels?.role, undefined);
    assert.match(await fails(['label', 'bmh', 'labelled', 'bad key!=x']), /metadata\.labels: Invalid value: "bad key!"/);
  });

  test('annotate: add, overwrite, remove with key-', async () => {
    await kubectlOK(server, ['-n', NS, 'create', '-f', '-'], { input: bmhManifest('annotated') });
    assert.equal((await k('annotate', 'bmh', 'annotated', 'example.com/owner=team-a')).trim(), 'baremetalhost.metal3.io/annotated annotated');
    assert.equal((await getHost('annotated')).metadata.annotations?.['example.com/owner'], 'team-a');
    assert.match(await fails(['annotate', 'bmh', 'annotated', 'example.com/owner=team-b']), /already has a value \(team-a\)/);
    await k('annotate', 'bmh', 'annotated', 'example.com/owner=team-b', '--overwrite');
    assert.equal((await getHost('annotated')).metadata.annotations?.['example.com/owner'], 'team-b');
    await k('annotate', 'bmh', 'annotated', 'example.com/owner-');
    assert.equal((await getHost('annotated')).metadata.annotations?.['example.com/owner'], undefined);
  });

  test('patch --subresource=status changes status only; status in a main-resource patch is ignored', async () => {
    await kubectlOK(server, ['-n', NS, 'create', '-f', '-'], { input: bmhManifest('statused', { spec: { description: 'spec stays' } }) });
    const status = {
      operationalStatus: 'OK',
      provisioning: { state: 'available', ID: 'f3b3c8a2-5d9e-4a43-9c1e-0f9b7d1c2a11' },
      errorMessage: '',
      poweredOn: true,
      errorCount: 0,
      provisioningFailCount: 0,
    };
    await k('patch', 'bmh', 'statused', '--subresource=status', '--type=merge', '-p', JSON.stringify({ spec: { description: 'changed via status' }, status }));
    let host = await getHost('statused');
    assert.equal(host.status?.provisioning?.state, 'available');
    assert.equal(host.spec.description, 'spec stays', 'the status subresource ignores spec');
    assert.equal(host.metadata.generation, 1, 'a status write does not bump generation');
    const viaSub = JSON.parse(await k('get', 'bmh', 'statused', '--subresource=status', '-o', 'json')) as HostJSON;
    assert.equal(viaSub.status?.operationalStatus, 'OK');

    const out = await k('patch', 'bmh', 'statused', '--type=merge', '-p', '{"status":{"provisioning":{"state":"provisioned"}}}');
    assert.equal(out.trim(), 'baremetalhost.metal3.io/statused patched (no change)');
    host = await getHost('statused');
    assert.equal(host.status?.provisioning?.state, 'available', 'the main resource ignores status');
  });
});
