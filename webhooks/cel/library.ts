// The Kubernetes CEL library (k8s.io/apiserver/pkg/cel/library) as far as real admission policies use it,
// on top of CEL's standard functions and the strings extension that @bufbuild/cel ships.
import { CelScalar, celFunc, celMethod, isCelList, isCelMap, listType } from '@bufbuild/cel';
import type { CelFunc, CelList } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import {
  addQuantity,
  approximateFloat,
  compareQuantity,
  decodeQuantity,
  encodeQuantity,
  isIntegerQuantity,
  negateQuantity,
  parseQuantity,
  quantityFromInt,
} from './quantity.ts';
import type { Quantity } from './quantity.ts';
import { hostnameOf, parseQuery, parseRequestURI, portOf } from './url.ts';
import type { ParsedURL } from './url.ts';

const { STRING, BOOL, INT, DYN } = CelScalar;

// ---- regex -------------------------------------------------------------------------------------

interface CompiledRegex {
  test: RE2JS;
  search: RegExp;
}

const regexCache = new Map<string, CompiledRegex>();

/**
 * RE2 decides validity and `matches` (as in kube); `find`/`findAll` need match positions, which the RE2
 * port does not offer, so they run the same pattern as a JS RegExp, with RE2's leading flag group mapped.
 */
function regex(pattern: string): CompiledRegex {
  let r = regexCache.get(pattern);
  if (r) return r;
  const test = RE2JS.compile(pattern);
  let source = pattern;
  let flags = 'gu';
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    source = source.slice(lead[0].length);
    for (const f of lead[1]) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  source = source.replaceAll('\\z', '$').replaceAll('\\A', '^');
  let search: RegExp;
  try {
    search = new RegExp(source, flags);
  } catch {
    search = new RegExp(source, flags.replace('u', ''));
  }
  r = { test, search };
  if (regexCache.size > 1000) regexCache.clear();
  regexCache.set(pattern, r);
  return r;
}

function findAll(s: string, pattern: string, limit: number): string[] {
  if (limit === 0) return [];
  const re = regex(pattern).search;
  re.lastIndex = 0;
  const out: string[] = [];
  for (const m of s.matchAll(re)) {
    out.push(m[0]);
    if (limit > 0 && out.length >= limit) break;
  }
  return out;
}

const regexFuncs: CelFunc[] = [
  celMethod('matches', STRING, [STRING], BOOL, function (pattern) {
    return regex(pattern).test.test(this);
  }),
  celFunc('matches', [STRING, STRING], BOOL, (s, pattern) => regex(pattern).test.test(s)),
  celMethod('find', STRING, [STRING], STRING, function (pattern) {
    return findAll(this, pattern, 1)[0] ?? '';
  }),
  celMethod('findAll', STRING, [STRING], listType(STRING), function (pattern) {
    return findAll(this, pattern, -1);
  }),
  celMethod('findAll', STRING, [STRING, INT], listType(STRING), function (pattern, n) {
    return findAll(this, pattern, Number(n));
  }),
];

// ---- lists -------------------------------------------------------------------------------------

type Comparable = bigint | number | string | boolean;

function compareValues(a: unknown, b: unknown): number {
  if (isQuantityValue(a) && isQuantityValue(b)) return compareQuantity(quantityOf(a), quantityOf(b));
  const numeric = (v: unknown) => typeof v === 'bigint' || typeof v === 'number';
  if ((numeric(a) && numeric(b)) || (typeof a === typeof b && (typeof a === 'string' || typeof a === 'boolean'))) {
    const x = a as Comparable;
    const y = b as Comparable;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  throw new Error(`no such overload: cannot compare ${typeof a} and ${typeof b}`);
}

function equalValues(a: unknown, b: unknown): boolean {
  if (typeof a === 'bigint' || typeof a === 'number') {
    return (typeof b === 'bigint' || typeof b === 'number') && compareValues(a, b) === 0;
  }
  if (a === null || typeof a !== 'object') return a === b;
  if (isCelList(a) && isCelList(b)) {
    if (a.size !== b.size) return false;
    for (let i = 0; i < a.size; i++) if (!equalValues(a.get(i), b.get(i))) return false;
    return true;
  }
  if (isCelMap(a) && isCelMap(b)) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !equalValues(v, b.get(k))) return false;
    return true;
  }
  return a === b;
}

function extreme(list: CelList, sign: 1 | -1, name: string): unknown {
  if (list.size === 0) throw new Error(`${name}(list) called on an empty list`);
  let best = list.get(0);
  for (const v of list) if (compareValues(v, best) * sign > 0) best = v;
  return best;
}

function indexIn(list: CelList, value: unknown, last: boolean): bigint {
  let found = -1;
  for (let i = 0; i < list.size; i++) {
    if (equalValues(list.get(i), value)) {
      found = i;
      if (!last) break;
    }
  }
  return BigInt(found);
}

const LIST = listType(DYN);

const listFuncs: CelFunc[] = [
  celMethod('isSorted', LIST, [], BOOL, function () {
    for (let i = 1; i < this.size; i++) if (compareValues(this.get(i - 1), this.get(i)) > 0) return false;
    return true;
  }),
  celMethod('sum', LIST, [], DYN, function () {
    let intSum = 0n;
    let doubleSum = 0;
    let sawDouble = false;
    let quantitySum: Quantity | undefined;
    for (const v of this) {
      if (typeof v === 'bigint') intSum += v;
      else if (typeof v === 'number') {
        doubleSum += v;
        sawDouble = true;
      } else if (isQuantityValue(v)) quantitySum = addQuantity(quantitySum ?? quantityFromInt(0n), quantityOf(v));
      else throw new Error('no such overload: sum() of a non-numeric list');
    }
    if (quantitySum) return quantityValue(quantitySum);
    return sawDouble ? doubleSum + Number(intSum) : intSum;
  }),
  celMethod('min', LIST, [], DYN, function () {
    return extreme(this, -1, 'min') as bigint;
  }),
  celMethod('max', LIST, [], DYN, function () {
    return extreme(this, 1, 'max') as bigint;
  }),
  celMethod('indexOf', LIST, [DYN], INT, function (v) {
    return indexIn(this, v, false);
  }),
  celMethod('lastIndexOf', LIST, [DYN], INT, function (v) {
    return indexIn(this, v, true);
  }),
];

// ---- opaque kube types --------------------------------------------------------------------------
// @bufbuild/cel has no user-defined opaque types, so a URL or a Quantity travels as a one-entry map
// whose key no JSON object can produce through toCelValue (it is not a valid field name in our schemas).

const QUANTITY_KEY = '@kubernetes.Quantity';
const URL_KEY = '@kubernetes.URL';

function markerOf(v: unknown, key: string): string | undefined {
  if (!isCelMap(v) || v.size !== 1) return undefined;
  const s = v.get(key);
  return typeof s === 'string' ? s : undefined;
}

const isQuantityValue = (v: unknown): boolean => markerOf(v, QUANTITY_KEY) !== undefined;

function quantityOf(v: unknown): Quantity {
  const s = markerOf(v, QUANTITY_KEY);
  if (s === undefined) throw new Error('no such overload: expected a Quantity');
  return decodeQuantity(s);
}

const quantityValue = (q: Quantity) => new Map([[QUANTITY_KEY, encodeQuantity(q)]]);

function urlOf(v: unknown): ParsedURL {
  const s = markerOf(v, URL_KEY);
  if (s === undefined) throw new Error('no such overload: expected a URL');
  return JSON.parse(s) as ParsedURL;
}

const quantityMethod = (name: string, impl: (q: Quantity) => unknown) =>
  celMethod(name, DYN, [], DYN, function () {
    return impl(quantityOf(this)) as bigint;
  });

const quantityBinary = (name: string, impl: (a: Quantity, b: Quantity) => unknown) =>
  celMethod(name, DYN, [DYN], DYN, function (other) {
    const b = typeof other === 'bigint' ? quantityFromInt(other) : quantityOf(other);
    return impl(quantityOf(this), b) as bigint;
  });

const quantityFuncs: CelFunc[] = [
  celFunc('quantity', [STRING], DYN, (s) => {
    const q = parseQuantity(s);
    if (!q) throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
    return quantityValue(q);
  }),
  celFunc('isQuantity', [STRING], BOOL, (s) => parseQuantity(s) !== undefined),
  quantityMethod('sign', (q) => BigInt(q.num > 0n ? 1 : q.num < 0n ? -1 : 0)),
  quantityMethod('isInteger', isIntegerQuantity),
  quantityMethod('asInteger', (q) => {
    if (!isIntegerQuantity(q)) throw new Error('cannot convert value to integer');
    return q.num;
  }),
  quantityMethod('asApproximateFloat', approximateFloat),
  quantityBinary('add', (a, b) => quantityValue(addQuantity(a, b))),
  quantityBinary('sub', (a, b) => quantityValue(addQuantity(a, negateQuantity(b)))),
  quantityBinary('isLessThan', (a, b) => compareQuantity(a, b) < 0),
  quantityBinary('isGreaterThan', (a, b) => compareQuantity(a, b) > 0),
  quantityBinary('compareTo', (a, b) => BigInt(compareQuantity(a, b))),
];

const urlMethod = (name: string, impl: (u: ParsedURL) => unknown) =>
  celMethod(name, DYN, [], DYN, function () {
    return impl(urlOf(this)) as string;
  });

const urlFuncs: CelFunc[] = [
  celFunc('url', [STRING], DYN, (s) => {
    const u = parseRequestURI(s);
    if (!u) throw new Error(`URL parse error during conversion from string: parse ${JSON.stringify(s)}: invalid URI for request`);
    return new Map([[URL_KEY, JSON.stringify(u)]]);
  }),
  celFunc('isURL', [STRING], BOOL, (s) => parseRequestURI(s) !== undefined),
  urlMethod('getScheme', (u) => u.scheme),
  urlMethod('getHost', (u) => u.host),
  urlMethod('getHostname', (u) => hostnameOf(u.host)),
  urlMethod('getPort', (u) => portOf(u.host)),
  urlMethod('getEscapedPath', (u) => u.escapedPath),
  urlMethod('getQuery', (u) => parseQuery(u.rawQuery)),
];

/** Every function our CEL environment adds to the standard library. */
export const kubernetesLibrary: CelFunc[] = [...strings, ...regexFuncs, ...listFuncs, ...quantityFuncs, ...urlFuncs];
