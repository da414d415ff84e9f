// AdmissionReview bodies to BMO's webhook paths: any body gets a 200 AdmissionReview or a 4xx Status,
// and a review answers with the request's uid.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import { admissionReviewRouter } from '../../webhooks/admissionreview.ts';
import { assertSane, isObj, params, request } from './harness.ts';
import { kinds, nastyString, objectFor, serialize, wrongValue } from './arbitraries.ts';

const metal3 = kinds.filter((d) => d.group === 'metal3.io');
let server: http.Server;
let base: string;
const crashes: unknown[] = [];
const onCrash = (e: unknown) => crashes.push(e);

before(async () => {
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  const app = express();
  app.use(admissionReviewRouter({ enableFakeBMC: false }));
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  process.off('unhandledRejection', onCrash);
  process.off('uncaughtException', onCrash);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.deepEqual(crashes, []);
});


test('AdmissionReview bodies: mutated objects, broken reviews and junk', async () => {
  const arb = fc.constantFrom(...metal3.map((d) => d.kind)).chain((kind) => {
    const def = metal3.find((d) => d.kind === kind);
    if (!def) throw new Error(kind);
    const obj = objectFor(def, 'fuzz').map((o) => o.body);
    const review = fc.record(
      {
        apiVersion: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1') }, wrongValue),
        kind: fc.oneof({ weight: 5, arbitrary: fc.constant('AdmissionReview') }, wrongValue),
        request: fc.oneof(
          { weight: 6, arbitrary: fc.record({ uid: fc.oneof({ weight: 4, arbitrary: fc.uuid() }, wrongValue), operation: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT') }, wrongValue), object: fc.oneof({ weight: 4, arbitrary: obj }, wrongValue), oldObject: fc.oneof({ weight: 4, arbitrary: obj }, wrongValue), dryRun: wrongValue }, { requiredKeys: ['uid', 'operation'] }) },
          wrongValue,
        ),
      },
      { requiredKeys: [] },
    );
    return fc.record({
      kind: fc.constant(kind),
      mode: fc.constantFrom('validate', 'mutate'),
      text: fc.oneof({ weight: 8, arbitrary: review.map(serialize) }, nastyString, fc.constantFrom('', '{', 'null', '[]', '{"kind":"AdmissionReview"}')),
      ct: fc.constantFrom('application/json', 'application/json', 'text/plain', ''),
    });
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ kind, mode, text, ct }) => {
      const path = `/${mode}-metal3-io-v1alpha1-${kind.toLowerCase()}`;
      const what = `POST ${path} ${text.slice(0, 300)}`;
      const reply = await request(base, 'POST', path, { body: text, contentType: ct });
      assertSane(reply, what);
      if (reply.status !== 200) return;
      assert.ok(isObj(reply.body) && reply.body.kind === 'AdmissionReview' && isObj(reply.body.response), `${what}: a 200 that is not an AdmissionReview`);
      const sent = JSON.parse(text) as { request: { uid: string } };
      assert.equal(reply.body.response.uid, sent.request.uid, `${what}: the response's uid is not the request's`);
      assert.equal(typeof reply.body.response.allowed, 'boolean');
    }),
    params('admissionReview'),
  );
});
