// The authorization filter of cluster mode: request attributes as kube-apiserver's RequestInfoFactory derives
// them, the always-allowed health paths and groups first, then the delegated authorizer (SubjectAccessReview).
// A denial is answered 403 with exactly the message kube-apiserver gives, since kubectl shows it verbatim.

import type { RequestHandler } from 'express';
import { forbidden, internalError, StatusError } from '../status.ts';
import { requestInfoFor } from '../requestinfo.ts';
import type { UserInfo } from './authn.ts';
import type { ClusterAPI } from './kubeapi.ts';
import { subjectAccessReviewAuthorizer } from './sar.ts';
import type { Attributes, Authorizer } from './sar.ts';

export const DEFAULT_ALWAYS_ALLOW_PATHS = ['/healthz', '/readyz', '/livez'];
export const DEFAULT_ALWAYS_ALLOW_GROUPS = ['system:masters'];

export interface DelegatedAuthorizerOptions {
  /** The delegated decision; build one with subjectAccessReviewAuthorizer, or pass api for the default. */
  authorize?: Authorizer;
  api?: ClusterAPI;
  /** --authorization-always-allow-paths: exact paths, or prefixes when ending in `*`. */
  alwaysAllowPaths?: string[];
  alwaysAllowGroups?: string[];
}

/** Go's path authorizer: an entry matches exactly, or as a prefix when it ends in `*`. */
export function pathMatcher(patterns: string[]): (path: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    const trimmed = p.startsWith('/') ? p : `/${p}`;
    if (trimmed.endsWith('*')) prefixes.push(trimmed.slice(0, -1));
    else exact.add(trimmed);
  }
  return (path) => exact.has(path) || prefixes.some((p) => path.startsWith(p));
}

/** The attributes kube-apiserver would authorize this request on. */
export function attributesFor(user: UserInfo, method: string, originalUrl: string): Attributes {
  const url = new URL(originalUrl, 'https://localhost');
  const info = requestInfoFor(method, url.pathname, url.searchParams);
  return {
    user,
    verb: info.verb,
    isResourceRequest: info.isResourceRequest,
    path: url.pathname,
    namespace: info.namespace,
    apiGroup: info.apiGroup,
    apiVersion: info.apiVersion,
    resource: info.resource,
    subresource: info.subresource,
    name: info.name,
  };
}

/** responsewriters.Forbidden's message and details: `<resource>.<group> "<name>" is forbidden: User …`. */
export function forbiddenError(attrs: Attributes, reason = ''): StatusError {
  let msg: string;
  if (!attrs.isResourceRequest) {
    msg = `User ${JSON.stringify(attrs.user.name)} cannot ${attrs.verb} path ${JSON.stringify(attrs.path)}`;
  } else {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const scope = attrs.namespace ? `in the namespace ${JSON.stringify(attrs.namespace)}` : 'at the cluster scope';
    msg = `User ${JSON.stringify(attrs.user.name)} cannot ${attrs.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attrs.apiGroup)} ${scope}`;
  }
  if (reason) msg = `${msg}: ${reason}`;
  // apierrors.NewForbidden on the GroupResource (without the subresource) and the name.
  const group = attrs.isResourceRequest ? attrs.apiGroup : '';
  const resource = attrs.isResourceRequest ? attrs.resource : '';
  const name = attrs.isResourceRequest ? attrs.name : '';
  const qualified = group ? `${resource}.${group}` : resource;
  const message = qualified === '' ? `forbidden: ${msg}` : name ? `${qualified} ${JSON.stringify(name)} is forbidden: ${msg}` : `${qualified} is forbidden: ${msg}`;
  const details: { name?: string; group?: string; kind?: string } = {};
  if (name) details.name = name;
  if (group) details.group = group;
  if (resource) details.kind = resource;
  return forbidden(message, details);
}

export function delegatedAuthorizer(opts: DelegatedAuthorizerOptions): RequestHandler {
  const authorize = opts.authorize ?? (opts.api ? subjectAccessReviewAuthorizer({ api: opts.api }) : undefined);
  if (!authorize) throw new Error('delegatedAuthorizer: neither authorize nor api given');
  const alwaysAllowedPath = pathMatcher(opts.alwaysAllowPaths ?? DEFAULT_ALWAYS_ALLOW_PATHS);
  const alwaysAllowGroups = opts.alwaysAllowGroups ?? DEFAULT_ALWAYS_ALLOW_GROUPS;
  return (req, res, next) => {
    const user = res.locals.user as UserInfo | undefined;
    if (!user) {
      next(new Error('delegatedAuthorizer: no authenticated user; the authenticator must run first'));
      return;
    }
    const attrs = attributesFor(user, req.method, req.originalUrl);
    // The path authorizer has no opinion on resource requests, whatever their path.
    if (!attrs.isResourceRequest && alwaysAllowedPath(attrs.path)) {
      next();
      return;
    }
    if (user.groups.some((g) => alwaysAllowGroups.includes(g))) {
      next();
      return;
    }
    authorize(attrs).then(
      (d) => {
        if (d.decision === 'allow') {
          next();
          return;
        }
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.status(403).json(forbiddenError(attrs, d.reason).toStatus());
      },
      (e: unknown) => {
        const err = internalError(e instanceof Error ? e.message : String(e));
        res.status(err.code).json(err.toStatus());
      },
    );
  };
}
