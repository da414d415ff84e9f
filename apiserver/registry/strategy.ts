// A per-kind strategy, as in k8s.io/apiserver's rest.RESTCreateStrategy/RESTUpdateStrategy: the generic
// store owns storage, metadata and concurrency; a strategy owns what is particular to one kind.
import type { KubeObject } from '../../api/types.ts';
import type { StatusCause } from '../status.ts';

export interface Strategy {
  /** Normalize a new object before defaulting and validation (e.g. fold Secret stringData into data). */
  prepareForCreate?(obj: KubeObject): void;
  /** Normalize an updated object; `old` is the stored object. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Kind-specific validation beyond the schema and ObjectMeta. */
  validate?(obj: KubeObject): StatusCause[];
  validateUpdate?(obj: KubeObject, old: KubeObject): StatusCause[];
  /** Computed table cells for columns a JSONPath cannot express (e.g. a Secret's data count). */
  tableCells?(obj: KubeObject): Record<string, unknown>;
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** What admission sees of a request (k8s.io/apiserver admission.Attributes). */
export interface AdmissionAttributes {
  operation: Operation;
  group: string;
  version: string;
  kind: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  object?: KubeObject;
  oldObject?: KubeObject;
  dryRun: boolean;
  user: UserInfo;
  options?: Record<string, unknown>;
}

/** Admission plugins run by the store: mutating first, then validating, after the built-in checks. */
export interface Admission {
  /** May change attrs.object in place; may add warnings; throws a StatusError to deny. */
  mutate?(attrs: AdmissionAttributes, warnings: string[]): Promise<void>;
  /** Throws a StatusError to deny. */
  validate?(attrs: AdmissionAttributes, warnings: string[]): Promise<void>;
}
