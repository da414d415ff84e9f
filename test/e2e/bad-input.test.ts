// Malformed and hostile requests against the real server: each must be refused with the code, reason,
// message and causes kube-apiserver gives for a custom resource, as a Status, and must leave the store as it was.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from './harness.ts';
import { closeClient, request, watch, type RawResponse } from './client.ts';

type Obj = Record<string, unknown>;

const group = '/apis/metal3.io/v1alpha1';
const hosts = `${group}/namespaces/default/baremetalhosts`;
const host = `${hosts}/a`;
const tooLarge = 3 * 1024 * 1024 + 16;

const asObj = (v: unknown, what = 'value'): Obj => {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what} is not an object: ${JSON.stringify(v)}`);
  return v as Obj;
};

function bmh(name: string, extra: { metadata?: Obj; spec?: Obj; apiVersion?: unknown; kind?: unknown } = {}): Obj {
  return {
    apiVersion: extra.apiVersion ?? 'metal3.io/v1alpha1',
    kind: extra.kind ?? 'BareMetalHost',
    metadata: { name, ...extra.metadata },
    spec: extra.spec ?? { online: true },
  };
}

const json = (v: unknown) => JSON.stringify(v);
const jsonPatch = { 'Content-Type': 'application/json-patch+json' };
const mergePatch = { 'Content-Type': 'application/merge-patch+json' };
const applyPatch = { 'Content-Type': 'application/apply-patch+yaml' };

interface Fixture {
  /** The current state of default/a, read just before the row runs. */
  a: Obj & { metadata: Obj };
}

interface Row {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer | ((fx: Fixture) => string);
  chunked?: boolean;
  anonymous?: boolean;
  code: number;
  reason: string;
  /** Substrings the Status message must contain. */
  message?: string | string[];
  /** A field that must appear among details.causes[].field. */
  field?: string;
}

const rows: Row[] = [
  // ---- bodies that do not decode ----
  { name: 'broken JSON', method: 'POST', path: hosts, body: '{"apiVersion": metal3.io/v1alpha1}', code: 400, reason: 'BadRequest' },
  {
    name: 'truncated JSON',
    method: 'POST',
    path: hosts,
    body: '{"apiVersion":"metal3.io/v1alpha1","kind":"BareMetalHost","metadata":{"name":"t"',
    code: 400,
    reason: 'BadRequest',
  },
  { name: 'a JSON array instead of an object', method: 'POST', path: hosts, body: json([bmh('arr')]), code: 400, reason: 'BadRequest' },
  { name: 'a JSON string instead of an object', method: 'POST', path: hosts, body: '"BareMetalHost"', code: 400, reason: 'BadRequest' },
  { name: 'an empty body', method: 'POST', path: hosts, body: '', code: 400, reason: 'BadRequest' },
  { name: 'broken YAML', method: 'POST', path: hosts, headers: { 'Content-Type': 'application/yaml' }, body: 'kind: [BareMetalHost', code: 400, reason: 'BadRequest' },
  {
    name: 'a text/plain body',
    method: 'POST',
    path: hosts,
    headers: { 'Content-Type': 'text/plain' },
    body: json(bmh('plain')),
    code: 415,
    reason: 'UnsupportedMediaType',
    message: 'the body of the request was in an unknown format - accepted media types include: application/json',
  },
  {
    name: 'a body over 3 MiB with Content-Length',
    method: 'POST',
    path: hosts,
    body: json(bmh('big', { metadata: { annotations: { x: 'y'.repeat(tooLarge) } } })),
    code: 413,
    reason: 'RequestEntityTooLarge',
    message: 'limit is 3145728',
  },
  {
    name: 'a body over 3 MiB sent chunked',
    method: 'POST',
    path: hosts,
    chunked: true,
    body: json(bmh('big', { metadata: { annotations: { x: 'y'.repeat(tooLarge) } } })),
    code: 413,
    reason: 'RequestEntityTooLarge',
    message: 'limit is 3145728',
  },
  {
    name: 'a PUT body over 3 MiB sent chunked',
    method: 'PUT',
    path: host,
    chunked: true,
    body: (fx) => json({ ...fx.a, metadata: { ...fx.a.metadata, annotations: { x: 'y'.repeat(tooLarge) } } }),
    code: 413,
    reason: 'RequestEntityTooLarge',
  },

  // ---- type and object meta that do not match the URL ----
  { name: 'a kind that does not match the URL', method: 'POST', path: hosts, body: json(bmh('k', { kind: 'HardwareData' })), code: 400, reason: 'BadRequest' },
  {
    name: 'an apiVersion that does not match the URL',
    method: 'POST',
    path: hosts,
    body: json(bmh('v', { apiVersion: 'metal3.io/v1' })),
    code: 400,
    reason: 'BadRequest',
    message: 'the API version in the data (metal3.io/v1) does not match the expected API version (metal3.io/v1alpha1)',
  },
  // An own "toString" key that is not a function makes String(value) throw: each must be a 400, not a 500.
  ...(['apiVersion', 'kind'] as const).map((field): Row => ({
    name: `an object with a "toString" key as ${field}`,
    method: 'POST',
    path: hosts,
    body: json(bmh('ts', { [field]: { toString: { x: 1 } } })),
    code: 400,
    reason: 'BadRequest',
    message: `cannot unmarshal object into Go struct field .${field} of type string`,
  })),
  { name: 'the same object as apiVersion of a merge patch', method: 'PATCH', path: host, headers: mergePatch, body: json({ apiVersion: { toString: {} } }), code: 400, reason: 'BadRequest', message: '.apiVersion of type string' },
  { name: 'the same object as kind of a delete body', method: 'DELETE', path: host, body: json({ kind: { toString: {} } }), code: 400, reason: 'BadRequest', message: 'the kind in the data ({"toString":{}})' },
  { name: 'the same object as kind of a provision request', method: 'POST', path: `${host}/provision`, body: json({ apiVersion: 'metal3.io/v1alpha1', kind: { toString: 1 } }), code: 400, reason: 'BadRequest', message: 'not metal3.io/v1alpha1 {"toString":1}' },
  {
    name: 'a Secret whose stringData value is not a string',
    method: 'POST',
    path: '/api/v1/namespaces/default/secrets',
    body: json({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sd' }, stringData: { a: { toString: {} } } }),
    code: 400,
    reason: 'BadRequest',
    message: 'cannot unmarshal object into Go struct field Secret.stringData of type string',
  },
  {
    name: 'no kind at all',
    method: 'POST',
    path: hosts,
    body: json({ apiVersion: 'metal3.io/v1alpha1', metadata: { name: 'nokind' }, spec: { online: true } }),
    code: 400,
    reason: 'BadRequest',
    message: "Object 'Kind' is missing",
  },
  {
    name: 'a PUT whose body names another object',
    method: 'PUT',
    path: host,
    body: (fx) => json({ ...fx.a, metadata: { ...fx.a.metadata, name: 'b' } }),
    code: 400,
    reason: 'BadRequest',
    message: 'the name of the object (b) does not match the name on the URL (a)',
  },
  {
    name: 'a POST whose namespace differs from the URL',
    method: 'POST',
    path: hosts,
    body: json(bmh('ns', { metadata: { namespace: 'kube-system' } })),
    code: 400,
    reason: 'BadRequest',
    message: 'the namespace of the provided object does not match the namespace sent on the request',
  },
  {
    name: 'a PUT whose namespace differs from the URL',
    method: 'PUT',
    path: host,
    body: (fx) => json({ ...fx.a, metadata: { ...fx.a.metadata, namespace: 'kube-system' } }),
    code: 400,
    reason: 'BadRequest',
    message: 'the namespace of the provided object does not match the namespace sent on the request',
  },

  // ---- object meta validation ----
  { name: 'an upper-case name', method: 'POST', path: hosts, body: json(bmh('Host-1')), code: 422, reason: 'Invalid', message: 'BareMetalHost.metal3.io "Host-1" is invalid', field: 'metadata.name' },
  { name: 'a 254-character name', method: 'POST', path: hosts, body: json(bmh('h'.repeat(254))), code: 422, reason: 'Invalid', field: 'metadata.name' },
  { name: 'the name ".."', method: 'POST', path: hosts, body: json(bmh('..')), code: 422, reason: 'Invalid', field: 'metadata.name' },
  { name: 'a name with an underscore', method: 'POST', path: hosts, body: json(bmh('host_1')), code: 422, reason: 'Invalid', field: 'metadata.name' },
  {
    name: 'an invalid generateName',
    method: 'POST',
    path: hosts,
    body: json({ ...bmh(''), metadata: { generateName: 'Worker_' } }),
    code: 422,
    reason: 'Invalid',
    field: 'metadata.generateName',
  },
  {
    name: 'an invalid label key',
    method: 'POST',
    path: hosts,
    body: json(bmh('lk', { metadata: { labels: { 'bad key!': 'x' } } })),
    code: 422,
    reason: 'Invalid',
    field: 'metadata.labels',
  },
  {
    name: 'an invalid label value',
    method: 'POST',
    path: hosts,
    body: json(bmh('lv', { metadata: { labels: { rack: 'not a value' } } })),
    code: 422,
    reason: 'Invalid',
    field: 'metadata.labels',
  },
  {
    name: 'a label value over 63 characters',
    method: 'POST',
    path: hosts,
    body: json(bmh('lv2', { metadata: { labels: { rack: 'r'.repeat(64) } } })),
    code: 422,
    reason: 'Invalid',
    field: 'metadata.labels',
  },
  {
    name: 'an invalid annotation key',
    method: 'POST',
    path: hosts,
    body: json(bmh('ak', { metadata: { annotations: { '/nope': 'x' } } })),
    code: 422,
    reason: 'Invalid',
    field: 'metadata.annotations',
  },
  {
    name: 'a resourceVersion on create',
    method: 'POST',
    path: hosts,
    body: json(bmh('rv', { metadata: { resourceVersion: '1' } })),
    code: 422,
    reason: 'Invalid',
    field: 'metadata.resourceVersion',
  },
  {
    name: 'a spec field of the wrong type',
    method: 'POST',
    path: hosts,
    body: json(bmh('ty', { spec: { online: 'yes' } })),
    code: 422,
    reason: 'Invalid',
    field: 'spec.online',
  },
  { name: 'a spec without its required field', method: 'POST', path: hosts, body: json(bmh('req', { spec: {} })), code: 422, reason: 'Invalid', field: 'spec.online' },
  {
    name: 'a name that already exists',
    method: 'POST',
    path: hosts,
    body: json(bmh('a')),
    code: 409,
    reason: 'AlreadyExists',
    message: 'baremetalhosts.metal3.io "a" already exists',
  },
  {
    name: 'a create into a namespace that does not exist',
    method: 'POST',
    path: `${group}/namespaces/nowhere/baremetalhosts`,
    body: json(bmh('n')),
    code: 404,
    reason: 'NotFound',
    message: 'namespaces "nowhere" not found',
  },

  // ---- selectors and list options ----
  { name: 'a bad label selector', method: 'GET', path: `${hosts}?labelSelector=${encodeURIComponent('rack in (r1')}`, code: 400, reason: 'BadRequest' },
  { name: 'a label selector with a bad key', method: 'GET', path: `${hosts}?labelSelector=${encodeURIComponent('bad key=x')}`, code: 400, reason: 'BadRequest' },
  { name: 'a field selector without an operator', method: 'GET', path: `${hosts}?fieldSelector=metadata.name`, code: 400, reason: 'BadRequest' },
  {
    name: 'a field selector on an unsupported field',
    method: 'GET',
    path: `${hosts}?fieldSelector=${encodeURIComponent('spec.online=true')}`,
    code: 400,
    reason: 'BadRequest',
    message: 'field label not supported: spec.online',
  },
  { name: 'an unknown continue token', method: 'GET', path: `${hosts}?limit=1&continue=bm90LWEtdG9rZW4`, code: 400, reason: 'BadRequest', message: 'continue key is not valid' },
  { name: 'a limit that is not a number', method: 'GET', path: `${hosts}?limit=ten`, code: 400, reason: 'BadRequest' },
  {
    name: 'resourceVersionMatch without resourceVersion',
    method: 'GET',
    path: `${hosts}?resourceVersionMatch=NotOlderThan`,
    code: 422,
    reason: 'Invalid',
    message: 'resourceVersionMatch is forbidden unless resourceVersion is provided',
    field: 'resourceVersionMatch',
  },
  {
    name: 'resourceVersionMatch=Exact with resourceVersion 0',
    method: 'GET',
    path: `${hosts}?resourceVersion=0&resourceVersionMatch=Exact`,
    code: 422,
    reason: 'Invalid',
    field: 'resourceVersionMatch',
  },
  { name: 'an unsupported resourceVersionMatch', method: 'GET', path: `${hosts}?resourceVersion=1&resourceVersionMatch=Newest`, code: 422, reason: 'Invalid', field: 'resourceVersionMatch' },
  { name: 'a watch timeoutSeconds that is not a number', method: 'GET', path: `${hosts}?watch=true&timeoutSeconds=soon`, code: 400, reason: 'BadRequest' },

  // ---- write options ----
  {
    name: 'fieldValidation=Strict with an unknown field',
    method: 'POST',
    path: `${hosts}?fieldValidation=Strict`,
    body: json(bmh('strict', { spec: { online: true, foo: 1 } })),
    code: 400,
    reason: 'BadRequest',
    message: 'strict decoding error: unknown field "spec.foo"',
  },
  {
    name: 'fieldValidation=Strict with a duplicate field',
    method: 'POST',
    path: `${hosts}?fieldValidation=Strict`,
    body: '{"apiVersion":"metal3.io/v1alpha1","kind":"BareMetalHost","metadata":{"name":"dup"},"spec":{"online":true,"online":false}}',
    code: 400,
    reason: 'BadRequest',
    message: 'duplicate field "spec.online"',
  },
  {
    name: 'fieldValidation=Strict on a merge patch with an unknown field',
    method: 'PATCH',
    path: `${host}?fieldValidation=Strict`,
    headers: mergePatch,
    body: json({ spec: { foo: 1 } }),
    code: 400,
    reason: 'BadRequest',
    message: 'unknown field "spec.foo"',
  },
  { name: 'an unsupported fieldValidation', method: 'POST', path: `${hosts}?fieldValidation=Loose`, body: json(bmh('fv')), code: 422, reason: 'Invalid', field: 'fieldValidation' },
  { name: 'a fieldManager over 128 characters', method: 'POST', path: `${hosts}?fieldManager=${'m'.repeat(129)}`, body: json(bmh('fm')), code: 422, reason: 'Invalid', field: 'fieldManager' },
  {
    name: 'dryRun=Foo on create',
    method: 'POST',
    path: `${hosts}?dryRun=Foo`,
    body: json(bmh('dry')),
    code: 422,
    reason: 'Invalid',
    message: 'CreateOptions.meta.k8s.io "" is invalid',
    field: 'dryRun',
  },

  // ---- updates and optimistic concurrency ----
  {
    name: 'a PUT without resourceVersion',
    method: 'PUT',
    path: host,
    body: (fx) => json({ ...fx.a, metadata: { ...fx.a.metadata, resourceVersion: undefined } }),
    code: 422,
    reason: 'Invalid',
    message: 'must be specified for an update',
    field: 'metadata.resourceVersion',
  },
  {
    name: 'a PUT with a stale resourceVersion',
    method: 'PUT',
    path: host,
    body: (fx) => json({ ...fx.a, metadata: { ...fx.a.metadata, resourceVersion: '1' }, spec: { online: false } }),
    code: 409,
    reason: 'Conflict',
    message:
      'Operation cannot be fulfilled on baremetalhosts.metal3.io "a": the object has been modified; please apply your changes to the latest version and try again',
  },
  {
    name: 'a PUT to an object that does not exist',
    method: 'PUT',
    path: `${hosts}/missing`,
    body: json(bmh('missing', { metadata: { resourceVersion: '1' } })),
    code: 404,
    reason: 'NotFound',
    message: 'baremetalhosts.metal3.io "missing" not found',
  },
  {
    name: 'a merge patch with a stale resourceVersion',
    method: 'PATCH',
    path: host,
    headers: mergePatch,
    body: json({ metadata: { resourceVersion: '1' }, spec: { online: false } }),
    code: 409,
    reason: 'Conflict',
    message: 'the object has been modified',
  },
  { name: 'a merge patch to an object that does not exist', method: 'PATCH', path: `${hosts}/missing`, headers: mergePatch, body: '{}', code: 404, reason: 'NotFound' },

  // ---- patches ----
  {
    name: 'a json-patch that changes uid',
    method: 'PATCH',
    path: host,
    headers: jsonPatch,
    body: json([{ op: 'replace', path: '/metadata/uid', value: '00000000-0000-0000-0000-000000000000' }]),
    code: 422,
    reason: 'Invalid',
    message: 'field is immutable',
    field: 'metadata.uid',
  },
  {
    name: 'a json-patch whose test fails',
    method: 'PATCH',
    path: host,
    headers: jsonPatch,
    body: json([
      { op: 'test', path: '/spec/online', value: false },
      { op: 'replace', path: '/spec/online', value: false },
    ]),
    code: 422,
    reason: 'Invalid',
  },
  {
    name: 'a json-patch removing a path that does not exist',
    method: 'PATCH',
    path: host,
    headers: jsonPatch,
    body: json([{ op: 'remove', path: '/spec/nothing/here' }]),
    code: 422,
    reason: 'Invalid',
  },
  { name: 'a json-patch that is not an array', method: 'PATCH', path: host, headers: jsonPatch, body: json({ op: 'add', path: '/spec/online', value: false }), code: 400, reason: 'BadRequest' },
  { name: 'a json-patch that is not JSON', method: 'PATCH', path: host, headers: jsonPatch, body: '[{"op":', code: 400, reason: 'BadRequest' },
  { name: 'a merge patch that is not an object', method: 'PATCH', path: host, headers: mergePatch, body: '[1,2]', code: 400, reason: 'BadRequest' },
  { name: 'a merge patch that is not JSON', method: 'PATCH', path: host, headers: mergePatch, body: '{spec:', code: 400, reason: 'BadRequest' },
  {
    name: 'a strategic merge patch',
    method: 'PATCH',
    path: host,
    headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
    body: json({ spec: { online: false } }),
    code: 415,
    reason: 'UnsupportedMediaType',
    message:
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
  },
  { name: 'a patch sent as text/plain', method: 'PATCH', path: host, headers: { 'Content-Type': 'text/plain' }, body: '{}', code: 415, reason: 'UnsupportedMediaType' },
  {
    name: 'an apply patch without fieldManager',
    method: 'PATCH',
    path: host,
    headers: applyPatch,
    body: json(bmh('a')),
    code: 422,
    reason: 'Invalid',
    message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    field: 'fieldManager',
  },
  {
    name: 'force on a merge patch',
    method: 'PATCH',
    path: `${host}?force=true`,
    headers: mergePatch,
    body: json({ spec: { online: false } }),
    code: 422,
    reason: 'Invalid',
    message: 'force: Forbidden: may not be specified for non-apply patch',
    field: 'force',
  },

  // ---- deletes ----
  {
    name: 'deleting an object that does not exist',
    method: 'DELETE',
    path: `${hosts}/x`,
    code: 404,
    reason: 'NotFound',
    message: 'baremetalhosts.metal3.io "x" not found',
  },
  {
    name: 'a delete whose uid precondition does not match',
    method: 'DELETE',
    path: host,
    body: json({ kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: 'not-the-uid' } }),
    code: 409,
    reason: 'Conflict',
    message: ['Operation cannot be fulfilled on baremetalhosts.metal3.io "a"', 'Precondition failed: UID in precondition: not-the-uid'],
  },
  {
    name: 'a delete whose resourceVersion precondition does not match',
    method: 'DELETE',
    path: host,
    body: json({ preconditions: { resourceVersion: '1' } }),
    code: 409,
    reason: 'Conflict',
    message: 'Precondition failed: ResourceVersion in precondition: 1',
  },
  {
    name: 'an invalid propagationPolicy in the query',
    method: 'DELETE',
    path: `${host}?propagationPolicy=Eventually`,
    code: 422,
    reason: 'Invalid',
    field: 'propagationPolicy',
  },
  {
    name: 'an invalid propagationPolicy in DeleteOptions',
    method: 'DELETE',
    path: host,
    body: json({ propagationPolicy: 'Eventually' }),
    code: 422,
    reason: 'Invalid',
    field: 'propagationPolicy',
  },
  { name: 'dryRun=Foo on delete', method: 'DELETE', path: `${host}?dryRun=Foo`, code: 422, reason: 'Invalid', field: 'dryRun' },
  { name: 'dryRun Foo in DeleteOptions', method: 'DELETE', path: host, body: json({ dryRun: ['Foo'] }), code: 422, reason: 'Invalid', field: 'dryRun' },
  { name: 'a DeleteOptions body that is not JSON', method: 'DELETE', path: host, body: '{"propagationPolicy":', code: 400, reason: 'BadRequest' },
  { name: 'a delete body of another kind', method: 'DELETE', path: host, body: json({ kind: 'Pod', apiVersion: 'v1' }), code: 400, reason: 'BadRequest' },
  {
    name: 'deletecollection with a bad label selector',
    method: 'DELETE',
    path: `${hosts}?labelSelector=${encodeURIComponent('a in (b')}`,
    code: 400,
    reason: 'BadRequest',
  },

  // ---- routing, methods, negotiation, authentication ----
  { name: 'an unknown resource', method: 'GET', path: `${group}/namespaces/default/flunders`, code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' },
  { name: 'an unknown version', method: 'GET', path: '/apis/metal3.io/v1/namespaces/default/baremetalhosts', code: 404, reason: 'NotFound' },
  { name: 'an unknown group', method: 'GET', path: '/apis/example.com/v1/namespaces/default/widgets', code: 404, reason: 'NotFound' },
  { name: 'an unknown subresource', method: 'GET', path: `${host}/scale`, code: 404, reason: 'NotFound', message: 'baremetalhosts.metal3.io "a" not found' },
  { name: 'a namespaced object on a cluster path', method: 'GET', path: `${group}/baremetalhosts/a`, code: 404, reason: 'NotFound' },
  {
    name: 'an unsupported method on a collection',
    method: 'OPTIONS',
    path: hosts,
    code: 405,
    reason: 'MethodNotAllowed',
    message: 'options is not supported on resources of kind "baremetalhosts.metal3.io"',
  },
  { name: 'DELETE on the status subresource', method: 'DELETE', path: `${host}/status`, code: 405, reason: 'MethodNotAllowed', message: 'delete is not supported' },
  {
    name: 'a get with nothing acceptable in Accept',
    method: 'GET',
    path: host,
    headers: { Accept: 'application/xml' },
    code: 406,
    reason: 'NotAcceptable',
    message: 'the server was unable to respond with a content type that the client supports',
  },
  { name: 'a list with nothing acceptable in Accept', method: 'GET', path: hosts, headers: { Accept: 'text/html' }, code: 406, reason: 'NotAcceptable' },
  { name: 'a request without a client certificate', method: 'GET', path: hosts, anonymous: true, code: 401, reason: 'Unauthorized', message: 'Unauthorized' },
  { name: 'a write without a client certificate', method: 'POST', path: hosts, anonymous: true, body: json(bmh('anon')), code: 401, reason: 'Unauthorized' },
];

function assertStatus(r: RawResponse, code: number, reason: string, what: string): Obj {
  assert.equal(r.status, code, `${what}: HTTP ${r.status}, body ${r.body.slice(0, 500)}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, `${what}: content type`);
  const s = asObj(r.json(), 'response');
  assert.equal(s.kind, 'Status', `${what}: ${r.body.slice(0, 300)}`);
  assert.equal(s.apiVersion, 'v1');
  assert.equal(s.status, 'Failure');
  assert.equal(s.code, code);
  assert.equal(s.reason, reason, `${what}: ${String(s.message)}`);
  assert.equal(typeof s.message, 'string');
  return s;
}

describe('bad input', () => {
  let server: RunningServer;

  /** resourceVersions of the lists and of every item, for "nothing changed" checks. */
  async function snapshot(): Promise<unknown> {
    const out: Record<string, unknown> = {};
    for (const path of [`${group}/baremetalhosts`, '/api/v1/namespaces']) {
      const r = await request(server, 'GET', path);
      assert.equal(r.status, 200, r.body);
      const list = asObj(r.json());
      const items = (list.items as Obj[]).map((i) => {
        const m = asObj(i.metadata);
        return [`${String(m.namespace ?? '')}/${String(m.name)}`, m.resourceVersion];
      });
      out[path] = { resourceVersion: asObj(list.metadata).resourceVersion, items };
    }
    return out;
  }

  async function getA(): Promise<Fixture['a']> {
    const r = await request(server, 'GET', host);
    assert.equal(r.status, 200, r.body);
    return r.json() as Fixture['a'];
  }

  before(async () => {
    server = await startServer();
    const created = await request(server, 'POST', hosts, { body: json(bmh('a', { metadata: { labels: { rack: 'r1' } } })) });
    assert.equal(created.status, 201, created.body);
  });

  after(async () => {
    closeClient(server);
    await server.stop();
  });

  test('the table has at least 40 rows', () => {
    assert.ok(rows.length >= 40, `${rows.length} rows`);
  });

  for (const row of rows) {
    test(`${row.method} ${row.name} → ${row.code} ${row.reason}`, async () => {
      const fx: Fixture = { a: await getA() };
      const beforeState = await snapshot();
      const body = typeof row.body === 'function' ? row.body(fx) : row.body;
      const r = await request(server, row.method, row.path, { body, headers: row.headers, chunked: row.chunked, anonymous: row.anonymous });
      const status = assertStatus(r, row.code, row.reason, row.name);
      for (const m of typeof row.message === 'string' ? [row.message] : (row.message ?? [])) {
        assert.ok(String(status.message).includes(m), `message ${JSON.stringify(status.message)} lacks ${JSON.stringify(m)}`);
      }
      if (row.field) {
        const causes = (asObj(status.details, 'details').causes ?? []) as Obj[];
        assert.ok(
          causes.some((c) => c.field === row.field),
          `no cause for ${row.field}: ${JSON.stringify(causes)}`,
        );
      }
      assert.deepEqual(await snapshot(), beforeState, 'the request changed the store');
    });
  }

  test('discovery is never 406: /apis with Accept application/xml is JSON', async () => {
    const r = await request(server, 'GET', '/apis', { headers: { Accept: 'application/xml' } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(asObj(r.json()).kind, 'APIGroupList');
  });

  test('fieldValidation=Warn accepts an unknown field with a Warning header and prunes it', async () => {
    const r = await request(server, 'POST', `${hosts}?fieldValidation=Warn`, { body: json(bmh('warned', { spec: { online: true, foo: 1 } })) });
    assert.equal(r.status, 201, r.body);
    assert.match(String(r.headers.warning), /^299 - "unknown field \\"spec\.foo\\""/);
    assert.equal(asObj(asObj(r.json()).spec).foo, undefined);
  });

  test('without fieldValidation the server warns, as kube defaults to Warn', async () => {
    const r = await request(server, 'POST', hosts, { body: json(bmh('defaulted', { spec: { online: true, bar: 1 } })) });
    assert.equal(r.status, 201, r.body);
    assert.match(String(r.headers.warning), /unknown field \\"spec\.bar\\"/);
  });

  test('fieldValidation=Ignore accepts an unknown field silently and prunes it', async () => {
    const r = await request(server, 'POST', `${hosts}?fieldValidation=Ignore`, { body: json(bmh('ignored', { spec: { online: true, foo: 1 } })) });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.headers.warning, undefined);
    const stored = await request(server, 'GET', `${hosts}/ignored`);
    const spec = asObj(asObj(stored.json()).spec);
    assert.equal(spec.online, true);
    assert.equal(spec.foo, undefined);
  });

  test('a json-patch changing creationTimestamp is ignored: 200 and nothing changes', async () => {
    const a = await getA();
    const beforeState = await snapshot();
    const r = await request(server, 'PATCH', host, {
      headers: jsonPatch,
      body: json([{ op: 'replace', path: '/metadata/creationTimestamp', value: '2001-01-01T00:00:00Z' }]),
    });
    assert.equal(r.status, 200, r.body);
    const meta = asObj(asObj(r.json()).metadata);
    assert.equal(meta.creationTimestamp, a.metadata.creationTimestamp);
    assert.equal(meta.resourceVersion, a.metadata.resourceVersion);
    assert.equal(asObj((await getA()).metadata).creationTimestamp, a.metadata.creationTimestamp);
    assert.deepEqual(await snapshot(), beforeState);
  });
});

describe('bad input against a compacted history', () => {
  let server: RunningServer;
  let oldRevision = '';

  before(async () => {
    // Write some history, then restart with aggressive compaction: the restarted watch cache starts above
    // the old revision, so both list and watch have to go to the (compacted) storage for it.
    const first = await startServer();
    const created = await request(first, 'POST', hosts, { body: json(bmh('old')) });
    assert.equal(created.status, 201, created.body);
    oldRevision = String(asObj(asObj(created.json()).metadata).resourceVersion);
    for (const online of [false, true, false]) {
      const r = await request(first, 'PATCH', `${hosts}/old`, { headers: mergePatch, body: json({ spec: { online } }) });
      assert.equal(r.status, 200, r.body);
    }
    closeClient(first);
    await first.stop({ keepDataDir: true });
    server = await startServer(['--compaction-interval', '100ms', '--retain-revisions', '1'], {}, first.dataDir);
    // Compaction runs on a timer: wait until the old revision is gone.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await request(server, 'GET', `${hosts}?resourceVersion=${oldRevision}&resourceVersionMatch=Exact`);
      if (r.status === 410) break;
      assert.ok(Date.now() < deadline, `revision ${oldRevision} was never compacted: ${r.status} ${r.body.slice(0, 200)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  after(async () => {
    if (!server) return;
    closeClient(server);
    await server.stop();
  });

  test('list with resourceVersionMatch=Exact at a compacted revision → 410 Expired', async () => {
    const beforeList = await request(server, 'GET', hosts);
    const r = await request(server, 'GET', `${hosts}?resourceVersion=${oldRevision}&resourceVersionMatch=Exact`);
    const s = assertStatus(r, 410, 'Expired', 'exact list');
    assert.match(String(s.message), new RegExp(`^too old resource version: ${oldRevision} \\(\\d+\\)$`));
    const afterList = await request(server, 'GET', hosts);
    assert.equal(asObj(asObj(afterList.json()).metadata).resourceVersion, asObj(asObj(beforeList.json()).metadata).resourceVersion);
  });

  test('a paged list from a compacted revision (limit makes it exact) → 410 Expired', async () => {
    const r = await request(server, 'GET', `${hosts}?resourceVersion=${oldRevision}&limit=1`);
    assertStatus(r, 410, 'Expired', 'paged list');
  });

  test('a watch from a compacted revision → 200 and an ERROR event with a 410 Expired Status', async () => {
    const w = await watch(server, `${hosts}?watch=true&resourceVersion=${oldRevision}`);
    try {
      assert.equal(w.status, 200);
      const [first] = await w.waitForEvents(1);
      assert.equal(first.type, 'ERROR');
      assert.equal(first.object.kind, 'Status');
      assert.equal(first.object.code, 410);
      assert.equal(first.object.reason, 'Expired');
      assert.match(String(first.object.message), /^too old resource version: /);
      await w.ended;
      assert.equal(w.events.length, 1, JSON.stringify(w.events));
    } finally {
      w.close();
    }
  });
});
