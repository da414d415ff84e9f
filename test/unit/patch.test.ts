import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../apiserver/status.ts';
import { applyJSONPatch, decodeJSONPatch, jsonEqual, MAX_JSON_PATCH_OPERATIONS } from '../../apiserver/patch/jsonpatch.ts';
import { applyMergePatch, createMergePatch } from '../../apiserver/patch/mergepatch.ts';

const REJECTED = 'the server rejected our request due to an error in our request';

function statusError(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusError, `expected a StatusError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a StatusError');
}

/** Asserts kube's 422 for an operation that does not apply, and the library message kept as cause. */
function assertRejected(doc: unknown, patch: unknown, cause: string) {
  const err = statusError(() => applyJSONPatch(doc, patch));
  assert.equal(err.code, 422);
  assert.equal(err.reason, 'Invalid');
  assert.equal(err.message, REJECTED);
  assert.deepEqual(err.toStatus(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: REJECTED,
    reason: 'Invalid',
    details: {},
    code: 422,
  });
  assert.equal(err.cause, cause);
}

const host = () => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { name: 'h1', labels: { a: 'b' }, annotations: { 'x/y': '1' } },
  spec: { online: true, bootMACAddress: '00:11', rootDeviceHints: { deviceName: '/dev/sda' } },
  status: { list: [1, 2, 3] },
});

describe('applyJSONPatch: operations', () => {
  it('add sets object members and inserts into arrays', () => {
    const out = applyJSONPatch(host(), [
      { op: 'add', path: '/spec/image', value: { url: 'http://x' } },
      { op: 'add', path: '/spec/online', value: false },
      { op: 'add', path: '/status/list/0', value: 0 },
      { op: 'add', path: '/status/list/-', value: 4 },
      { op: 'add', path: '/status/list/5', value: 5 },
      // Go's library counts a negative add index against the grown array: -1 appends, -2 goes before the last.
      { op: 'add', path: '/status/list/-1', value: 'last' },
      { op: 'add', path: '/status/list/-2', value: 'before-last' },
    ]);
    assert.deepEqual(out.spec, { ...host().spec, online: false, image: { url: 'http://x' } });
    assert.deepEqual(out.status.list, [0, 1, 2, 3, 4, 5, 'before-last', 'last']);
  });

  it('add without a value stores null', () => {
    assert.deepEqual(applyJSONPatch({ a: 1 }, [{ op: 'add', path: '/b' }]), { a: 1, b: null });
  });

  it('remove deletes members and elements, negative indices from the end', () => {
    const out = applyJSONPatch(host(), [
      { op: 'remove', path: '/spec/rootDeviceHints' },
      { op: 'remove', path: '/status/list/0' },
      { op: 'remove', path: '/status/list/-1' },
    ]);
    assert.equal('rootDeviceHints' in out.spec, false);
    assert.deepEqual(out.status.list, [2]);
  });

  it('replace swaps existing values', () => {
    const out = applyJSONPatch(host(), [
      { op: 'replace', path: '/spec/online', value: false },
      { op: 'replace', path: '/status/list/1', value: 'two' },
      { op: 'replace', path: '/metadata/labels/a', value: null },
    ]);
    assert.equal(out.spec.online, false);
    assert.deepEqual(out.status.list, [1, 'two', 3]);
    assert.deepEqual(out.metadata.labels, { a: null });
  });

  it('replace of the root takes an object and ignores a scalar, as the Go library does', () => {
    assert.deepEqual(applyJSONPatch({ a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }]), { b: 2 });
    assert.deepEqual(applyJSONPatch({ a: 1 }, [{ op: 'replace', path: '', value: 3 }]), { a: 1 });
  });

  it('move and copy', () => {
    type Moved = ReturnType<typeof host> & { spec: { mac?: string; hints: { deviceName: string } } };
    const out = applyJSONPatch(host() as Moved, [
      { op: 'move', from: '/spec/bootMACAddress', path: '/spec/mac' },
      { op: 'copy', from: '/spec/rootDeviceHints', path: '/spec/hints' },
      { op: 'move', from: '/status/list/0', path: '/status/list/-' },
    ]);
    assert.equal(out.spec.bootMACAddress, undefined);
    assert.equal(out.spec.mac, '00:11');
    assert.deepEqual(out.spec.hints, { deviceName: '/dev/sda' });
    out.spec.hints.deviceName = 'changed';
    assert.equal(out.spec.rootDeviceHints.deviceName, '/dev/sda', 'copy must not alias the source');
    assert.deepEqual(out.status.list, [2, 3, 1]);
  });

  it('test passes on equal values, deep and whole-document', () => {
    const doc = host();
    assert.deepEqual(
      applyJSONPatch(doc, [
        { op: 'test', path: '/spec/rootDeviceHints', value: { deviceName: '/dev/sda' } },
        { op: 'test', path: '/status/list', value: [1, 2, 3] },
        { op: 'test', path: '/status/list/-1', value: 3 },
        { op: 'test', path: '', value: host() },
        // The Go library treats a null test value as matching a missing member.
        { op: 'test', path: '/spec/absent', value: null },
      ]),
      doc,
    );
  });

  it('decodes ~0 and ~1 in pointers', () => {
    const out = applyJSONPatch(host(), [
      { op: 'add', path: '/metadata/annotations/example.com~1owner', value: 'me' },
      { op: 'add', path: '/metadata/labels/t~0x', value: 'tilde' },
      { op: 'test', path: '/metadata/annotations/x~1y', value: '1' },
      { op: 'add', path: '/metadata/labels/~01', value: 'literal' },
    ]);
    assert.deepEqual(out.metadata.annotations, { 'x/y': '1', 'example.com/owner': 'me' });
    assert.deepEqual(out.metadata.labels, { a: 'b', 't~x': 'tilde', '~1': 'literal' });
  });

  it('leaves the input document and the patch untouched', () => {
    const doc = host();
    const before = structuredClone(doc);
    const value = { deep: { x: 1 } };
    const patch = [
      { op: 'add', path: '/spec/v', value },
      { op: 'replace', path: '/spec/v/deep/x', value: 2 },
      { op: 'remove', path: '/status/list/0' },
    ];
    const out = applyJSONPatch(doc, patch);
    assert.deepEqual(doc, before);
    assert.deepEqual(value, { deep: { x: 1 } });
    assert.equal((out.spec as unknown as { v: { deep: { x: number } } }).v.deep.x, 2);
  });

  it('stores a __proto__ member as data, not as the prototype', () => {
    const out = applyJSONPatch<Record<string, unknown>>({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]);
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.equal((out as { polluted?: boolean }).polluted, undefined);
  });

  it('a null body is an empty patch', () => {
    assert.deepEqual(applyJSONPatch({ a: 1 }, null), { a: 1 });
    assert.deepEqual(applyJSONPatch({ a: 1 }, []), { a: 1 });
  });
});

describe('applyJSONPatch: failures are 422 Invalid', () => {
  const cases: [string, unknown, unknown, string][] = [
    ['replace of a missing key', { spec: {} }, [{ op: 'replace', path: '/spec/foo', value: 1 }],
      'replace operation does not apply: doc is missing key: /spec/foo: missing value'],
    ['replace under a missing parent', { spec: {} }, [{ op: 'replace', path: '/spec/a/b', value: 1 }],
      'replace operation does not apply: doc is missing path: /spec/a/b: missing value'],
    ['add under a missing parent', {}, [{ op: 'add', path: '/spec/a', value: 1 }],
      'add operation does not apply: doc is missing path: "/spec/a": missing value'],
    ['add past the end of an array', { l: [1] }, [{ op: 'add', path: '/l/3', value: 1 }],
      "error in add for path: '/l/3': Unable to access invalid index: 3: invalid index referenced"],
    ['add with a non-numeric index', { l: [] }, [{ op: 'add', path: '/l/x', value: 1 }],
      `error in add for path: '/l/x': value was not a proper array index: 'x': strconv.Atoi: parsing "x": invalid syntax`],
    ['remove of a missing key', { a: 1 }, [{ op: 'remove', path: '/b' }],
      "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value"],
    ['remove out of range', { l: [1] }, [{ op: 'remove', path: '/l/1' }],
      "error in remove for path: '/l/1': Unable to access invalid index: 1: invalid index referenced"],
    ['remove below -len', { l: [1] }, [{ op: 'remove', path: '/l/-2' }],
      "error in remove for path: '/l/-2': Unable to access invalid index: -2: invalid index referenced"],
    ['remove of the root', { a: 1 }, [{ op: 'remove', path: '' }],
      'remove operation does not apply: doc is missing path: "": missing value'],
    ['failed test', { a: 1 }, [{ op: 'test', path: '/a', value: 2 }], 'testing value /a failed: test failed'],
    ['test of a missing member', { a: 1 }, [{ op: 'test', path: '/b', value: 1 }], 'testing value /b failed: test failed'],
    ['test without a value', { a: 1 }, [{ op: 'test', path: '/a' }], 'testing value /a failed: test failed'],
    ['failed whole-document test', { a: 1 }, [{ op: 'test', path: '', value: { a: 2 } }], 'testing value  failed: test failed'],
    ['test under a missing parent', { a: 1 }, [{ op: 'test', path: '/x/y', value: 1 }],
      'test operation does not apply: is missing path: /x/y: missing value'],
    ['move from a missing key', { a: 1 }, [{ op: 'move', from: '/b', path: '/c' }],
      "error in move for path: 'b': unable to get nonexistent key: b: missing value"],
    ['move to a missing parent', { a: 1 }, [{ op: 'move', from: '/a', path: '/x/y' }],
      'move operation does not apply: doc is missing destination path: /x/y: missing value'],
    ['move without from', { a: 1 }, [{ op: 'move', path: '/c' }],
      'move operation failed to decode from: operation, missing from field: missing value'],
    ['copy from a missing key', { a: 1 }, [{ op: 'copy', from: '/b', path: '/c' }],
      "error in copy for from: '/b': unable to get nonexistent key: b: missing value"],
    ['copy to a missing parent', { a: 1 }, [{ op: 'copy', from: '/a', path: '/x/y' }],
      'copy operation does not apply: doc is missing destination path: /x/y: missing value'],
    ['an unknown op', { a: 1 }, [{ op: 'frobnicate', path: '/a' }], 'Unexpected kind: frobnicate'],
    ['an op that is not a string', { a: 1 }, [{ op: 3, path: '/a' }], 'Unexpected kind: unknown'],
    ['a null operation', { a: 1 }, [null], 'Unexpected kind: unknown'],
    ['add without a path', { a: 1 }, [{ op: 'add', value: 1 }], 'add operation failed to decode path: missing value'],
    ['replace with a numeric path', { a: 1 }, [{ op: 'replace', path: 1, value: 1 }],
      'replace operation failed to decode path: json: cannot unmarshal number into Go value of type string'],
    ['descending through a scalar', { a: 1 }, [{ op: 'add', path: '/a/b', value: 1 }],
      'add operation does not apply: doc is missing path: "/a/b": missing value'],
  ];
  for (const [name, doc, patch, cause] of cases) {
    it(name, () => assertRejected(doc, patch, cause));
  }

  it('a failure part-way applies nothing', () => {
    const doc = { a: 1 };
    assertRejected(doc, [{ op: 'add', path: '/b', value: 2 }, { op: 'test', path: '/a', value: 9 }],
      'testing value /a failed: test failed');
    assert.deepEqual(doc, { a: 1 });
  });
});

describe('applyJSONPatch: body errors', () => {
  it('a body that is not a list of operations is a 400', () => {
    for (const [body, message] of [
      [{ op: 'add' }, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch'],
      ['x', 'json: cannot unmarshal string into Go value of type jsonpatch.Patch'],
      [['x'], 'json: cannot unmarshal string into Go value of type jsonpatch.Operation'],
      [[[]], 'json: cannot unmarshal array into Go value of type jsonpatch.Operation'],
    ] as const) {
      const err = statusError(() => applyJSONPatch({}, body));
      assert.equal(err.code, 400);
      assert.equal(err.reason, 'BadRequest');
      assert.equal(err.message, message);
    }
  });

  it('more than 10,000 operations is a 413', () => {
    const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/a', value: 1 }));
    const err = statusError(() => decodeJSONPatch(ops));
    assert.equal(err.code, 413);
    assert.equal(err.reason, 'RequestEntityTooLarge');
    assert.equal(err.message, 'Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001');
    assert.deepEqual(applyJSONPatch({ a: 1 }, ops.slice(1)), { a: 1 });
  });
});

describe('jsonEqual', () => {
  it('compares structurally', () => {
    assert.equal(jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] }), true);
    assert.equal(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), true);
    // One equality serves the patch, the store and the field manager: an undefined value is absent, as in JSON.
    assert.equal(jsonEqual({ a: 1 }, { a: 1, b: undefined }), true);
    assert.equal(jsonEqual({ a: 1 }, { a: 1, b: null }), false);
    assert.equal(jsonEqual([1, 2], [2, 1]), false);
    assert.equal(jsonEqual({}, []), false);
    assert.equal(jsonEqual('1', 1), false);
  });
});

describe('applyMergePatch', () => {
  it('merges objects recursively, deletes on null, replaces arrays and scalars', () => {
    const doc = host();
    const out = applyMergePatch(doc, {
      metadata: { labels: { a: null, c: 'd' } },
      spec: { online: false, rootDeviceHints: null, image: { url: 'u' } },
      status: { list: [9] },
    });
    assert.deepEqual(out.metadata.labels, { c: 'd' });
    assert.deepEqual(out.spec, { online: false, bootMACAddress: '00:11', image: { url: 'u' } });
    assert.deepEqual(out.status.list, [9]);
    assert.deepEqual(doc, host(), 'input untouched');
  });

  it('an empty patch changes nothing, and deleting a missing key is a no-op', () => {
    assert.deepEqual(applyMergePatch(host(), {}), host());
    assert.deepEqual(applyMergePatch({ a: 1 }, { b: null }), { a: 1 });
  });

  it('drops nulls from new objects, as RFC 7386 and the Go library do', () => {
    assert.deepEqual(applyMergePatch({ a: 1 }, { b: { c: null, d: 1 } }), { a: 1, b: { d: 1 } });
    assert.deepEqual(applyMergePatch({ a: 'x' }, { a: { c: null, d: { e: null } } }), { a: { d: {} } });
    // Inside a new array, objects lose their null members but null elements stay.
    assert.deepEqual(applyMergePatch({}, { l: [null, { a: null, b: 1 }] }), { l: [null, { b: 1 }] });
  });

  it('replaces an object by a scalar or an array', () => {
    assert.deepEqual(applyMergePatch({ a: { b: 1 } }, { a: 2 }), { a: 2 });
    assert.deepEqual(applyMergePatch({ a: { b: 1 } }, { a: [1] }), { a: [1] });
  });

  it('does not alias the patch in the result', () => {
    const patch = { spec: { image: { url: 'u' } } };
    const out = applyMergePatch<Record<string, unknown>>({}, patch);
    (out.spec as { image: { url: string } }).image.url = 'changed';
    assert.equal(patch.spec.image.url, 'u');
  });

  it('a patch that is not an object is a 400', () => {
    for (const patch of [null, [], 'x', 1, true]) {
      const err = statusError(() => applyMergePatch({ a: 1 }, patch));
      assert.equal(err.code, 400);
      assert.equal(err.reason, 'BadRequest');
      assert.equal(err.message, 'Invalid JSON Patch');
    }
  });
});

describe('createMergePatch', () => {
  it('produces the minimal diff: changes, additions, and null for removals', () => {
    const original = host();
    const modified = structuredClone(original) as Record<string, unknown> & ReturnType<typeof host>;
    modified.spec.online = false;
    delete (modified.metadata.labels as Record<string, string>).a;
    (modified.metadata.labels as Record<string, string>).x = 'y';
    modified.status.list = [1, 2];
    delete (modified as Record<string, unknown>).kind;
    const patch = createMergePatch(original, modified);
    assert.deepEqual(patch, {
      kind: null,
      metadata: { labels: { a: null, x: 'y' } },
      spec: { online: false },
      status: { list: [1, 2] },
    });
    assert.deepEqual(applyMergePatch(original, patch), modified);
  });

  it('is empty for equal documents', () => {
    assert.deepEqual(createMergePatch(host(), host()), {});
  });

  it('round-trips through applyMergePatch for type changes', () => {
    const a = { x: { y: 1 }, z: [1], w: 's' };
    const b = { x: 'flat', z: { now: 'object' }, w: 's' };
    assert.deepEqual(applyMergePatch(a, createMergePatch(a, b)), b);
  });
});
