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
  --version             print the version and exit
  -h, --help            this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      'bind-address': { type: 'string' },
      version: { type: 'boolean' },
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
  const s = await startStandalone({ dataDir, port: Number(portText), bindAddress });
  process.stdout.write(
    `metal3-apiserver ${versionInfo().gitVersion} serving on ${s.url}\n` +
      `  data directory: ${dataDir}\n` +
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
