// Small builders for structural OpenAPI v3 schemas, so the kind modules read like the Go types they mirror.
// Every builder takes the description first: kubectl explain prints it, so no property goes without one.

import type { JSONSchemaProps, PrinterColumn } from './types.ts';

type Extra = Omit<JSONSchemaProps, 'type' | 'description' | 'properties' | 'items'>;

const scalar =
  (type: 'string' | 'boolean' | 'integer' | 'number') =>
  (description: string, extra: Extra = {}): JSONSchemaProps => ({ type, description, ...extra });

export const str = scalar('string');
export const bool = scalar('boolean');
export const int = scalar('integer');
export const num = scalar('number');

/** A metav1.Time: RFC 3339 string. */
export const time = (description: string, extra: Extra = {}): JSONSchemaProps => str(description, { format: 'date-time', ...extra });

export const enumOf = (description: string, values: string[], extra: Extra = {}): JSONSchemaProps =>
  str(description, { enum: values, ...extra });

export const obj = (
  description: string,
  properties: Record<string, JSONSchemaProps>,
  extra: Extra = {},
): JSONSchemaProps => ({ type: 'object', description, properties, ...extra });

export const arr = (description: string, items: JSONSchemaProps, extra: Extra = {}): JSONSchemaProps => ({
  type: 'array',
  description,
  items,
  ...extra,
});

/** A map[string]T. */
export const mapOf = (description: string, values: JSONSchemaProps, extra: Extra = {}): JSONSchemaProps => ({
  type: 'object',
  description,
  additionalProperties: values,
  ...extra,
});

/** intstr.IntOrString, in the only shape a structural schema allows for it. */
export const intOrString = (description: string): JSONSchemaProps => ({
  description,
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  'x-kubernetes-int-or-string': true,
});

/** A copy of a shared schema with a description that fits where it is used. */
export const describe = (schema: JSONSchemaProps, description: string): JSONSchemaProps => ({ ...schema, description });

const apiVersionDescription =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert ' +
  'recognized schemas to the latest internal value, and may reject unrecognized values.';
const kindDescription =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this ' +
  'from the endpoint the client submits requests to. Cannot be updated. In CamelCase.';

/** The root of a kind's schema: apiVersion, kind, metadata (left to the server) and the kind's own fields. */
export const kindSchema = (description: string, fields: Record<string, JSONSchemaProps>): JSONSchemaProps => ({
  type: 'object',
  description,
  properties: {
    apiVersion: str(apiVersionDescription),
    kind: str(kindDescription),
    // Structural schemas may say nothing more about metadata: the server validates ObjectMeta itself.
    metadata: { type: 'object' },
    ...fields,
  },
});

export const ageColumn = (kind: string): PrinterColumn => ({
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: `Time duration since creation of ${kind}`,
});
