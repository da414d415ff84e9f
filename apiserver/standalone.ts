// The embedded default: one process with its own CA, SQLite storage and the core/v1 kinds kubectl needs,
// so that `npm start` gives a working API with nothing else installed.
import https from 'node:https';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { metal3Kinds } from '../api/index.ts';
import { coreKinds } from './core/kinds.ts';
import { configMapStrategy, eventStrategy, namespaceStrategy, secretStrategy, webhookConfigurationStrategy } from './core/strategies.ts';
import { admissionRegistrationKinds } from './core/admissionregistration.ts';
import { ensureStandalonePKI, type PKI } from './auth/pki.ts';
import { clientCertAuthenticator } from './auth/authn.ts';
import { writeKubeconfig } from './auth/kubeconfig.ts';
import { openStorage, type EtcdFlags } from './storage/open.ts';
import { createAPIServer, type APIServer, type ServedKind } from './server.ts';
import type { Strategy } from './registry/strategy.ts';
import { StatusError } from './status.ts';
import { startNamespaceController } from './core/namespace-controller.ts';
import { builtinStrategies } from '../webhooks/builtin/index.ts';
import { closeGracefully, listen, maxHeaderBytes, startAdmissionReviewServer, urlHost } from './serving.ts';
import { policyAdmission } from './admission/policy.ts';
import { PolicyEngine, validatePolicyObject } from '../webhooks/policy/index.ts';
import { WebhookDispatcher } from '../webhooks/dispatch/index.ts';
import { storeConfigSource } from './admission/store-source.ts';
import { actionSchemas, bareMetalHostActions } from './actions/baremetalhost.ts';
import type { OverloadOptions } from './overload.ts';

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
  /** Max-in-flight limits and watches per client (--max-requests-inflight and friends). */
  overload?: Partial<OverloadOptions>;
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
    overload: opts.overload,
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
      maxHeaderSize: maxHeaderBytes,
    },
    server.app,
  );
  httpsServer.keepAliveTimeout = 65_000;
  port = await listen(httpsServer, opts.port, opts.bindAddress);
  const url = `https://${urlHost(opts.bindAddress)}:${port}`;
  const kubeconfig = join(opts.dataDir, 'kubeconfig');
  const webhooks =
    opts.webhookPort === undefined
      ? undefined
      : await startAdmissionReviewServer({
          port: opts.webhookPort,
          bindAddress: opts.bindAddress,
          key: pki.serverKey,
          cert: pki.serverCert,
          enableFakeBMC: opts.enableFakeBMC ?? false,
        });
  writeKubeconfig(kubeconfig, { server: url, caPem: pki.caCert, certPem: pki.adminCert, keyPem: pki.adminKey, user: 'admin' });
  return {
    url,
    port,
    kubeconfig,
    webhookURL: webhooks?.url,
    pki,
    server,
    async stop() {
      server.markShuttingDown();
      stopNamespaceController();
      dispatcher?.close();
      webhooks?.close();
      await closeGracefully(httpsServer);
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

