// Where and as whom to reach a Kubernetes API server, as client-go's clientcmd and rest.InClusterConfig
// find it: the reconcilers and the API server's cluster mode (delegated authentication, authorization,
// informers) all start from here.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export interface Connection {
  /** https://host:port, optionally with a path prefix. */
  server: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  /** A bearer token, or a function re-reading it, since projected service account tokens rotate. */
  token?: string | (() => string);
  basicAuth?: { username: string; password: string };
  insecureSkipTLSVerify?: boolean;
  /** The kubeconfig context's namespace, or the service account's. */
  namespace?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Finds `name` in a kubeconfig list of `{name, <field>: {...}}` entries. */
function entry(list: unknown, name: string | undefined, field: string): Record<string, unknown> {
  if (!Array.isArray(list)) return {};
  const found: unknown = list.find((e) => isMapping(e) && e.name === name);
  return isMapping(found) && isMapping(found[field]) ? found[field] : {};
}

/** The connection a kubeconfig document describes; relative file references resolve against baseDir. */
export function connectionFromKubeconfig(text: string, baseDir: string, context?: string): Connection {
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
  const username = nonEmpty(user.username);
  return {
    server,
    caPem: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    certPem: data(user['client-certificate-data']) ?? file(user['client-certificate']),
    keyPem: data(user['client-key-data']) ?? file(user['client-key']),
    token: nonEmpty(user.token) ?? (tokenFile ? () => readFileSync(resolve(baseDir, tokenFile), 'utf8').trim() : undefined),
    basicAuth: username ? { username, password: nonEmpty(user.password) ?? '' } : undefined,
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: nonEmpty(ctx.namespace),
  };
}

/** A token file re-read at most once a minute: the kubelet rewrites projected tokens well before they expire. */
function cachedTokenFile(path: string): () => string {
  let token = '';
  let readAt = -Infinity;
  return () => {
    const now = Date.now();
    if (now - readAt > 60_000) {
      token = readFileSync(path, 'utf8').trim();
      readAt = now;
    }
    return token;
  };
}

/** The pod's service account, as rest.InClusterConfig. */
export function inClusterConnection(dir = SERVICE_ACCOUNT_DIR): Connection {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
  let namespace: string | undefined;
  try {
    namespace = readFileSync(`${dir}/namespace`, 'utf8').trim();
  } catch {
    namespace = undefined;
  }
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caPem: readFileSync(`${dir}/ca.crt`, 'utf8'),
    token: cachedTokenFile(`${dir}/token`),
    namespace,
  };
}

/** readKubeconfig(path) reads the file; without a path, the pod's service account. */
export function readKubeconfig(path?: string, context?: string): Connection {
  if (!path) return inClusterConnection();
  return connectionFromKubeconfig(readFileSync(path, 'utf8'), dirname(resolve(path)), context);
}
