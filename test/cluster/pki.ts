// Certificates for a throwaway control plane: what kubeadm would lay out under /etc/kubernetes/pki, made
// here in-process. Node's crypto makes the keys (forge's pure-JS RSA generation is slow); node-forge
// builds and signs the X.509 certificates, which Node cannot issue.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface CertificateAuthority {
  cert: string;
  key: string;
}

export interface IssuedPair {
  cert: string;
  key: string;
}

export interface LeafSpec {
  commonName: string;
  /** Subject O values: Kubernetes reads them as the user's groups. */
  organizations?: string[];
  serverAuth?: boolean;
  clientAuth?: boolean;
  /** DNS names and IP addresses for the subjectAltName. */
  hosts?: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
// Backdating absorbs clock skew between the processes that check these certificates.
const BACKDATE_MS = 5 * 60 * 1000;

export function newRSAKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

// Go's crypto/x509 rejects negative serial numbers: keep the top bit clear.
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01;
  return b.toString('hex');
}

// forge writes CRLF; Go and openssl accept both, but LF is what every other tool writes.
const pem = (cert: forge.pki.Certificate) => forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');

function skeleton(publicPem: string, lifetimeDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = serial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + lifetimeDays * DAY_MS);
  return cert;
}

export function createCA(commonName: string): CertificateAuthority {
  const keys = newRSAKey();
  const cert = skeleton(keys.publicPem, 3650);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { cert: pem(cert), key: keys.privatePem };
}

export function issue(ca: CertificateAuthority, spec: LeafSpec): IssuedPair {
  const keys = newRSAKey();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const cert = skeleton(keys.publicPem, 365);
  cert.setSubject([
    ...(spec.organizations ?? []).map((o) => ({ name: 'organizationName', value: o })),
    { name: 'commonName', value: spec.commonName },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: spec.serverAuth === true, clientAuth: spec.clientAuth === true },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (spec.hosts?.length) {
    extensions.push({ name: 'subjectAltName', altNames: spec.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) });
  }
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: pem(cert), key: keys.privatePem };
}

/** Writes NAME.crt and NAME.key (0600) into dir and returns their paths. */
export function writePair(dir: string, name: string, pair: IssuedPair): { certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  return { certFile, keyFile };
}

/** File paths of the control plane's PKI, plus the PEMs tests need in memory. */
export interface ControlPlanePKI {
  dir: string;
  ca: CertificateAuthority & { certFile: string };
  frontProxyCA: CertificateAuthority & { certFile: string };
  serving: { certFile: string; keyFile: string };
  frontProxyClient: { certFile: string; keyFile: string };
  serviceAccount: { publicKeyFile: string; privateKeyFile: string };
  admin: IssuedPair;
  user: IssuedPair;
}

/** The name the unprivileged client certificate carries; RBAC grants it nothing. */
export const UNPRIVILEGED_USER = 'alice';

/**
 * Two CAs (the cluster's and the front proxy's, as kubeadm keeps them apart), kube-apiserver's serving and
 * front-proxy client certificates, the service-account signing key pair, and client certificates for an
 * admin (O=system:masters) and an unprivileged user.
 */
export function createControlPlanePKI(dir: string, serviceIP = '10.0.0.1'): ControlPlanePKI {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createCA('kubernetes');
  const frontProxyCA = createCA('front-proxy-ca');
  const caFiles = writePair(dir, 'ca', ca);
  const fpFiles = writePair(dir, 'front-proxy-ca', frontProxyCA);
  const serving = writePair(
    dir,
    'apiserver',
    issue(ca, {
      commonName: 'kube-apiserver',
      serverAuth: true,
      hosts: ['127.0.0.1', 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', serviceIP],
    }),
  );
  // The aggregator presents this to aggregated servers; its CN must be in --requestheader-allowed-names.
  const frontProxyClient = writePair(dir, 'front-proxy-client', issue(frontProxyCA, { commonName: 'front-proxy-client', clientAuth: true }));
  const sa = newRSAKey();
  const publicKeyFile = join(dir, 'sa.pub');
  const privateKeyFile = join(dir, 'sa.key');
  writeFileSync(publicKeyFile, sa.publicPem);
  writeFileSync(privateKeyFile, sa.privatePem, { mode: 0o600 });
  const admin = issue(ca, { commonName: 'kubernetes-admin', organizations: ['system:masters'], clientAuth: true });
  const user = issue(ca, { commonName: UNPRIVILEGED_USER, clientAuth: true });
  writePair(dir, 'admin', admin);
  writePair(dir, UNPRIVILEGED_USER, user);
  return {
    dir,
    ca: { ...ca, certFile: caFiles.certFile },
    frontProxyCA: { ...frontProxyCA, certFile: fpFiles.certFile },
    serving,
    frontProxyClient,
    serviceAccount: { publicKeyFile, privateKeyFile },
    admin,
    user,
  };
}
