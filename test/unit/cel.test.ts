import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CELError, compileCEL, fromCelValue, toCelValue } from '../../webhooks/cel/index.ts';

const VARS = ['object', 'oldObject', 'request', 'params', 'variables'];
const object = toCelValue({
  spec: {
    replicas: 3,
    ratio: 1.5,
    nothing: null,
    ports: [3, 1, 2],
    sorted: [1, 2, 2],
    name: ' Host-A ',
    url: 'https://images.example.com:8443/img%20s/a.qcow2?x=1&x=2&y=',
    mem: '1Gi',
  },
});
const run = (expression: string, activation: Record<string, unknown> = { object }) =>
  fromCelValue(compileCEL(expression, { variables: VARS }).evaluate(activation));
const fails = (expression: string, pattern: RegExp) =>
  assert.throws(() => run(expression), (err: unknown) => err instanceof CELError && pattern.test(err.message));

describe('JSON to CEL values', () => {
  it('reads JSON integers as int and fractions as double, as kube decodes unstructured JSON', () => {
    assert.equal(run('object.spec.replicas + 1'), 4);
    assert.equal(run('type(object.spec.replicas) == int'), true);
    assert.equal(run('type(object.spec.ratio) == double'), true);
    assert.equal(run('string(object.spec.replicas)'), '3');
    fails('object.spec.ratio + 1', /no matching overload/);
  });
  it('reads null fields as null, and has() sees only fields with a value', () => {
    assert.equal(run('object.spec.nothing == null'), true);
    // kube drops null for non-nullable fields before admission, so a null field counts as unset.
    assert.equal(run('has(object.spec.nothing)'), false);
    assert.equal(run('has(object.spec.replicas)'), true);
    assert.equal(run('has(object.spec.absent)'), false);
    fails('object.spec.absent == 1', /no such key|not found/);
  });
  it('returns maps and lists as plain JSON', () => {
    assert.deepEqual(run('{"a": [1, 2.5, "x"]}'), { a: [1, 2.5, 'x'] });
  });
});

describe('compileCEL', () => {
  it('caches one program per expression text', () => {
    const a = compileCEL('object.spec.replicas > 1', { variables: VARS });
    assert.equal(compileCEL('object.spec.replicas > 1', { variables: VARS }), a);
    assert.notEqual(compileCEL('object.spec.replicas > 2', { variables: VARS }), a);
  });
  it('reports syntax errors, undeclared variables and unknown functions without evaluating', () => {
    assert.match(compileCEL('object.spec.(', { variables: VARS }).error ?? '', /compilation failed: .*Syntax error/);
    assert.match(compileCEL('objekt.spec', { variables: VARS }).error ?? '', /undeclared reference to 'objekt'/);
    assert.match(compileCEL('object.spec.name.frobnicate()', { variables: VARS }).error ?? '', /undeclared reference to 'frobnicate'/);
    assert.equal(compileCEL('object.spec.ports.all(p, p > 0)', { variables: VARS }).error, undefined);
    assert.throws(() => compileCEL('objekt', { variables: VARS }).evaluate({}), CELError);
  });
  it('runs the standard macros', () => {
    assert.equal(run('object.spec.ports.exists(p, p == 2)'), true);
    assert.equal(run('object.spec.ports.exists(p, p == 9)'), false);
    assert.equal(run('object.spec.ports.all(p, p > 0)'), true);
    assert.equal(run('object.spec.ports.all(p, p > 1)'), false);
    assert.deepEqual(run('object.spec.ports.map(p, p * 2)'), [6, 2, 4]);
    assert.deepEqual(run('object.spec.ports.filter(p, p > 1)'), [3, 2]);
  });
});

describe('Kubernetes CEL library', () => {
  const cases: [string, unknown, unknown][] = [
    // [expression, positive result, negative expression result]
    ['object.spec.name.trim().lowerAscii() == "host-a"', true, false],
    ['object.spec.name.upperAscii() == " HOST-A "', true, false],
    ['"a,b,c".split(",") == ["a", "b", "c"]', true, false],
    ['["a", "b"].join("-") == "a-b"', true, false],
    ['"aXbX".replace("X", "y") == "ayby"', true, false],
    ['"hello".substring(1, 3) == "el"', true, false],
    ['"hello".indexOf("l") == 2', true, false],
    ['"hello".lastIndexOf("l") == 3', true, false],
    ['"hello".charAt(1) == "e"', true, false],
    ['object.spec.name.startsWith(" H") && object.spec.name.endsWith("A ")', true, false],
    ['object.spec.name.contains("st-")', true, false],
    ['object.spec.name.matches("^ Host-[A-Z] $")', true, false],
    ['object.spec.sorted.isSorted()', true, false],
    ['object.spec.ports.sum() == 6', true, false],
    ['object.spec.ports.min() == 1', true, false],
    ['object.spec.ports.max() == 3', true, false],
    ['[1, 2, 1].indexOf(1) == 0', true, false],
    ['[1, 2, 1].lastIndexOf(1) == 2', true, false],
    ['"abc123def456".find("[0-9]+") == "123"', true, false],
    ['"abc123def456".findAll("[0-9]+") == ["123", "456"]', true, false],
    ['"a1b2c3".findAll("[0-9]", 2) == ["1", "2"]', true, false],
    ['url(object.spec.url).getScheme() == "https"', true, false],
    ['url(object.spec.url).getHost() == "images.example.com:8443"', true, false],
    ['url(object.spec.url).getHostname() == "images.example.com"', true, false],
    ['url(object.spec.url).getPort() == "8443"', true, false],
    ['url(object.spec.url).getEscapedPath() == "/img%20s/a.qcow2"', true, false],
    ['url(object.spec.url).getQuery() == {"x": ["1", "2"], "y": [""]}', true, false],
    ['isURL(object.spec.url) && isURL("/just/a/path")', true, false],
    ['quantity(object.spec.mem).isGreaterThan(quantity("1000Mi"))', true, false],
    ['quantity("100m").isLessThan(quantity("1"))', true, false],
    ['quantity("1Gi").compareTo(quantity("1024Mi")) == 0', true, false],
    ['quantity("2k").asInteger() == 2000', true, false],
    ['isQuantity("1.5Gi")', true, false],
    ['quantity("500m").add(quantity("500m")).isInteger()', true, false],
    ['quantity("1").sub(2).sign() == -1', true, false],
  ];
  for (const [expression] of cases) {
    it(expression, () => {
      assert.equal(run(expression), true);
      // The negation must be false: each case can fail both ways.
      assert.equal(run(`!(${expression})`), false);
    });
  }
  it('gives false for the negative inputs', () => {
    assert.equal(run('"hello".indexOf("z")'), -1);
    assert.equal(run('object.spec.ports.isSorted()'), false);
    assert.equal(run('"abc".find("[0-9]+")'), '');
    assert.deepEqual(run('"abc".findAll("[0-9]")'), []);
    assert.equal(run('isURL("not a url")'), false);
    assert.equal(run('isURL("https://exa mple.com")'), false);
    assert.equal(run('isQuantity("1Gx")'), false);
    assert.equal(run('quantity("1.5").isInteger()'), false);
    assert.equal(run('url("http://h").getPort()'), '');
    assert.equal(run('object.spec.name.matches("^host")'), false);
  });
  it('reports errors as kube does for bad input', () => {
    fails('"x".find("[")', /missing closing \]/);
    fails('quantity("1Gx")', /quantities must match/);
    fails('quantity("1.5").asInteger()', /cannot convert/);
    fails('url("no scheme")', /URL parse error/);
    fails('[].min()', /empty list/);
  });
});

describe('optional syntax (cel-go optional library)', () => {
  const host = toCelValue({
    metadata: { labels: { role: 'worker', empty: '' } },
    spec: { image: { url: 'https://images.example.com/a.qcow2' }, nics: ['eth0', 'eth1'], gone: null },
  });
  const opt = (expression: string) => run(expression, { object: host });
  const optFails = (expression: string, pattern: RegExp) =>
    assert.throws(
      () => opt(expression),
      (err: unknown) => err instanceof CELError && pattern.test(err.message),
    );

  it('a.?b chains yield the value when every field is present', () => {
    assert.equal(opt("object.?spec.?image.?url.orValue('')"), 'https://images.example.com/a.qcow2');
    assert.equal(opt('object.?spec.?image.?url.hasValue()'), true);
    assert.equal(opt('object.?spec.?image.?url.value().startsWith("https://")'), true);
  });
  it('a.?b chains yield optional.none() when any field is absent, at any depth', () => {
    assert.equal(opt("object.?spec.?image.?checksum.orValue('none')"), 'none');
    assert.equal(opt("object.?spec.?bmc.?address.orValue('none')"), 'none');
    assert.equal(opt("object.?status.?image.?url.orValue('none')"), 'none');
    assert.equal(opt('object.?spec.?bmc.?address.hasValue()'), false);
    // A null field is unset for admission, as has() sees it.
    assert.equal(opt('object.?spec.?gone.hasValue()'), false);
  });
  it('qualifiers after an optional one are optional too, as in cel-go', () => {
    assert.equal(opt("object.?spec.image.url.orValue('')"), 'https://images.example.com/a.qcow2');
    assert.equal(opt("object.?spec.bmc.address.orValue('none')"), 'none');
    assert.equal(opt('object.?spec.nics[1].value()'), 'eth1');
    assert.equal(opt('object.?spec.nics[7].hasValue()'), false);
    // Without `.?` the same selection is still an error.
    optFails('object.spec.bmc.address', /no such key|not found/);
  });
  it('m[?k] on maps and lists', () => {
    assert.equal(opt("object.metadata.labels[?'role'].orValue('')"), 'worker');
    assert.equal(opt("object.metadata.labels[?'zone'].orValue('default')"), 'default');
    assert.equal(opt("object.metadata.labels[?'empty'].hasValue()"), true);
    assert.equal(opt('object.spec.nics[?0].value()'), 'eth0');
    assert.equal(opt('object.spec.nics[?2].hasValue()'), false);
    assert.equal(opt("object.?metadata.?labels[?'role'].orValue('')"), 'worker');
  });
  it('optional.of, optional.none, ofNonZeroValue, value, hasValue, or, orValue', () => {
    assert.equal(opt('optional.of(2).value() + 1'), 3);
    assert.equal(opt('optional.none().hasValue()'), false);
    assert.equal(opt("optional.none().orValue('x')"), 'x');
    assert.equal(opt("optional.none().or(optional.of('y')).value()"), 'y');
    assert.equal(opt("optional.of('a').or(optional.of('y')).value()"), 'a');
    assert.equal(opt("object.?spec.?bmc.or(object.?spec.?image).?url.orValue('')"), 'https://images.example.com/a.qcow2');
    assert.equal(opt("optional.ofNonZeroValue('').hasValue()"), false);
    assert.equal(opt("optional.ofNonZeroValue('a').hasValue()"), true);
    assert.equal(opt('optional.none() == optional.none()'), true);
    assert.equal(opt('optional.of(1) == optional.of(1)'), true);
    assert.equal(opt('optional.of(1) == optional.none()'), false);
    optFails('optional.none().value()', /optional.none\(\) dereference/);
    optFails("'a'.orValue('b')", /no matching overload|expected an optional/);
  });
  it('cel.bind binds a name within its expression only', () => {
    assert.equal(opt('cel.bind(nics, object.spec.nics, nics.size() == 2 && nics[0] == "eth0")'), true);
    assert.equal(opt('cel.bind(a, 1, cel.bind(b, 2, a + b)) == 3'), true);
    assert.equal(opt("cel.bind(u, object.?spec.?image.?url.orValue(''), u.startsWith('https://') && u.endsWith('.qcow2'))"), true);
    assert.match(compileCEL('cel.bind(a, 1, a) + a', { variables: VARS }).error ?? '', /undeclared reference to 'a'/);
  });
  it('leaves the same characters inside string literals and comments alone', () => {
    assert.equal(opt(`'a.?b' + "[?c]" + '''optional.of(1)''' + r'cel.bind(x, 1, x)'`), `a.?b[?c]optional.of(1)cel.bind(x, 1, x)`);
    assert.equal(opt(`object.?spec.?image.hasValue() // a.?b, optional.none()`), true);
    assert.equal(opt(`object.spec.nics.size() // count "them"\n  == 2`), true);
  });
  it('reports malformed optional syntax as a compile error', () => {
    assert.match(compileCEL('object.?', { variables: VARS }).error ?? '', /compilation failed/);
    assert.match(compileCEL('object[?]', { variables: VARS }).error ?? '', /compilation failed/);
    assert.match(compileCEL('objekt.?spec.orValue(1)', { variables: VARS }).error ?? '', /undeclared reference to 'objekt'/);
  });
});

describe('lazy JSON values', () => {
  it('converts on access and keeps what it converted, so a field reads the same value twice', () => {
    const json = { spec: { n: 1, list: [{ a: 1 }], s: 'x' } };
    const v = toCelValue(json);
    assert.equal(run('object.spec == object.spec && object.spec.list[0].a == 1', { object: v }), true);
    // Reading the whole object gives the JSON back (numbers, not bigints), and a copy of it.
    const spec = fromCelValue(run('object.spec', { object: v }) as never);
    assert.deepEqual(spec, json.spec);
    assert.notEqual(spec, json.spec);
  });
  it('behaves as a CEL map and list: size, in, iteration, equality, keys of a map', () => {
    const v = toCelValue({ m: { b: 2, a: 1, z: null }, l: [3, 1, 2] });
    const on = (e: string) => run(e, { object: v });
    assert.equal(on('object.m.size()'), 3);
    assert.equal(on("'a' in object.m && !('q' in object.m)"), true);
    assert.deepEqual(on('object.m.map(k, k)'), ['b', 'a', 'z']);
    assert.equal(on('object.m.all(k, k != "q")'), true);
    assert.equal(on("object.m == {'b': 2, 'a': 1, 'z': null}"), true);
    assert.equal(on("object.m == {'b': 2, 'a': 1}"), false);
    assert.equal(on('object.l == [3, 1, 2] && object.l.size() == 3 && 1 in object.l'), true);
    assert.deepEqual(on('object.l.filter(x, x > 1)'), [3, 2]);
    assert.equal(on('object.l[1] == 1'), true);
    assert.throws(() => on('object.q'), CELError);
  });
  it('does not take inherited properties for fields', () => {
    const v = toCelValue({ m: {} });
    assert.equal(run("has(object.m.constructor) || 'toString' in object.m", { object: v }), false);
  });
});

describe('compiled expressions', () => {
  it('know which declared variables they refer to', () => {
    const refs = (e: string) => [...compileCEL(e, { variables: VARS }).references].sort();
    assert.deepEqual(refs('object.spec.x == oldObject.spec.x'), ['object', 'oldObject']);
    assert.deepEqual(refs("request.userInfo.username == 'a' || [1].exists(params, params == 1)"), ['request']);
    assert.deepEqual(refs('variables.a + params.b'), ['params', 'variables']);
    assert.deepEqual(refs('1 + 1'), []);
  });
});
