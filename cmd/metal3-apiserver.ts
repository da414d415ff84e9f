#!/usr/bin/env node
// metal3-apiserver: the command line, and the one place that composes the API server with the
// reconcilers. They meet only here: the reconcilers reach the server through the Kubernetes API, with a
// client certificate of their own. Flags win over environment variables, which win over defaults.
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { startStandalone } from '../apiserver/standalone.ts';
import { versionInfo } from '../apiserver/version.ts';
import { issueClientCertificate } from '../apiserver/auth/pki.ts';
import { writeKubeconfig } from '../apiserver/auth/kubeconfig.ts';
import { HttpKubeClient } from '../api/client/kubeclient.ts';
import { startManager, type Manager } from '../reconcilers/manager.ts';
import { createProvisioner, provisionerSettingsFromEnv } from '../reconcilers/config.ts';

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
                        hosts reconciled at once (env BMO_CONCURRENCY, default 8)
  --max-provisioning-retries N
                        provisioning attempts of one image before giving up (default 5; 0 = no limit)
  --simulator-speed F   multiplies the simulator's delays (default 1; e.g. 0.1 for demos and tests)
  --disable-reconcilers serve the API only (env METAL3_DISABLE_RECONCILERS=true)
  --version             print the version and exit
  --compaction-interval DURATION
                        how often the storage log is compacted, e.g. 500ms, 30s, 5m (default 5m; for tests)
  --retain-revisions N  revisions kept by each compaction (default 10000; for tests)
  --storage-backend sqlite|etcd
                        where objects live (env METAL3_STORAGE_BACKEND, default sqlite: DATA_DIR/state.db)
  --etcd-servers URLS   comma-separated etcd client URLs, e.g. https://10.0.0.1:2379 (env ETCD_SERVERS)
  --etcd-cafile FILE    CA bundle that signed the etcd members' serving certificates
  --etcd-certfile FILE  client certificate for etcd's --client-cert-auth
  --etcd-keyfile FILE   its private key
  --etcd-prefix PREFIX  key prefix in etcd (default /metal3/registry)
  -h, --help            this text
`;

/** A Go-style duration (`500ms`, `30s`, `5m`, `1h`), as kube's --etcd-compaction-interval takes. */
function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`invalid duration: ${text} (want e.g. 500ms, 30s, 5m)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
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
      'etcd-servers': { type: 'string' },
      'etcd-cafile': { type: 'string' },
      'etcd-certfile': { type: 'string' },
      'etcd-keyfile': { type: 'string' },
      'etcd-prefix': { type: 'string' },
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
  const s = await startStandalone({
    storageBackend: backend,
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
  });
  let manager: Manager | undefined;
  let closeProvisioner = () => {};
  let provisionerLine = '  reconcilers: disabled\n';
  if (reconcilers) {
    const settings = { ...provisionerSettingsFromEnv(process.env), simulatorSpeed: speedText === undefined ? undefined : Number(speedText) };
    if (values['ironic-endpoint']) settings.ironicEndpoint = values['ironic-endpoint'];
    const choice = createProvisioner(settings);
    closeProvisioner = choice.close;
    // The controllers get an identity of their own, so the audit trail tells them from the admin.
    const id = issueClientCertificate(s.pki, 'system:serviceaccount:metal3:baremetal-operator', ['system:masters']);
    const kubeconfig = join(dataDir, 'controller.kubeconfig');
    writeKubeconfig(kubeconfig, { server: s.url, caPem: s.pki.caCert, certPem: id.cert, keyPem: id.key, user: 'baremetal-operator' });
    manager = startManager({
      kube: HttpKubeClient.fromKubeconfig(kubeconfig),
      provisioner: choice.provisioner,
      concurrency,
      maxProvisioningRetries: maxRetries,
      enableFakeBMC,
      log: (m) => console.error(`reconciler: ${m}`),
    });
    s.server.metrics.include(manager.metrics.registry);
    provisionerLine = `  reconcilers: ${choice.description}\n`;
  }
  process.stdout.write(
    `metal3-apiserver ${versionInfo().gitVersion} serving on ${s.url}\n` +
      provisionerLine +
      `  data directory: ${dataDir}\n` +
      (s.webhookURL ? `  AdmissionReview endpoints on ${s.webhookURL}\n` : '') +
      `  try: kubectl --kubeconfig ${s.kubeconfig} get baremetalhosts -A\n`,
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
