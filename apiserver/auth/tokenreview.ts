// Bearer tokens checked by kube-apiserver through TokenReview (authentication.k8s.io/v1), with answers cached
// for a short while keyed by a hash of the token, so a client's burst of requests costs one review.

import { createHash } from 'node:crypto';
import type { UserInfo } from './authn.ts';
import type { ClusterAPI } from './kubeapi.ts';
import { TTLCache } from './ttlcache.ts';

/** Resolves to the token's user, or undefined when the token is not valid; rejects when it cannot tell. */
export type TokenAuthenticator = (token: string) => Promise<UserInfo | undefined>;

export interface TokenReviewOptions {
  api: ClusterAPI;
  /** Audiences the token must be good for; kube-apiserver's own when absent. */
  audiences?: string[];
  /** --authentication-token-webhook-cache-ttl; 10 s unless given, for valid and invalid tokens alike. */
  ttlMs?: number;
  now?: () => number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

/** The user of a TokenReview's status.user. */
export function userFromTokenReviewStatus(user: unknown): UserInfo {
  const u = isRecord(user) ? user : {};
  const info: UserInfo = { name: typeof u.username === 'string' ? u.username : '', groups: strings(u.groups) };
  if (typeof u.uid === 'string' && u.uid !== '') info.uid = u.uid;
  if (isRecord(u.extra)) {
    const extra: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(u.extra)) extra[k] = strings(v);
    if (Object.keys(extra).length > 0) info.extra = extra;
  }
  return info;
}

export function tokenReviewAuthenticator(opts: TokenReviewOptions): TokenAuthenticator {
  const ttlMs = opts.ttlMs ?? 10_000;
  const audiences = opts.audiences ?? [];
  const cache = new TTLCache<UserInfo | undefined>(opts.now);
  const review = async (token: string): Promise<UserInfo | undefined> => {
    const spec: Record<string, unknown> = { token };
    if (audiences.length > 0) spec.audiences = audiences;
    const answer = await opts.api.postJSON('/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec,
    });
    const status = isRecord(answer) && isRecord(answer.status) ? answer.status : {};
    if (status.authenticated !== true) return undefined;
    // A token minted for another audience must not be replayed against us.
    if (audiences.length > 0 && !strings(status.audiences).some((a) => audiences.includes(a))) return undefined;
    const user = userFromTokenReviewStatus(status.user);
    return user.name ? user : undefined;
  };
  return async (token) => {
    // The audiences are part of the key: a token's validity depends on them.
    const key = createHash('sha256').update(audiences.join('\n')).update('\0').update(token).digest('hex');
    // Transport failures reject and are not cached; the next request asks again.
    const user = await cache.get(key, async () => ({ value: await review(token), ttlMs }));
    return user && { ...user, groups: [...user.groups] };
  };
}
