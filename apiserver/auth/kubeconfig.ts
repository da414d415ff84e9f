// A kubeconfig with everything embedded, so it keeps working when copied away from the data directory;
// and the reading side, for reaching kube-apiserver in cluster mode.

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

export interface KubeconfigOptions {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Name of the kubeconfig user entry; `metal3` unless given. */
  user?: string;
  /** Name of the context (and cluster) entry; `metal3` unless given. */
  context?: string;
}

const b64 = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');

/** The kubeconfig document (apiVersion v1, kind Config) for opts. */
export function buildKubeconfig(opts: KubeconfigOptions): Record<string, unknown> {
  const user = opts.user ?? 'metal3';
  const context = opts.context ?? 'metal3';
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: context, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } }],
    contexts: [{ name: context, context: { cluster: context, user } }],
    'current-context': context,
    users: [{ name: user, user: { 'client-certificate-data': b64(opts.certPem), 'client-key-data': b64(opts.keyPem) } }],
    preferences: {},
  };
}

/** Writes the kubeconfig to path with mode 0600; it holds a private key. */
export function writeKubeconfig(path: string, opts: KubeconfigOptions): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, stringify(buildKubeconfig(opts), { lineWidth: 0 }), { mode: 0o600 });
  // writeFileSync's mode only applies on creation; a temporary file left by a crashed run keeps its old mode.
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Where and as whom to reach kube-apiserver: what delegated authentication and authorization need from a kubeconfig. */
export interface ClusterConnection {
  server: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  /** A bearer token, or a function re-reading it, since projected service account tokens rotate. */
  token?: string | (() => string);
  insecureSkipTLSVerify?: boolean;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function entry(list: unknown, name: string | undefined, field: string): Record<string, unknown> {
  if (!Array.isArray(list)) return {};
  const found: unknown = list.find((e) => isMapping(e) && e.name === name);
  return isMapping(found) && isMapping(found[field]) ? found[field] : {};
}

/** The connection a kubeconfig document describes; relative file references resolve against baseDir. */
export function connectionFromKubeconfig(text: string, baseDir: string, context?: string): ClusterConnection {
  const doc: unknown = parse(text);
  if (!isMapping(doc)) throw new Error('kubeconfig: not a YAML mapping');
  const ctxName = context ?? nonEmpty(doc['current-context']);
  const ctx = entry(doc.contexts, ctxName, 'context');
  if (ctxName === undefined || Object.keys(ctx).length === 0) throw new Error(`kubeconfig: context ${JSON.stringify(ctxName ?? '')} not found`);
  const cluster = entry(doc.clusters, nonEmpty(ctx.cluster), 'cluster');
  const user = entry(doc.users, nonEmpty(ctx.user), 'user');
  const server = nonEmpty(cluster.server);
  if (!server) throw new Error(`kubeconfig: cluster ${JSON.stringify(ctx.cluster)} has no server`);
  const file = (p: unknown) => {
    const path = nonEmpty(p);
    return path ? readFileSync(resolve(baseDir, path), 'utf8') : undefined;
  };
  const data = (d: unknown) => {
    const b = nonEmpty(d);
    return b ? Buffer.from(b, 'base64').toString('utf8') : undefined;
  };
  const tokenFile = nonEmpty(user.tokenFile);
  return {
    server,
    caPem: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    certPem: data(user['client-certificate-data']) ?? file(user['client-certificate']),
    keyPem: data(user['client-key-data']) ?? file(user['client-key']),
    token: nonEmpty(user.token) ?? (tokenFile ? () => readFileSync(resolve(baseDir, tokenFile), 'utf8').trim() : undefined),
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
  };
}

/** readKubeconfig(path) reads the file; without a path, the pod's service account (rest.InClusterConfig). */
export function readKubeconfig(path?: string, context?: string): ClusterConnection {
  if (path) return connectionFromKubeconfig(readFileSync(path, 'utf8'), dirname(resolve(path)), context);
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
  const tokenPath = `${SERVICE_ACCOUNT_DIR}/token`;
  // The kubelet rewrites the projected token well before it expires; a minute's staleness is what client-go allows.
  let token = '';
  let readAt = -Infinity;
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caPem: readFileSync(`${SERVICE_ACCOUNT_DIR}/ca.crt`, 'utf8'),
    token: () => {
      if (Date.now() - readAt > 60_000) {
        token = readFileSync(tokenPath, 'utf8').trim();
        readAt = Date.now();
      }
      return token;
    },
  };
}
