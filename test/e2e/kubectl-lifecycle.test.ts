// Lifecycle as kubectl drives it: deletion with finalizers, delete --all, watch, wait, and the core/v1
// kinds (Namespaces, Secrets, Events) the standalone server serves.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNamespace, kubectl, kubectlBackground, kubectlOK, requireKubectl, startServer, waitFor, type RunningServer } from './harness.ts';
import { bmhManifest, parseJSONStream, parseTable } from './kubectl-output.ts';

interface WatchEvent {
  type: string;
  object: { metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string } };
}

const NS = 'lifecycle';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kubectl delete, watch, wait, and core kinds', () => {
  let server: RunningServer;
  const k = (...args: string[]) => kubectlOK(server, ['-n', NS, ...args]);
  const create = (...manifests: string[]) => kubectlOK(server, ['-n', NS, 'create', '-f', '-'], { input: manifests.join('\n') });

  before(async () => {
    requireKubectl();
    server = await startServer();
    await createNamespace(server, NS);
  });
  after(async () => {
    await server?.stop();
  });

  test('a finalizer keeps a deleted host, with deletionTimestamp set, until it is removed', async () => {
    await create(bmhManifest('finalized', { finalizers: ['baremetalhost.metal3.io'] }));
    assert.equal((await k('delete', 'bmh', 'finalized', '--wait=false')).trim(), 'baremetalhost.metal3.io "finalized" deleted');
    const host = JSON.parse(await k('get', 'bmh', 'finalized', '-o', 'json')) as WatchEvent['object'];
    assert.match(host.metadata.deletionTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // A terminating host can still be read and written until its finalizers are gone.
    await k('label', 'bmh', 'finalized', 'stage=terminating');
    assert.equal(await k('get', 'bmh', 'finalized', '-o', 'jsonpath={.metadata.labels.stage}'), 'terminating');

    await k('patch', 'bmh', 'finalized', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]');
    const gone = await kubectl(server, ['-n', NS, 'get', 'bmh', 'finalized']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /baremetalhosts\.metal3\.io "finalized" not found/);
  });

  test('delete waits for finalizers by default and gives up at --timeout', async () => {
    await create(bmhManifest('stuck', { finalizers: ['example.com/hold'] }));
    const r = await kubectl(server, ['-n', NS, 'delete', 'bmh', 'stuck', '--timeout=2s']);
    assert.notEqual(r.code, 0, 'the host cannot go while its finalizer is there');
    assert.match(r.stdout, /baremetalhost\.metal3\.io "stuck" deleted/);
    assert.match(r.stderr, /timed out waiting for the condition/);
    await k('patch', 'bmh', 'stuck', '--type=merge', '-p', '{"metadata":{"finalizers":null}}');
    assert.match((await kubectl(server, ['-n', NS, 'get', 'bmh', 'stuck'])).stderr, /not found/);
  });

  test('delete --all removes every host of the namespace and nothing elsewhere', async () => {
    await createNamespace(server, 'bystander');
    await kubectlOK(server, ['-n', 'bystander', 'create', '-f', '-'], { input: bmhManifest('survivor') });
    await createNamespace(server, 'doomed');
    await kubectlOK(server, ['-n', 'doomed', 'create', '-f', '-'], { input: ['a', 'b', 'c'].map((n) => bmhManifest(`doomed-${n}`)).join('\n') });
    const out = await kubectlOK(server, ['-n', 'doomed', 'delete', 'bmh', '--all']);
    for (const n of ['a', 'b', 'c']) assert.match(out, new RegExp(`baremetalhost\\.metal3\\.io "doomed-${n}" deleted`));
    const left = await kubectl(server, ['-n', 'doomed', 'get', 'bmh']);
    assert.equal(left.code, 0);
    assert.equal(left.stdout, '');
    assert.match(left.stderr, /No resources found in doomed namespace\./);
    assert.deepEqual(parseTable(await kubectlOK(server, ['-n', 'bystander', 'get', 'bmh'])).rows.map((r) => r.NAME), ['survivor']);
  });

  test('get -w --output-watch-events sees ADDED, MODIFIED and DELETED', async () => {
    await createNamespace(server, 'watched');
    await kubectlOK(server, ['-n', 'watched', 'create', '-f', '-'], { input: bmhManifest('before-watch') });
    const watch = kubectlBackground(server, ['-n', 'watched', 'get', 'bmh', '-w', '--output-watch-events', '-o', 'json']);
    const events = () => parseJSONStream(watch.output()) as WatchEvent[];
    try {
      // The initial list arrives as ADDED events.
      await waitFor(() => events().some((e) => e.type === 'ADDED' && e.object.metadata.name === 'before-watch'), 15_000, 'the initial ADDED');
      await kubectlOK(server, ['-n', 'watched', 'create', '-f', '-'], { input: bmhManifest('during-watch') });
      await kubectlOK(server, ['-n', 'watched', 'label', 'bmh', 'during-watch', 'seen=yes']);
      await kubectlOK(server, ['-n', 'watched', 'delete', 'bmh', 'before-watch']);
      await waitFor(() => events().some((e) => e.type === 'DELETED'), 15_000, 'the DELETED event');
    } finally {
      await watch.stop();
    }
    const seen = events().map((e) => `${e.type} ${e.object.metadata.name}`);
    assert.deepEqual(seen, ['ADDED before-watch', 'ADDED during-watch', 'MODIFIED during-watch', 'DELETED before-watch']);
    const modified = events().find((e) => e.type === 'MODIFIED');
    assert.equal(modified?.object.metadata.labels?.seen, 'yes');
  });

  test('wait --for=jsonpath returns once another client sets the field, and times out otherwise', async () => {
    await create(bmhManifest('awaited'));
    const timedOut = await kubectl(server, ['-n', NS, 'wait', 'bmh/awaited', '--for=jsonpath={.metadata.labels.ready}=true', '--timeout=1s']);
    assert.notEqual(timedOut.code, 0);
    assert.match(timedOut.stderr, /timed out waiting for the condition on baremetalhosts\/awaited/);

    const started = Date.now();
    const waiting = kubectl(server, ['-n', NS, 'wait', 'bmh/awaited', '--for=jsonpath={.metadata.labels.ready}=true', '--timeout=30s']);
    await sleep(1500);
    await k('label', 'bmh', 'awaited', 'ready=true');
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'baremetalhost.metal3.io/awaited condition met');
    assert.ok(Date.now() - started >= 1500, 'wait returned before the label was set');

    // A status field, written through the status subresource as the controller would.
    const waitingState = kubectl(server, ['-n', NS, 'wait', 'bmh/awaited', '--for=jsonpath={.status.provisioning.state}=available', '--timeout=30s']);
    await sleep(500);
    await k('patch', 'bmh', 'awaited', '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { operationalStatus: 'OK', provisioning: { state: 'available', ID: '' }, errorMessage: '', poweredOn: false, errorCount: 0, provisioningFailCount: 0 } }));
    const rs = await waitingState;
    assert.equal(rs.code, 0, rs.stderr);
    assert.match(rs.stdout, /baremetalhost\.metal3\.io\/awaited condition met/);
  });

  test('kubectl create namespace (sent as protobuf)', async () => {
    const out = await kubectlOK(server, ['create', 'namespace', 'metal3']);
    assert.equal(out.trim(), 'namespace/metal3 created');
    const { rows } = parseTable(await kubectlOK(server, ['get', 'namespaces']));
    const metal3 = rows.find((r) => r.NAME === 'metal3');
    assert.equal(metal3?.STATUS, 'Active');
    for (const ns of ['default', 'kube-system', 'kube-public']) assert.ok(rows.some((r) => r.NAME === ns), ns);
  });

  test('kubectl create secret generic (sent as protobuf) stores base64 data', async () => {
    await createNamespace(server, 'secrets');
    const out = await kubectlOK(server, ['-n', 'secrets', 'create', 'secret', 'generic', 'bmc-creds', '--from-literal=username=admin', '--from-literal=password=s3cr3t']);
    assert.equal(out.trim(), 'secret/bmc-creds created');
    const secret = JSON.parse(await kubectlOK(server, ['-n', 'secrets', 'get', 'secret', 'bmc-creds', '-o', 'json'])) as { type: string; data: Record<string, string> };
    assert.equal(secret.type, 'Opaque');
    assert.equal(Buffer.from(secret.data.username, 'base64').toString(), 'admin');
    assert.equal(Buffer.from(secret.data.password, 'base64').toString(), 's3cr3t');
    const { headers, rows } = parseTable(await kubectlOK(server, ['-n', 'secrets', 'get', 'secrets']));
    assert.deepEqual(headers, ['NAME', 'TYPE', 'DATA', 'AGE']);
    assert.deepEqual(rows.map((r) => [r.NAME, r.TYPE, r.DATA]), [['bmc-creds', 'Opaque', '2']]);
  });

  test('kubectl get events answers (an empty list is fine)', async () => {
    const r = await kubectl(server, ['get', 'events', '-A']);
    assert.equal(r.code, 0, r.stderr);
    if (r.stdout.trim() === '') assert.match(r.stderr, /No resources found/);
    else assert.deepEqual(parseTable(r.stdout).headers.slice(0, 2), ['NAMESPACE', 'LAST']);
    const list = JSON.parse(await kubectlOK(server, ['-n', NS, 'get', 'events', '-o', 'json'])) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'List');
    assert.ok(Array.isArray(list.items));
  });
});
