// Front-proxy (request-header) authentication: kube-apiserver's aggregator forwards the user it authenticated
// in X-Remote-* headers over a connection carrying its proxy client certificate. The headers are believed
// only on such a connection (checked by the caller); this module reads and removes them.

import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCertificateBundle } from './authn.ts';
import type { UserInfo } from './authn.ts';

export interface RequestHeaderConfig {
  /** requestheader-client-ca-file: the CAs that must have signed the proxy's client certificate. */
  cas: X509Certificate[];
  /** Allowed Subject CNs of the proxy certificate; empty allows any certificate those CAs signed. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

function jsonList(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw.trim() === '') return [];
  const v: unknown = JSON.parse(raw);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`${key}: not a JSON list of strings`);
  return v;
}

/**
 * The request-header settings kube-apiserver publishes in kube-system/extension-apiserver-authentication,
 * or undefined when it publishes none (no requestheader CA, or no username header).
 */
export function requestHeaderConfigFrom(data: Record<string, string>): RequestHeaderConfig | undefined {
  const caPem = data['requestheader-client-ca-file'] ?? '';
  const cas = parseCertificateBundle(caPem);
  const usernameHeaders = jsonList(data, 'requestheader-username-headers');
  if (cas.length === 0 || usernameHeaders.length === 0) return undefined;
  return {
    cas,
    allowedNames: jsonList(data, 'requestheader-allowed-names'),
    usernameHeaders,
    uidHeaders: jsonList(data, 'requestheader-uid-headers'),
    groupHeaders: jsonList(data, 'requestheader-group-headers'),
    extraHeaderPrefixes: jsonList(data, 'requestheader-extra-headers-prefix'),
  };
}

const lower = (names: string[]) => names.map((n) => n.toLowerCase());

// Go's unescapeExtraKey: a key that does not %-decode is kept as sent.
function unescapeExtraKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/**
 * The user the headers name, or undefined when no username header has a value. Every occurrence of a group
 * header is one group (Node joins repeated headers in req.headers, so headersDistinct is read).
 */
export function userFromRequestHeaders(req: IncomingMessage, cfg: RequestHeaderConfig): UserInfo | undefined {
  const distinct = req.headersDistinct;
  const first = (names: string[]) => {
    for (const n of lower(names)) {
      const v = distinct[n]?.[0];
      if (v) return v;
    }
    return undefined;
  };
  const name = first(cfg.usernameHeaders);
  if (!name) return undefined;
  const groups: string[] = [];
  for (const n of lower(cfg.groupHeaders)) for (const v of distinct[n] ?? []) if (v) groups.push(v);
  const extra: Record<string, string[]> = {};
  for (const prefix of lower(cfg.extraHeaderPrefixes)) {
    for (const [header, values] of Object.entries(distinct)) {
      if (!header.startsWith(prefix) || values === undefined) continue;
      const key = unescapeExtraKey(header.slice(prefix.length));
      (extra[key] ??= []).push(...values);
    }
  }
  const user: UserInfo = { name, groups };
  const uid = first(cfg.uidHeaders);
  if (uid) user.uid = uid;
  if (Object.keys(extra).length > 0) user.extra = extra;
  return user;
}

/** Whether header (any case) is one of the identity headers cfg names. */
export function isRequestHeader(header: string, cfg: Pick<RequestHeaderConfig, 'usernameHeaders' | 'uidHeaders' | 'groupHeaders' | 'extraHeaderPrefixes'>): boolean {
  const h = header.toLowerCase();
  return (
    lower([...cfg.usernameHeaders, ...cfg.uidHeaders, ...cfg.groupHeaders]).includes(h) ||
    lower(cfg.extraHeaderPrefixes).some((p) => h.startsWith(p))
  );
}

/**
 * Removes the identity headers from every view Node keeps of them, so no handler can mistake a forwarded
 * (or forged) header for the authenticated user.
 */
export function stripHeaders(req: IncomingMessage, matches: (header: string) => boolean): void {
  for (const h of Object.keys(req.headers)) if (matches(h)) delete req.headers[h];
  const distinct = req.headersDistinct;
  for (const h of Object.keys(distinct)) if (matches(h)) delete distinct[h];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (matches(raw[i])) raw.splice(i, 2);
}
