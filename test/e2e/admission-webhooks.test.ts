// The cluster's admission webhooks applied to bare-metal hosts: a real HTTPS webhook server started here,
// with its own throwaway CA, registered with kubectl as Validating- and MutatingWebhookConfigurations,
// and every outcome observed through kubectl.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { createNamespace, kubectl, kubectlOK, requireKubectl, startServer, type RunningServer } from './harness.ts';
import { bmhManifest } from './kubectl-output.ts';

const NS = 'hooks';

interface Review {
  request: {
    uid: string;
    operation: string;
    dryRun?: boolean;
    object?: { metadata?: { name?: string; labels?: Record<string, string> } };
  };
}

/** A CA and a serving certificate for 127.0.0.1, made fresh for this run; nothing is written to disk. */
function throwawayTLS(): { caPem: string; certPem: string; keyPem: string } {
  const toForgeKey = (pem: string) => forge.pki.privateKeyFromPem(pem);
  const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const issue = (subjectCN: string, publicPem: string, signerKeyPem: string, issuerCN: string, ca: boolean) => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
    cert.serialNumber = `0${Math.floor(Math.random() * 1e12).toString(16)}`;
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
    cert.setSubject([{ name: 'commonName', value: subjectCN }]);
    cert.setIssuer([{ name: 'commonName', value: issuerCN }]);
    cert.setExtensions(
      ca
        ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
        : [
            { name: 'basicConstraints', cA: false },
            { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
            { name: 'extKeyUsage', serverAuth: true },
            { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
          ],
    );
    cert.sign(toForgeKey(signerKeyPem), forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  };
  const caKey = rsa();
  const serverKey = rsa();
  return {
    caPem: issue('admission-test-ca', caKey.publicKey, caKey.privateKey, 'admission-test-ca', true),
    certPem: issue('127.0.0.1', serverKey.publicKey, caKey.privateKey, 'admission-test-ca', false),
    keyPem: serverKey.privateKey,
  };
}

const MUTATED_LABEL = 'webhook.example.com/mutated';

/**
 * The webhook: /validate denies hosts labelled deny=true; /mutate adds a label to hosts labelled
 * mutate=true; /slow answers allowed, but only after longer than any timeoutSeconds used here.
 */
function webhookHandler(seen: Review[]) {
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const review = JSON.parse(body) as Review;
      seen.push(review);
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      const labels = review.request.object?.metadata?.labels ?? {};
      const response: Record<string, unknown> = { uid: review.request.uid, allowed: true };
      if (path === '/validate' && labels.deny === 'true') {
        Object.assign(response, { allowed: false, status: { code: 403, reason: 'Forbidden', message: 'hosts labelled deny=true are not accepted here' } });
      }
      if (path === '/mutate' && labels.mutate === 'true') {
        const patch = [{ op: 'add', path: `/metadata/labels/${MUTATED_LABEL.replace('/', '~1')}`, value: 'true' }];
        Object.assign(response, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
      }
      const answer = () => {
        if (res.destroyed) return;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
      };
      if (path === '/slow') setTimeout(answer, 2500);
      else answer();
    });
  };
}

interface HookSpec {
  name: string;
  path: string;
  selector: Record<string, string>;
  failurePolicy?: 'Fail' | 'Ignore';
  timeoutSeconds?: number;
  sideEffects?: string;
}

function webhookConfiguration(kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration', name: string, base: string, caPem: string, hooks: HookSpec[]): string {
  return JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name },
    webhooks: hooks.map((h) => ({
      name: h.name,
      admissionReviewVersions: ['v1'],
      sideEffects: h.sideEffects ?? 'None',
      failurePolicy: h.failurePolicy ?? 'Fail',
      timeoutSeconds: h.timeoutSeconds ?? 5,
      clientConfig: { url: `${base}${h.path}`, caBundle: Buffer.from(caPem).toString('base64') },
      objectSelector: { matchLabels: h.selector },
      rules: [{ apiGroups: ['metal3.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['baremetalhosts'], scope: 'Namespaced' }],
    })),
  });
}

describe('admission webhooks on bare-metal hosts, through kubectl', () => {
  let server: RunningServer;
  let hookServer: https.Server;
  const seen: Review[] = [];
  const create = (name: string, labels: Record<string, string>, ...extra: string[]) =>
    kubectl(server, ['-n', NS, 'create', ...extra, '-f', '-'], { input: bmhManifest(name, { labels }) });

  before(async () => {
    requireKubectl();
    const tls = throwawayTLS();
    hookServer = https.createServer({ key: tls.keyPem, cert: tls.certPem }, webhookHandler(seen));
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
    const base = `https://127.0.0.1:${(hookServer.address() as AddressInfo).port}`;
    server = await startServer();
    await createNamespace(server, NS);
    await kubectlOK(server, ['apply', '-f', '-'], {
      input: webhookConfiguration('MutatingWebhookConfiguration', 'label-hosts', base, tls.caPem, [{ name: 'label.hosts.example.com', path: '/mutate', selector: { mutate: 'true' } }]),
    });
    await kubectlOK(server, ['apply', '-f', '-'], {
      input: webhookConfiguration('ValidatingWebhookConfiguration', 'host-rules', base, tls.caPem, [
        { name: 'deny.hosts.example.com', path: '/validate', selector: { deny: 'true' } },
        { name: 'slow-fail.hosts.example.com', path: '/slow', selector: { slow: 'fail' }, timeoutSeconds: 1, failurePolicy: 'Fail' },
        { name: 'slow-ignore.hosts.example.com', path: '/slow', selector: { slow: 'ignore' }, timeoutSeconds: 1, failurePolicy: 'Ignore' },
        { name: 'side-effects.hosts.example.com', path: '/validate', selector: { side: 'effects' }, sideEffects: 'Some' },
      ]),
    });
  });
  after(async () => {
    await server?.stop();
    hookServer?.closeAllConnections();
    hookServer?.close();
  });

  test('a validating webhook denies with its message; hosts it does not select are untouched', async () => {
    const r = await create('denied', { deny: 'true' });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /Error from server \(Forbidden\): error when creating "STDIN": admission webhook "deny\.hosts\.example\.com" denied the request: hosts labelled deny=true are not accepted here/);
    const get = await kubectl(server, ['-n', NS, 'get', 'bmh', 'denied']);
    assert.match(get.stderr, /not found/);
    assert.ok(seen.some((s) => s.request.object?.metadata?.name === 'denied' && s.request.operation === 'CREATE'), 'the webhook was called');

    const callsBefore = seen.length;
    const ok = await create('plain', { deny: 'false' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(seen.length, callsBefore, 'objectSelector keeps unselected hosts away from every webhook');
  });

  test('a mutating webhook patch is stored, and validating webhooks see the patched object', async () => {
    const r = await create('mutated', { mutate: 'true', deny: 'true' });
    // The mutation runs first; the validating webhook still denies on deny=true, and it saw the patch.
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /admission webhook "deny\.hosts\.example\.com" denied the request/);
    const validated = seen.find((s) => s.request.object?.metadata?.name === 'mutated' && s.request.object.metadata.labels?.deny === 'true' && s.request.object.metadata.labels[MUTATED_LABEL] === 'true');
    assert.ok(validated, 'the validating webhook received the object with the mutating webhook\'s label');

    assert.equal((await create('mutated', { mutate: 'true' })).code, 0);
    const labels = JSON.parse(await kubectlOK(server, ['-n', NS, 'get', 'bmh', 'mutated', '-o', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
    assert.deepEqual(labels, { mutate: 'true', [MUTATED_LABEL]: 'true' });
  });

  test('a webhook past its timeoutSeconds fails the request under failurePolicy Fail', async () => {
    const started = Date.now();
    const r = await create('slow-fail', { slow: 'fail' });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(
      r.stderr,
      /Internal error occurred: failed calling webhook "slow-fail\.hosts\.example\.com": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/slow\?timeout=1s": context deadline exceeded/,
    );
    assert.ok(Date.now() - started < 2500 + 2000, 'the server gave up at the timeout, not when the webhook answered');
    assert.match((await kubectl(server, ['-n', NS, 'get', 'bmh', 'slow-fail'])).stderr, /not found/);
  });

  test('a webhook past its timeoutSeconds is skipped under failurePolicy Ignore', async () => {
    const r = await create('slow-ignore', { slow: 'ignore' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'baremetalhost.metal3.io/slow-ignore created');
    assert.ok(seen.some((s) => s.request.object?.metadata?.name === 'slow-ignore'), 'the slow webhook was called and then given up on');
    await kubectlOK(server, ['-n', NS, 'get', 'bmh', 'slow-ignore']);
  });

  test('server dry run fails on a webhook with sideEffects Some, and dry runs reach sideEffects None webhooks flagged', async () => {
    const r = await create('side', { side: 'effects' }, '--dry-run=server');
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /admission webhook "side-effects\.hosts\.example\.com" does not support dry run/);
    // The same host without dry run is allowed by that webhook.
    assert.equal((await create('side', { side: 'effects' })).code, 0);

    const dry = await create('dry-mutated', { mutate: 'true' }, '--dry-run=server', '-o', 'json');
    assert.equal(dry.code, 0, dry.stderr);
    const obj = JSON.parse(dry.stdout) as { metadata: { labels: Record<string, string> } };
    assert.equal(obj.metadata.labels[MUTATED_LABEL], 'true', 'the dry-run answer shows the patch');
    const call = seen.find((s) => s.request.object?.metadata?.name === 'dry-mutated');
    assert.equal(call?.request.dryRun, true, 'the webhook is told the request is a dry run');
  });
});
