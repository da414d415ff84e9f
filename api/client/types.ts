// How reconcilers see the Kubernetes API: through this client only (never by importing apiserver/), so
// the same controllers run against the standalone server and a real cluster.
import type { KubeObject } from '../types.ts';

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

/** A Kubernetes API error answer (a metav1.Status), kept so callers can branch on code and reason. */
export class APIError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }
}

/** Narrows a watch as the matching list was narrowed; timeoutSeconds ends the stream cleanly (onClose()). */
export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  timeoutSeconds?: number;
}

export interface KubeClient {
  get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>;
  list(type: ResourceType, namespace?: string, opts?: { labelSelector?: string; fieldSelector?: string }): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /** Streams events after resourceVersion; onClose(err) when the stream ends (err 410 = relist). */
  watch(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (ev: WatchEvent) => void,
    onClose: (err?: Error) => void,
    opts?: WatchOptions,
  ): () => void;
  create(type: ResourceType, obj: KubeObject, opts?: { fieldManager?: string }): Promise<KubeObject>;
  /** PUT with the object's resourceVersion: 409 (APIError) when stale. */
  update(type: ResourceType, obj: KubeObject, opts?: { subresource?: 'status'; fieldManager?: string }): Promise<KubeObject>;
  patch(type: ResourceType, namespace: string, name: string, patchType: 'merge' | 'json', patch: unknown, opts?: { subresource?: string; fieldManager?: string }): Promise<KubeObject>;
  delete(type: ResourceType, namespace: string, name: string): Promise<void>;
}
