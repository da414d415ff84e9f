// CEL's optional values (cel-go's `optional` library, which kube enables for admission): `optional.of`,
// `optional.none`, `.hasValue()`, `.value()`, `.orValue()`, `.or()`, and the functions that the rewrite of
// `a.?b` and `a[?k]` calls (see rewrite.ts). @bufbuild/cel has no optional type and no opaque values, so
// an optional is a one-entry CEL map of a class of its own: equality and `type()` see a map, our
// functions recognise it by its class.
import { celFunc, celMap, celMethod, CelScalar, isCelList, isCelMap } from '@bufbuild/cel';
import type { CelFunc } from '@bufbuild/cel';

const { DYN, BOOL, STRING } = CelScalar;

const NONE_KEY = '@optional.none';
const VALUE_KEY = '@optional.value';

export class OptionalValue {
  /** undefined for optional.none(). */
  readonly value: unknown;
  constructor(value: unknown) {
    this.value = value;
  }

  hasValue(): boolean {
    return this.value !== undefined;
  }

  private get key(): string {
    return this.value === undefined ? NONE_KEY : VALUE_KEY;
  }

  get size(): number {
    return 1;
  }

  get(key: unknown): unknown {
    if (key !== this.key) return undefined;
    return this.value === undefined ? true : this.value;
  }

  has(key: unknown): boolean {
    return key === this.key;
  }

  *keys(): IterableIterator<string> {
    yield this.key;
  }

  *values(): IterableIterator<unknown> {
    yield this.get(this.key);
  }

  *entries(): IterableIterator<[string, unknown]> {
    yield [this.key, this.get(this.key)];
  }

  forEach(callback: (value: unknown, key: string, map: OptionalValue) => void, thisArg?: unknown): void {
    callback.call(thisArg, this.get(this.key), this.key, this);
  }

  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this.entries();
  }
}
Object.defineProperty(OptionalValue.prototype, Symbol.for('@bufbuild/cel/map'), { value: Object.freeze({}) });

export const OPTIONAL_NONE = new OptionalValue(undefined);

export const optionalOf = (v: unknown): OptionalValue => new OptionalValue(v);

function optionalOfIt(v: unknown): OptionalValue {
  if (!(v instanceof OptionalValue)) throw new Error('no such overload: expected an optional value');
  return v;
}

/** The value an optional chain continues from; undefined when the chain is already empty. */
const unwrap = (target: unknown): unknown => (target instanceof OptionalValue ? target.value : target);

/** `target.?field`: absent (or null, which kube drops before admission) gives optional.none(). */
function optionalField(target: unknown, field: unknown): OptionalValue {
  const base = unwrap(target);
  if (base === undefined) return OPTIONAL_NONE;
  if (isCelMap(base)) {
    const v = base.get(field as string);
    return v === undefined || v === null ? OPTIONAL_NONE : new OptionalValue(v);
  }
  throw new Error(`no such key: ${String(field)}`);
}

/** `target[?key]`: a map entry or a list element, if there is one. */
function optionalIndex(target: unknown, key: unknown): OptionalValue {
  const base = unwrap(target);
  if (base === undefined) return OPTIONAL_NONE;
  if (isCelMap(base)) {
    const v = base.get(key as string);
    return v === undefined || v === null ? OPTIONAL_NONE : new OptionalValue(v);
  }
  if (isCelList(base)) {
    if (typeof key !== 'bigint' && !(typeof key === 'number' && Number.isInteger(key))) {
      throw new Error('no such overload: list index must be an int');
    }
    const v = base.get(Number(key));
    return v === undefined ? OPTIONAL_NONE : new OptionalValue(v);
  }
  throw new Error('no such overload: optional index applies to maps and lists');
}

/** optional.ofNonZeroValue: none for the zero value of the type (kube's proto3 notion of unset). */
function isZero(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
      return v === '';
    case 'bigint':
      return v === 0n;
    case 'number':
      return v === 0;
    case 'boolean':
      return !v;
    case 'object':
      if (v === null) return true;
      if (v instanceof Uint8Array) return v.length === 0;
      if (isCelList(v) || isCelMap(v)) return v.size === 0;
      return false;
    default:
      return false;
  }
}

/** Names the rewrite of the optional syntax calls; kept out of any user's vocabulary by the prefix. */
export const OPTIONAL_FIELD = '__opt_field';
export const OPTIONAL_INDEX = '__opt_index';
export const OPTIONAL_OF = '__opt_of';
export const OPTIONAL_OF_NON_ZERO = '__opt_of_non_zero';
export const OPTIONAL_NONE_FUNC = '__opt_none';

// An OptionalValue is a CelMap at run time (it carries the brand), which the typings cannot see.
type CelMapValue = ReturnType<typeof celMap>;
const asCel = (o: OptionalValue) => o as unknown as CelMapValue;

export const optionalLibrary: CelFunc[] = [
  celFunc(OPTIONAL_FIELD, [DYN, STRING], DYN, (t, f) => asCel(optionalField(t, f))),
  celFunc(OPTIONAL_INDEX, [DYN, DYN], DYN, (t, k) => asCel(optionalIndex(t, k))),
  celFunc(OPTIONAL_OF, [DYN], DYN, (v) => asCel(optionalOf(v))),
  celFunc(OPTIONAL_OF_NON_ZERO, [DYN], DYN, (v) => asCel(isZero(v) ? OPTIONAL_NONE : optionalOf(v))),
  celFunc(OPTIONAL_NONE_FUNC, [], DYN, () => asCel(OPTIONAL_NONE)),
  celMethod('hasValue', DYN, [], BOOL, function () {
    return optionalOfIt(this).hasValue();
  }),
  celMethod('value', DYN, [], DYN, function () {
    const o = optionalOfIt(this);
    if (!o.hasValue()) throw new Error('optional.none() dereference');
    return o.value as bigint;
  }),
  celMethod('orValue', DYN, [DYN], DYN, function (fallback) {
    const o = optionalOfIt(this);
    return (o.hasValue() ? o.value : fallback) as bigint;
  }),
  celMethod('or', DYN, [DYN], DYN, function (other) {
    const o = optionalOfIt(this);
    return asCel(o.hasValue() ? o : optionalOfIt(other));
  }),
];
