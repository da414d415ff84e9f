#!/usr/bin/env node
// metal3-apiserver: the command line, and the one place that composes the API server with the
// reconcilers. They meet only here: the reconcilers reach the server through the Kubernetes API, with a
// client certificate of their own. Flags win over environment variables, which win over defaults.
import { enableCompileCache, flushCompileCache } from 'node:module';
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { hostname, tmpdir } from 'node:os';
import type { Registry } from 'prom-client';
import type { StandaloneOptions } from '../apiserver/standalone.ts';
import type { ClusterOptions } from '../apiserver/cluster.ts';
import type { Manager } from '../reconcilers/manager.ts';

// Loading the module graph (stripping the TypeScript, compiling) is most of a restart's CPU; Node's compile
// cache keeps both across restarts. It works only for modules loaded after it is on, hence the dynamic
// imports. NODE_COMPILE_CACHE, when set, has already turned it on in its own directory, and
// NODE_DISABLE_COMPILE_CACHE=1 turns it off.
enableCompileCache(join(tmpdir(), 'metal3-apiserver-compile-cache'));
const [{ versionInfo }, { issueClientCertificate }, { writeKubeconfig }, { HttpKubeClient }] = await Promise.all([
  import('../apiserver/version.ts'),
  import('../apiserver/auth/pki.ts'),
  import('../apiserver/auth/kubeconfig.ts'),
  import('../api/client/kubeclient.ts'),
]);
type HttpKubeClient = InstanceType<typeof HttpKubeClient>;
// The cache is written at exit, which a SIGKILLed process never reaches: write it once the server serves.
const flushed = <T>(running: T): T => {
  flushCompileCache();
  return running;
};
// Each mode's server loads only when chosen: cluster mode's authentication is never needed standalone.
const startStandalone = async (opts: StandaloneOptions) => flushed(await (await import('../apiserver/standalone.ts')).startStandalone(opts));
const startCluster = async (opts: ClusterOptions) => flushed(await (await import('../apiserver/cluster.ts')).startCluster(opts));
// The reconcilers load once the server serves, so that /readyz does not wait for them.
const loadReconcilers = async () => {
  const [manager, config] = await Promise.all([import('../reconcilers/manager.ts'), import('../reconcilers/config.ts')]);
  return flushed({ ...manager, ...config });
};

const usage = `Usage: metal3-apiserver [flags]

  --data-dir DIR        state, certificates and kubeconfig (env METAL3_DATA_DIR, default ./.data)
  --port N              HTTPS port (env METAL3_PORT, default 6443; 0 picks a free port)
  --bind-address ADDR   listen address (env METAL3_BIND_ADDRESS, default 127.0.0.1)
  --enable-fake-bmc     accept fake://NAME BMC addresses, for tests and demos (env METAL3_ENABLE_FAKE_BMC=true)
  --webhook-port N      also serve BMO's AdmissionReview endpoints (/validate-metal3-io-v1alpha1-<kind>,
                        /mutate-...) on this HTTPS port, without client authentication, for clusters
                        that run the generated CRDs (env METAL3_WEBHOOK_PORT; default off)
  --ironic-endpoint URL Ironic's API, e.g. http://127.0.0.1:6385 (env IRONIC_ENDPOINT). Without it the
                        simulated provisioner runs. BMO's IRONIC_CACERT_FILE, IRONIC_INSECURE,
                        METAL3_AUTH_ROOT_DIR, DEPLOY_KERNEL_URL, DEPLOY_RAMDISK_URL, DEPLOY_ISO_URL and
                        PROVISIONING_LIMIT are honoured as BMO honours them
  --controller-concurrency N
                        hosts reconciled at once (env BMO_CONCURRENCY, default 32)
  --max-provisioning-retries N
                        provisioning attempts of one image before giving up (default 5; 0 = no limit)
  --simulator-speed F   multiplies the simulator's delays (default 1; e.g. 0.1 for demos and tests)
  --disable-reconcilers serve the API only (env METAL3_DISABLE_RECONCILERS=true)
  --version             print the version and exit
  --compaction-interval DURATION
                        how often the storage log is compacted, e.g. 500ms, 30s, 5m (default 5m; for tests)
  --retain-revisions N  revisions kept by each compaction (default 10000; for tests)
  --mode standalone|cluster
                        standalone (default): own CA, serves core/v1 and admissionregistration itself.
                        cluster: behind kube-apiserver as an aggregated API server, with delegated
                        authentication and authorization, and the cluster's Secrets, Events, Namespaces
                        and admission configuration (env METAL3_MODE)
  --kubeconfig FILE     cluster mode: how to reach kube-apiserver (default: the pod's service account)
  --tls-cert-file FILE, --tls-private-key-file FILE
                        cluster mode: serving certificate (default: generated, for the Service's DNS name)
  --service-name NAME, --service-namespace NS
                        cluster mode: the Service in front of us (default metal3-apiserver in metal3)
  --token-auth tokenreview|jwt
                        cluster mode: check bearer tokens by TokenReview (default) or locally as
                        service-account JWTs against the cluster's JWKS
  --anonymous-auth      cluster mode: let requests without credentials in as system:anonymous (default off)
  --leader-elect=false  cluster mode: reconcile without a Lease (default: one replica reconciles at a time)
  --leader-elect-lease-duration DURATION
                        how long the other replicas wait after the Lease's last renewal before taking it
                        (default 12s: a killed leader is replaced within about 14s)
  --leader-elect-renew-deadline DURATION
                        how long the leader keeps retrying a failed renewal before it stops reconciling
                        and exits (default 8s; less than the lease duration)
  --leader-elect-retry-period DURATION
                        the gap between two tries to acquire or renew the Lease (default 2s)
  --storage-backend sqlite|etcd
                        where objects live (env METAL3_STORAGE_BACKEND, default sqlite: DATA_DIR/state.db)
  --etcd-servers URLS   comma-separated etcd client URLs, e.g. https://10.0.0.1:2379 (env ETCD_SERVERS)
  --etcd-cafile FILE    CA bundle that signed the etcd members' serving certificates
  --etcd-certfile FILE  client certificate for etcd's --client-cert-auth
  --etcd-keyfile FILE   its private key
  --etcd-prefix PREFIX  key prefix in etcd (default /metal3/registry)
  --max-requests-inflight N
                        read-only requests served at once; beyond it 429 with Retry-After (default 400;
                        0 = no limit). Watches are not counted; /healthz, /livez, /readyz are exempt
  --max-mutating-requests-inflight N
                        mutating requests served at once, likewise (default 200; 0 = no limit)
  --max-watches-per-client N
                        open watches per client (user and remote address); beyond it 429 (default 100;
                        0 = no limit)
  -h, --help            this text
`;

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A Go duration (`500ms`, `12s`, `1m30s`, `1.5s`), as kube's --etcd-compaction-interval and --leader-elect-* take. */
function durationMs(text: string): number {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) throw new Error(`invalid duration: ${text} (want e.g. 500ms, 30s, 5m)`);
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(n) * unitMs[unit as keyof typeof unitMs];
  return Math.round(ms);
}

/**
 * The Lease timings, checked as client-go's NewLeaderElector checks them. The defaults are shorter than
 * controller-runtime's 15 s / 10 s / 2 s so that a killed leader is replaced within 15 s: the survivor takes
 * the Lease one lease duration after it last saw it renewed, at its next retry.
 */
function leaseTimings(values: { lease?: string; renew?: string; retry?: string }): { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number } {
  const leaseDurationMs = durationMs(values.lease ?? '12s');
  const renewDeadlineMs = durationMs(values.renew ?? '8s');
  const retryPeriodMs = durationMs(values.retry ?? '2s');
  if (retryPeriodMs <= 0) throw new Error('--leader-elect-retry-period must be greater than zero');
  // The Lease records whole seconds; a shorter lease would be written as 0 and never expire for others.
  if (leaseDurationMs < 1000) throw new Error('--leader-elect-lease-duration must be at least 1s');
  if (leaseDurationMs <= renewDeadlineMs) throw new Error('--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline');
  if (renewDeadlineMs <= retryPeriodMs * 1.2) throw new Error('--leader-elect-renew-deadline must be greater than 1.2 × --leader-elect-retry-period');
  return { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      'bind-address': { type: 'string' },
      version: { type: 'boolean' },
      'enable-fake-bmc': { type: 'boolean' },
      'webhook-port': { type: 'string' },
      'ironic-endpoint': { type: 'string' },
      'controller-concurrency': { type: 'string' },
      'max-provisioning-retries': { type: 'string' },
      'simulator-speed': { type: 'string' },
      'disable-reconcilers': { type: 'boolean' },
      'compaction-interval': { type: 'string' },
      'retain-revisions': { type: 'string' },
      'storage-backend': { type: 'string' },
      mode: { type: 'string' },
      kubeconfig: { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'service-name': { type: 'string' },
      'service-namespace': { type: 'string' },
      'token-auth': { type: 'string' },
      'anonymous-auth': { type: 'boolean' },
      'leader-elect': { type: 'string' },
      'leader-elect-lease-duration': { type: 'string' },
      'leader-elect-renew-deadline': { type: 'string' },
      'leader-elect-retry-period': { type: 'string' },
      'etcd-servers': { type: 'string' },
      'etcd-cafile': { type: 'string' },
      'etcd-certfile': { type: 'string' },
      'etcd-keyfile': { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'max-requests-inflight': { type: 'string' },
      'max-mutating-requests-inflight': { type: 'string' },
      'max-watches-per-client': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  if (values.version) {
    process.stdout.write(`${versionInfo().gitVersion}\n`);
    return;
  }
  const dataDir = resolve(values['data-dir'] ?? process.env.METAL3_DATA_DIR ?? '.data');
  const portText = values.port ?? process.env.METAL3_PORT ?? '6443';
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new Error(`invalid port: ${portText}`);
  const bindAddress = values['bind-address'] ?? process.env.METAL3_BIND_ADDRESS ?? '127.0.0.1';
  const compaction = values['compaction-interval'];
  const retain = values['retain-revisions'];
  if (retain !== undefined && !/^\d+$/.test(retain)) throw new Error(`invalid --retain-revisions: ${retain}`);
  const webhookPortText = values['webhook-port'] ?? process.env.METAL3_WEBHOOK_PORT;
  if (webhookPortText !== undefined && (!/^\d+$/.test(webhookPortText) || Number(webhookPortText) > 65535)) {
    throw new Error(`invalid webhook port: ${webhookPortText}`);
  }
  const count = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new Error(`invalid ${name}: ${text}`);
    return Number(text);
  };
  const concurrency = count('--controller-concurrency', values['controller-concurrency'] ?? process.env.BMO_CONCURRENCY);
  const maxRetries = count('--max-provisioning-retries', values['max-provisioning-retries']);
  const speedText = values['simulator-speed'];
  if (speedText !== undefined && !(Number(speedText) >= 0)) throw new Error(`invalid --simulator-speed: ${speedText}`);
  const enableFakeBMC = values['enable-fake-bmc'] ?? process.env.METAL3_ENABLE_FAKE_BMC === 'true';
  const reconcilers = !(values['disable-reconcilers'] ?? process.env.METAL3_DISABLE_RECONCILERS === 'true');
  const backend = values['storage-backend'] ?? process.env.METAL3_STORAGE_BACKEND ?? 'sqlite';
  if (backend !== 'sqlite' && backend !== 'etcd') throw new Error(`invalid --storage-backend: ${backend} (want sqlite or etcd)`);
  const etcdServers = (values['etcd-servers'] ?? process.env.ETCD_SERVERS ?? '').split(',').filter(Boolean);
  const mode = values.mode ?? process.env.METAL3_MODE ?? 'standalone';
  if (mode !== 'standalone' && mode !== 'cluster') throw new Error(`invalid --mode: ${mode} (want standalone or cluster)`);
  const leaseTiming = leaseTimings({ lease: values['leader-elect-lease-duration'], renew: values['leader-elect-renew-deadline'], retry: values['leader-elect-retry-period'] });
  const tokenAuth = values['token-auth'] ?? 'tokenreview';
  if (tokenAuth !== 'tokenreview' && tokenAuth !== 'jwt') throw new Error(`invalid --token-auth: ${tokenAuth}`);
  const common: StandaloneOptions = {
    storageBackend: backend as 'sqlite' | 'etcd',
    etcd: {
      servers: etcdServers,
      caFile: values['etcd-cafile'],
      certFile: values['etcd-certfile'],
      keyFile: values['etcd-keyfile'],
      prefix: values['etcd-prefix'],
    },
    enableFakeBMC,
    webhookPort: webhookPortText === undefined ? undefined : Number(webhookPortText),
    dataDir,
    port: Number(portText),
    bindAddress,
    compactionIntervalMs: compaction === undefined ? undefined : durationMs(compaction),
    retainRevisions: retain === undefined ? undefined : Number(retain),
    overload: {
      maxRequestsInflight: count('--max-requests-inflight', values['max-requests-inflight']),
      maxMutatingRequestsInflight: count('--max-mutating-requests-inflight', values['max-mutating-requests-inflight']),
      maxWatchesPerClient: count('--max-watches-per-client', values['max-watches-per-client']),
    },
  };
  const s =
    mode === 'cluster'
      ? await startClusterMode(common, {
          kubeconfig: values.kubeconfig,
          tlsCertFile: values['tls-cert-file'],
          tlsKeyFile: values['tls-private-key-file'],
          serviceName: values['service-name'],
          serviceNamespace: values['service-namespace'],
          tokenMode: tokenAuth,
          anonymous: values['anonymous-auth'] ?? false,
        })
      : await startStandaloneMode(common);
  let manager: Manager | undefined;
  let closeProvisioner = () => {};
  let provisionerLine = '  reconcilers: disabled\n';
  if (reconcilers) {
    const { startManager, createProvisioner, provisionerSettingsFromEnv } = await loadReconcilers();
    const settings = { ...provisionerSettingsFromEnv(process.env), simulatorSpeed: speedText === undefined ? undefined : Number(speedText) };
    if (values['ironic-endpoint']) settings.ironicEndpoint = values['ironic-endpoint'];
    const choice = createProvisioner(settings);
    closeProvisioner = choice.close;
    const kube = s.controllerClient();
    manager = startManager({
      kube,
      leaderElection:
        s.leaderElection && values['leader-elect'] !== 'false'
          ? {
              ...s.leaderElection,
              ...leaseTiming,
              onLost: () => {
                console.error('reconciler: leadership lost; exiting so that no two replicas reconcile at once');
                process.exit(1);
              },
            }
          : undefined,
      provisioner: choice.provisioner,
      concurrency,
      maxProvisioningRetries: maxRetries,
      enableFakeBMC,
      log: (m) => console.error(`reconciler: ${m}`),
    });
    s.includeMetrics(manager.metrics.registry);
    provisionerLine = `  reconcilers: ${choice.description}\n`;
  }
  process.stdout.write(
    `metal3-apiserver ${versionInfo().gitVersion} serving on ${s.url}\n` +
      provisionerLine +
      `  data directory: ${dataDir}\n` +
      (s.webhookURL ? `  AdmissionReview endpoints on ${s.webhookURL}\n` : '') +
      (s.kubeconfig ? `  try: kubectl --kubeconfig ${s.kubeconfig} get baremetalhosts -A\n` : ''),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`received ${signal}, shutting down\n`);
    (async () => {
      await manager?.stop();
      closeProvisioner();
      await s.stop();
    })().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(`metal3-apiserver: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

interface Running {
  url: string;
  kubeconfig?: string;
  webhookURL?: string;
  /** A client for the reconcilers: to ourselves in standalone mode, to kube-apiserver in a cluster. */
  controllerClient(): HttpKubeClient;
  /** Where the reconcilers' Lease lives, in cluster mode. */
  leaderElection?: { namespace: string; name: string; identity: string };
  includeMetrics(registry: Registry): void;
  stop(): Promise<void>;
}

async function startStandaloneMode(common: StandaloneOptions): Promise<Running> {
  const s = await startStandalone(common);
  return {
    url: s.url,
    kubeconfig: s.kubeconfig,
    webhookURL: s.webhookURL,
    controllerClient() {
      // The controllers get an identity of their own, so the audit trail tells them from the admin.
      const id = issueClientCertificate(s.pki, 'system:serviceaccount:metal3:baremetal-operator', ['system:masters']);
      const kubeconfig = join(common.dataDir, 'controller.kubeconfig');
      writeKubeconfig(kubeconfig, { server: s.url, caPem: s.pki.caCert, certPem: id.cert, keyPem: id.key, user: 'baremetal-operator' });
      return HttpKubeClient.fromKubeconfig(kubeconfig);
    },
    includeMetrics: (r) => s.server.metrics.include(r),
    stop: () => s.stop(),
  };
}

async function startClusterMode(common: StandaloneOptions, cluster: Omit<ClusterOptions, keyof StandaloneOptions>): Promise<Running> {
  const c = await startCluster({ ...common, ...cluster });
  const namespace = cluster.serviceNamespace ?? 'metal3';
  return {
    url: c.url,
    webhookURL: c.webhookURL,
    // In a cluster the reconcilers go through kube-apiserver: hosts come back through the aggregator,
    // Secrets and Events are the cluster's own.
    controllerClient: () => (cluster.kubeconfig ? HttpKubeClient.fromKubeconfig(cluster.kubeconfig) : HttpKubeClient.inCluster()),
    leaderElection: { namespace, name: 'metal3-baremetal-controller', identity: `${hostname()}_${process.pid}` },
    includeMetrics: (r) => c.server.metrics.include(r),
    stop: () => c.stop(),
  };
}
