// X.509 client-certificate authentication, as kube-apiserver's x509 authenticator does it:
// user = Subject CN, groups = Subject O values, plus `system:authenticated`. There is no anonymous user.

import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { DetailedPeerCertificate } from 'node:tls';
import type { RequestHandler, Response } from 'express';
import { unauthorized } from '../status.ts';

/** user.Info of k8s.io/apiserver. */
export interface UserInfo {
  name: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

export const AUTHENTICATED_GROUP = 'system:authenticated';

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const OID_ANY_EKU = '2.5.29.37.0';

/** Every certificate of a PEM bundle (a CA file may hold several). */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

const issuedBy = (cert: X509Certificate, ca: X509Certificate) => {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
};

// The TLS layer may trust more CAs than this authenticator (e.g. a front-proxy CA), so one of the
// presented certificates must itself be issued by a CA of ours.
function chainsTo(peer: DetailedPeerCertificate, cas: X509Certificate[]): boolean {
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = peer; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    const cert = new X509Certificate(c.raw);
    if (cas.some((ca) => issuedBy(cert, ca))) return true;
  }
  return false;
}

// Go's x509 verification accepts a leaf without an EKU extension as good for any usage.
const allowsClientAuth = (leaf: X509Certificate) => {
  const ekus = leaf.keyUsage;
  return !ekus || ekus.length === 0 || ekus.includes(OID_CLIENT_AUTH) || ekus.includes(OID_ANY_EKU);
};

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * The user a TLS connection's client certificate identifies, or undefined when the connection is not
 * TLS, carries no certificate, or its certificate was not verified against one of cas.
 */
export function userFromSocket(socket: Socket, cas: X509Certificate[]): UserInfo | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw) return undefined;
  if (!chainsTo(peer, cas) || !allowsClientAuth(new X509Certificate(peer.raw))) return undefined;
  // Go's pkix.Name keeps the last CN when a subject repeats it.
  const name = asList(peer.subject.CN).at(-1);
  if (!name) return undefined;
  const groups = asList(peer.subject.O);
  if (!groups.includes(AUTHENTICATED_GROUP)) groups.push(AUTHENTICATED_GROUP);
  return { name, groups };
}

/** The user clientCertAuthenticator stored for this response. */
export const requestUser = (res: Response): UserInfo | undefined => res.locals.user as UserInfo | undefined;

/**
 * Middleware for an https server created with `requestCert: true, rejectUnauthorized: false, ca`:
 * authenticated requests get res.locals.user; every other request is answered 401, whatever its path.
 */
export function clientCertAuthenticator(opts: { caPem: string }): RequestHandler {
  const cas = parseCertificateBundle(opts.caPem);
  if (cas.length === 0) throw new Error('clientCertAuthenticator: caPem holds no certificate');
  // Verifying the chain costs far more than serving a GET, so it is done once per connection, as Go's
  // TLS stack does at the handshake. Only TLS 1.3 connections are remembered: TLS 1.2 allows
  // renegotiation, which could swap the certificate mid-connection.
  const verified = new WeakMap<Socket, UserInfo | null>();
  return (req, res, next) => {
    let known = verified.get(req.socket);
    if (known === undefined) {
      known = userFromSocket(req.socket, cas) ?? null;
      if (req.socket instanceof TLSSocket && req.socket.getProtocol() === 'TLSv1.3') verified.set(req.socket, known);
    }
    // A copy, so nothing a handler does to its user can leak into the connection's next request.
    const user = known ? { ...known, groups: [...known.groups] } : undefined;
    if (!user) {
      res.status(401).json(unauthorized().toStatus());
      return;
    }
    res.locals.user = user;
    next();
  };
}
