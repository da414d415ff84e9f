// A KubeClient whose reads come from the controller's informers, as controller-runtime's manager client
// reads from its cache. A host reconciled every minute for its power poll then costs no request to the API
// server: with 10,000 hosts those reads (three per reconcile, over HTTPS to ourselves) were most of the
// server's idle CPU (bench/provision's idle phase).
//
// Unlike controller-runtime, a reconcile never sees its own writes undone: after an update, reads of that
// object go to the server until the informer has delivered the version written, so the reconcile that
// follows a status save at once starts from that status instead of conflicting on an older one.
import type { KubeObject } from '../../api/types.ts';
import type { Informer } from '../../api/client/informer.ts';
import type { KubeClient, ResourceType } from '../../api/client/types.ts';

/** No resourceVersion: matches no cached object. */
const gone = '';

const typeKey = (t: ResourceType) => `${t.group}/${t.version}/${t.plural}`;
const objectKey = (t: ResourceType, namespace: string, name: string) => `${typeKey(t)}/${t.namespaced ? namespace : ''}/${name}`;

export class CachedReadClient implements KubeClient {
  private readonly client: KubeClient;
  private readonly informers = new Map<string, Informer>();
  /** The newest resourceVersion known of objects the informer may not have caught up with yet. */
  private readonly newer = new Map<string, string>();
  /** Reads answered from an informer and from the server (tests and diagnostics). */
  readonly reads = { cached: 0, server: 0 };

  constructor(client: KubeClient) {
    this.client = client;
  }

  /** Serve reads of these informers' types from them (one per type; a label selector makes it partial). */
  use(...informers: Informer[]): void {
    for (const inf of informers) this.informers.set(typeKey(inf.type), inf);
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    const informer = this.informers.get(typeKey(type));
    const key = objectKey(type, namespace, name);
    const cached = informer?.hasSynced() ? informer.get(namespace, name) : undefined;
    if (cached) {
      const wanted = this.newer.get(key);
      if (wanted === undefined || cached.metadata.resourceVersion === wanted) {
        this.newer.delete(key);
        this.reads.cached++;
        return cached;
      }
    }
    // Not in the cache (a Secret without the label, an object the watch has not delivered yet) or older
    // than what we know: ask the server, and expect the informer to catch up with its answer.
    this.reads.server++;
    const obj = await this.client.get(type, namespace, name);
    if (!informer) return obj;
    const rv = obj?.metadata.resourceVersion;
    if (rv) this.newer.set(key, rv);
    // Gone, but still cached: no version of it may be served until the informer has seen the deletion.
    else if (informer.get(namespace, name)) this.newer.set(key, gone);
    else this.newer.delete(key);
    return obj;
  }

  private wrote(type: ResourceType, obj: KubeObject): KubeObject {
    const rv = obj.metadata.resourceVersion;
    if (rv && this.informers.has(typeKey(type))) this.newer.set(objectKey(type, obj.metadata.namespace ?? '', obj.metadata.name ?? ''), rv);
    return obj;
  }

  list(type: ResourceType, namespace?: string, opts?: { labelSelector?: string; fieldSelector?: string }): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    return this.client.list(type, namespace, opts);
  }

  watch(...args: Parameters<KubeClient['watch']>): () => void {
    return this.client.watch(...args);
  }

  async create(type: ResourceType, obj: KubeObject, opts?: { fieldManager?: string }): Promise<KubeObject> {
    return this.wrote(type, await this.client.create(type, obj, opts));
  }

  async update(type: ResourceType, obj: KubeObject, opts?: { subresource?: 'status'; fieldManager?: string }): Promise<KubeObject> {
    return this.wrote(type, await this.client.update(type, obj, opts));
  }

  async patch(
    type: ResourceType,
    namespace: string,
    name: string,
    patchType: 'merge' | 'json',
    patch: unknown,
    opts?: { subresource?: string; fieldManager?: string },
  ): Promise<KubeObject> {
    return this.wrote(type, await this.client.patch(type, namespace, name, patchType, patch, opts));
  }

  async delete(type: ResourceType, namespace: string, name: string): Promise<void> {
    await this.client.delete(type, namespace, name);
    // The object may linger (finalizers) with a newer version than any we saw: read it from the server.
    if (this.informers.has(typeKey(type))) this.newer.set(objectKey(type, namespace, name), gone);
  }
}
