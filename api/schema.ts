// A kind's schema put to work the way kube-apiserver uses a CRD's structural schema: find and prune unknown
// fields, apply defaults, and validate with causes worded as kube words them.

import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { JSONSchemaProps, ResourceDefinition } from './types.ts';

export { jsonPathValue, compileJSONPath } from './jsonpath.ts';

/** Same shape as metav1.StatusCause, kept here so api/ imports nothing from the server. */
export interface FieldCause {
  reason: string;
  message: string;
  field: string;
}

export interface CompiledSchema {
  /** Paths of fields the schema does not know (`spec.foo`, `spec.raid.hardwareRAIDVolumes[0].bar`); root metadata is not checked. */
  unknownFields(obj: unknown): string[];
  /** Removes unknown fields in place, as CRD structural pruning does. */
  prune(obj: unknown): void;
  /** Applies schema defaults in place to absent fields of present objects, recursively, as CRD defaulting does. */
  applyDefaults(obj: unknown): void;
  /** Validates against the schema; causes as kube-apiserver reports them for a custom resource. */
  validate(obj: unknown): FieldCause[];
}

const compiled = new WeakMap<ResourceDefinition, CompiledSchema>();

export function compileSchema(def: ResourceDefinition): CompiledSchema {
  let c = compiled.get(def);
  if (!c) {
    c = new SchemaRunner(def.schema);
    compiled.set(def, c);
  }
  return c;
}

class SchemaRunner implements CompiledSchema {
  readonly schema: JSONSchemaProps;
  private validator?: ValidateFunction;

  constructor(schema: JSONSchemaProps) {
    this.schema = schema;
  }

  unknownFields(obj: unknown): string[] {
    const out: string[] = [];
    walkUnknown(obj, this.schema, '', true, out, false);
    return out;
  }

  prune(obj: unknown): void {
    walkUnknown(obj, this.schema, '', true, [], true);
  }

  applyDefaults(obj: unknown): void {
    applyDefaults(obj, this.schema);
  }

  validate(obj: unknown): FieldCause[] {
    // ajv compiles to code; a kind nobody writes to never pays for it.
    this.validator ??= sharedAjv().compile(toAjvSchema(this.schema));
    const causes: FieldCause[] = [];
    if (!this.validator(obj)) causes.push(...toCauses(this.validator.errors ?? [], obj));
    validateLists(obj, this.schema, '', causes);
    return causes;
  }
}

// ---- unknown fields and pruning ----

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const child = (path: string, key: string) => (path ? `${path}.${key}` : key);

function walkUnknown(value: unknown, schema: JSONSchemaProps, path: string, root: boolean, out: string[], prune: boolean): void {
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => walkUnknown(item, schema.items!, `${path}[${i}]`, false, out, prune));
    return;
  }
  if (!isPlainObject(value)) return;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  for (const key of Object.keys(value)) {
    const fieldPath = child(path, key);
    const prop = schema.properties?.[key];
    if (prop) {
      // The server owns ObjectMeta and validates it itself.
      if (!(root && key === 'metadata')) walkUnknown(value[key], prop, fieldPath, false, out, prune);
    } else if (typeof schema.additionalProperties === 'object') {
      walkUnknown(value[key], schema.additionalProperties, fieldPath, false, out, prune);
    } else if (
      schema.additionalProperties === true ||
      preserve ||
      (embedded && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) ||
      (root && key === 'metadata')
    ) {
      continue;
    } else {
      out.push(fieldPath);
      if (prune) delete value[key];
    }
  }
}

// ---- defaulting ----

function applyDefaults(value: unknown, schema: JSONSchemaProps): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema.properties) {
    for (const [key, prop] of Object.entries(schema.properties)) {
      const v = value[key];
      // kube drops a null of a non-nullable field, putting its default in its place when there is one.
      if (v === undefined || (v === null && !prop.nullable)) {
        if (prop.default !== undefined) value[key] = structuredClone(prop.default);
        else if (v === null) delete value[key];
      }
    }
  }
  for (const [key, v] of Object.entries(value)) {
    const prop = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (prop) applyDefaults(v, prop);
  }
}

// ---- validation ----

let ajv: Ajv | undefined;
// ajv and its formats are a tenth of the server's module graph: they load with the first validation, not
// at start-up, so that a restart is back sooner.
const require = createRequire(import.meta.url);

function sharedAjv(): Ajv {
  if (!ajv) {
    const ajvModule = require('ajv') as typeof import('ajv');
    const formats = require('ajv-formats') as typeof import('ajv-formats');
    // strict off: descriptions, defaults and x-kubernetes-* are not ajv keywords and must be ignored, not rejected.
    // optimize off: BareMetalHost's validator compiles in about 70 ms instead of 115 (on the first write after
    // a restart, while clients wait) and validates as fast.
    ajv = new ajvModule.Ajv({ allErrors: true, strict: false, verbose: true, logger: false, code: { optimize: false } });
    formats.default(ajv);
  }
  return ajv;
}

type AjvSchema = Record<string, unknown>;

const copiedKeywords = [
  'required',
  'enum',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'nullable',
] as const;

/** Formats kube checks on strings; numeric formats like int32 or double are informational in a CRD. */
const checkedFormats = new Set(['date-time', 'date', 'byte', 'uuid', 'email', 'ipv4', 'ipv6', 'hostname', 'uri', 'duration']);

/** Translates a structural schema into plain JSON Schema (draft 7) as ajv reads it. */
function toAjvSchema(s: JSONSchemaProps): AjvSchema {
  const out: AjvSchema = {};
  if (s['x-kubernetes-int-or-string']) out.type = ['integer', 'string'];
  else if (s.type) out.type = s.type;
  for (const k of copiedKeywords) if (s[k] !== undefined) out[k] = s[k];
  if (s.format && s.type === 'string' && checkedFormats.has(s.format)) out.format = s.format;
  // OpenAPI v3.0 booleans become draft-7 numbers.
  if (s.exclusiveMinimum && s.minimum !== undefined) {
    out.exclusiveMinimum = s.minimum;
    delete out.minimum;
  }
  if (s.exclusiveMaximum && s.maximum !== undefined) {
    out.exclusiveMaximum = s.maximum;
    delete out.maximum;
  }
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toAjvSchema(v)]));
  }
  // Unknown fields are pruned, not rejected, so additionalProperties: false never becomes an ajv error.
  if (typeof s.additionalProperties === 'object') out.additionalProperties = toAjvSchema(s.additionalProperties);
  if (s.items) out.items = toAjvSchema(s.items);
  if (!s['x-kubernetes-int-or-string']) {
    for (const k of ['anyOf', 'allOf', 'oneOf'] as const) if (s[k]) out[k] = s[k]!.map(toAjvSchema);
  }
  return out;
}

/** The JSON type name kube-openapi reports for a value. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** A value as field.Error prints it: strings quoted, numbers and booleans bare. */
function printValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** Converts a JSON pointer into a kube field path, using the data to tell array indices from map keys. */
function fieldPath(pointer: string, root: unknown): string {
  if (!pointer) return '';
  let path = '';
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      path += `[${seg}]`;
      current = current[Number(seg)];
    } else {
      path = child(path, seg);
      current = isPlainObject(current) ? current[seg] : undefined;
    }
  }
  return path;
}

const invalid = (field: string, value: unknown, detail: string): FieldCause => ({
  reason: 'FieldValueInvalid',
  message: `Invalid value: ${printValue(value)}: ${detail}`,
  field,
});

function toCause(e: ErrorObject, root: unknown): FieldCause | undefined {
  const field = fieldPath(e.instancePath, root);
  const p = e.params as Record<string, unknown>;
  const data: unknown = e.data;
  switch (e.keyword) {
    case 'required':
      return { reason: 'FieldValueRequired', message: 'Required value', field: child(field, String(p.missingProperty)) };
    case 'type': {
      const expected = Array.isArray(p.type) ? p.type.join(',') : String(p.type);
      const actual = typeName(data);
      return {
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: ${JSON.stringify(actual)}: ${field} in body must be of type ${expected}: ${JSON.stringify(actual)}`,
        field,
      };
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((a) => JSON.stringify(typeof a === 'string' ? a : JSON.stringify(a)));
      return {
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${printValue(data)}: supported values: ${allowed.join(', ')}`,
        field,
      };
    }
    case 'pattern':
      return invalid(field, data, `${field} in body should match '${String(p.pattern)}'`);
    case 'format':
      // Base64 fields hold Secret data: never echo the value into an error, as kube never does.
      if (p.format === 'byte') return { reason: 'FieldValueInvalid', message: 'Invalid value: illegal base64 data', field };
      return {
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: ${printValue(data)}: ${field} in body must be of type ${String(p.format)}: ${JSON.stringify(String(data))}`,
        field,
      };
    case 'minimum':
      return invalid(field, data, `${field} in body should be greater than or equal to ${String(p.limit)}`);
    case 'exclusiveMinimum':
      return invalid(field, data, `${field} in body should be greater than ${String(p.limit)}`);
    case 'maximum':
      return invalid(field, data, `${field} in body should be less than or equal to ${String(p.limit)}`);
    case 'exclusiveMaximum':
      return invalid(field, data, `${field} in body should be less than ${String(p.limit)}`);
    case 'minLength':
      return invalid(field, data, `${field} in body should be at least ${String(p.limit)} chars long`);
    case 'maxLength': {
      const max = Number(p.limit);
      return { reason: 'FieldValueTooLong', message: `Too long: may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}`, field };
    }
    case 'minItems':
      return invalid(field, Array.isArray(data) ? data.length : data, `${field} in body should have at least ${String(p.limit)} items`);
    case 'maxItems':
      return {
        reason: 'FieldValueTooMany',
        message: `Too many: ${Array.isArray(data) ? data.length : 0}: must have at most ${String(p.limit)} items`,
        field,
      };
    case 'minProperties':
      return invalid(field, data, `${field} in body should have at least ${String(p.limit)} properties`);
    case 'maxProperties':
      return invalid(field, data, `${field} in body should have at most ${String(p.limit)} properties`);
    case 'anyOf':
    case 'oneOf':
    case 'allOf':
      // The failing branches are reported on their own; the combinator adds nothing a client can act on.
      return undefined;
    default:
      return invalid(field, data, `${field} in body ${e.message ?? 'is invalid'}`);
  }
}

function toCauses(errors: ErrorObject[], root: unknown): FieldCause[] {
  // kube-openapi runs every validator of a node, so a wrong type also shows its enum failure; ajv agrees.
  // Only exact repeats (ajv can report one failure through two schema paths) are dropped.
  const seen = new Set<string>();
  const causes: FieldCause[] = [];
  for (const e of errors) {
    const c = toCause(e, root);
    if (!c) continue;
    const key = `${c.field}\n${c.reason}\n${c.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    causes.push(c);
  }
  return causes;
}

/** A Go %#v rendering of the map-key values, as kube prints a duplicate list-map entry. */
function goMapLiteral(keys: Record<string, unknown>): string {
  const entries = Object.entries(keys).map(([k, v]) => `${JSON.stringify(k)}:${printValue(v)}`);
  return `map[string]interface {}{${entries.join(', ')}}`;
}

/** x-kubernetes-list-type set and map forbid duplicates; kube checks them after the schema. */
function validateLists(value: unknown, schema: JSONSchemaProps, path: string, causes: FieldCause[]): void {
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'map' || listType === 'set') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Set<string>();
      value.forEach((item, i) => {
        let identity: string;
        let shown: string;
        if (listType === 'map') {
          if (!isPlainObject(item)) return;
          const keyValues = Object.fromEntries(keys.filter((k) => item[k] !== undefined).map((k) => [k, item[k]]));
          identity = JSON.stringify(keys.map((k) => item[k] ?? null));
          shown = goMapLiteral(keyValues);
        } else {
          identity = JSON.stringify(item);
          shown = printValue(item);
        }
        if (seen.has(identity)) {
          causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${shown}`, field: `${path}[${i}]` });
        }
        seen.add(identity);
      });
    }
    if (schema.items) value.forEach((item, i) => validateLists(item, schema.items!, `${path}[${i}]`, causes));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const prop = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (prop) validateLists(v, prop, child(path, key), causes);
  }
}
