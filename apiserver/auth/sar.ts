// Authorization delegated to kube-apiserver through SubjectAccessReview (authorization.k8s.io/v1), with allow
// and deny decisions cached for a short while keyed by the whole review spec, as k8s.io/apiserver's webhook
// authorizer does.

import type { UserInfo } from './authn.ts';
import type { ClusterAPI } from './kubeapi.ts';
import { TTLCache } from './ttlcache.ts';

/** authorizer.Attributes of k8s.io/apiserver. */
export interface Attributes {
  user: UserInfo;
  verb: string;
  isResourceRequest: boolean;
  /** The URL path; what non-resource requests are authorized on. */
  path: string;
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
}

export interface Decision {
  decision: 'allow' | 'deny' | 'noopinion';
  reason: string;
}

/** Rejects when no decision could be had (kube-apiserver unreachable, contradictory answer). */
export type Authorizer = (attrs: Attributes) => Promise<Decision>;

export interface SubjectAccessReviewOptions {
  api: ClusterAPI;
  /** --authorization-webhook-cache-authorized-ttl; 10 s unless given. */
  authorizedTTLMs?: number;
  /** --authorization-webhook-cache-unauthorized-ttl; 10 s unless given. */
  unauthorizedTTLMs?: number;
  now?: () => number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// Go marshals these fields with omitempty; sending the same shape keeps audit logs and caches identical.
function compact(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ''));
}

/** The SubjectAccessReview spec for attrs. */
export function subjectAccessReviewSpec(attrs: Attributes): Record<string, unknown> {
  const spec: Record<string, unknown> = { user: attrs.user.name, groups: attrs.user.groups };
  if (attrs.user.uid) spec.uid = attrs.user.uid;
  if (attrs.user.extra && Object.keys(attrs.user.extra).length > 0) spec.extra = attrs.user.extra;
  if (attrs.isResourceRequest) {
    spec.resourceAttributes = compact({
      namespace: attrs.namespace,
      verb: attrs.verb,
      group: attrs.apiGroup,
      version: attrs.apiVersion,
      resource: attrs.resource,
      subresource: attrs.subresource,
      name: attrs.name,
    });
  } else {
    spec.nonResourceAttributes = compact({ path: attrs.path, verb: attrs.verb });
  }
  return spec;
}

export function subjectAccessReviewAuthorizer(opts: SubjectAccessReviewOptions): Authorizer {
  const allowTTL = opts.authorizedTTLMs ?? 10_000;
  const denyTTL = opts.unauthorizedTTLMs ?? 10_000;
  const cache = new TTLCache<Decision>(opts.now);
  return (attrs) => {
    const spec = subjectAccessReviewSpec(attrs);
    return cache.get(JSON.stringify(spec), async () => {
      const answer = await opts.api.postJSON('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec,
      });
      const status = isRecord(answer) && isRecord(answer.status) ? answer.status : {};
      const reason = typeof status.reason === 'string' ? status.reason : '';
      if (status.allowed === true && status.denied === true) {
        throw new Error('webhook subject access review returned both allow and deny response');
      }
      if (status.allowed === true) return { value: { decision: 'allow', reason }, ttlMs: allowTTL };
      return { value: { decision: status.denied === true ? 'deny' : 'noopinion', reason }, ttlMs: denyTTL };
    });
  };
}
