// Verifies a TLS connection's client certificate against one CA bundle, by itself rather than through the
// socket's `authorized` flag: the TLS layer trusts the union of the client and front-proxy CAs, and those
// bundles rotate while the server keeps running, so each authenticator checks against its own current CAs.

import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { DetailedPeerCertificate } from 'node:tls';

export type PeerVerification =
  | { kind: 'none' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'verified'; commonName: string; organizations: string[] };

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const OID_ANY_EKU = '2.5.29.37.0';
const MAX_CHAIN = 10;

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const current = (c: X509Certificate, now: Date) => c.validFromDate <= now && now <= c.validToDate;

function issues(issuer: X509Certificate, cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

// Go's x509 treats a leaf without an ExtendedKeyUsage extension as good for any usage.
function allowsClientAuth(leaf: X509Certificate): boolean {
  const ekus = leaf.keyUsage;
  return !ekus || ekus.length === 0 || ekus.includes(OID_CLIENT_AUTH) || ekus.includes(OID_ANY_EKU);
}

/** The certificates the client presented, leaf first (as far as Node reports them). */
function presentedChain(peer: DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = peer; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
  }
  return out;
}

/**
 * Whether the leaf certificate chains, through presented intermediates, to one of cas; all certificates on
 * the path must be within their validity period and the leaf must allow client authentication.
 */
export function verifyChain(chain: X509Certificate[], cas: X509Certificate[], now = new Date()): string | undefined {
  const [leaf, ...intermediates] = chain;
  if (!leaf) return 'no certificate';
  if (!allowsClientAuth(leaf)) return 'certificate does not allow client authentication';
  let cert = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    if (!current(cert, now)) return `certificate ${cert.subject.replace(/\n/g, ', ')} has expired or is not yet valid`;
    if (cas.some((ca) => current(ca, now) && issues(ca, cert))) return undefined;
    const next = intermediates.find((i) => i.ca && i !== cert && issues(i, cert));
    if (!next) return 'certificate signed by unknown authority';
    cert = next;
  }
  return 'certificate chain too long';
}

/** What a connection's client certificate proves against cas. */
export function verifyPeer(socket: Socket, cas: X509Certificate[], now = new Date()): PeerVerification {
  if (!(socket instanceof TLSSocket)) return { kind: 'none' };
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw) return { kind: 'none' };
  if (cas.length === 0) return { kind: 'invalid', reason: 'no certificate authority configured' };
  const reason = verifyChain(presentedChain(peer), cas, now);
  if (reason) return { kind: 'invalid', reason };
  // Go's pkix.Name keeps the last CN when a subject repeats it.
  return { kind: 'verified', commonName: asList(peer.subject.CN).at(-1) ?? '', organizations: asList(peer.subject.O) };
}
