// A kubeconfig with everything embedded, so it keeps working when copied away from the data directory.
// The reading side is api/client/kubeconfig.ts.

import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

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
