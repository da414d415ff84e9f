// Standalone mode has no kube-controller-manager, so deleting a Namespace here also deletes what it
// contains, as kube's namespace controller would. Objects with finalizers are marked for deletion and
// stay until their finalizers are removed, exactly as they would in a cluster.
import type { Store, WriteContext } from '../registry/store.ts';
import { StatusError } from '../status.ts';

export function startNamespaceController(namespaces: Store, namespaced: Store[]): () => void {
  const ctx = (): WriteContext => ({
    user: { name: 'system:serviceaccount:kube-system:namespace-controller', groups: ['system:serviceaccounts'] },
    dryRun: false,
    fieldManager: 'namespace-controller',
    fieldValidation: 'Ignore',
    warnings: [],
  });
  return namespaces.watch('', { resourceVersion: String(namespaces.cacheRevision()) }, (ev) => {
    if (ev.type !== 'DELETED') return;
    const ns = ev.object.object.metadata.name;
    if (!ns) return;
    for (const store of namespaced) {
      store.deleteCollection(ns, {}, { propagationPolicy: 'Background' }, ctx()).catch((e: unknown) => {
        if (!(e instanceof StatusError && e.code === 404)) console.error(`namespace controller: emptying ${ns}:`, e);
      });
    }
  });
}
