// Protobuf request bodies: the bytes kubectl v1.32 really sends (captured fixtures) decode to the JSON
// kubectl prints for the same object, hand-built messages cover the fields kubectl never sets, and no
// malformed input crashes or hangs the decoder.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtobufObject, readFields } from '../../apiserver/protobuf.ts';
import { decodeObjectBody } from '../../apiserver/body.ts';
import { negotiateRendering } from '../../apiserver/negotiation.ts';
import { StatusError } from '../../apiserver/status.ts';

const fixtures = join(import.meta.dirname, '../fixtures/protobuf');

// ---- a minimal encoder, for messages kubectl cannot be made to send -----------------------------------

function varint(v: bigint | number): Buffer {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return Buffer.from(out);
}
const key = (num: number, wire: number) => varint((num << 3) | wire);
const bytes = (num: number, b: string | Buffer) => {
  const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return Buffer.concat([key(num, 2), varint(buf.length), buf]);
};
const message = (num: number, ...fields: Buffer[]) => bytes(num, Buffer.concat(fields));
const int = (num: number, v: bigint | number) => Buffer.concat([key(num, 0), varint(v)]);
const entry = (num: number, k: string, v: string | Buffer) => message(num, bytes(1, k), bytes(2, v));
const magic = Buffer.from('k8s\0', 'binary');
const envelope = (apiVersion: string, kind: string, ...raw: Buffer[]) =>
  Buffer.concat([magic, message(1, bytes(1, apiVersion), bytes(2, kind)), message(2, ...raw), bytes(3, ''), bytes(4, '')]);

function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return e.code;
    throw e;
  }
  return 0;
}

/** Go prints a zero metav1.Time as null; the decoder leaves it out, which means the same to the server. */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  }
  return v;
}

// ---- bytes from the real kubectl --------------------------------------------------------------------------

describe('bodies kubectl v1.32 sends', () => {
  const names = readdirSync(fixtures).filter((f) => f.endsWith('.hex')).map((f) => f.slice(0, -4)).sort();

  test('fixtures are present', () => {
    assert.ok(names.length >= 5, `expected the captured fixtures, found ${names.join(', ')}`);
  });

  for (const name of names) {
    test(`${name} decodes to the object kubectl prints for it`, () => {
      const buf = Buffer.from(readFileSync(join(fixtures, `${name}.hex`), 'utf8').trim(), 'hex');
      const want = withoutNulls(JSON.parse(readFileSync(join(fixtures, `${name}.json`), 'utf8')));
      const got = decodeProtobufObject(buf);
      assert.deepEqual(got, want);
      // Same key order as Go's encoder too, so stored objects read the same whichever encoding created them.
      assert.equal(JSON.stringify(got), JSON.stringify(want));
    });
  }

  test('a Secret keeps its data as base64 of the exact bytes, and the password survives', () => {
    const buf = Buffer.from(readFileSync(join(fixtures, 'secret-generic.hex'), 'utf8').trim(), 'hex');
    const obj = decodeProtobufObject(buf);
    assert.equal(obj.kind, 'Secret');
    assert.equal(obj.apiVersion, 'v1');
    assert.deepEqual(obj.metadata, { name: 'bmc-creds', namespace: 'metal3' });
    const data = obj.data as Record<string, string>;
    assert.equal(Buffer.from(data.password, 'base64').toString('utf8'), 's3cr3t!pw');
    assert.equal(Buffer.from(data.username, 'base64').toString('utf8'), 'admin');
    assert.equal('type' in obj, false, 'an empty type is omitted, as Go prints it');
  });

  test('binary ConfigMap data is base64, text data is verbatim', () => {
    const buf = Buffer.from(readFileSync(join(fixtures, 'configmap.hex'), 'utf8').trim(), 'hex');
    const obj = decodeProtobufObject(buf);
    assert.deepEqual(obj.binaryData, { blob: Buffer.from([0, 1, 0xff, 0xfe]).toString('base64') });
    assert.deepEqual(obj.data, { PROVISIONING_IP: '172.22.0.2' });
  });

  test('decodeObjectBody routes the protobuf media type to the decoder', () => {
    const buf = Buffer.from(readFileSync(join(fixtures, 'namespace.hex'), 'utf8').trim(), 'hex');
    assert.deepEqual(decodeObjectBody(buf, 'application/vnd.kubernetes.protobuf'), {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { name: 'metal3' },
      spec: {},
      status: {},
    });
    assert.equal(statusOf(() => decodeObjectBody(buf, 'application/cbor')), 415);
  });
});

// ---- fields kubectl does not set ----------------------------------------------------------------------------

describe('ObjectMeta and the other kinds', () => {
  test('every ObjectMeta field decodes', () => {
    const fields = JSON.stringify({ 'f:metadata': { 'f:labels': { 'f:app': {} } } });
    const meta = message(
      1,
      bytes(1, 'host-0'),
      bytes(2, 'host-'),
      bytes(3, 'metal3'),
      bytes(4, '/api/v1/namespaces/metal3/secrets/host-0'),
      bytes(5, '6f1d0c1e-0000-4000-8000-000000000001'),
      bytes(6, '42'),
      int(7, 3),
      message(8, int(1, 1_700_000_000), int(2, 999_000_000)), // nanos are dropped, as metav1.Time does
      message(9, int(1, 1_700_000_060)),
      int(10, 0), // a pointer: zero is kept
      entry(11, 'app', 'ironic'),
      entry(11, 'tier', ''),
      entry(12, 'note', 'a: b'),
      message(13, bytes(5, 'metal3.io/v1alpha1'), bytes(1, 'BareMetalHost'), bytes(3, 'host-0'), bytes(4, 'u-1'), int(6, 1), int(7, 0)),
      message(13, bytes(5, 'v1'), bytes(1, 'ConfigMap'), bytes(3, 'c'), bytes(4, '')),
      bytes(14, 'metal3.io/cleanup'),
      bytes(14, 'second'),
      message(17, bytes(1, 'kubectl'), bytes(2, 'Update'), bytes(3, 'v1'), message(4, int(1, 1_700_000_000)), bytes(6, 'FieldsV1'), message(7, bytes(1, fields)), bytes(8, 'status')),
    );
    const obj = decodeProtobufObject(envelope('v1', 'Secret', meta, bytes(3, 'Opaque')));
    assert.deepEqual(obj, {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: {
        name: 'host-0',
        generateName: 'host-',
        namespace: 'metal3',
        selfLink: '/api/v1/namespaces/metal3/secrets/host-0',
        uid: '6f1d0c1e-0000-4000-8000-000000000001',
        resourceVersion: '42',
        generation: 3,
        creationTimestamp: '2023-11-14T22:13:20Z',
        deletionTimestamp: '2023-11-14T22:14:20Z',
        deletionGracePeriodSeconds: 0,
        labels: { app: 'ironic', tier: '' },
        annotations: { note: 'a: b' },
        ownerReferences: [
          { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', name: 'host-0', uid: 'u-1', controller: true, blockOwnerDeletion: false },
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: '' },
        ],
        finalizers: ['metal3.io/cleanup', 'second'],
        managedFields: [
          {
            manager: 'kubectl',
            operation: 'Update',
            apiVersion: 'v1',
            time: '2023-11-14T22:13:20Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } } },
            subresource: 'status',
          },
        ],
      },
      type: 'Opaque',
    });
  });

  test('zero scalars of omitempty fields and empty times are omitted; a missing metadata is {}', () => {
    const obj = decodeProtobufObject(envelope('v1', 'Secret', bytes(3, ''), int(5, 0)));
    assert.deepEqual(obj, { kind: 'Secret', apiVersion: 'v1', metadata: {}, immutable: false });
    const ns = decodeProtobufObject(envelope('v1', 'Namespace', message(1, bytes(1, 'n'), int(7, 0), message(8))));
    assert.deepEqual(ns, { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'n' } });
  });

  test('Namespace spec and status with conditions', () => {
    const obj = decodeProtobufObject(
      envelope(
        'v1',
        'Namespace',
        message(1, bytes(1, 'gone')),
        message(2, bytes(1, 'kubernetes')),
        message(3, bytes(1, 'Terminating'), message(2, bytes(1, 'NamespaceDeletionContentFailure'), bytes(2, 'False'), message(4, int(1, 0), int(2, 1)), bytes(5, 'ContentDeleted'), bytes(6, 'All content successfully deleted'))),
      ),
    );
    assert.deepEqual(obj, {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { name: 'gone' },
      spec: { finalizers: ['kubernetes'] },
      status: {
        phase: 'Terminating',
        conditions: [
          {
            type: 'NamespaceDeletionContentFailure',
            status: 'False',
            lastTransitionTime: '1970-01-01T00:00:00Z',
            reason: 'ContentDeleted',
            message: 'All content successfully deleted',
          },
        ],
      },
    });
  });

  test('Event: object references, counts, micro times and the non-omitempty reporting fields', () => {
    const ref = (num: number) => message(num, bytes(1, 'BareMetalHost'), bytes(2, 'metal3'), bytes(3, 'host-0'), bytes(4, 'u-1'), bytes(5, 'metal3.io/v1alpha1'), bytes(6, '7'), bytes(7, 'spec.online'));
    const obj = decodeProtobufObject(
      envelope(
        'v1',
        'Event',
        message(1, bytes(1, 'host-0.17a'), bytes(3, 'metal3')),
        ref(2),
        bytes(3, 'PowerOn'),
        bytes(4, 'Host powered on'),
        message(5, bytes(1, 'metal3-baremetal-controller'), bytes(2, 'node-1')),
        message(6, int(1, 1_700_000_000)),
        message(7, int(1, 1_700_000_005)),
        int(8, 2),
        bytes(9, 'Normal'),
        message(10, int(1, 1_700_000_005), int(2, 123_456_789)),
        message(11, int(1, 5), message(2, int(1, 1_700_000_006))),
        bytes(12, 'Reconcile'),
        ref(13),
        bytes(14, ''),
        bytes(15, 'node-1'),
      ),
    );
    const reference = { kind: 'BareMetalHost', namespace: 'metal3', name: 'host-0', uid: 'u-1', apiVersion: 'metal3.io/v1alpha1', resourceVersion: '7', fieldPath: 'spec.online' };
    assert.deepEqual(obj, {
      kind: 'Event',
      apiVersion: 'v1',
      metadata: { name: 'host-0.17a', namespace: 'metal3' },
      involvedObject: reference,
      reason: 'PowerOn',
      message: 'Host powered on',
      source: { component: 'metal3-baremetal-controller', host: 'node-1' },
      firstTimestamp: '2023-11-14T22:13:20Z',
      lastTimestamp: '2023-11-14T22:13:25Z',
      count: 2,
      type: 'Normal',
      eventTime: '2023-11-14T22:13:25.123456Z',
      series: { count: 5, lastObservedTime: '2023-11-14T22:13:26.000000Z' },
      action: 'Reconcile',
      related: reference,
      reportingComponent: '',
      reportingInstance: 'node-1',
    });
  });

  test('DeleteOptions decode whatever group version client-go stamped on them, without metadata', () => {
    for (const gv of ['v1', 'meta.k8s.io/v1']) {
      const obj = decodeProtobufObject(envelope(gv, 'DeleteOptions', int(1, 0), message(2, bytes(1, 'u-1'), bytes(2, '9')), int(3, 0), bytes(4, 'Foreground'), bytes(5, 'All')));
      assert.deepEqual(obj, {
        kind: 'DeleteOptions',
        apiVersion: gv,
        gracePeriodSeconds: 0,
        preconditions: { uid: 'u-1', resourceVersion: '9' },
        orphanDependents: false,
        propagationPolicy: 'Foreground',
        dryRun: ['All'],
      });
    }
  });

  test('unknown fields are skipped, scalars take the last value, and a repeated embedded message merges', () => {
    const obj = decodeProtobufObject(
      envelope(
        'v1',
        'Secret',
        int(99, 7),
        Buffer.concat([key(98, 1), Buffer.alloc(8)]),
        Buffer.concat([key(97, 5), Buffer.alloc(4)]),
        bytes(96, 'ignored'),
        message(1, bytes(1, 'first'), bytes(3, 'ns')),
        message(1, bytes(1, 'second'), int(1000, 1)),
        bytes(3, 'kubernetes.io/tls'),
        bytes(3, 'Opaque'),
        entry(2, 'k', 'v1'),
        entry(2, 'k', 'v2'),
      ),
    );
    assert.deepEqual(obj, {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { name: 'second', namespace: 'ns' },
      data: { k: Buffer.from('v2').toString('base64') },
      type: 'Opaque',
    });
  });

  test('negative and 64-bit integers decode by two\'s complement', () => {
    const obj = decodeProtobufObject(envelope('v1', 'Secret', message(1, int(7, -1), int(10, -5))));
    assert.deepEqual(obj.metadata, { generation: -1, deletionGracePeriodSeconds: -5 });
    // A value JSON cannot carry exactly is refused rather than rounded.
    assert.equal(statusOf(() => decodeProtobufObject(envelope('v1', 'Secret', message(1, int(7, 2n ** 60n))))), 400);
  });
});

// ---- refusals ------------------------------------------------------------------------------------------------

describe('refusals', () => {
  test('kinds not decoded here are 415, as kube-apiserver answers for custom resources', () => {
    const bmh = envelope('metal3.io/v1alpha1', 'BareMetalHost', message(1, bytes(1, 'h')));
    assert.equal(statusOf(() => decodeProtobufObject(bmh)), 415);
    assert.equal(statusOf(() => decodeProtobufObject(envelope('v1', 'Pod', message(1, bytes(1, 'p'))))), 415);
    // events.k8s.io/v1 Event has a different message layout from core/v1 Event.
    assert.equal(statusOf(() => decodeProtobufObject(envelope('events.k8s.io/v1', 'Event'))), 415);
  });

  const malformed: Record<string, Buffer> = {
    'an empty body': Buffer.alloc(0),
    'JSON under the protobuf media type': Buffer.from('{"kind":"Namespace","apiVersion":"v1"}'),
    'only the magic prefix': magic,
    'an envelope without a kind': Buffer.concat([magic, message(1, bytes(1, 'v1')), message(2)]),
    'a length running past the end': Buffer.concat([magic, key(2, 2), varint(1000), Buffer.from('short')]),
    'a length of 2^63': Buffer.concat([magic, key(2, 2), varint(2n ** 63n)]),
    'a varint of eleven bytes': Buffer.concat([magic, key(1, 0), Buffer.alloc(10, 0xff), Buffer.from([1])]),
    'a truncated varint': Buffer.concat([magic, key(1, 0), Buffer.from([0x80])]),
    'field number 0': Buffer.concat([magic, Buffer.from([0x02, 0x00])]),
    'a group wire type': Buffer.concat([magic, key(5, 3)]),
    'wire type 7': Buffer.concat([magic, key(5, 7)]),
    'a truncated fixed64': Buffer.concat([magic, key(9, 1), Buffer.alloc(3)]),
    'a known field with the wrong wire type': envelope('v1', 'Secret', message(1, int(1, 5))),
    'a map entry with the wrong wire type': envelope('v1', 'Secret', message(2, int(1, 5))),
    'a time of the wrong wire type': envelope('v1', 'Secret', message(1, message(8, bytes(1, 'x')))),
    'a time beyond year 9999': envelope('v1', 'Secret', message(1, message(8, int(1, 253402300800n)))),
    'fieldsV1 that is not JSON': envelope('v1', 'Secret', message(1, message(17, message(7, bytes(1, '{nope'))))),
    'a content encoding': Buffer.concat([magic, message(1, bytes(1, 'v1'), bytes(2, 'Secret')), message(2), bytes(3, 'gzip')]),
  };
  for (const [what, buf] of Object.entries(malformed)) {
    test(`${what} is a 400`, () => {
      assert.equal(statusOf(() => decodeProtobufObject(buf)), 400);
    });
  }

  test('deep nesting under an unknown field is skipped, not followed', () => {
    const deep = Array.from({ length: 2000 }).reduce<Buffer>((inner) => message(11, inner), Buffer.alloc(0));
    const obj = decodeProtobufObject(envelope('v1', 'Event', message(11, message(3, deep))));
    assert.deepEqual(obj, { kind: 'Event', apiVersion: 'v1', metadata: {}, series: {} });
  });

  test('every truncation of a real body either decodes or is a 400, never a crash', () => {
    const buf = Buffer.from(readFileSync(join(fixtures, 'secret-tls.hex'), 'utf8').trim(), 'hex');
    let refused = 0;
    for (let n = 0; n < buf.length; n++) {
      const code = statusOf(() => decodeProtobufObject(buf.subarray(0, n)));
      assert.ok(code === 0 || code === 400, `truncated at ${n}: ${code}`);
      if (code === 400) refused++;
    }
    assert.ok(refused > buf.length / 2, 'most truncations cut a field and must be refused');
  });

  test('random bytes after the prefix decode or are refused, quickly', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16) & 0xff;
    const template = Buffer.from(readFileSync(join(fixtures, 'secret-generic.hex'), 'utf8').trim(), 'hex');
    const start = Date.now();
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.from(template);
      // Flip a few bytes of a real body so the fuzz reaches the object decoder, not just the envelope.
      for (let k = 0; k < 3; k++) buf[magic.length + (rand() * 7 + rand()) % (buf.length - magic.length)] = rand();
      const code = statusOf(() => decodeProtobufObject(buf));
      assert.ok([0, 400, 415].includes(code), `iteration ${i}: ${code}`);
    }
    assert.ok(Date.now() - start < 5000);
  });

  test('readFields bounds every length by the buffer', () => {
    assert.deepEqual(readFields(Buffer.alloc(0)), []);
    assert.throws(() => readFields(Buffer.concat([key(1, 2), varint(1)])));
    const [f] = readFields(Buffer.concat([key(3, 2), varint(2), Buffer.from('ab')]));
    assert.equal(f.num, 3);
    assert.equal(f.bytes?.toString(), 'ab');
  });
});

// ---- responses ----------------------------------------------------------------------------------------------

describe('responses to protobuf clients', () => {
  test('client-go\'s protobuf-first Accept lists get JSON objects', () => {
    for (const accept of ['application/vnd.kubernetes.protobuf, */*', 'application/vnd.kubernetes.protobuf,application/json']) {
      assert.deepEqual(negotiateRendering(accept, false), { as: 'object' }, accept);
      assert.deepEqual(negotiateRendering(accept, true), { as: 'object' }, accept);
    }
  });

  test('protobuf alone is not acceptable (406), as for a custom resource', () => {
    assert.equal(negotiateRendering('application/vnd.kubernetes.protobuf', false), undefined);
  });
});
