// JSON ⇄ CEL values. Kubernetes decodes unstructured JSON integers as int64, so CEL sees `1` as an int
// and `1.5` as a double; @bufbuild/cel would read every JS number as a double, hence the conversion.
import { celList, celMap, isCelList, isCelMap, isCelUint } from '@bufbuild/cel';
import type { CelInput } from '@bufbuild/cel';

/**
 * A JSON value as CEL input: objects become CEL maps, integral numbers bigints. Done once per request;
 * wrapping here rather than leaving plain Maps spares @bufbuild/cel a wrapper on every field access.
 */
export function toCelValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? BigInt(v) : v;
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'object':
      break;
    default:
      return null;
  }
  if (Array.isArray(v)) return celList(v.map(toCelValue) as CelInput[]);
  if (isCelMap(v) || isCelList(v)) return v;
  if (v instanceof Map) return celMap(v as Map<string, CelInput>);
  const m = new Map<string, CelInput>();
  for (const [k, val] of Object.entries(v)) {
    // JSON has no undefined; an absent field stays absent so that has() is false.
    if (val !== undefined) m.set(k, toCelValue(val) as CelInput);
  }
  return celMap(m);
}

/** A CEL result back to JSON-like JS: ints become numbers where safe, maps plain objects. */
export function fromCelValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (isCelUint(v)) return fromCelValue(v.value);
  if (v === null || typeof v !== 'object') return v;
  if (isCelList(v)) return [...v].map(fromCelValue);
  if (Array.isArray(v)) return v.map(fromCelValue);
  if (isCelMap(v) || v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of (v as ReadonlyMap<unknown, unknown>).entries()) o[String(k)] = fromCelValue(val);
    return o;
  }
  return v;
}

/** A map whose entries are computed on first read: kube evaluates `variables.<name>` only when used. */
export class LazyMap extends Map<string, unknown> {
  readonly compute: (name: string) => unknown;
  readonly names: ReadonlySet<string>;
  constructor(names: Iterable<string>, compute: (name: string) => unknown) {
    super();
    this.names = new Set(names);
    this.compute = compute;
  }

  override get(key: string): unknown {
    if (super.has(key)) return super.get(key);
    if (!this.names.has(key)) return undefined;
    const value = this.compute(key);
    super.set(key, value);
    return value;
  }

  override has(key: string): boolean {
    return this.names.has(key);
  }
}
