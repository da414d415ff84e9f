// resource.Quantity for CEL: parsed exactly, as a fraction of bigints, so that `1Gi` compares equal to
// `1024Mi` and `100m` is less than `1` without floating-point error.

export interface Quantity {
  num: bigint;
  den: bigint;
}

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const SHAPE = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[eE][+-]?[0-9]+)|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$/;

const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
};

function normalize(num: bigint, den: bigint): Quantity {
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const g = gcd(num, den) || 1n;
  return { num: num / g, den: den / g };
}

/** resource.ParseQuantity; undefined when the string is not a quantity. */
export function parseQuantity(s: string): Quantity | undefined {
  const m = SHAPE.exec(s);
  if (!m) return undefined;
  const [, number, suffix] = m;
  const negative = number.startsWith('-');
  const digits = number.replace(/^[+-]/, '');
  const [whole, frac = ''] = digits.split('.');
  let num = BigInt((whole || '0') + frac);
  let den = 10n ** BigInt(frac.length);
  if (negative) num = -num;
  if (suffix in BINARY) num *= 2n ** BigInt(BINARY[suffix]);
  else {
    const exp = suffix in DECIMAL ? DECIMAL[suffix] : Number(suffix.slice(1));
    if (Math.abs(exp) > 1000) return undefined;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  return normalize(num, den);
}

export const compareQuantity = (a: Quantity, b: Quantity): number => {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
};

export const addQuantity = (a: Quantity, b: Quantity): Quantity => normalize(a.num * b.den + b.num * a.den, a.den * b.den);
export const negateQuantity = (a: Quantity): Quantity => ({ num: -a.num, den: a.den });
export const quantityFromInt = (n: bigint): Quantity => ({ num: n, den: 1n });

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export const isIntegerQuantity = (q: Quantity): boolean =>
  q.den === 1n && q.num >= INT64_MIN && q.num <= INT64_MAX;

export const approximateFloat = (q: Quantity): number => Number(q.num) / Number(q.den);

/** A stable text form, used as the identity a Quantity carries through CEL. */
export const encodeQuantity = (q: Quantity): string => `${q.num}/${q.den}`;

export function decodeQuantity(s: string): Quantity {
  const [num, den] = s.split('/');
  return { num: BigInt(num), den: BigInt(den) };
}
