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
