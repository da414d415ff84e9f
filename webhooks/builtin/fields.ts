// What the built-in rules share: causes worded as kube's field errors, safe reads of an object that may not
// match its schema (validation runs alongside the schema check, not after it), and BMO's URL rule.

import type { FieldCause } from '../../api/schema.ts';
import type { JSONSchemaProps } from '../../api/types.ts';
import { parseURL } from '../../api/bmc.ts';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const objAt = (v: unknown, key: string): Obj | undefined => (isObj(v) && isObj(v[key]) ? v[key] : undefined);
export const strAt = (v: unknown, key: string): string => (isObj(v) && typeof v[key] === 'string' ? v[key] : '');
export const boolAt = (v: unknown, key: string): boolean => isObj(v) && v[key] === true;
export const arrAt = (v: unknown, key: string): unknown[] => (isObj(v) && Array.isArray(v[key]) ? v[key] : []);

/** Causes named and worded as k8s.io/apimachinery/pkg/util/validation/field words them. */
export const cause = {
  invalid: (field: string, value: unknown, detail: string): FieldCause => ({
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
    field,
  }),
  required: (field: string, detail: string): FieldCause => ({
    reason: 'FieldValueRequired',
    message: `Required value: ${detail}`,
    field,
  }),
  forbidden: (field: string, detail: string): FieldCause => ({
    reason: 'FieldValueForbidden',
    message: `Forbidden: ${detail}`,
    field,
  }),
  notSupported: (field: string, value: unknown, allowed: readonly string[]): FieldCause => ({
    reason: 'FieldValueNotSupported',
    message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
    field,
  }),
  duplicate: (field: string, value: unknown, detail: string): FieldCause => ({
    reason: 'FieldValueDuplicate',
    message: `Duplicate value: ${JSON.stringify(value)}: ${detail}`,
    field,
  }),
};

const allowedURLSchemes = ['http', 'https', 'ftp', 'gopher', 'oci'];

/** BMO's validateURL: a request URI (Go's url.ParseRequestURI) with an allowed scheme; '' when valid. */
export function urlError(input: string): string {
  try {
    const u = parseURL(input, true);
    if (!allowedURLSchemes.includes(u.scheme)) return `invalid scheme in URL, "${u.scheme}" not allowed`;
    return '';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return 'object';
}

/**
 * The first error Go's json.Decoder with DisallowUnknownFields reports decoding `value` into the Go type
 * that `schema` describes, or '' when it decodes. Field names match case-insensitively, as in Go.
 */
export function strictDecodeError(value: unknown, schema: JSONSchemaProps, path = ''): string {
  if (value === null || value === undefined) return '';
  const mismatch = (want: string) =>
    `json: cannot unmarshal ${jsonType(value)} into Go ${path ? `struct field ${path}` : 'value'} of type ${want}`;
  if (schema['x-kubernetes-int-or-string']) {
    return typeof value === 'string' || Number.isInteger(value) ? '' : mismatch('intstr.IntOrString');
  }
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties) return '';
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return mismatch('string');
      if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) {
        return `parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse`;
      }
      return '';
    case 'boolean':
      return typeof value === 'boolean' ? '' : mismatch('bool');
    case 'integer':
      return Number.isInteger(value) ? '' : mismatch('int');
    case 'number':
      return typeof value === 'number' ? '' : mismatch('float64');
    case 'array': {
      if (!Array.isArray(value)) return mismatch('slice');
      for (let i = 0; i < value.length; i++) {
        const err = schema.items ? strictDecodeError(value[i], schema.items, path) : '';
        if (err) return err;
      }
      return '';
    }
    case 'object': {
      if (!isObj(value)) return mismatch('struct');
      for (const [key, v] of Object.entries(value)) {
        const lower = key.toLowerCase();
        const propName = schema.properties
          ? (Object.keys(schema.properties).find((k) => k === key) ??
            Object.keys(schema.properties).find((k) => k.toLowerCase() === lower))
          : undefined;
        const prop =
          propName !== undefined
            ? schema.properties![propName]
            : typeof schema.additionalProperties === 'object'
              ? schema.additionalProperties
              : undefined;
        if (!prop) {
          if (schema.additionalProperties === true || schema['x-kubernetes-preserve-unknown-fields']) continue;
          return `json: unknown field ${JSON.stringify(key)}`;
        }
        const err = strictDecodeError(v, prop, path ? `${path}.${propName ?? key}` : (propName ?? key));
        if (err) return err;
      }
      return '';
    }
    default:
      return '';
  }
}

/** A field of a decoded JSON object as Go reads it: exact name first, then case-insensitively. */
export function goField(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  let found: unknown;
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === lower) found = v;
  return found;
}
