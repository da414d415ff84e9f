// Delegated authentication for cluster mode, as k8s.io/apiserver's DelegatingAuthenticatorConfig chains it:
// front-proxy request headers, then client certificates, then bearer tokens, and anonymous only when enabled
// and no credential was presented. The CAs and header names come from kube-system/
// extension-apiserver-authentication, re-read periodically so that kube-apiserver can rotate them.

import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Request, RequestHandler } from 'express';
import { unauthorized } from '../status.ts';
import { AUTHENTICATED_GROUP, parseCertificateBundle } from './authn.ts';
import type { UserInfo } from './authn.ts';
import { fetchAuthenticationConfigMap } from './kubeapi.ts';
import type { ClusterAPI } from './kubeapi.ts';
import { serviceAccountJWTAuthenticator } from './jwt.ts';
import { isRequestHeader, requestHeaderConfigFrom, stripHeaders, userFromRequestHeaders } from './requestheader.ts';
import type { RequestHeaderConfig } from './requestheader.ts';
import { tokenReviewAuthenticator } from './tokenreview.ts';
import type { TokenAuthenticator } from './tokenreview.ts';
import { verifyPeer } from './x509.ts';
import type { PeerVerification } from './x509.ts';

export const ANONYMOUS_USER = 'system:anonymous';
export const UNAUTHENTICATED_GROUP = 'system:unauthenticated';

/** What the authenticator trusts; derived from the ConfigMap, with the local overrides applied. */
export interface AuthenticationConfig {
  /** client-ca-file: CAs of ordinary client certificates; empty disables certificate authentication. */
  clientCAs: X509Certificate[];
  requestHeader?: RequestHeaderConfig;
}

/** Flag-style overrides of what the ConfigMap says (--client-ca-file, --requestheader-*). */
export interface AuthenticationOverrides {
  clientCAPem?: string;
  requestHeader?: {
    caPem?: string;
    allowedNames?: string[];
    usernameHeaders?: string[];
    uidHeaders?: string[];
    groupHeaders?: string[];
    extraHeaderPrefixes?: string[];
  };
}

export interface DelegatedAuthenticatorOptions {
  /** The data of kube-system/extension-apiserver-authentication; undefined when the ConfigMap does not exist. */
  fetchConfigMap: () => Promise<Record<string, string> | undefined>;
  overrides?: AuthenticationOverrides;
  /** Bearer-token checking; bearer tokens are ignored without one. See bearerTokenAuthenticator. */
  tokens?: TokenAuthenticator;
  /** Whether requests without any credential pass as system:anonymous. Off unless set. */
  anonymous?: boolean;
  /** How often the ConfigMap is read again; 60 s unless given. Failed reads retry after 5 s. */
  reloadMs?: number;
  /** Where reload failures are reported; console.error unless given. */
  log?: (message: string) => void;
}

export interface DelegatedAuthenticator extends RequestHandler {
  /** Settles once the ConfigMap was first read; rejects when that read failed. */
  readonly ready: Promise<void>;
  /** The configuration in force. */
  config(): AuthenticationConfig;
  /**
   * PEMs of every CA a client certificate may chain to (client and front-proxy), for the TLS server's `ca`
   * option, so that clients are asked for, and send, certificates of those CAs.
   */
  clientCAPems(): string[];
  /** Called after a reload changed the CAs, e.g. to call server.setSecureContext with the new clientCAPems(). */
  onCAsChanged(listener: () => void): void;
  /** Stops re-reading the ConfigMap. */
  close(): void;
}

function configFrom(data: Record<string, string>, overrides: AuthenticationOverrides = {}): AuthenticationConfig {
  const clientCAs = parseCertificateBundle(overrides.clientCAPem ?? data['client-ca-file'] ?? '');
  const o = overrides.requestHeader;
  const merged: Record<string, string> = { ...data };
  if (o?.caPem !== undefined) merged['requestheader-client-ca-file'] = o.caPem;
  const lists: [keyof NonNullable<AuthenticationOverrides['requestHeader']>, string][] = [
    ['allowedNames', 'requestheader-allowed-names'],
    ['usernameHeaders', 'requestheader-username-headers'],
    ['uidHeaders', 'requestheader-uid-headers'],
    ['groupHeaders', 'requestheader-group-headers'],
    ['extraHeaderPrefixes', 'requestheader-extra-headers-prefix'],
  ];
  for (const [field, key] of lists) {
    const v = o?.[field];
    if (Array.isArray(v)) merged[key] = JSON.stringify(v);
  }
  return { clientCAs, requestHeader: requestHeaderConfigFrom(merged) };
}

const fingerprints = (c: AuthenticationConfig) =>
  [...c.clientCAs, ...(c.requestHeader?.cas ?? [])].map((ca) => ca.fingerprint256).join(',');

export interface BearerTokenConfig {
  /** tokenreview asks kube-apiserver per token (cached); jwt verifies service-account tokens locally. */
  mode: 'tokenreview' | 'jwt';
  audiences?: string[];
  /** TokenReview cache TTL; 10 s unless given. */
  cacheTTLMs?: number;
  /** jwt: accepted issuers; discovered from kube-apiserver when absent. */
  issuers?: string[];
}

/** The bearer-token authenticator the configuration selects. */
export function bearerTokenAuthenticator(api: ClusterAPI, cfg: BearerTokenConfig): TokenAuthenticator {
  if (cfg.mode === 'jwt') return serviceAccountJWTAuthenticator({ api, issuers: cfg.issuers, audiences: cfg.audiences });
  return tokenReviewAuthenticator({ api, audiences: cfg.audiences, ttlMs: cfg.cacheTTLMs });
}

/** fetchConfigMap for delegatedAuthenticator, reading through a kube-apiserver client. */
export const configMapFetcher = (api: ClusterAPI) => () => fetchAuthenticationConfigMap(api);

function bearerToken(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (!auth) return undefined;
  const [scheme, token] = auth.trim().split(/\s+/, 2);
  return scheme.toLowerCase() === 'bearer' && token ? token : undefined;
}

// Go's AuthenticatedGroupAdder: a user already marked authenticated or unauthenticated is left alone.
function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.groups.includes(AUTHENTICATED_GROUP) || user.groups.includes(UNAUTHENTICATED_GROUP)) return user;
  return { ...user, groups: [...user.groups, AUTHENTICATED_GROUP] };
}

interface PeerResults {
  config: AuthenticationConfig;
  proxy: PeerVerification;
  client: PeerVerification;
}

export function delegatedAuthenticator(opts: DelegatedAuthenticatorOptions): DelegatedAuthenticator {
  const reloadMs = opts.reloadMs ?? 60_000;
  const log = opts.log ?? ((m: string) => console.error(m));
  let config: AuthenticationConfig = configFrom({}, opts.overrides);
  let loaded = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const listeners: (() => void)[] = [];

  const load = async () => {
    const next = configFrom((await opts.fetchConfigMap()) ?? {}, opts.overrides);
    const changed = fingerprints(next) !== fingerprints(config);
    config = next;
    loaded = true;
    if (changed) for (const l of listeners) l();
  };
  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      load().then(schedule, (e: unknown) => {
        log(`delegated authentication: reading extension-apiserver-authentication: ${e instanceof Error ? e.message : String(e)}`);
        schedule();
      });
    }, loaded ? reloadMs : Math.min(reloadMs, 5_000));
    timer.unref();
  };
  const ready = load();
  ready.then(schedule, schedule);
  // A failed first read is reported through ready; requests meanwhile run with the overrides alone.
  ready.catch(() => undefined);

  // Chain verification costs more than serving a GET, so it is done once per connection and configuration.
  // Only TLS 1.3 connections are remembered: TLS 1.2 allows renegotiation, which could swap the certificate.
  const peers = new WeakMap<Socket, PeerResults>();
  const peerResults = (socket: Socket): PeerResults => {
    const known = peers.get(socket);
    if (known && known.config === config) return known;
    const r: PeerResults = {
      config,
      proxy: config.requestHeader ? verifyPeer(socket, config.requestHeader.cas) : { kind: 'none' },
      client: config.clientCAs.length > 0 ? verifyPeer(socket, config.clientCAs) : { kind: 'none' },
    };
    if (socket instanceof TLSSocket && socket.getProtocol() === 'TLSv1.3') peers.set(socket, r);
    return r;
  };

  const authenticate = async (req: Request): Promise<UserInfo | undefined> => {
    const peer = peerResults(req.socket);
    const rh = peer.config.requestHeader;
    const failures: string[] = [];

    if (rh) {
      let user: UserInfo | undefined;
      const proxy = peer.proxy;
      if (proxy.kind === 'verified' && (rh.allowedNames.length === 0 || rh.allowedNames.includes(proxy.commonName))) {
        user = userFromRequestHeaders(req, rh);
      }
      // Stripped whether believed or not: no handler may take a forged header for the user.
      stripHeaders(req, (h) => isRequestHeader(h, rh));
      if (user) return withAuthenticatedGroup(user);
    }

    const client = peer.client;
    if (client.kind === 'verified' && client.commonName) {
      return withAuthenticatedGroup({ name: client.commonName, groups: [...client.organizations] });
    }
    if (client.kind === 'invalid') failures.push(`x509: ${client.reason}`);

    const token = bearerToken(req);
    if (token !== undefined && opts.tokens) {
      try {
        const user = await opts.tokens(token);
        if (user) {
          // kube-apiserver drops the credential once used, so no handler can replay it.
          delete req.headers.authorization;
          return withAuthenticatedGroup(user);
        }
        failures.push('invalid bearer token');
      } catch (e) {
        failures.push(`bearer token: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    // Anonymous stands in only for "no credentials", never for credentials that failed.
    if (failures.length === 0 && opts.anonymous) return { name: ANONYMOUS_USER, groups: [UNAUTHENTICATED_GROUP] };
    return undefined;
  };

  const handler: RequestHandler = (req, res, next) => {
    // The first requests wait for the first read of the ConfigMap rather than be refused for want of CAs.
    const settled = loaded ? Promise.resolve() : ready.catch(() => undefined);
    settled
      .then(() => authenticate(req))
      .then((user) => {
        if (!user) {
          res.status(401).json(unauthorized().toStatus());
          return;
        }
        res.locals.user = user;
        next();
      }, next);
  };

  return Object.assign(handler, {
    ready,
    config: () => config,
    clientCAPems: () => [...config.clientCAs, ...(config.requestHeader?.cas ?? [])].map((c) => c.toString()),
    onCAsChanged: (l: () => void) => {
      listeners.push(l);
    },
    close: () => {
      closed = true;
      clearTimeout(timer);
    },
  });
}
