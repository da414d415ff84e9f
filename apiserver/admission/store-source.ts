// The cluster's admission configuration as standalone mode has it: read from the server's own watch
// caches, so a policy applied with kubectl takes effect on the next request.
import type { KubeObject } from '../../api/types.ts';
import { labelSelectorFromObject } from '../../api/labels.ts';
import type { AdmissionConfigSource, ParamKind, ParamLookup } from '../../webhooks/config.ts';
import type { Store } from '../registry/store.ts';
import { resourceKey } from '../handlers/resource.ts';

const ar = (plural: string) => resourceKey('admissionregistration.k8s.io', 'v1', plural);

export function storeConfigSource(stores: Map<string, Store>): AdmissionConfigSource {
  const all = (key: string): KubeObject[] => stores.get(key)?.cachedObjects() ?? [];
  const watched = [
    ar('validatingadmissionpolicies'),
    ar('validatingadmissionpolicybindings'),
    ar('mutatingwebhookconfigurations'),
    ar('validatingwebhookconfigurations'),
  ].flatMap((k) => stores.get(k) ?? []);
  const namespaces = stores.get(resourceKey('', 'v1', 'namespaces'));
  const byKind = (pk: ParamKind): Store | undefined =>
    [...stores.values()].find((s) => s.apiVersion === pk.apiVersion && s.def.kind === pk.kind);

  return {
    validatingAdmissionPolicies: () => all(ar('validatingadmissionpolicies')),
    validatingAdmissionPolicyBindings: () => all(ar('validatingadmissionpolicybindings')),
    mutatingWebhookConfigurations: () => all(ar('mutatingwebhookconfigurations')),
    validatingWebhookConfigurations: () => all(ar('validatingwebhookconfigurations')),
    namespace: (name) => namespaces?.cachedObject('', name),
    params(pk: ParamKind, ref: ParamLookup) {
      const store = byKind(pk);
      if (!store) return undefined;
      const ns = store.def.namespaced ? (ref.namespace ?? '') : '';
      if (ref.name) {
        const obj = store.cachedObject(ns, ref.name);
        return obj ? [obj] : [];
      }
      const matches = labelSelectorFromObject((ref.selector ?? {}) as Parameters<typeof labelSelectorFromObject>[0]);
      return store.cachedObjects(ns).filter((o) => matches(o.metadata.labels));
    },
    // Each cache's change revision moves only when its own kind changes (its revision() follows every
    // write, which recompiled every policy on every request), so the sum changes exactly when some
    // admission configuration does.
    generation: () => watched.reduce((n, s) => n + s.cacheChangeRevision(), 0),
  };
}
