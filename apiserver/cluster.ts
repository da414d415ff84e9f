// Cluster mode: an aggregated API server behind kube-apiserver. It trusts the front proxy and the
// cluster's CAs, asks the cluster who may do what, applies the cluster's admission configuration, and
// serves only metal3.io: Namespaces, Secrets and Events come from the real cluster.
import https from 'node:https';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestHandler } from 'express';
import { metal3Kinds } from '../api/index.ts';
import { HttpKubeClient } from '../api/client/kubeclient.ts';
import { readKubeconfig } from '../api/client/kubeconfig.ts';
import { builtinStrategies } from '../webhooks/builtin/index.ts';
import { PolicyEngine } from '../webhooks/policy/index.ts';
import { WebhookDispatcher } from '../webhooks/dispatch/index.ts';
import { createAPIServer, type APIServer } from './server.ts';
import { openStorage, type EtcdFlags } from './storage/open.ts';
import { ensureStandalonePKI } from './auth/pki.ts';
import { ClusterClient } from './auth/kubeapi.ts';
import { bearerTokenAuthenticator, configMapFetcher, delegatedAuthenticator } from './auth/delegated.ts';
import { delegatedAuthorizer } from './auth/authorizer.ts';
import { clusterConfigSource } from './admission/cluster-source.ts';
import { policyAdmission } from './admission/policy.ts';
import { actionSchemas, bareMetalHostActions } from './actions/baremetalhost.ts';
import { closeGracefully, listen, maxHeaderBytes, startAdmissionReviewServer, urlHost } from './serving.ts';
import type { OverloadOptions } from './overload.ts';

export interface ClusterOptions {
  dataDir: string;
  port: number;
  bindAddress: string;
  /** How we reach kube-apiserver (TokenReview, SubjectAccessReview, the authentication ConfigMap,
   * admission configuration); the pod's service account when absent. */
  kubeconfig?: string;
  /** Serving certificate; generated under dataDir (with the Service's DNS names) when absent. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** The Service kube-apiserver's aggregator reaches us through: its DNS name goes into our certificate. */
  serviceName?: string;
  serviceNamespace?: string;
  /** tokenreview asks kube-apiserver per token; jwt verifies service-account tokens locally. */
  tokenMode?: 'tokenreview' | 'jwt';
  anonymous?: boolean;
  storageBackend?: 'sqlite' | 'etcd';
  etcd?: EtcdFlags;
  compactionIntervalMs?: number;
  retainRevisions?: number;
  enableFakeBMC?: boolean;
  webhookPort?: number;
  overload?: Partial<OverloadOptions>;
  log?: (message: string) => void;
}

export interface Cluster {
  url: string;
  port: number;
  webhookURL?: string;
  /** PEM of the serving certificate's CA, for the APIService's caBundle when we generated it. */
  caPem?: string;
  server: APIServer;
  stop(): Promise<void>;
}

/** Authentication then authorization, as one middleware (createAPIServer takes one). */
const chain =
  (first: RequestHandler, second: RequestHandler): RequestHandler =>
  (req, res, next) =>
    first(req, res, (err?: unknown) => (err ? next(err) : second(req, res, next)));

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const log = opts.log ?? ((m: string) => console.error(m));
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const conn = readKubeconfig(opts.kubeconfig);
  const api = new ClusterClient(conn, { userAgent: 'metal3-apiserver' });
  const kube = new HttpKubeClient(conn);

  const authn = delegatedAuthenticator({
    fetchConfigMap: configMapFetcher(api),
    tokens: bearerTokenAuthenticator(api, { mode: opts.tokenMode ?? 'tokenreview' }),
    anonymous: opts.anonymous ?? false,
    log,
  });
  const authz = delegatedAuthorizer({ api });
  await authn.ready;

  const source = clusterConfigSource(kube, log);
  await source.synced;
  const storage = await openStorage(opts);
  let dispatcher: WebhookDispatcher | undefined;
  let port = opts.port;
  const builtin = builtinStrategies({ enableFakeBMC: opts.enableFakeBMC ?? false });
  const server = createAPIServer({
    storage,
    kinds: metal3Kinds.map((def) => ({ def, strategy: builtin[def.plural] })),
    actions: bareMetalHostActions(),
    extraSchemas: { 'metal3.io/v1alpha1': actionSchemas },
    admission: () => {
      dispatcher = new WebhookDispatcher(source);
      return [policyAdmission(new PolicyEngine(source), join(opts.dataDir, 'audit.log')), dispatcher];
    },
    authenticate: chain(authn, authz),
    namespaceExists: (ns) => source.namespaceExists(ns),
    serverAddress: () => `${urlHost(opts.bindAddress)}:${port}`,
    overload: opts.overload,
  });
  await server.start();

  let key: string;
  let cert: string;
  let caPem: string | undefined;
  if (opts.tlsCertFile && opts.tlsKeyFile) {
    key = readFileSync(opts.tlsKeyFile, 'utf8');
    cert = readFileSync(opts.tlsCertFile, 'utf8');
  } else {
    const svc = opts.serviceName ?? 'metal3-apiserver';
    const ns = opts.serviceNamespace ?? 'metal3';
    const pki = await ensureStandalonePKI(opts.dataDir, {
      hosts: ['127.0.0.1', 'localhost', '::1', `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`, svc],
    });
    key = pki.serverKey;
    cert = pki.serverCert;
    caPem = pki.caCert;
  }
  const tlsOptions = () => ({
    key,
    cert,
    // Clients are asked for certificates of the cluster's CAs (the front proxy's among them), or Go
    // clients would not send theirs.
    ca: authn.clientCAPems(),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2' as const,
  });
  const httpsServer = https.createServer({ ...tlsOptions(), maxHeaderSize: maxHeaderBytes }, server.app);
  httpsServer.keepAliveTimeout = 65_000;
  authn.onCAsChanged(() => httpsServer.setSecureContext(tlsOptions()));
  port = await listen(httpsServer, opts.port, opts.bindAddress);
  const webhooks =
    opts.webhookPort === undefined
      ? undefined
      : await startAdmissionReviewServer({ port: opts.webhookPort, bindAddress: opts.bindAddress, key, cert, enableFakeBMC: opts.enableFakeBMC ?? false });

  return {
    url: `https://${urlHost(opts.bindAddress)}:${port}`,
    port,
    webhookURL: webhooks?.url,
    caPem,
    server,
    async stop() {
      server.markShuttingDown();
      webhooks?.close();
      dispatcher?.close();
      await closeGracefully(httpsServer);
      source.stop();
      authn.close();
      kube.close();
      await server.stop();
    },
  };
}
