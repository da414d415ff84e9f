#!/usr/bin/env node
// metal3-apiserver: the command line. Flags win over environment variables, which win over defaults.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { startStandalone } from './standalone.ts';
import { versionInfo } from './version.ts';

const usage = `Usage: metal3-apiserver [flags]

  --data-dir DIR        state, certificates and kubeconfig (env METAL3_DATA_DIR, default ./.data)
  --port N              HTTPS port (env METAL3_PORT, default 6443; 0 picks a free port)
  --bind-address ADDR   listen address (env METAL3_BIND_ADDRESS, default 127.0.0.1)
  --enable-fake-bmc     accept fake://NAME BMC addresses, for tests and demos (env METAL3_ENABLE_FAKE_BMC=true)
  --webhook-port N      also serve BMO's AdmissionReview endpoints (/validate-metal3-io-v1alpha1-<kind>,
                        /mutate-...) on this HTTPS port, without client authentication, for clusters
                        that run the generated CRDs (env METAL3_WEBHOOK_PORT; default off)
  --version             print the version and exit
  --compaction-interval DURATION
                        how often the storage log is compacted, e.g. 500ms, 30s, 5m (default 5m; for tests)
  --retain-revisions N  revisions kept by each compaction (default 10000; for tests)
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
      'compaction-interval': { type: 'string' },
      'retain-revisions': { type: 'string' },
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
  const s = await startStandalone({
    enableFakeBMC: values['enable-fake-bmc'] ?? process.env.METAL3_ENABLE_FAKE_BMC === 'true',
    webhookPort: webhookPortText === undefined ? undefined : Number(webhookPortText),
    dataDir,
    port: Number(portText),
    bindAddress,
    compactionIntervalMs: compaction === undefined ? undefined : durationMs(compaction),
    retainRevisions: retain === undefined ? undefined : Number(retain),
  });
  process.stdout.write(
    `metal3-apiserver ${versionInfo().gitVersion} serving on ${s.url}\n` +
      `  data directory: ${dataDir}\n` +
      (s.webhookURL ? `  AdmissionReview endpoints on ${s.webhookURL}\n` : '') +
      `  try: kubectl --kubeconfig ${s.kubeconfig} get baremetalhosts -A\n`,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`received ${signal}, shutting down\n`);
    s.stop().then(
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
