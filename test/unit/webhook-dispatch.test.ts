import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import forge from 'node-forge';
import { StatusError } from '../../api/status.ts';
import type { KubeObject } from '../../api/types.ts';
import type { AdmissionConfigSource } from '../../webhooks/config.ts';
import { WebhookDispatcher } from '../../webhooks/dispatch/index.ts';
import type { AdmissionAttributes, Operation } from '../../webhooks/types.ts';

// A throwaway CA and a serving certificate for the in-test webhook server, valid for the loopback
// address and for the service name a resolver maps to it.
function issueCertificates(caName = 'webhook-test-ca'): { caPem: string; certPem: string; keyPem: string } {
  const keyPair = () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
      publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  };
  const validity = (c: forge.pki.Certificate) => {
    c.validity.notBefore = new Date(Date.now() - 60_000);
    c.validity.notAfter = new Date(Date.now() + 3_600_000);
  };
  const caKeys = keyPair();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = '01';
  validity(ca);
  ca.setSubject([{ name: 'commonName', value: caName }]);
  ca.setIssuer(ca.subject.attributes);
  ca.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const serverKeys = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = serverKeys.publicKey;
  cert.serialNumber = '02';
  validity(cert);
  cert.setSubject([{ name: 'commonName', value: 'webhook' }]);
  cert.setIssuer(ca.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'hooks.webhooks.svc' }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return { caPem: forge.pki.certificateToPem(ca), certPem: forge.pki.certificateToPem(cert), keyPem: serverKeys.privatePem };
}

type JSONObject = Record<string, unknown>;
type Handler = (request: JSONObject, res: ServerResponse) => JSONObject | undefined | Promise<JSONObject | undefined>;

/** The webhook server: a handler per path, and every AdmissionReview request it received. */
class WebhookServer {
  readonly handlers = new Map<string, Handler>();
  readonly calls = new Map<string, JSONObject[]>();
  server!: https.Server;
  port = 0;

  async start(certPem: string, keyPem: string): Promise<void> {
    this.server = https.createServer({ cert: certPem, key: keyPem }, (req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    const review = JSON.parse(Buffer.concat(chunks).toString()) as JSONObject;
    const request = review.request as JSONObject;
    this.calls.set(path, [...(this.calls.get(path) ?? []), { ...request, query: req.url }]);
    const handler = this.handlers.get(path);
    if (!handler) {
      res.writeHead(404).end('no handler');
      return;
    }
    const response = await handler(request, res);
    if (response === undefined) return; // the handler answered itself
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, ...response } }));
  }

  count(path: string): number {
    return this.calls.get(path)?.length ?? 0;
  }

  reset(): void {
    this.handlers.clear();
    this.calls.clear();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

class FakeSource implements AdmissionConfigSource {
  mutating: KubeObject[] = [];
  validating: KubeObject[] = [];
  namespaces = new Map<string, KubeObject>();
  gen = 0;
  validatingAdmissionPolicies = () => [];
  validatingAdmissionPolicyBindings = () => [];
  mutatingWebhookConfigurations = () => this.mutating;
  validatingWebhookConfigurations = () => this.validating;
  namespace = (name: string) => this.namespaces.get(name);
  params = () => undefined;
  generation = () => this.gen;
  set(mutating: KubeObject[], validating: KubeObject[]): void {
    this.mutating = mutating;
    this.validating = validating;
    this.gen++;
  }
}

const bmhRule = { operations: ['CREATE', 'UPDATE'], apiGroups: ['metal3.io'], apiVersions: ['v1alpha1'], resources: ['baremetalhosts'] };

const config = (kind: string, name: string, webhooks: JSONObject[]): KubeObject => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind,
  metadata: { name },
  webhooks,
});

function host(labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name: 'host-0', namespace: 'metal3', labels },
    spec: { online: true, bootMACAddress: '00:11:22:33:44:55' },
  };
}

function attrs(overrides: Partial<AdmissionAttributes> = {}, op: Operation = 'CREATE'): AdmissionAttributes {
  return {
    operation: op,
    group: 'metal3.io',
    version: 'v1alpha1',
    kind: 'BareMetalHost',
    resource: 'baremetalhosts',
    subresource: '',
    namespace: 'metal3',
    name: 'host-0',
    object: host(),
    dryRun: false,
    user: { name: 'alice', uid: 'u-1', groups: ['system:authenticated', 'ops'], extra: { scopes: ['a'] } },
    ...overrides,
  };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejects(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StatusError, `expected a StatusError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the request to be denied');
}

describe('webhook dispatch', () => {
  const certs = issueCertificates();
  const caBundle = Buffer.from(certs.caPem).toString('base64');
  const server = new WebhookServer();
  const source = new FakeSource();
  const logs: string[] = [];
  const annotations: Record<string, string> = {};
  let dispatcher: WebhookDispatcher;

  const hook = (name: string, path: string, extra: JSONObject = {}): JSONObject => ({
    name,
    clientConfig: { url: `https://127.0.0.1:${server.port}${path}`, caBundle },
    rules: [bmhRule],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    ...extra,
  });

  before(async () => {
    await server.start(certs.certPem, certs.keyPem);
    dispatcher = new WebhookDispatcher(source, {
      log: (m) => logs.push(m),
      auditAnnotation: (_a, k, v) => {
        annotations[k] = v;
      },
      serviceResolver: (_ns, _name, port) => new URL(`https://127.0.0.1:${port}`),
    });
  });

  after(async () => {
    dispatcher.close();
    await server.stop();
  });

  const reset = () => {
    server.reset();
    source.set([], []);
    logs.length = 0;
    for (const k of Object.keys(annotations)) delete annotations[k];
  };

  it('sends a complete AdmissionReview v1 request', async () => {
    reset();
    server.handlers.set('/check', () => ({ allowed: true }));
    source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('check.example.com', '/check')])]);
    await dispatcher.validate(attrs(), []);
    const [req] = server.calls.get('/check')!;
    assert.match(String(req.uid), /^[0-9a-f-]{36}$/);
    assert.deepEqual(req.kind, { group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' });
    assert.deepEqual(req.resource, { group: 'metal3.io', version: 'v1alpha1', resource: 'baremetalhosts' });
    assert.deepEqual(req.requestKind, req.kind);
    assert.equal(req.subResource, undefined);
    assert.equal(req.name, 'host-0');
    assert.equal(req.namespace, 'metal3');
    assert.equal(req.operation, 'CREATE');
    assert.deepEqual(req.userInfo, { username: 'alice', uid: 'u-1', groups: ['system:authenticated', 'ops'], extra: { scopes: ['a'] } });
    assert.deepEqual((req.object as KubeObject).spec, host().spec);
    assert.equal(req.oldObject, null);
    assert.equal(req.dryRun, false);
    assert.deepEqual(req.options, { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' });
    assert.equal(req.query, '/check?timeout=10s', 'the default timeout is passed on as kube does');
  });

  it('reports subresources, DELETE options and the old object', async () => {
    reset();
    server.handlers.set('/check', () => ({ allowed: true }));
    const rule = { operations: ['DELETE', 'UPDATE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['baremetalhosts/provision', 'baremetalhosts'] };
    source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('check.example.com', '/check', { rules: [rule] })])]);
    await dispatcher.validate(attrs({ subresource: 'provision', oldObject: host() }, 'UPDATE'), []);
    await dispatcher.validate(attrs({ object: undefined, oldObject: host(), options: { propagationPolicy: 'Background' } }, 'DELETE'), []);
    await dispatcher.validate(attrs({ subresource: 'status', oldObject: host() }, 'UPDATE'), []);
    const [update, del] = server.calls.get('/check')!;
    assert.equal(server.count('/check'), 2, 'baremetalhosts/status is not in the rules');
    assert.equal(update.subResource, 'provision');
    assert.equal(update.requestSubResource, 'provision');
    assert.deepEqual(update.options, { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1' });
    assert.equal(del.object, null);
    assert.equal((del.oldObject as KubeObject).metadata.name, 'host-0');
    assert.deepEqual(del.options, { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', propagationPolicy: 'Background' });
  });

  it('turns a denial into the webhook Status with kube\'s message', async () => {
    reset();
    server.handlers.set('/deny', (req) => {
      const labels = ((req.object as KubeObject).metadata.labels ?? {}) as Record<string, string>;
      if (labels.tier === 'prod') return { allowed: false, status: { code: 403, reason: 'Forbidden', message: 'prod hosts need virtual media' } };
      if (labels.tier === 'mute') return { allowed: false };
      return { allowed: true };
    });
    source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('deny.example.com', '/deny')])]);
    await dispatcher.validate(attrs(), []);
    const e = await rejects(dispatcher.validate(attrs({ object: host({ tier: 'prod' }) }), []));
    assert.equal(e.code, 403);
    assert.equal(e.reason, 'Forbidden');
    assert.equal(e.message, 'admission webhook "deny.example.com" denied the request: prod hosts need virtual media');
    const mute = await rejects(dispatcher.validate(attrs({ object: host({ tier: 'mute' }) }), []));
    assert.equal(mute.code, 400, 'kube never lets a rejection carry a code below 400');
    assert.equal(mute.message, 'admission webhook "deny.example.com" denied the request without explanation');
  });

  it('applies a mutating webhook\'s JSONPatch to the same object, in place', async () => {
    reset();
    server.handlers.set('/patch', () => ({
      allowed: true,
      patchType: 'JSONPatch',
      patch: b64([{ op: 'add', path: '/metadata/labels/patched', value: 'yes' }, { op: 'replace', path: '/spec/online', value: false }]),
    }));
    source.set([config('MutatingWebhookConfiguration', 'm', [hook('patch.example.com', '/patch')])], []);
    const a = attrs();
    const obj = a.object!;
    await dispatcher.mutate(a, []);
    assert.equal(a.object, obj, 'the store keeps its reference to the object');
    assert.equal(obj.metadata.labels?.patched, 'yes');
    assert.equal((obj.spec as JSONObject).online, false);
    assert.deepEqual(JSON.parse(annotations['mutation.webhook.admission.k8s.io/round_0_index_0']), {
      configuration: 'm',
      webhook: 'patch.example.com',
      mutated: true,
    });
  });

  it('runs mutating webhooks by configuration name, each seeing the previous patch', async () => {
    reset();
    const appender = (step: string) => (req: JSONObject) => {
      const steps = ((req.object as KubeObject).metadata.annotations ?? {}).steps;
      const ops = steps === undefined
        ? [{ op: 'add', path: '/metadata/annotations', value: { steps: step } }]
        : [{ op: 'replace', path: '/metadata/annotations/steps', value: `${steps},${step}` }];
      return { allowed: true, patchType: 'JSONPatch', patch: b64(ops) };
    };
    server.handlers.set('/a1', appender('a1'));
    server.handlers.set('/a2', appender('a2'));
    server.handlers.set('/b1', appender('b1'));
    // Listed out of order: kube sorts configurations by name, webhooks keep their order within one.
    source.set([
      config('MutatingWebhookConfiguration', 'b-config', [hook('b1.example.com', '/b1')]),
      config('MutatingWebhookConfiguration', 'a-config', [hook('a1.example.com', '/a1'), hook('a2.example.com', '/a2')]),
    ], []);
    const a = attrs();
    await dispatcher.mutate(a, []);
    assert.equal(a.object!.metadata.annotations?.steps, 'a1,a2,b1');
  });

  it('reinvokes an IfNeeded webhook once when a later webhook changed the object', async () => {
    reset();
    server.handlers.set('/first', () => ({ allowed: true }));
    server.handlers.set('/never', () => ({ allowed: true }));
    server.handlers.set('/changer', (req) =>
      (req.object as KubeObject).metadata.labels?.changed
        ? { allowed: true }
        : { allowed: true, patchType: 'JSONPatch', patch: b64([{ op: 'add', path: '/metadata/labels/changed', value: 'x' }]) },
    );
    source.set([config('MutatingWebhookConfiguration', 'm', [
      hook('first.example.com', '/first', { reinvocationPolicy: 'IfNeeded' }),
      hook('never.example.com', '/never'),
      hook('changer.example.com', '/changer', { reinvocationPolicy: 'IfNeeded' }),
    ])], []);
    await dispatcher.mutate(attrs(), []);
    assert.equal(server.count('/first'), 2, 'IfNeeded and before the change: called again');
    assert.equal(server.count('/never'), 1, 'reinvocationPolicy Never');
    assert.equal(server.count('/changer'), 1, 'a webhook is not reinvoked for its own change');
    assert.equal((server.calls.get('/first')![1].object as KubeObject).metadata.labels?.changed, 'x');

    server.calls.clear();
    await dispatcher.mutate(attrs({ object: host({ changed: 'already' }) }), []);
    assert.equal(server.count('/first'), 1, 'nothing changed: no reinvocation');
  });

  describe('timeouts and failurePolicy', () => {
    const slow = async () => {
      await sleep(2500);
      return { allowed: true };
    };

    it('Fail: a webhook that does not answer in time fails the request with kube\'s message', async () => {
      reset();
      server.handlers.set('/slow', slow);
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('slow.example.com', '/slow', { timeoutSeconds: 1 })])]);
      const started = Date.now();
      const e = await rejects(dispatcher.validate(attrs(), []));
      assert.ok(Date.now() - started < 2000, 'gave up at the deadline');
      assert.equal(e.code, 500);
      assert.equal(e.reason, 'InternalError');
      assert.equal(
        e.message,
        `Internal error occurred: failed calling webhook "slow.example.com": failed to call webhook: Post "https://127.0.0.1:${server.port}/slow?timeout=1s": context deadline exceeded`,
      );
      assert.equal(server.calls.get('/slow')![0].query, '/slow?timeout=1s');
    });

    it('Ignore: the same timeout lets the request through and logs it', async () => {
      reset();
      server.handlers.set('/slow', slow);
      source.set([config('MutatingWebhookConfiguration', 'm', [hook('slow.example.com', '/slow', { timeoutSeconds: 1, failurePolicy: 'Ignore' })])],
        [config('ValidatingWebhookConfiguration', 'v', [hook('slow.example.com', '/slow', { timeoutSeconds: 1, failurePolicy: 'Ignore' })])]);
      const a = attrs();
      await dispatcher.mutate(a, []);
      await dispatcher.validate(a, []);
      assert.equal(server.count('/slow'), 2);
      assert.equal(logs.length, 2);
      assert.match(logs[0], /failing open slow\.example\.com .*context deadline exceeded/);
      assert.equal(annotations['failed-open.mutation.webhook.admission.k8s.io/round_0_index_0'], 'slow.example.com');
      assert.equal(annotations['failed-open.validating.webhook.admission.k8s.io/round_0_index_0'], 'slow.example.com');
    });

    it('a non-2xx answer and an unreachable webhook are call failures', async () => {
      reset();
      server.handlers.set('/boom', (_req, res) => {
        res.writeHead(500).end('kaboom');
        return undefined;
      });
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('boom.example.com', '/boom')])]);
      const e = await rejects(dispatcher.validate(attrs(), []));
      assert.equal(e.message, 'Internal error occurred: failed calling webhook "boom.example.com": failed to call webhook: an error on the server ("kaboom") has prevented the request from succeeding');

      source.set([], [config('ValidatingWebhookConfiguration', 'v', [{ ...hook('gone.example.com', '/x'), clientConfig: { url: 'https://127.0.0.1:1/x', caBundle } }])]);
      const gone = await rejects(dispatcher.validate(attrs(), []));
      assert.equal(gone.message, 'Internal error occurred: failed calling webhook "gone.example.com": failed to call webhook: Post "https://127.0.0.1:1/x?timeout=10s": dial tcp 127.0.0.1:1: connect: connection refused');
    });

    it('verifies the serving certificate against caBundle', async () => {
      reset();
      server.handlers.set('/check', () => ({ allowed: true }));
      // Another CA altogether, and an impostor CA with the same name as the real one.
      for (const caName of ['someone-else', 'webhook-test-ca']) {
        const other = Buffer.from(issueCertificates(caName).caPem).toString('base64');
        source.set([], [config('ValidatingWebhookConfiguration', 'v', [{ ...hook('tls.example.com', '/check'), clientConfig: { url: `https://127.0.0.1:${server.port}/check`, caBundle: other } }])]);
        const e = await rejects(dispatcher.validate(attrs(), []));
        assert.match(e.message, /failed to call webhook: Post ".*": tls: failed to verify certificate: x509: certificate signed by unknown authority$/);
      }
      assert.equal(server.count('/check'), 0);

      source.set([], [config('ValidatingWebhookConfiguration', 'v', [{ ...hook('tls.example.com', '/check'), clientConfig: { url: `https://127.0.0.1:${server.port}/check`, caBundle: 'bm90IGEgY2VydA==' } }])]);
      const bad = await rejects(dispatcher.validate(attrs(), []));
      assert.equal(bad.message, 'Internal error occurred: failed calling webhook "tls.example.com": could not get REST client: unable to load root certificates: unable to parse bytes as PEM block');
    });

    it('reaches a service through the resolver and checks the certificate for its DNS name', async () => {
      reset();
      server.handlers.set('/svc', () => ({ allowed: true, warnings: ['via service'] }));
      const service = { namespace: 'webhooks', name: 'hooks', path: '/svc', port: server.port };
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [{ ...hook('svc.example.com', '/svc'), clientConfig: { service, caBundle } }])]);
      const warnings: string[] = [];
      await dispatcher.validate(attrs(), warnings);
      assert.deepEqual(warnings, ['via service']);

      // The certificate does not name this service: TLS must fail although the address is the same.
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [{ ...hook('svc.example.com', '/svc'), clientConfig: { service: { ...service, name: 'other' }, caBundle } }])]);
      const e = await rejects(dispatcher.validate(attrs(), []));
      assert.match(e.message, /Post "https:\/\/127\.0\.0\.1:\d+\/svc\?timeout=10s": tls: failed to verify certificate: x509: certificate is valid for hooks\.webhooks\.svc, 127\.0\.0\.1, not other\.webhooks\.svc$/);
    });
  });

  describe('dry run and sideEffects', () => {
    it('refuses a dry run when a matching webhook has side effects, without calling it', async () => {
      reset();
      server.handlers.set('/fx', () => ({ allowed: true }));
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('fx.example.com', '/fx', { sideEffects: 'Some', failurePolicy: 'Ignore' })])]);
      const e = await rejects(dispatcher.validate(attrs({ dryRun: true }), []));
      assert.equal(e.code, 400);
      assert.equal(e.reason, 'BadRequest');
      assert.equal(e.message, 'admission webhook "fx.example.com" does not support dry run');
      assert.equal(server.count('/fx'), 0);
      await dispatcher.validate(attrs({ dryRun: false }), []);
      assert.equal(server.count('/fx'), 1, 'without dry run the webhook is called');
    });

    it('calls None and NoneOnDryRun webhooks with dryRun: true', async () => {
      reset();
      server.handlers.set('/none', () => ({ allowed: true }));
      server.handlers.set('/nodry', () => ({ allowed: true }));
      source.set([config('MutatingWebhookConfiguration', 'm', [hook('none.example.com', '/none')])],
        [config('ValidatingWebhookConfiguration', 'v', [hook('nodry.example.com', '/nodry', { sideEffects: 'NoneOnDryRun' })])]);
      const a = attrs({ dryRun: true });
      await dispatcher.mutate(a, []);
      await dispatcher.validate(a, []);
      assert.equal(server.calls.get('/none')![0].dryRun, true);
      assert.equal(server.calls.get('/nodry')![0].dryRun, true);
      assert.deepEqual((server.calls.get('/nodry')![0].options as JSONObject).dryRun, ['All']);
    });
  });

  describe('validating webhooks', () => {
    it('pass their warnings on, and the first denial in order wins', async () => {
      reset();
      server.handlers.set('/warn', () => ({ allowed: true, warnings: ['bootMACAddress will be required', 'second'] }));
      server.handlers.set('/deny1', async () => {
        await sleep(300);
        return { allowed: false, status: { code: 422, reason: 'Invalid', message: 'first' } };
      });
      server.handlers.set('/deny2', () => ({ allowed: false, status: { code: 403, message: 'second' } }));
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('warn.example.com', '/warn')])]);
      const warnings: string[] = ['earlier'];
      await dispatcher.validate(attrs(), warnings);
      assert.deepEqual(warnings, ['earlier', 'bootMACAddress will be required', 'second']);

      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('deny1.example.com', '/deny1'), hook('deny2.example.com', '/deny2'), hook('warn.example.com', '/warn')])]);
      const w2: string[] = [];
      const e = await rejects(dispatcher.validate(attrs(), w2));
      assert.equal(e.code, 422);
      assert.equal(e.message, 'admission webhook "deny1.example.com" denied the request: first');
      assert.equal(w2.length, 2, 'warnings of allowed webhooks still reach the client');
    });

    it('run in parallel', async () => {
      reset();
      const slowAllow = async () => {
        await sleep(400);
        return { allowed: true };
      };
      server.handlers.set('/p1', slowAllow);
      server.handlers.set('/p2', slowAllow);
      server.handlers.set('/p3', slowAllow);
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('p1.example.com', '/p1'), hook('p2.example.com', '/p2'), hook('p3.example.com', '/p3')])]);
      const started = Date.now();
      await dispatcher.validate(attrs(), []);
      assert.ok(Date.now() - started < 1000, `three 400 ms webhooks took ${Date.now() - started} ms`);
    });

    it('may not return a patch', async () => {
      reset();
      server.handlers.set('/sneaky', () => ({ allowed: true, patchType: 'JSONPatch', patch: b64([{ op: 'add', path: '/x', value: 1 }]) }));
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('sneaky.example.com', '/sneaky')])]);
      const e = await rejects(dispatcher.validate(attrs(), []));
      assert.equal(e.message, 'Internal error occurred: failed calling webhook "sneaky.example.com": received invalid webhook response: validating webhook may not return a patch');
    });
  });

  describe('bad responses, per failurePolicy', () => {
    const wrongUID = () => ({ allowed: true, uid: 'not-the-uid' });
    const garbagePatch = () => ({ allowed: true, patchType: 'JSONPatch', patch: b64('this is not json') });

    it('Fail: a wrong uid and an undecodable patch fail the request', async () => {
      reset();
      server.handlers.set('/uid', wrongUID);
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('uid.example.com', '/uid')])]);
      const e = await rejects(dispatcher.validate(attrs(), []));
      const sentUID = server.calls.get('/uid')![0].uid;
      assert.equal(e.code, 500);
      assert.equal(e.message, `Internal error occurred: failed calling webhook "uid.example.com": received invalid webhook response: expected response.uid="${sentUID}", got "not-the-uid"`);

      server.handlers.set('/garbage', garbagePatch);
      source.set([config('MutatingWebhookConfiguration', 'm', [hook('garbage.example.com', '/garbage')])], []);
      const p = await rejects(dispatcher.mutate(attrs(), []));
      assert.equal(p.code, 500);
      assert.match(p.message, /^Internal error occurred: failed calling webhook "garbage\.example\.com": received undecodable patch in webhook response: /);
    });

    it('Ignore: the same responses are ignored and the object stays as it was', async () => {
      reset();
      server.handlers.set('/uid', wrongUID);
      server.handlers.set('/garbage', garbagePatch);
      source.set([config('MutatingWebhookConfiguration', 'm', [hook('garbage.example.com', '/garbage', { failurePolicy: 'Ignore' })])],
        [config('ValidatingWebhookConfiguration', 'v', [hook('uid.example.com', '/uid', { failurePolicy: 'Ignore' })])]);
      const a = attrs();
      await dispatcher.mutate(a, []);
      await dispatcher.validate(a, []);
      assert.deepEqual(a.object, host());
      assert.equal(logs.length, 2);
    });

    it('a patch that does not apply fails the request whatever the failurePolicy, as in kube', async () => {
      reset();
      server.handlers.set('/bad', () => ({ allowed: true, patchType: 'JSONPatch', patch: b64([{ op: 'replace', path: '/spec/missing/deeper', value: 1 }]) }));
      source.set([config('MutatingWebhookConfiguration', 'm', [hook('bad.example.com', '/bad', { failurePolicy: 'Ignore' })])], []);
      const a = attrs();
      const e = await rejects(dispatcher.mutate(a, []));
      assert.equal(e.code, 500);
      assert.deepEqual(a.object, host());
    });

    it('a webhook that does not speak AdmissionReview v1 is a call failure', async () => {
      reset();
      server.handlers.set('/check', () => ({ allowed: true }));
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('old.example.com', '/check', { admissionReviewVersions: ['v1beta1'] })])]);
      const e = await rejects(dispatcher.validate(attrs(), []));
      assert.equal(e.message, 'Internal error occurred: failed calling webhook "old.example.com": could not create admission objects: webhook does not accept known AdmissionReview versions');
      assert.equal(server.count('/check'), 0);
    });
  });

  describe('matching', () => {
    it('namespaceSelector and objectSelector decide which webhooks are called', async () => {
      reset();
      server.handlers.set('/ns', () => ({ allowed: true }));
      server.handlers.set('/obj', () => ({ allowed: true }));
      source.namespaces.set('metal3', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'metal3', labels: { env: 'prod' } } });
      source.namespaces.set('lab', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lab', labels: { env: 'lab' } } });
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [
        hook('ns.example.com', '/ns', { namespaceSelector: { matchLabels: { env: 'prod' } } }),
        hook('obj.example.com', '/obj', { objectSelector: { matchExpressions: [{ key: 'role', operator: 'In', values: ['worker'] }] } }),
      ])]);
      await dispatcher.validate(attrs(), []);
      assert.equal(server.count('/ns'), 1);
      assert.equal(server.count('/obj'), 0, 'no role label');
      await dispatcher.validate(attrs({ namespace: 'lab', object: host({ role: 'worker' }) }), []);
      assert.equal(server.count('/ns'), 1, 'namespace lab is not prod');
      assert.equal(server.count('/obj'), 1);
    });

    it('rules: operations, resources and scope', async () => {
      reset();
      server.handlers.set('/r', () => ({ allowed: true }));
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('r.example.com', '/r', {
        rules: [{ operations: ['CREATE'], apiGroups: ['metal3.io'], apiVersions: ['*'], resources: ['baremetalhosts'], scope: 'Namespaced' }],
      })])]);
      await dispatcher.validate(attrs({ oldObject: host() }, 'UPDATE'), []);
      await dispatcher.validate(attrs({ resource: 'hardwaredata', kind: 'HardwareData' }), []);
      assert.equal(server.count('/r'), 0);
      await dispatcher.validate(attrs(), []);
      assert.equal(server.count('/r'), 1);
    });

    it('matchConditions filter with CEL over object, oldObject and request', async () => {
      reset();
      server.handlers.set('/mc', () => ({ allowed: true }));
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('mc.example.com', '/mc', {
        matchConditions: [
          { name: 'online-only', expression: 'object.spec.online == true' },
          { name: 'not-admins', expression: '!("system:masters" in request.userInfo.groups)' },
          { name: 'created', expression: 'oldObject == null' },
        ],
      })])]);
      await dispatcher.validate(attrs(), []);
      assert.equal(server.count('/mc'), 1);
      const offline = host();
      (offline.spec as JSONObject).online = false;
      await dispatcher.validate(attrs({ object: offline }), []);
      await dispatcher.validate(attrs({ user: { name: 'root', groups: ['system:masters'] } }), []);
      await dispatcher.validate(attrs({ oldObject: host() }, 'UPDATE'), []);
      assert.equal(server.count('/mc'), 1, 'each false condition skips the webhook');
    });

    it('an error in a matchCondition follows failurePolicy', async () => {
      reset();
      server.handlers.set('/mc', () => ({ allowed: true }));
      const broken = { matchConditions: [{ name: 'broken', expression: 'object.spec.image.url.startsWith("https://")' }] };
      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('mc.example.com', '/mc', broken)])]);
      const e = await rejects(dispatcher.validate(attrs(), []));
      assert.equal(e.code, 403);
      assert.match(e.message, /^baremetalhosts\.metal3\.io "host-0" is forbidden: expression 'object\.spec\.image\.url\.startsWith\("https:\/\/"\)' resulted in error: /);

      source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('mc.example.com', '/mc', { ...broken, failurePolicy: 'Ignore' })])]);
      await dispatcher.validate(attrs(), []);
      assert.equal(server.count('/mc'), 0, 'Ignore skips the webhook');
    });
  });

  it('rereads configurations only when the source generation changes', async () => {
    reset();
    server.handlers.set('/check', () => ({ allowed: true }));
    source.set([], [config('ValidatingWebhookConfiguration', 'v', [hook('check.example.com', '/check')])]);
    await dispatcher.validate(attrs(), []);
    source.validating = []; // changed without a new generation: the cached webhooks still apply
    await dispatcher.validate(attrs(), []);
    assert.equal(server.count('/check'), 2);
    source.gen++;
    await dispatcher.validate(attrs(), []);
    assert.equal(server.count('/check'), 2);
  });
});
