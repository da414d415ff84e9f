import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import fjp from 'fast-json-patch';
import { admissionReviewRouter, jsonPatchDiff } from '../../webhooks/admissionreview.ts';

const app = express();
app.use(admissionReviewRouter({ enableFakeBMC: false }));

const validHost = () => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { name: 'host-0', namespace: 'default' },
  spec: {
    online: true,
    bmc: { address: 'redfish-virtualmedia://10.0.0.1/redfish/v1/Systems/1', credentialsName: 'bmc-secret' },
    bootMACAddress: '00:11:22:33:44:55',
  },
});

const review = (req: Record<string, unknown>) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group: 'metal3.io', version: 'v1alpha1', kind: 'BareMetalHost' },
    resource: { group: 'metal3.io', version: 'v1alpha1', resource: 'baremetalhosts' },
    name: 'host-0',
    namespace: 'default',
    operation: 'CREATE',
    userInfo: { username: 'alice', groups: ['system:authenticated'] },
    dryRun: false,
    ...req,
  },
});

const validatePath = '/validate-metal3-io-v1alpha1-baremetalhost';
const mutatePath = '/mutate-metal3-io-v1alpha1-baremetalhost';

test('a valid host is allowed, with the uid echoed', async () => {
  const res = await request(app).post(validatePath).send(review({ object: validHost() })).expect(200);
  assert.equal(res.body.apiVersion, 'admission.k8s.io/v1');
  assert.equal(res.body.kind, 'AdmissionReview');
  assert.equal(res.body.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
  assert.equal(res.body.response.allowed, true);
  assert.equal(res.body.response.warnings, undefined);
});

test('an invalid host is denied with every cause in the message and the details', async () => {
  const host = validHost();
  Object.assign(host.spec, { bmc: { address: 'idrac://10.0.0.1', credentialsName: 'c' }, firmware: {}, image: { url: 'http://i/os' }, bootMode: 'BIOS' });
  const res = await request(app).post(validatePath).send(review({ object: host })).expect(200);
  const r = res.body.response;
  assert.equal(r.allowed, false);
  assert.equal(r.status.code, 403);
  assert.equal(r.status.reason, 'Forbidden');
  assert.match(r.status.message, /^BareMetalHost\.metal3\.io "host-0" is invalid: \[/);
  for (const part of ["spec.bmc.address: Invalid value: \"idrac://10.0.0.1\": Unknown BMC type 'idrac' for address idrac://10.0.0.1", 'spec.firmware: Forbidden', 'spec.image.checksum: Required value: checksum is required for normal images', 'spec.bootMode: Unsupported value: "BIOS"']) {
    assert.ok(r.status.message.includes(part), `${part} missing from ${r.status.message}`);
  }
  const fields = r.status.details.causes.map((c: { field: string }) => c.field);
  assert.deepEqual(fields.sort(), ['spec.bmc.address', 'spec.bootMode', 'spec.firmware', 'spec.image.checksum']);
});

test('update rules apply on UPDATE; unknown fields become warnings', async () => {
  const old = { ...validHost(), status: { operationalStatus: 'OK', provisioning: { state: 'provisioned', ID: 'x' } } };
  const changed = structuredClone(old);
  changed.spec.bootMACAddress = '00:11:22:33:44:99';
  (changed.spec as Record<string, unknown>).colour = 'blue';
  const res = await request(app).post(validatePath).send(review({ operation: 'UPDATE', object: changed, oldObject: old })).expect(200);
  assert.equal(res.body.response.allowed, false);
  assert.match(res.body.response.status.message, /spec\.bootMACAddress: Forbidden: bootMACAddress can not be changed once it is set/);
  assert.deepEqual(res.body.response.warnings, ['unknown field "spec.colour"']);
});

test('DELETE is allowed without validation', async () => {
  const res = await request(app).post(validatePath).send(review({ operation: 'DELETE', oldObject: { junk: true } })).expect(200);
  assert.equal(res.body.response.allowed, true);
});

test('mutate returns a JSONPatch that yields the defaulted object', async () => {
  const host = validHost();
  const res = await request(app).post(mutatePath).send(review({ object: host })).expect(200);
  const r = res.body.response;
  assert.equal(r.allowed, true);
  assert.equal(r.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8'));
  const patched = fjp.applyPatch(structuredClone(host), patch).newDocument;
  assert.deepEqual(patched.spec, { ...host.spec, bootMode: 'UEFI', automatedCleaningMode: 'metadata' });
  // an already defaulted object needs no patch
  const again = await request(app).post(mutatePath).send(review({ object: patched })).expect(200);
  assert.equal(again.body.response.patch, undefined);
  assert.equal(again.body.response.allowed, true);
});

test('every kind has both paths', async () => {
  for (const kind of ['bmceventsubscription', 'dataimage', 'hostfirmwarecomponents', 'hostfirmwaresettings', 'hardwaredata', 'preprovisioningimage', 'hostupdatepolicy', 'firmwareschema']) {
    const res = await request(app).post(`/validate-metal3-io-v1alpha1-${kind}`).send(review({ operation: 'DELETE' })).expect(200);
    assert.equal(res.body.response.allowed, true, kind);
    await request(app).post(`/mutate-metal3-io-v1alpha1-${kind}`).send(review({ operation: 'CONNECT' })).expect(200);
  }
  const di = { apiVersion: 'metal3.io/v1alpha1', kind: 'DataImage', metadata: { name: 'h', namespace: 'd' }, spec: { url: 'nfs://x/y' } };
  const res = await request(app).post('/validate-metal3-io-v1alpha1-dataimage').send(review({ object: di })).expect(200);
  assert.equal(res.body.response.allowed, false);
  assert.match(res.body.response.status.message, /^DataImage\.metal3\.io "h" is invalid: spec\.url: Invalid value: "nfs:\/\/x\/y": URL "nfs:\/\/x\/y" is invalid/);
});

test('bad input is a 400 with a clear message, never a crash', async () => {
  const bad: [string | object, RegExp][] = [
    ['not json', /not valid JSON/],
    ['', /empty/],
    ['[1,2]', /must be a JSON object/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }, /expected kind "AdmissionReview"/],
    [{ apiVersion: 'v1', kind: 'AdmissionReview', request: {} }, /unsupported AdmissionReview apiVersion/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /has no request/],
    [review({ uid: undefined, object: validHost() }), /request\.uid is required/],
    [review({ operation: 'PATCH', object: validHost() }), /request\.operation must be one of/],
    [review({ object: undefined }), /request\.object must be a BareMetalHost object/],
    [review({ object: { ...validHost(), kind: 'DataImage' } }), /request\.object is "metal3\.io\/v1alpha1" "DataImage", but this endpoint serves metal3\.io\/v1alpha1 BareMetalHost/],
    [review({ operation: 'UPDATE', object: validHost() }), /request\.oldObject must be a BareMetalHost object/],
  ];
  for (const [body, message] of bad) {
    const req = request(app).post(validatePath).set('Content-Type', 'application/json');
    const res = await (typeof body === 'string' ? req.send(body) : req.send(body)).expect(400);
    assert.equal(res.body.kind, 'Status');
    assert.equal(res.body.reason, 'BadRequest');
    assert.match(res.body.message, message);
  }
});

test('jsonPatchDiff: add, remove, replace, escaped keys, whole-array replace', () => {
  const from = { a: 1, 'x/y': { '~k': 1 }, list: [1, 2], gone: true };
  const to = { a: 2, 'x/y': { '~k': 1, n: null }, list: [1, 2, 3], added: { b: 1 } };
  const ops = jsonPatchDiff(from, to);
  assert.deepEqual(fjp.applyPatch(structuredClone(from), ops as fjp.Operation[]).newDocument, to);
  assert.ok(ops.some((o) => o.path === '/x~1y/n' && o.op === 'add'));
  assert.deepEqual(jsonPatchDiff({ a: [1] }, { a: [1] }), []);
});
