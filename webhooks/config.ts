// Where admission finds the cluster's own admission configuration. Standalone mode serves these kinds
// from its own stores; cluster mode will read them through informers. Admission code depends only on this.
import type { KubeObject } from '../api/types.ts';

export interface ParamKind {
  apiVersion: string;
  kind: string;
}

export interface ParamLookup {
  namespace?: string;
  name?: string;
  /** A metav1.LabelSelector; with it, every matching object in the namespace (or cluster) is returned. */
  selector?: unknown;
}

export interface AdmissionConfigSource {
  /** admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy objects. */
  validatingAdmissionPolicies(): KubeObject[];
  validatingAdmissionPolicyBindings(): KubeObject[];
  mutatingWebhookConfigurations(): KubeObject[];
  validatingWebhookConfigurations(): KubeObject[];
  /** For namespaceSelector and namespaceObject. */
  namespace(name: string): KubeObject | undefined;
  /** Param objects for paramKind: by namespace/name, or all matching a label selector. undefined = the param kind is not served. */
  params(paramKind: ParamKind, ref: ParamLookup): KubeObject[] | undefined;
  /** Bumped on every change, so compiled policies can be cached and recompiled only on change. */
  generation(): number;
}
