// Shared shapes of the Kubernetes object model, as our kinds and the generic server see them.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: 'FieldsV1';
  fieldsV1?: FieldsV1;
  subresource?: string;
}

/** The FieldsV1 trie: keys like `f:spec`, `k:{"type":"Ready"}`, `v:"x"`, `.` */
export interface FieldsV1 {
  [key: string]: FieldsV1;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: ManagedFieldsEntry[];
  selfLink?: string;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** OpenAPI v3 schema as used by CRDs (structural schema subset plus Kubernetes extensions). */
export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  anyOf?: JSONSchemaProps[];
  allOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  /** 0 = default view, >= 1 only with -o wide */
  priority?: number;
}

/** A POST-only action subresource such as baremetalhosts/inspect, whose body is another kind. */
export interface ActionSubresource {
  name: string;
  kind: string;
}

/** Everything the generic server needs to serve one kind: the analogue of a CRD's spec. */
export interface ResourceDefinition {
  /** '' for the core group (served under /api/v1). */
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** The whole object's schema: apiVersion, kind, metadata, spec, status... */
  schema: JSONSchemaProps;
  printerColumns: PrinterColumn[];
  subresources: { status: boolean; actions?: ActionSubresource[] };
  /** fieldSelector paths beyond metadata.name and metadata.namespace, e.g. `status.provisioning.state`. */
  selectableFields: string[];
  /** Built-in (Go-typed) kinds accept strategic merge patches; custom resources answer them 415. */
  strategicMergePatch?: boolean;
}

export function apiVersionOf(def: Pick<ResourceDefinition, 'group' | 'version'>): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

/** `baremetalhosts.metal3.io`, or `secrets` for the core group: the resource name kube puts in messages. */
export function qualifiedResource(def: Pick<ResourceDefinition, 'group' | 'plural'>): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}
