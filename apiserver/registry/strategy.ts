// A per-kind strategy, as in k8s.io/apiserver's rest.RESTCreateStrategy/RESTUpdateStrategy: the generic
// store owns storage, metadata and concurrency; a strategy owns what is particular to one kind.
import type { KubeObject } from '../../api/types.ts';
import type { StatusCause } from '../status.ts';

export interface Strategy {
  /** Normalize a new object before defaulting and validation (e.g. fold Secret stringData into data). */
  prepareForCreate?(obj: KubeObject): void;
  /** Normalize an updated object; `old` is the stored object. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Built-in defaults beyond the schema's, applied on every write before mutating admission. */
  default?(obj: KubeObject): void;
  /** Kind-specific validation beyond the schema and ObjectMeta. */
  validate?(obj: KubeObject): StatusCause[];
  validateUpdate?(obj: KubeObject, old: KubeObject): StatusCause[];
  /** Computed table cells for columns a JSONPath cannot express (e.g. a Secret's data count). */
  tableCells?(obj: KubeObject): Record<string, unknown>;
}

export type { Operation, UserInfo, AdmissionAttributes, Admission } from '../../webhooks/types.ts';
