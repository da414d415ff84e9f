// A self-contained PKI for running without a cluster: one CA that signs the serving certificate and the
// client certificates kubectl uses. Node's crypto makes the keys (forge's pure-JS RSA generation is slow)
// and checks the certificates already on disk; node-forge builds and signs new X.509 certificates (Node
// has no API to issue certificates).

import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type * as Forge from 'node-forge';

// A restart finds every certificate still good and issues none: node-forge (and parsing the CA with it)
// waits until something is issued, so that it costs a restart nothing.
const require = createRequire(import.meta.url);
let forgeModule: typeof Forge | undefined;
const forge = () => (forgeModule ??= require('node-forge') as typeof Forge);

export interface PKI {
  caCert: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  /** Directory holding the PEM files; ca.key lives there too and is read only when issuing. */
  dir: string;
}

export interface IssuedCertificate {
  cert: string;
  key: string;
}

const CA_COMMON_NAME = 'metal3-apiserver-ca';
const DAY_MS = 24 * 60 * 60 * 1000;
// Re-issue a leaf this long before it expires, so a restart never hands out a nearly dead certificate.
const RENEW_BEFORE_MS = 30 * DAY_MS;
// Backdating absorbs clock skew between this host and its clients.
const BACKDATE_MS = 5 * 60 * 1000;

interface KeyPair {
  privatePem: string;
  publicPem: string;
}

const newKeyPair = (): KeyPair => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
};

// Go's crypto/x509 rejects negative serials, so the top bit of the first byte stays clear.
const newSerial = (): string => {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x01;
  return bytes.toString('hex');
};

// forge writes CRLF line endings; LF is what every other tool writes and diffs cleanly.
const toPem = (cert: Forge.pki.Certificate) => forge().pki.certificateToPem(cert).replace(/\r\n/g, '\n');

const validity = (cert: Forge.pki.Certificate, lifetimeMs: number) => {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + lifetimeMs);
};

interface Signer {
  cert: Forge.pki.Certificate;
  key: Forge.pki.rsa.PrivateKey;
}

const signerFrom = (caCertPem: string, caKeyPem: string): Signer => ({
  cert: forge().pki.certificateFromPem(caCertPem),
  key: forge().pki.privateKeyFromPem(caKeyPem),
});

function createCA(): { cert: string; key: string } {
  const keys = newKeyPair();
  const cert = forge().pki.createCertificate();
  cert.publicKey = forge().pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = newSerial();
  validity(cert, 10 * 365 * DAY_MS);
  const subject = [{ name: 'commonName', value: CA_COMMON_NAME }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge().pki.privateKeyFromPem(keys.privatePem), forge().md.sha256.create());
  return { cert: toPem(cert), key: keys.privatePem };
}

interface LeafRequest {
  subject: { name: string; value: string }[];
  usage: 'serverAuth' | 'clientAuth';
  hosts?: string[];
  lifetimeMs: number;
}

function issueLeaf(signer: Signer, req: LeafRequest): IssuedCertificate {
  const keys = newKeyPair();
  const cert = forge().pki.createCertificate();
  cert.publicKey = forge().pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = newSerial();
  validity(cert, req.lifetimeMs);
  cert.setSubject(req.subject);
  cert.setIssuer(signer.cert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', [req.usage]: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: signer.cert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (req.hosts && req.hosts.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      altNames: req.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    });
  }
  cert.setExtensions(extensions);
  cert.sign(signer.key, forge().md.sha256.create());
  return { cert: toPem(cert), key: keys.privatePem };
}

/** True when certPem carries a valid signature by the (first) certificate in caPem. */
export function signedBy(caPem: string, certPem: string): boolean {
  try {
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

const coversHosts = (cert: X509Certificate, hosts: string[]) =>
  hosts.every((h) => (isIP(h) ? cert.checkIP(h) !== undefined : cert.checkHost(h) !== undefined));

/** A leaf is reusable when it is signed by the CA, matches its key and is not close to expiry. */
function reusable(caPem: string, leaf: IssuedCertificate, hosts?: string[]): boolean {
  if (!signedBy(caPem, leaf.cert)) return false;
  try {
    const cert = new X509Certificate(leaf.cert);
    if (!cert.checkPrivateKey(createPrivateKey(leaf.key))) return false;
    const now = Date.now();
    if (Date.parse(cert.validFrom) > now + BACKDATE_MS) return false;
    if (Date.parse(cert.validTo) - RENEW_BEFORE_MS < now) return false;
    return hosts ? coversHosts(cert, hosts) : true;
  } catch {
    return false;
  }
}

async function readPair(dir: string, base: string): Promise<IssuedCertificate | undefined> {
  try {
    const [cert, key] = await Promise.all([
      readFile(join(dir, `${base}.crt`), 'utf8'),
      readFile(join(dir, `${base}.key`), 'utf8'),
    ]);
    return { cert, key };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

// Write to a fresh temporary file and rename, so a crash never leaves half a PEM and the key file is
// created with its restrictive mode rather than inheriting an old file's.
async function writeAtomic(path: string, data: string, mode: number) {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

async function writePair(dir: string, base: string, pair: IssuedCertificate) {
  await writeAtomic(join(dir, `${base}.key`), pair.key, 0o600);
  await writeAtomic(join(dir, `${base}.crt`), pair.cert, 0o644);
}

const caStillValid = (ca: IssuedCertificate | undefined): ca is IssuedCertificate => {
  if (!ca) return false;
  try {
    const cert = new X509Certificate(ca.cert);
    return cert.ca && cert.checkPrivateKey(createPrivateKey(ca.key)) && Date.parse(cert.validTo) - RENEW_BEFORE_MS > Date.now();
  } catch {
    return false;
  }
};

async function issueAndWrite(dir: string, base: string, signer: () => Signer, req: LeafRequest) {
  const pair = issueLeaf(signer(), req);
  await writePair(dir, base, pair);
  return pair;
}

const serverCommonName = (hosts: string[]) => hosts.find((h) => !isIP(h) && h !== 'localhost') ?? 'metal3-apiserver';

/**
 * Loads the PKI under dataDir/pki, creating whatever is missing or unusable: the CA, a serving
 * certificate whose SANs cover opts.hosts, and the `admin` (system:masters) client certificate.
 */
export async function ensureStandalonePKI(dataDir: string, opts: { hosts: string[] }): Promise<PKI> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const hosts = [...new Set(opts.hosts)];

  let ca = await readPair(dir, 'ca');
  if (!caStillValid(ca)) {
    ca = createCA();
    await writePair(dir, 'ca', ca);
  }
  const { cert: caCert, key: caKey } = ca;
  let parsed: Signer | undefined;
  const signer = () => (parsed ??= signerFrom(caCert, caKey));

  const storedServer = await readPair(dir, 'server');
  const server =
    storedServer && reusable(ca.cert, storedServer, hosts)
      ? storedServer
      : await issueAndWrite(dir, 'server', signer, {
          subject: [{ name: 'commonName', value: serverCommonName(hosts) }],
          usage: 'serverAuth',
          hosts,
          lifetimeMs: 365 * DAY_MS,
        });

  const storedAdmin = await readPair(dir, 'admin');
  const admin =
    storedAdmin && reusable(ca.cert, storedAdmin)
      ? storedAdmin
      : await issueAndWrite(dir, 'admin', signer, clientRequest('admin', ['system:masters']));

  return {
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    dir,
  };
}

const clientRequest = (cn: string, groups: string[]): LeafRequest => ({
  subject: [{ name: 'commonName', value: cn }, ...groups.map((g) => ({ name: 'organizationName', value: g }))],
  usage: 'clientAuth',
  lifetimeMs: 365 * DAY_MS,
});

/** Issues a client certificate (user = CN, groups = O) signed by the PKI's CA; nothing is written. */
export function issueClientCertificate(pki: PKI, cn: string, groups: string[]): IssuedCertificate {
  const caKey = readFileSync(join(pki.dir, 'ca.key'), 'utf8');
  return issueLeaf(signerFrom(pki.caCert, caKey), clientRequest(cn, groups));
}
