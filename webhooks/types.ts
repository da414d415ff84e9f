// What admission sees of a request and what an admission plugin is: shared by the server, which runs the
// chain, and by the plugins here (built-in validation, policies, webhooks).
import type { KubeObject } from '../api/types.ts';

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
