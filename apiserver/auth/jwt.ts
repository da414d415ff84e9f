// Service-account tokens verified locally against the cluster's issuer keys instead of asking kube-apiserver
// per token. The issuer and its key set are discovered from kube-apiserver's own OIDC discovery documents
// (/.well-known/openid-configuration, then the path of its jwks_uri), read through the authenticated client,
// since the issuer URL itself is often only resolvable inside the cluster.

import { createLocalJWKSet, errors, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTPayload } from 'jose';
import type { UserInfo } from './authn.ts';
import type { ClusterAPI } from './kubeapi.ts';
import type { TokenAuthenticator } from './tokenreview.ts';

export interface ServiceAccountJWTOptions {
  api: ClusterAPI;
  /** Accepted issuers (--service-account-issuer); the discovered issuer when absent. */
  issuers?: string[];
  /** Accepted audiences (--api-audiences); the first issuer when absent, as kube-apiserver defaults. */
  audiences?: string[];
  /** How long a fetched key set is used before it is fetched again; 5 minutes unless given. */
  refreshMs?: number;
  /** Least time between fetches triggered by a token signed with an unknown key; 10 s unless given. */
  minRefetchMs?: number;
  now?: () => number;
}

const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';
// k8s.io/kubernetes/pkg/serviceaccount: the asymmetric algorithms kube-apiserver signs with.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The user a verified service-account token's claims name, as k8s's serviceaccount.UserInfo builds it, or
 * undefined when the claims do not describe a service account consistently.
 */
export function serviceAccountUser(claims: JWTPayload): UserInfo | undefined {
  const sub = str(claims.sub);
  if (!sub.startsWith(SERVICE_ACCOUNT_PREFIX)) return undefined;
  const [namespace, name, ...rest] = sub.slice(SERVICE_ACCOUNT_PREFIX.length).split(':');
  if (!namespace || !name || rest.length > 0) return undefined;
  const k8s = isRecord(claims['kubernetes.io']) ? claims['kubernetes.io'] : undefined;
  const sa = k8s && isRecord(k8s.serviceaccount) ? k8s.serviceaccount : {};
  // Private claims that disagree with sub mean a forged or mangled token, not a different account.
  if (k8s && (str(k8s.namespace) !== namespace || (sa.name !== undefined && str(sa.name) !== name))) return undefined;
  const user: UserInfo = { name: sub, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`] };
  if (str(sa.uid)) user.uid = str(sa.uid);
  const extra: Record<string, string[]> = {};
  const pod = k8s && isRecord(k8s.pod) ? k8s.pod : undefined;
  const node = k8s && isRecord(k8s.node) ? k8s.node : undefined;
  if (pod && str(pod.name)) extra['authentication.kubernetes.io/pod-name'] = [str(pod.name)];
  if (pod && str(pod.uid)) extra['authentication.kubernetes.io/pod-uid'] = [str(pod.uid)];
  if (node && str(node.name)) extra['authentication.kubernetes.io/node-name'] = [str(node.name)];
  if (node && str(node.uid)) extra['authentication.kubernetes.io/node-uid'] = [str(node.uid)];
  if (str(claims.jti)) extra['authentication.kubernetes.io/credential-id'] = [`JTI=${str(claims.jti)}`];
  if (Object.keys(extra).length > 0) user.extra = extra;
  return user;
}

interface KeySource {
  issuers: string[];
  jwksPath: string;
  keys: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
}

export function serviceAccountJWTAuthenticator(opts: ServiceAccountJWTOptions): TokenAuthenticator {
  const now = opts.now ?? Date.now;
  const refreshMs = opts.refreshMs ?? 5 * 60_000;
  const minRefetchMs = opts.minRefetchMs ?? 10_000;
  let source: KeySource | undefined;
  let loading: Promise<KeySource> | undefined;

  const load = async (): Promise<KeySource> => {
    let issuers = opts.issuers;
    let jwksPath = source?.jwksPath;
    if (!jwksPath) {
      const discovery = await opts.api.getJSON('/.well-known/openid-configuration');
      if (!isRecord(discovery)) throw new Error('service account issuer discovery: /.well-known/openid-configuration not served');
      issuers ??= [str(discovery.issuer)].filter((i) => i !== '');
      jwksPath = str(discovery.jwks_uri) ? new URL(str(discovery.jwks_uri)).pathname : '/openid/v1/jwks';
    }
    issuers ??= source?.issuers ?? [];
    if (issuers.length === 0) throw new Error('service account issuer discovery: no issuer');
    const jwks = await opts.api.getJSON(jwksPath);
    if (!isRecord(jwks) || !Array.isArray(jwks.keys)) throw new Error(`service account issuer discovery: ${jwksPath} is not a JWK set`);
    return { issuers, jwksPath, keys: createLocalJWKSet(jwks as unknown as JSONWebKeySet), fetchedAt: now() };
  };
  // One fetch at a time however many requests find the keys stale.
  const refresh = (): Promise<KeySource> => {
    loading ??= load().then(
      (s) => {
        source = s;
        loading = undefined;
        return s;
      },
      (e: unknown) => {
        loading = undefined;
        throw e;
      },
    );
    return loading;
  };

  const verify = async (token: string, keys: KeySource) => {
    const { payload } = await jwtVerify(token, keys.keys, {
      issuer: keys.issuers,
      audience: opts.audiences ?? keys.issuers.slice(0, 1),
      algorithms: ALGORITHMS,
      currentDate: new Date(now()),
    });
    return serviceAccountUser(payload);
  };

  return async (token) => {
    let keys = source && now() - source.fetchedAt < refreshMs ? source : await refresh();
    try {
      return await verify(token, keys);
    } catch (e) {
      // The issuer rotated its signing key: fetch the set again, though not on every forged token.
      if (e instanceof errors.JWKSNoMatchingKey && now() - keys.fetchedAt >= minRefetchMs) {
        keys = await refresh();
        try {
          return await verify(token, keys);
        } catch (again) {
          if (again instanceof errors.JOSEError) return undefined;
          throw again;
        }
      }
      if (e instanceof errors.JOSEError) return undefined;
      throw e;
    }
  };
}
