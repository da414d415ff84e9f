// Opening the configured storage backend: SQLite under the data directory, or an external etcd.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Storage } from './interface.ts';
import { SqliteStorage, DEFAULT_COMPACTION_INTERVAL_MS, DEFAULT_RETAIN_REVISIONS } from './sqlite.ts';

/** kube-apiserver's --etcd-* flags: client URLs and PEM file paths. */
export interface EtcdFlags {
  servers: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  prefix?: string;
}

export interface StorageOptions {
  dataDir: string;
  storageBackend?: 'sqlite' | 'etcd';
  etcd?: EtcdFlags;
  compactionIntervalMs?: number;
  retainRevisions?: number;
}

export async function openStorage(opts: StorageOptions): Promise<Storage> {
  const compactionIntervalMs = opts.compactionIntervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS;
  const retainRevisions = opts.retainRevisions ?? DEFAULT_RETAIN_REVISIONS;
  if ((opts.storageBackend ?? 'sqlite') === 'sqlite') {
    return SqliteStorage.open(join(opts.dataDir, 'state.db'), { compactionIntervalMs, retainRevisions });
  }
  const etcd = opts.etcd;
  if (!etcd?.servers.length) throw new Error('--storage-backend etcd needs --etcd-servers');
  const pem = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  // etcd3 brings gRPC and protobufjs, a sixth of the module graph: a SQLite server never loads them.
  const { EtcdStorage, DEFAULT_ETCD_PREFIX } = await import('./etcd.ts');
  return EtcdStorage.open({
    endpoints: etcd.servers,
    prefix: etcd.prefix ?? DEFAULT_ETCD_PREFIX,
    ca: pem(etcd.caFile),
    cert: pem(etcd.certFile),
    key: pem(etcd.keyFile),
    compactionIntervalMs,
    retainRevisions,
  });
}

