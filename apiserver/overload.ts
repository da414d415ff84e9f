// Overload protection, as kube-apiserver's max-in-flight filter (k8s.io/apiserver/pkg/server/filters/maxinflight.go):
// a fixed number of read-only and of mutating requests are served at once, and the rest are refused
// with 429 and Retry-After at once rather than queued, so that a burst cannot grow memory or latency
// without bound. Watches are long-running and not counted there; they are bounded per client instead.
import type { Request, RequestHandler, Response } from 'express';
import { requestInfoFor, type RequestInfo } from './requestinfo.ts';
import type { UserInfo } from './registry/strategy.ts';
import { sendError } from './handlers/resource.ts';
import { tooManyRequests } from './status.ts';

export interface OverloadOptions {
  /** Read-only requests served at once (kube's --max-requests-inflight); 0 = no limit. */
  maxRequestsInflight: number;
  /** Mutating requests served at once (kube's --max-mutating-requests-inflight); 0 = no limit. */
  maxMutatingRequestsInflight: number;
  /** Open watches per client, a client being the authenticated user and its remote address; 0 = no limit. */
  maxWatchesPerClient: number;
}

export const defaultOverloadOptions: OverloadOptions = {
  maxRequestsInflight: 400,
  maxMutatingRequestsInflight: 200,
  maxWatchesPerClient: 100,
};

/** The defaults with what is set in `partial`; an option left undefined keeps its default. */
export function overloadOptions(partial: Partial<OverloadOptions> = {}): OverloadOptions {
  const out = { ...defaultOverloadOptions };
  for (const k of Object.keys(out) as (keyof OverloadOptions)[]) {
    const v = partial[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** kube's answer: the client retries after a second, which client-go does by itself. */
const retryAfterSeconds = 1;

// Probes must answer while the server is saturated, or the kubelet would restart a busy server.
const exemptPaths = /^\/(healthz|livez|readyz)(\/|$)/;

export type RequestKind = 'readOnly' | 'mutating' | 'longRunning' | 'exempt';

/** How the filter classifies a request: kube's non-mutating verbs, and watch as the long-running one. */
export function requestKind(path: string, info: RequestInfo): RequestKind {
  if (exemptPaths.test(path)) return 'exempt';
  if (info.verb === 'watch') return 'longRunning';
  // Non-resource requests carry the lower-case HTTP method as their verb.
  return ['get', 'list', 'head', 'options'].includes(info.verb) ? 'readOnly' : 'mutating';
}

export interface InFlightState {
  readOnly: number;
  mutating: number;
  /** Open watches per client key. */
  watches: ReadonlyMap<string, number>;
}

export interface InFlightLimiter {
  /** Runs after authentication: the user is part of a watcher's client identity. */
  handler: RequestHandler;
  state(): InFlightState;
}

const clientKey = (req: Request, res: Response): string => {
  const user = res.locals.user as UserInfo | undefined;
  return `${user?.name ?? ''}\u0000${req.socket.remoteAddress ?? ''}`;
};

export function inFlightLimiter(opts: OverloadOptions = defaultOverloadOptions): InFlightLimiter {
  const inflight = { readOnly: 0, mutating: 0 };
  const watches = new Map<string, number>();

  const refuse = (res: Response) => sendError(res, tooManyRequests(retryAfterSeconds));

  const handler: RequestHandler = (req, res, next) => {
    const url = new URL(req.originalUrl, 'https://localhost');
    const kind = requestKind(url.pathname, requestInfoFor(req.method, url.pathname, url.searchParams));
    if (kind === 'exempt') {
      next();
      return;
    }
    if (kind === 'longRunning') {
      const limit = opts.maxWatchesPerClient;
      const key = clientKey(req, res);
      const open = watches.get(key) ?? 0;
      if (limit > 0 && open >= limit) {
        refuse(res);
        return;
      }
      watches.set(key, open + 1);
      res.once('close', () => {
        const left = (watches.get(key) ?? 1) - 1;
        if (left > 0) watches.set(key, left);
        else watches.delete(key);
      });
      next();
      return;
    }
    // Unlike kube, members of system:masters are not let past a full limit: in standalone mode the
    // admin kubeconfig and the reconcilers are system:masters, and the limit would protect nothing.
    const limit = kind === 'mutating' ? opts.maxMutatingRequestsInflight : opts.maxRequestsInflight;
    if (limit > 0 && inflight[kind] >= limit) {
      refuse(res);
      return;
    }
    inflight[kind]++;
    // 'close' comes once per response, whether it finished or the client went away mid-request.
    res.once('close', () => inflight[kind]--);
    next();
  };

  return {
    handler,
    state: () => ({ readOnly: inflight.readOnly, mutating: inflight.mutating, watches }),
  };
}
