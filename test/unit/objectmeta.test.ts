import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectMeta } from '../../api/types.ts';
import { StatusError, type StatusCause } from '../../apiserver/status.ts';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidName,
  validateNamespaceName,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from '../../api/objectmeta.ts';

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

const create = (meta: ObjectMeta, namespaced = true, requestNamespace?: string) =>
  validateObjectMeta(meta, { namespaced, requestNamespace });

const valid: ObjectMeta = { name: 'host-0', namespace: 'metal3' };

const invalid = (field: string, value: string, detail: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
});

describe('name validators', () => {
  it('isDNS1123Subdomain', () => {
    assert.deepEqual(isDNS1123Subdomain('a.b-c.d1'), []);
    assert.deepEqual(isDNS1123Subdomain('Upper'), [SUBDOMAIN_MSG]);
    assert.deepEqual(isDNS1123Subdomain(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`), []);
    assert.deepEqual(isDNS1123Subdomain('a'.repeat(254)), ['must be no more than 253 characters']);
    assert.deepEqual(isDNS1123Subdomain('-a'), [SUBDOMAIN_MSG]);
    assert.deepEqual(isDNS1123Subdomain('a..b'), [SUBDOMAIN_MSG]);
  });

  it('isDNS1123Label', () => {
    assert.deepEqual(isDNS1123Label('metal3-system'), []);
    assert.deepEqual(isDNS1123Label('a.b'), ['must not contain dots']);
    assert.deepEqual(isDNS1123Label('A'), [LABEL_MSG]);
    assert.deepEqual(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
    assert.deepEqual(isDNS1123Label(''), [LABEL_MSG]);
  });

  it('isQualifiedName', () => {
    assert.deepEqual(isQualifiedName('metal3.io/detached'), []);
    assert.deepEqual(isQualifiedName('Simple_Name.1'), []);
    assert.deepEqual(isQualifiedName(''), ['name part must be non-empty', NAME_PART_MSG]);
    assert.deepEqual(isQualifiedName('/a'), ['prefix part must be non-empty']);
    assert.deepEqual(isQualifiedName('Bad_Prefix/a'), [`prefix part ${SUBDOMAIN_MSG}`]);
    assert.deepEqual(isQualifiedName('a/'), ['name part must be non-empty', NAME_PART_MSG]);
    assert.deepEqual(isQualifiedName('x'.repeat(64)), ['name part must be no more than 63 characters']);
    assert.equal(isQualifiedName('a/b/c').length, 1);
    assert.match(isQualifiedName('a/b/c')[0], /^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/);
  });

  it('isValidLabelValue', () => {
    assert.deepEqual(isValidLabelValue(''), []);
    assert.deepEqual(isValidLabelValue('My_value.1'), []);
    assert.deepEqual(isValidLabelValue('b c'), [LABEL_VALUE_MSG]);
    assert.deepEqual(isValidLabelValue('x'.repeat(64)), ['must be no more than 63 characters']);
    // Length is counted in bytes, as Go does.
    assert.deepEqual(isValidLabelValue('é'.repeat(32)), ['must be no more than 63 characters', LABEL_VALUE_MSG]);
  });

  it('isValidName and validateNamespaceName', () => {
    assert.equal(isValidName('host-0.example'), true);
    assert.equal(isValidName(''), false);
    assert.equal(isValidName('Host'), false);
    assert.equal(isValidName('..'), false);
    assert.equal(isValidName('a/b'), false);
    assert.deepEqual(validateNamespaceName('metal3'), []);
    assert.deepEqual(validateNamespaceName('a.b'), ['must not contain dots']);
  });
});

describe('validateObjectMeta: names', () => {
  it('accepts valid metadata', () => {
    assert.deepEqual(create(valid), []);
    assert.deepEqual(create({ name: 'c' }, false), []);
  });

  it('requires a name unless generateName is given', () => {
    assert.deepEqual(create({ namespace: 'ns' }), [
      { reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' },
    ]);
    assert.deepEqual(create({ generateName: 'host-', namespace: 'ns' }), []);
  });

  it('rejects a name that is not a DNS subdomain', () => {
    assert.deepEqual(create({ ...valid, name: 'Host_0' }), [invalid('metadata.name', 'Host_0', SUBDOMAIN_MSG)]);
    const long = 'a'.repeat(254);
    assert.deepEqual(create({ ...valid, name: long }), [invalid('metadata.name', long, 'must be no more than 253 characters')]);
  });

  it('allows a trailing dash in generateName only', () => {
    assert.deepEqual(create({ generateName: 'host-', namespace: 'ns' }), []);
    assert.deepEqual(create({ generateName: 'Host-', namespace: 'ns' }), [invalid('metadata.generateName', 'Host-', SUBDOMAIN_MSG)]);
    assert.deepEqual(create({ generateName: '-', namespace: 'ns' }), [invalid('metadata.generateName', '-', SUBDOMAIN_MSG)]);
    assert.deepEqual(create({ ...valid, name: 'host-' }), [invalid('metadata.name', 'host-', SUBDOMAIN_MSG)]);
  });
});

describe('validateObjectMeta: namespace', () => {
  it('requires a namespace for namespaced kinds, taking it from the request', () => {
    assert.deepEqual(create({ name: 'h' }), [{ reason: 'FieldValueRequired', field: 'metadata.namespace', message: 'Required value' }]);
    assert.deepEqual(create({ name: 'h' }, true, 'ns'), []);
    assert.deepEqual(create({ name: 'h', namespace: 'ns' }, true, 'ns'), []);
  });

  it('rejects a namespace that is not a DNS label', () => {
    assert.deepEqual(create({ name: 'h', namespace: 'a.b' }), [invalid('metadata.namespace', 'a.b', 'must not contain dots')]);
    assert.deepEqual(create({ name: 'h' }, true, 'Bad'), [invalid('metadata.namespace', 'Bad', LABEL_MSG)]);
  });

  it('a body namespace that differs from the URL is a 400', () => {
    try {
      create({ name: 'h', namespace: 'a' }, true, 'b');
      assert.fail('expected a 400');
    } catch (err) {
      assert.ok(err instanceof StatusError);
      assert.equal(err.code, 400);
      assert.equal(err.reason, 'BadRequest');
      assert.equal(err.message, 'the namespace of the provided object does not match the namespace sent on the request');
    }
  });

  it('forbids a namespace on cluster-scoped kinds', () => {
    assert.deepEqual(create({ name: 'h', namespace: 'ns' }, false), [
      { reason: 'FieldValueForbidden', field: 'metadata.namespace', message: 'Forbidden: not allowed on this type' },
    ]);
  });
});

describe('validateObjectMeta: labels, annotations, finalizers, owners', () => {
  it('validates label keys and values, reporting at metadata.labels', () => {
    assert.deepEqual(create({ ...valid, labels: { 'example.com/ok': 'v', ok: '' } }), []);
    assert.deepEqual(create({ ...valid, labels: { '-bad': 'ok', good: 'b c' } }), [
      invalid('metadata.labels', '-bad', NAME_PART_MSG),
      invalid('metadata.labels', 'b c', LABEL_VALUE_MSG),
    ]);
    const long = 'v'.repeat(64);
    assert.deepEqual(create({ ...valid, labels: { k: long } }), [
      invalid('metadata.labels', long, 'must be no more than 63 characters'),
    ]);
  });

  it('validates annotation keys case-insensitively', () => {
    assert.deepEqual(create({ ...valid, annotations: { 'Example.COM/Key': 'any value at all ✓' } }), []);
    assert.deepEqual(create({ ...valid, annotations: { 'bad key': '' } }), [
      invalid('metadata.annotations', 'bad key', NAME_PART_MSG),
    ]);
  });

  it('limits the total annotation size to 256 KiB', () => {
    const at = (n: number) => ({ ...valid, annotations: { k: 'x'.repeat(n - 1) } });
    assert.deepEqual(create(at(262144)), []);
    assert.deepEqual(create(at(262145)), [
      { reason: 'FieldValueTooLong', field: 'metadata.annotations', message: 'Too long: may not be more than 262144 bytes' },
    ]);
  });

  it('validates finalizers as qualified names', () => {
    assert.deepEqual(create({ ...valid, finalizers: ['metal3.io/baremetalhost', 'orphan'] }), []);
    assert.deepEqual(create({ ...valid, finalizers: ['bad finalizer'] }), [
      invalid('metadata.finalizers', 'bad finalizer', NAME_PART_MSG),
    ]);
    const both = create({ ...valid, finalizers: ['orphan', 'foregroundDeletion'] });
    assert.equal(both.length, 1);
    assert.equal(both[0].field, 'metadata.finalizers');
    assert.match(both[0].message ?? '', /finalizer orphan and foregroundDeletion cannot be both set$/);
  });

  it('requires apiVersion, kind, name and uid on owner references, and at most one controller', () => {
    const ref = { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', name: 'h', uid: 'u1' };
    assert.deepEqual(create({ ...valid, ownerReferences: [{ ...ref, controller: true }, ref] }), []);
    assert.deepEqual(create({ ...valid, ownerReferences: [{ apiVersion: '', kind: '', name: '', uid: '' }] }), [
      invalid('metadata.ownerReferences.apiVersion', '', 'version must not be empty'),
      invalid('metadata.ownerReferences.kind', '', 'must not be empty'),
      invalid('metadata.ownerReferences.name', '', 'must not be empty'),
      invalid('metadata.ownerReferences.uid', '', 'must not be empty'),
    ]);
    assert.deepEqual(create({ ...valid, ownerReferences: [{ ...ref, apiVersion: 'a/b/c' }] }), [
      invalid('metadata.ownerReferences.apiVersion', 'a/b/c', 'version must not be empty'),
    ]);
    const two = create({ ...valid, ownerReferences: [{ ...ref, controller: true }, { ...ref, name: 'g', controller: true }] });
    assert.equal(two.length, 1);
    assert.equal(two[0].field, 'metadata.ownerReferences');
    assert.match(
      two[0].message ?? '',
      /Only one reference can have Controller set to true\. Found "true" in references for BareMetalHost\/h and BareMetalHost\/g$/,
    );
    const event = create({ ...valid, ownerReferences: [{ ...ref, apiVersion: 'v1', kind: 'Event' }] });
    assert.match(event[0].message ?? '', /\/v1, Kind=Event is disallowed from being an owner$/);
  });

  it('rejects a negative generation and bad managedFields', () => {
    assert.deepEqual(create({ ...valid, generation: -1 }), [
      { reason: 'FieldValueInvalid', field: 'metadata.generation', message: 'Invalid value: -1: must be greater than or equal to 0' },
    ]);
    const bad = create({ ...valid, managedFields: [{ manager: 'm', operation: 'Patch' as 'Apply', fieldsType: 'FieldsV2' as 'FieldsV1' }] });
    assert.deepEqual(bad, [
      invalid('metadata.managedFields[0].operation', 'Patch', 'must be `Apply` or `Update`'),
      invalid('metadata.managedFields[0].fieldsType', 'FieldsV2', 'must be `FieldsV1`'),
    ]);
  });
});

describe('validateObjectMetaUpdate', () => {
  const old: ObjectMeta = {
    name: 'h',
    namespace: 'ns',
    uid: 'u1',
    creationTimestamp: '2026-01-01T00:00:00Z',
    finalizers: ['a.io/x'],
    generateName: 'h-',
  };

  it('accepts an update that keeps identity fields', () => {
    assert.deepEqual(validateObjectMetaUpdate({ ...old, labels: { a: 'b' } }, old), []);
    // Server-owned fields left out of the body count as unchanged.
    assert.deepEqual(validateObjectMetaUpdate({ name: 'h', namespace: 'ns' }, old), []);
    // generateName is not looked at on update.
    assert.deepEqual(validateObjectMetaUpdate({ ...old, generateName: 'Other_' }, old), []);
  });

  it('reports immutable fields', () => {
    const changed = { ...old, name: 'g', namespace: 'other', uid: 'u2', creationTimestamp: '2026-02-02T00:00:00Z' };
    assert.deepEqual(validateObjectMetaUpdate(changed, old), [
      invalid('metadata.name', 'g', 'field is immutable'),
      invalid('metadata.namespace', 'other', 'field is immutable'),
      invalid('metadata.uid', 'u2', 'field is immutable'),
      invalid('metadata.creationTimestamp', '2026-02-02T00:00:00Z', 'field is immutable'),
    ]);
  });

  it('rejects setting deletionTimestamp through an update', () => {
    assert.deepEqual(validateObjectMetaUpdate({ ...old, deletionTimestamp: '2026-03-03T00:00:00Z' }, old), [
      invalid('metadata.deletionTimestamp', '2026-03-03T00:00:00Z', 'field is immutable'),
    ]);
  });

  it('forbids new finalizers once the object is being deleted, but allows removing them', () => {
    const deleting = { ...old, deletionTimestamp: '2026-03-03T00:00:00Z', finalizers: ['a.io/x', 'b.io/y'] };
    assert.deepEqual(validateObjectMetaUpdate({ ...deleting, finalizers: ['a.io/x'] }, deleting), []);
    assert.deepEqual(validateObjectMetaUpdate({ ...deleting, finalizers: [] }, deleting), []);
    assert.deepEqual(validateObjectMetaUpdate({ ...deleting, finalizers: ['z.io/z', 'a.io/x', 'c.io/c'] }, deleting), [
      {
        reason: 'FieldValueForbidden',
        field: 'metadata.finalizers',
        message:
          'Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"c.io/c", "z.io/z"}',
      },
    ]);
    // Without a deletionTimestamp, adding is fine.
    assert.deepEqual(validateObjectMetaUpdate({ ...old, finalizers: ['a.io/x', 'b.io/y'] }, old), []);
  });

  it('still validates labels, annotations, finalizers and owners', () => {
    assert.deepEqual(validateObjectMetaUpdate({ ...old, labels: { k: 'b c' } }, old), [
      invalid('metadata.labels', 'b c', LABEL_VALUE_MSG),
    ]);
    assert.deepEqual(validateObjectMetaUpdate({ ...old, annotations: { '-x': '' } }, old), [
      invalid('metadata.annotations', '-x', NAME_PART_MSG),
    ]);
    assert.deepEqual(validateObjectMetaUpdate({ ...old, finalizers: ['bad one'] }, old), [
      invalid('metadata.finalizers', 'bad one', NAME_PART_MSG),
    ]);
    assert.equal(
      validateObjectMetaUpdate({ ...old, ownerReferences: [{ apiVersion: 'v1', kind: 'K', name: 'n', uid: '' }] }, old)[0].field,
      'metadata.ownerReferences.uid',
    );
  });
});
