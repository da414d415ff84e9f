// Generators shared by the fuzz suites: objects built from each kind's own schema, then broken in the
// ways clients break them (wrong types, extra fields, nulls, huge strings, deep nesting, odd unicode).
import fc from 'fast-check';
import type { JSONSchemaProps, ResourceDefinition } from '../../api/types.ts';
import { standaloneKinds } from '../../apiserver/standalone.ts';

export const kinds: ResourceDefinition[] = standaloneKinds({ enableFakeBMC: false }).map((k) => k.def);

const byKind = new Map(kinds.map((d) => [d.kind, d]));

/** Kinds are drawn by name, so a counterexample prints a name rather than a whole schema. */
export const kindName = fc.constantFrom(...kinds.map((d) => d.kind));

export function kindNamed(kind: string): ResourceDefinition {
  const def = byKind.get(kind);
  if (!def) throw new Error(`no kind ${kind}`);
  return def;
}

export const apiVersionOf = (def: ResourceDefinition) => (def.group ? `${def.group}/${def.version}` : def.version);

export function collectionPath(def: ResourceDefinition, namespace: string): string {
  const base = def.group ? `/apis/${def.group}/${def.version}` : `/api/${def.version}`;
  return `${base}${def.namespaced ? `/namespaces/${namespace}` : ''}/${def.plural}`;
}

export const objectPath = (def: ResourceDefinition, namespace: string, name: string) => `${collectionPath(def, namespace)}/${encodeURIComponent(name)}`;

/** Spec fields without which a kind refuses even a minimal object. */
const requiredSpecs: Record<string, Record<string, unknown>> = {
  BMCEventSubscription: { hostName: 'host-0', destination: 'https://events.example.com/hook' },
  DataImage: { url: 'http://images.example.com/data.iso' },
};

/** The smallest object each kind accepts: what the update and patch suites start from. */
export function minimalObject(def: ResourceDefinition, name: string): Record<string, unknown> {
  const obj: Record<string, unknown> = { apiVersion: apiVersionOf(def), kind: def.kind, metadata: { name } };
  if (requiredSpecs[def.kind]) obj.spec = structuredClone(requiredSpecs[def.kind]);
  return obj;
}

export const dnsName = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/);

/** Strings as users, scripts and attackers write them. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\ud800',
    '\udfff',
    '\u202e',
    '\ufeff',
    '😀',
    'null',
    'true',
    '0',
    '-1',
    '1e309',
    'NaN',
    '${jndi:ldap://x}',
    '../../etc/passwd',
    '%00',
    '%',
    'a'.repeat(64),
    'a'.repeat(254),
    '<script>',
    "'; DROP TABLE kv; --",
    'k:{"a":1}',
    'f:spec',
  ),
);

const scalarFor = (s: JSONSchemaProps): fc.Arbitrary<unknown> => {
  if (s.enum?.length) return fc.constantFrom(...s.enum);
  if (s['x-kubernetes-int-or-string']) return fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom('50%', '1', 'x'));
  switch (s.type) {
    case 'string':
      if (s.format === 'date-time') return fc.constantFrom('2024-01-02T03:04:05Z', '2024-13-40T99:99:99Z');
      if (s.format === 'byte') return fc.constantFrom('aGVsbG8=', '', 'not base64!');
      return fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,12}$/) }, { weight: 1, arbitrary: nastyString });
    case 'integer':
      return fc.oneof(fc.integer({ min: -5, max: 100 }), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER));
    case 'number':
      return fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double({ noNaN: true, noDefaultInfinity: true }));
    case 'boolean':
      return fc.boolean();
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
};

/** A value shaped by the schema, mostly valid; `depth` bounds recursion through nested objects. */
export function fromSchema(s: JSONSchemaProps, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 4) return s.type === 'object' ? fc.constant({}) : s.type === 'array' ? fc.constant([]) : scalarFor(s);
  if (s.type === 'array') return fc.array(s.items ? fromSchema(s.items, depth + 1) : fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 });
  if (s.type === 'object' || s.properties) {
    const parts: fc.Arbitrary<Record<string, unknown>>[] = [];
    if (s.properties) {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(s.properties)) model[k] = fromSchema(v, depth + 1);
      parts.push(fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in model) }));
    }
    if (typeof s.additionalProperties === 'object') {
      parts.push(fc.dictionary(dnsName, fromSchema(s.additionalProperties, depth + 1), { maxKeys: 3 }));
    } else if (s['x-kubernetes-preserve-unknown-fields'] && !s.properties) {
      parts.push(fc.dictionary(dnsName, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }));
    }
    if (parts.length === 0) return fc.constant({});
    return fc.tuple(...parts).map((ps) => Object.assign({}, ...ps) as Record<string, unknown>);
  }
  return scalarFor(s);
}

/** Marker strings that `serialize` swaps for nesting too deep to build as a JS value. */
const deepMarker = (depth: number, shape: 'a' | 'o') => `\u0000DEEP:${depth}:${shape}`;

// Mostly sizes that pass the 3 MiB body limit and reach validation; now and then one that does not.
const hugeString = fc
  .tuple(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(5_000, 70_000, 300_000) }, fc.constantFrom(1_100_000, 3_200_000)), fc.constantFrom('x', 'é', '😀', '\\', '"', '\u0000'))
  .map(([n, c]) => c.repeat(Math.ceil(n / c.length)));

/** Values that replace a field: the wrong type, null, huge, deep, unicode. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1, 0.1),
  nastyString,
  fc.constant([]),
  fc.constant({}),
  fc.array(nastyString, { maxLength: 3 }),
  fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
  // Keys that name Object.prototype's members: a server that formats or copies client JSON as if it
  // were an ordinary JS object trips over them (String() of {"toString":{}} throws).
  fc.dictionary(fc.constantFrom('toString', 'valueOf', 'toJSON', 'constructor', 'hasOwnProperty', '__proto__'), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 2 }),
  fc.jsonValue({ maxDepth: 3 }),
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(50, 1_000, 20_000, 200_000), fc.constantFrom('a' as const, 'o' as const)).map(([d, s]) => deepMarker(d, s)) },
);

export type Mutation =
  | { op: 'set'; at: number[]; value: unknown }
  | { op: 'add'; at: number[]; key: string; value: unknown }
  | { op: 'remove'; at: number[] };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.array(fc.nat(), { maxLength: 5 }), value: wrongValue }),
  fc.record({ op: fc.constant('add' as const), at: fc.array(fc.nat(), { maxLength: 5 }), key: fc.oneof(dnsName, nastyString, fc.constantFrom('__proto__', 'constructor', 'metadata', 'status', 'apiVersion')), value: wrongValue }),
  fc.record({ op: fc.constant('remove' as const), at: fc.array(fc.nat(), { maxLength: 5 }) }),
);

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => typeof v === 'object' && v !== null;

/** Applies a mutation in place at the container chosen by walking `at` (indices modulo the children). */
export function applyMutation(root: Record<string, unknown>, mu: Mutation): void {
  // A value may be shared with another mutation of the same case; copying keeps the object a tree.
  const m = mu.op === 'remove' ? mu : { ...mu, value: structuredClone(mu.value) };
  let parent: Record<string, unknown> | unknown[] = root;
  let key: string | number | undefined;
  for (const step of m.at) {
    const cur: unknown = key === undefined ? parent : (parent as Record<string | number, unknown>)[key];
    if (!isContainer(cur)) break;
    const keys = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
    if (keys.length === 0) break;
    if (key !== undefined) parent = cur;
    key = keys[step % keys.length];
  }
  if (m.op === 'add') {
    const target: unknown = key === undefined ? parent : (parent as Record<string | number, unknown>)[key];
    if (Array.isArray(target)) target.push(m.value);
    else if (isContainer(target)) Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    return;
  }
  if (key === undefined) return;
  if (m.op === 'remove') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
    return;
  }
  (parent as Record<string | number, unknown>)[key] = m.value;
}

/** JSON text of a value, with deep-nesting markers expanded (JSON.stringify cannot build them). */
export function serialize(v: unknown): string {
  return JSON.stringify(v).replace(/"\\u0000DEEP:(\d+):([ao])"/g, (_, d: string, shape: string) => {
    const n = Number(d);
    return shape === 'a' ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  });
}

/** A body for `def`: a schema-shaped object with valid identity, then 0..4 mutations. */
const objectArbitraries = new Map<string, fc.Arbitrary<{ body: Record<string, unknown>; mutations: Mutation[] }>>();

/** Cached per kind and namespace: building the arbitrary walks the whole schema. */
export function objectFor(def: ResourceDefinition, namespace: string): fc.Arbitrary<{ body: Record<string, unknown>; mutations: Mutation[] }> {
  const key = `${def.kind}/${namespace}`;
  let arb = objectArbitraries.get(key);
  if (!arb) objectArbitraries.set(key, (arb = buildObjectFor(def, namespace)));
  return arb;
}

function buildObjectFor(def: ResourceDefinition, namespace: string): fc.Arbitrary<{ body: Record<string, unknown>; mutations: Mutation[] }> {
  const props = def.schema.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, v] of Object.entries(props)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
    model[k] = fromSchema(v, 1);
  }
  const meta = fc.record(
    {
      name: dnsName,
      namespace: fc.constantFrom(namespace, namespace, 'other'),
      labels: fc.dictionary(fc.stringMatching(/^[a-z]([a-z0-9./-]{0,10}[a-z0-9])?$/), fc.stringMatching(/^[a-z0-9]{0,8}$/), { maxKeys: 3 }),
      annotations: fc.dictionary(dnsName, nastyString, { maxKeys: 2 }),
      finalizers: fc.array(fc.constantFrom('example.com/f', 'bad finalizer', 'metal3.io/x'), { maxLength: 2 }),
      resourceVersion: fc.constantFrom('1', '0', 'abc', '-1', '99999999999999999999'),
      uid: fc.uuid(),
      generateName: fc.constantFrom('gen-', 'X-'),
    },
    { requiredKeys: ['name'] },
  );
  return fc
    .record({ meta, rest: fc.record(model, { requiredKeys: [] }), mutations: fc.array(mutation, { maxLength: 4 }) })
    .map(({ meta: m, rest, mutations }) => {
      // Cloned: fast-check may hand the same generated values to another case while shrinking.
      const body = structuredClone({ apiVersion: apiVersionOf(def), kind: def.kind, metadata: m, ...(requiredSpecs[def.kind] ? { spec: requiredSpecs[def.kind] } : {}), ...rest }) as Record<string, unknown>;
      if (!def.namespaced) delete (body.metadata as Record<string, unknown>).namespace;
      for (const mu of mutations) applyMutation(body, mu);
      return { body, mutations };
    });
}
