import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/types.ts';
import { StatusError } from '../../apiserver/status.ts';
import {
  labelSelectorFromObject,
  parseLabelRequirements,
  parseLabelSelector,
} from '../../api/labels.ts';
import {
  exactNameFromFieldSelector,
  metadataFieldValue,
  parseFieldSelector,
  parseFieldTerms,
} from '../../apiserver/selectors/fields.ts';

const QNAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

function badRequestMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusError, `expected a StatusError, got ${String(err)}`);
    assert.equal(err.code, 400);
    assert.equal(err.reason, 'BadRequest');
    return err.message;
  }
  assert.fail('expected a 400 BadRequest');
}

describe('parseLabelSelector: matching', () => {
  const L = { env: 'prod', tier: 'web', n: '5', empty: '' };
  const cases: [string, Record<string, string> | undefined, boolean][] = [
    ['', L, true],
    ['', undefined, true],
    ['   ', L, true],
    ['env=prod', L, true],
    ['env=dev', L, false],
    ['env==prod', L, true],
    ['env!=prod', L, false],
    ['env!=dev', L, true],
    ['missing!=x', L, true],
    ['missing=x', L, false],
    ['env in (dev,prod)', L, true],
    ['env in (dev,qa)', L, false],
    ['missing in (a)', L, false],
    ['env notin (dev,qa)', L, true],
    ['env notin (prod)', L, false],
    ['missing notin (a)', L, true],
    ['env', L, true],
    ['missing', L, false],
    ['!missing', L, true],
    ['!env', L, false],
    ['n>4', L, true],
    ['n>5', L, false],
    ['n<6', L, true],
    ['n<5', L, false],
    ['n>0', L, true],
    ['env>1', L, false], // non-integer label value never matches gt/lt
    ['missing<10', L, false],
    ['empty=', L, true],
    ['empty in ()', L, true],
    ['env in (,prod)', L, true],
    ['empty in (a,,b)', L, true],
    ['env=prod,tier=web', L, true],
    ['env=prod,tier=db', L, false],
    ['  env = prod ,  tier in ( web , db )  ', L, true],
    ['env=prod,!missing,tier,n>1', L, true],
    ['a=in', { a: 'in' }, true],
    ['a in (notin)', { a: 'notin' }, true],
    ['example.com/role=x', { 'example.com/role': 'x' }, true],
    ['env', undefined, false],
    ['!env', undefined, true],
    ['env!=x', undefined, true],
  ];
  for (const [sel, labels, want] of cases) {
    it(`${JSON.stringify(sel)} on ${JSON.stringify(labels)} => ${want}`, () => {
      assert.equal(parseLabelSelector(sel)(labels), want);
    });
  }

  it('compares gt/lt as 64-bit integers, not as strings or floats', () => {
    assert.equal(parseLabelSelector('n>9')({ n: '10' }), true);
    assert.equal(parseLabelSelector('n>9007199254740992')({ n: '9007199254740993' }), true);
    assert.equal(parseLabelSelector('n<1')({ n: '1.5' }), false);
  });

  it('does not match inherited properties as labels', () => {
    assert.equal(parseLabelSelector('toString')({}), false);
    assert.equal(parseLabelSelector('constructor')({}), false);
  });

  it('returns sorted, de-duplicated values', () => {
    assert.deepEqual(parseLabelRequirements('a in (z,b,z)'), [{ key: 'a', operator: 'in', values: ['b', 'z'] }]);
    assert.deepEqual(parseLabelRequirements('!a'), [{ key: 'a', operator: '!', values: [] }]);
    assert.deepEqual(parseLabelRequirements('a'), [{ key: 'a', operator: 'exists', values: [] }]);
    assert.deepEqual(parseLabelRequirements('a=='), [{ key: 'a', operator: '==', values: [''] }]);
  });
});

describe('parseLabelSelector: errors', () => {
  const cases: [string, string][] = [
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a in b', "unable to parse requirement: found 'b' expected: '('"],
    ['a notin', "unable to parse requirement: found '' expected: '('"],
    ['a in (b', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['a in (b c)', "unable to parse requirement: found 'c', expected: ',' or ')'"],
    ['a in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ['a=(', "unable to parse requirement: found '(', expected: identifier"],
    [',a', "found ',', expected: !, identifier, or 'end of string'"],
    ['=a', "found '=', expected: !, identifier, or 'end of string'"],
    ['a,', "found '', expected: identifier after ','"],
    ['a,,b', "found ',', expected: identifier after ','"],
    ['!a=b', "found '=', expected: ',' or 'end of string'"],
    ['!', "unable to parse requirement: found '', expected: identifier"],
    ['a!b', "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"],
    ['-a=b', `unable to parse requirement: <nil>: Invalid value: "-a": name part ${QNAME_MSG}`],
    ['a=b_', `unable to parse requirement: values[0][a]: Invalid value: "b_": ${LABEL_VALUE_MSG}`],
    ['a in (ok,-x)', `unable to parse requirement: values[0][a]: Invalid value: "-x": ${LABEL_VALUE_MSG}`],
    ['a>x', `unable to parse requirement: values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer`],
    ['a>-1', `unable to parse requirement: values[0][a]: Invalid value: "-1": ${LABEL_VALUE_MSG}`],
    ['a<1.5', `unable to parse requirement: values[0]: Invalid value: "1.5": for 'Gt', 'Lt' operators, the value must be an integer`],
    [
      '/a',
      `unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty`,
    ],
    [
      'a/b/c',
      `unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name ${QNAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ],
  ];
  for (const [sel, message] of cases) {
    it(`${JSON.stringify(sel)} is a 400 naming the problem`, () => {
      assert.equal(badRequestMessage(() => parseLabelSelector(sel)), message);
    });
  }

  it('rejects values and keys over 63 characters', () => {
    const long = 'x'.repeat(64);
    assert.equal(
      badRequestMessage(() => parseLabelSelector(`a=${long}`)),
      `unable to parse requirement: values[0][a]: Invalid value: "${long}": must be no more than 63 characters`,
    );
    assert.match(badRequestMessage(() => parseLabelSelector(`${long}=a`)), /name part must be no more than 63 characters/);
    assert.doesNotThrow(() => parseLabelSelector(`${'x'.repeat(63)}=${'y'.repeat(63)}`));
  });
});

describe('labelSelectorFromObject', () => {
  it('matches nothing for null and everything for an empty selector', () => {
    assert.equal(labelSelectorFromObject(null)({ a: 'b' }), false);
    assert.equal(labelSelectorFromObject(undefined)({}), false);
    assert.equal(labelSelectorFromObject({})({}), true);
    assert.equal(labelSelectorFromObject({ matchLabels: {}, matchExpressions: [] })({ a: 'b' }), true);
  });

  it('ANDs matchLabels with every operator of matchExpressions', () => {
    const p = labelSelectorFromObject({
      matchLabels: { app: 'bmo' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['web', 'db'] },
        { key: 'env', operator: 'NotIn', values: ['dev'] },
        { key: 'owner', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    assert.equal(p({ app: 'bmo', tier: 'web', owner: 'x' }), true);
    assert.equal(p({ app: 'bmo', tier: 'web', owner: 'x', env: 'dev' }), false);
    assert.equal(p({ app: 'bmo', tier: 'cache', owner: 'x' }), false);
    assert.equal(p({ app: 'bmo', tier: 'web' }), false);
    assert.equal(p({ app: 'bmo', tier: 'web', owner: 'x', legacy: '' }), false);
    assert.equal(p({ app: 'other', tier: 'web', owner: 'x' }), false);
  });

  it('rejects unknown operators and invalid requirements with 400s', () => {
    assert.equal(
      badRequestMessage(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] })),
      '"Gt" is not a valid label selector operator',
    );
    assert.equal(
      badRequestMessage(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })),
      `values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`,
    );
    assert.equal(
      badRequestMessage(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })),
      `values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist`,
    );
    assert.equal(
      badRequestMessage(() => labelSelectorFromObject({ matchLabels: { 'bad key': 'v' } })),
      `key: Invalid value: "bad key": name part ${QNAME_MSG}`,
    );
    assert.equal(
      badRequestMessage(() => labelSelectorFromObject({ matchLabels: { '-k': 'v_' } })),
      `[key: Invalid value: "-k": name part ${QNAME_MSG}, values[0][-k]: Invalid value: "v_": ${LABEL_VALUE_MSG}]`,
    );
  });
});

describe('parseFieldSelector', () => {
  const obj = (name: string, namespace: string, state?: string): KubeObject => ({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace },
    status: state === undefined ? {} : { provisioning: { state } },
  });
  const supported = ['metadata.name', 'metadata.namespace', 'status.provisioning.state'];
  const valueOf = (o: KubeObject, field: string) => {
    if (field === 'status.provisioning.state') {
      const status = o.status as { provisioning?: { state?: string } };
      return status.provisioning?.state;
    }
    return metadataFieldValue(o, field);
  };
  const match = (sel: string, o: KubeObject) => parseFieldSelector(sel, supported, valueOf)(o);

  it('supports =, == and != joined by commas', () => {
    const o = obj('h1', 'ns', 'available');
    assert.equal(match('', o), true);
    assert.equal(match('metadata.name=h1', o), true);
    assert.equal(match('metadata.name==h1', o), true);
    assert.equal(match('metadata.name=h2', o), false);
    assert.equal(match('metadata.name!=h2', o), true);
    assert.equal(match('metadata.name!=h1', o), false);
    assert.equal(match('metadata.name=h1,metadata.namespace=ns', o), true);
    assert.equal(match('metadata.name=h1,metadata.namespace=other', o), false);
    assert.equal(match('status.provisioning.state=available', o), true);
    assert.equal(match('metadata.name=h1,,', o), true);
  });

  it('reads a missing field as the empty string', () => {
    const o = obj('h1', 'ns');
    assert.equal(match('status.provisioning.state=', o), true);
    assert.equal(match('status.provisioning.state!=available', o), true);
    assert.equal(match('status.provisioning.state=available', o), false);
  });

  it('unescapes \\, \\= and \\\\ in values', () => {
    assert.deepEqual(parseFieldTerms('metadata.name=a\\,b\\=c\\\\d'), [
      { field: 'metadata.name', operator: '=', value: 'a,b=c\\d' },
    ]);
    assert.equal(match('metadata.name=a\\,b', obj('a,b', 'ns')), true);
    assert.deepEqual(
      parseFieldTerms('metadata.name=a\\,b,metadata.namespace!=x').map((t) => t.field),
      ['metadata.name', 'metadata.namespace'],
    );
  });

  it('rejects unsupported fields with kube\'s 400', () => {
    assert.equal(badRequestMessage(() => match('spec.x=1', obj('h', 'n'))), 'field label not supported: spec.x');
    // No trimming, as in kube: the space is part of the field name.
    assert.equal(
      badRequestMessage(() => match('metadata.name =h', obj('h', 'n'))),
      'field label not supported: metadata.name ',
    );
  });

  it('rejects malformed selectors with kube\'s messages', () => {
    assert.equal(
      badRequestMessage(() => match('metadata.name', obj('h', 'n'))),
      "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
    );
    assert.equal(
      badRequestMessage(() => match('metadata.name=a=b', obj('h', 'n'))),
      'invalid field selector: unescaped character in value: 61',
    );
    assert.equal(
      badRequestMessage(() => match('metadata.name=a\\x', obj('h', 'n'))),
      'invalid field selector: invalid escape sequence: \\x',
    );
    assert.equal(
      badRequestMessage(() => match('metadata.name=a\\', obj('h', 'n'))),
      'invalid field selector: invalid escape sequence: \\',
    );
  });
});

describe('exactNameFromFieldSelector', () => {
  it('finds a metadata.name equality', () => {
    assert.equal(exactNameFromFieldSelector('metadata.name=h1'), 'h1');
    assert.equal(exactNameFromFieldSelector('metadata.name==h1'), 'h1');
    assert.equal(exactNameFromFieldSelector('metadata.namespace=ns,metadata.name=h1'), 'h1');
    assert.equal(exactNameFromFieldSelector('metadata.name=a\\,b'), 'a,b');
  });

  it('returns undefined otherwise', () => {
    assert.equal(exactNameFromFieldSelector(''), undefined);
    assert.equal(exactNameFromFieldSelector('metadata.name!=h1'), undefined);
    assert.equal(exactNameFromFieldSelector('metadata.namespace=ns'), undefined);
    assert.equal(exactNameFromFieldSelector('metadata.name'), undefined);
    assert.equal(exactNameFromFieldSelector('metadata.name=a\\q'), undefined);
  });
});
