// The embedded default: one process with its own CA, SQLite storage and the core/v1 kinds kubectl needs,
// so that `npm start` gives a working API with nothing else installed.
import https from 'node:https';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { metal3Kinds } from '../api/index.ts';
import { coreKinds } from './core/kinds.ts';
import { configMapStrategy, eventStrategy, namespaceStrategy, secretStrategy, webhookConfigurationStrategy } from './core/strategies.ts';
import { admissionRegistrationKinds } from './core/admissionregistration.ts';
import { ensureStandalonePKI, type PKI } from './auth/pki.ts';
import { clientCertAuthenticator } from './auth/authn.ts';
import { writeKubeconfig } from './auth/kubeconfig.ts';
import { SqliteStorage, DEFAULT_COMPACTION_INTERVAL_MS, DEFAULT_RETAIN_REVISIONS } from './storage/sqlite.ts';
import { EtcdStorage, DEFAULT_ETCD_PREFIX } from './storage/etcd.ts';
import type { Storage } from './storage/interface.ts';
import { readFileSync } from 'node:fs';
import { createAPIServer, type APIServer, type ServedKind } from './server.ts';
import type { Strategy } from './registry/strategy.ts';
import { StatusError } from './status.ts';
import { startNamespaceController } from './core/namespace-controller.ts';
import { builtinStrategies } from '../webhooks/builtin/index.ts';
import { admissionReviewRouter } from '../webhooks/admissionreview.ts';
import express from 'express';
import { appendFileSync } from 'node:fs';
import { PolicyEngine, validatePolicyObject } from '../webhooks/policy/index.ts';
import { WebhookDispatcher } from '../webhooks/dispatch/index.ts';
import type { Admission } from '../webhooks/types.ts';
import { storeConfigSource } from './admission/store-source.ts';
import { actionSchemas, bareMetalHostActions } from './actions/baremetalhost.ts';

export interface StandaloneOptions {
  dataDir: string;
  port: number;
  bindAddress: string;
  compactionIntervalMs?: number;
  retainRevisions?: number;
  enableFakeBMC?: boolean;
  /** Serve the AdmissionReview endpoints on this port (0 picks one); absent = not served. */
  webhookPort?: number;
  /** Where objects live: SQLite under dataDir (default) or an external etcd. */
  storageBackend?: 'sqlite' | 'etcd';
  etcd?: EtcdFlags;
}

/** kube-apiserver's --etcd-* flags: client URLs and PEM file paths. */
export interface EtcdFlags {
  servers: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  prefix?: string;
}

async function openStorage(opts: StandaloneOptions): Promise<Storage> {
  const compactionIntervalMs = opts.compactionIntervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS;
  const retainRevisions = opts.retainRevisions ?? DEFAULT_RETAIN_REVISIONS;
  if ((opts.storageBackend ?? 'sqlite') === 'sqlite') {
    return SqliteStorage.open(join(opts.dataDir, 'state.db'), { compactionIntervalMs, retainRevisions });
  }
  const etcd = opts.etcd;
  if (!etcd?.servers.length) throw new Error('--storage-backend etcd needs --etcd-servers');
  const pem = (file: string | undefined) => (file ? readFileSync(file) : undefined);
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

export interface Standalone {
  url: string;
  port: number;
  kubeconfig: string;
  /** https://host:port of the AdmissionReview endpoints, when served. */
  webhookURL?: string;
  pki: PKI;
  server: APIServer;
  stop(): Promise<void>;
}

const coreStrategies: Record<string, Strategy> = {
  namespaces: namespaceStrategy,
  secrets: secretStrategy,
  configmaps: configMapStrategy,
  events: eventStrategy,
  validatingadmissionpolicies: { validate: (obj) => validatePolicyObject(obj) },
  mutatingwebhookconfigurations: webhookConfigurationStrategy,
  validatingwebhookconfigurations: webhookConfigurationStrategy,
};

export function standaloneKinds(opts: { enableFakeBMC: boolean }): ServedKind[] {
  const builtin = builtinStrategies(opts);
  return [
    ...metal3Kinds.map((def) => ({ def, strategy: builtin[def.plural] })),
    ...[...coreKinds, ...admissionRegistrationKinds].map((def) => ({ def, strategy: coreStrategies[def.plural] })),
  ];
}

export async function startStandalone(opts: StandaloneOptions): Promise<Standalone> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const pki = await ensureStandalonePKI(opts.dataDir, {
    hosts: ['127.0.0.1', 'localhost', '::1', opts.bindAddress].filter((h, i, a) => a.indexOf(h) === i && h !== '0.0.0.0'),
  });
  const storage = await openStorage(opts);
  const host = opts.bindAddress.includes(':') ? `[${opts.bindAddress}]` : opts.bindAddress;
  let port = opts.port;
  let dispatcher: WebhookDispatcher | undefined;
  const server = createAPIServer({
    storage,
    kinds: standaloneKinds({ enableFakeBMC: opts.enableFakeBMC ?? false }),
    actions: bareMetalHostActions(),
    extraSchemas: { 'metal3.io/v1alpha1': actionSchemas },
    admission: (stores) => {
      const source = storeConfigSource(stores);
      dispatcher = new WebhookDispatcher(source);
      return [policyAdmission(new PolicyEngine(source), join(opts.dataDir, 'audit.log')), dispatcher];
    },
    authenticate: clientCertAuthenticator({ caPem: pki.caCert }),
    serverAddress: () => `${host}:${port}`,
  });
  await server.start();
  await ensureNamespaces(server, ['default', 'kube-system', 'kube-public']);
  const namespaceStore = server.stores.get('/v1/namespaces');
  const stopNamespaceController = namespaceStore
    ? startNamespaceController(namespaceStore, [...server.stores.values()].filter((s) => s.def.namespaced))
    : () => {};

  const httpsServer = https.createServer(
    {
      key: pki.serverKey,
      cert: pki.serverCert,
      ca: pki.caCert,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    server.app,
  );
  httpsServer.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    httpsServer.once('error', reject);
    httpsServer.listen(opts.port, opts.bindAddress, () => resolve());
  });
  port = (httpsServer.address() as AddressInfo).port;
  const url = `https://${opts.bindAddress === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const kubeconfig = join(opts.dataDir, 'kubeconfig');
  let webhookServer: https.Server | undefined;
  let webhookURL: string | undefined;
  if (opts.webhookPort !== undefined) {
    // kube-apiserver calls webhooks without a client certificate unless configured to, as BMO's
    // webhook server expects: so these endpoints live on their own listener, apart from the API.
    const app = express();
    app.disable('x-powered-by');
    app.use(admissionReviewRouter({ enableFakeBMC: opts.enableFakeBMC ?? false }));
    webhookServer = https.createServer({ key: pki.serverKey, cert: pki.serverCert, minVersion: 'TLSv1.2' }, app);
    const ws = webhookServer;
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.listen(opts.webhookPort, opts.bindAddress, () => resolve());
    });
    webhookURL = `https://${opts.bindAddress === '0.0.0.0' ? '127.0.0.1' : host}:${(ws.address() as AddressInfo).port}`;
  }
  writeKubeconfig(kubeconfig, { server: url, caPem: pki.caCert, certPem: pki.adminCert, keyPem: pki.adminKey, user: 'admin' });
  return {
    url,
    port,
    kubeconfig,
    webhookURL,
    pki,
    server,
    async stop() {
      server.markShuttingDown();
      stopNamespaceController();
      dispatcher?.close();
      webhookServer?.close();
      webhookServer?.closeAllConnections();
      httpsServer.closeIdleConnections();
      await new Promise<void>((resolve) => {
        httpsServer.close(() => resolve());
        // Watches are long-running: end them rather than wait out their timeouts.
        setTimeout(() => httpsServer.closeAllConnections(), 200).unref();
      });
      await server.stop();
    },
  };
}

async function ensureNamespaces(server: APIServer, names: string[]): Promise<void> {
  const store = server.stores.get('/v1/namespaces');
  if (!store) return;
  for (const name of names) {
    if (store.hasCached('', name)) continue;
    try {
      await store.create('', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, {
        user: { name: 'system:apiserver', groups: ['system:masters'] },
        dryRun: false,
        fieldManager: 'metal3-apiserver',
        fieldValidation: 'Strict',
        warnings: [],
      });
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) throw e;
    }
  }
}

/** ValidatingAdmissionPolicy as an admission plugin; Audit results go to DATA_DIR/audit.log as JSON lines. */
function policyAdmission(engine: PolicyEngine, auditLog: string): Admission {
  return {
    async validate(attrs, warnings) {
      const result = await engine.validate(attrs, warnings);
      if (result.auditEvents.length === 0 && Object.keys(result.auditAnnotations).length === 0) return;
      const entry = {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        stageTimestamp: new Date().toISOString(),
        verb: attrs.operation.toLowerCase(),
        user: { username: attrs.user.name, groups: attrs.user.groups },
        objectRef: { apiGroup: attrs.group, apiVersion: attrs.version, resource: attrs.resource, subresource: attrs.subresource || undefined, namespace: attrs.namespace, name: attrs.name },
        annotations: result.auditAnnotations,
        validationFailures: result.auditEvents,
      };
      appendFileSync(auditLog, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    },
  };
}
