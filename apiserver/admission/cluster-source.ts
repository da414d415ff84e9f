// The cluster's admission configuration in cluster mode: kube-apiserver does not run admission for
// aggregated resources, so we read its webhook configurations, policies, bindings, namespaces and
// ConfigMap params through informers and apply them ourselves.
import type { KubeObject } from '../../api/types.ts';
import { labelSelectorFromObject } from '../../api/labels.ts';
import type { KubeClient, ResourceType } from '../../api/client/types.ts';
import { Informer } from '../../api/client/informer.ts';
import type { AdmissionConfigSource, ParamKind, ParamLookup } from '../../webhooks/config.ts';

const admissionregistration = (kind: string, plural: string): ResourceType => ({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural,
  kind,
  namespaced: false,
});

const types = {
  policies: admissionregistration('ValidatingAdmissionPolicy', 'validatingadmissionpolicies'),
  bindings: admissionregistration('ValidatingAdmissionPolicyBinding', 'validatingadmissionpolicybindings'),
  mutating: admissionregistration('MutatingWebhookConfiguration', 'mutatingwebhookconfigurations'),
  validating: admissionregistration('ValidatingWebhookConfiguration', 'validatingwebhookconfigurations'),
  namespaces: { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false } as ResourceType,
  configmaps: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true } as ResourceType,
};

export interface ClusterConfigSource extends AdmissionConfigSource {
  /** Resolves once every informer has listed. */
  synced: Promise<void>;
  namespaceExists(name: string): boolean;
  stop(): void;
}

export function clusterConfigSource(client: KubeClient, log: (m: string) => void = () => {}): ClusterConfigSource {
  let generation = 0;
  const informers = Object.fromEntries(
    Object.entries(types).map(([name, type]) => {
      const inf = new Informer({ client, type, onError: (e) => log(`${type.plural} informer: ${e.message}`) });
      // Params and namespaces feed evaluations, not compiled policies: only configuration bumps the generation.
      if (name !== 'configmaps' && name !== 'namespaces') {
        const bump = () => {
          generation++;
        };
        inf.addHandler({ onAdd: bump, onUpdate: bump, onDelete: bump });
      }
      inf.start();
      return [name, inf];
    }),
  ) as Record<keyof typeof types, Informer>;

  return {
    synced: Promise.all(Object.values(informers).map((i) => i.waitForSync())).then(() => undefined),
    validatingAdmissionPolicies: () => informers.policies.list(),
    validatingAdmissionPolicyBindings: () => informers.bindings.list(),
    mutatingWebhookConfigurations: () => informers.mutating.list(),
    validatingWebhookConfigurations: () => informers.validating.list(),
    namespace: (name) => informers.namespaces.get('', name),
    namespaceExists: (name) => informers.namespaces.get('', name) !== undefined,
    params(pk: ParamKind, ref: ParamLookup): KubeObject[] | undefined {
      if (pk.apiVersion !== 'v1' || pk.kind !== 'ConfigMap') return undefined;
      const ns = ref.namespace ?? '';
      if (ref.name) {
        const obj = informers.configmaps.get(ns, ref.name);
        return obj ? [obj] : [];
      }
      const matches = labelSelectorFromObject((ref.selector ?? {}) as Parameters<typeof labelSelectorFromObject>[0]);
      return informers.configmaps.list(ns || undefined).filter((o) => matches(o.metadata.labels));
    },
    generation: () => generation,
    stop() {
      for (const i of Object.values(informers)) i.stop();
    },
  };
}
