// Developer entry point (npm run cluster:up / cluster:down):
//   node test/cluster/cli.ts up --dir DIR [--ironic] [--mode cluster|standalone] [--require-available] [--server-arg=--FLAG=VALUE]...
//   node test/cluster/cli.ts down --dir DIR
// `up` leaves everything running after it exits and prints how to reach it; `down` stops what `up` recorded.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { clusterDown, clusterUp } from './up.ts';

const usage = 'usage: cli.ts up --dir DIR [--ironic] [--mode cluster|standalone] [--require-available] [--server-arg=--FLAG=VALUE]... | down --dir DIR';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      ironic: { type: 'boolean', default: false },
      mode: { type: 'string', default: 'cluster' },
      'require-available': { type: 'boolean', default: false },
      'server-arg': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command] = positionals;
  if (values.help) {
    console.log(usage);
    return;
  }
  if (!values.dir || (command !== 'up' && command !== 'down')) throw new Error(usage);
  const dir = resolve(values.dir);
  if (command === 'down') {
    const t = Date.now();
    const stopped = await clusterDown(dir);
    console.log(
      stopped.length
        ? `stopped ${stopped.map((r) => `${r.name} (pid ${r.pid})`).join(', ')} in ${Date.now() - t}ms`
        : `nothing of ours was running in ${dir}`,
    );
    return;
  }
  if (values.mode !== 'standalone' && values.mode !== 'cluster') throw new Error(`--mode must be standalone or cluster, not ${values.mode}`);
  const c = await clusterUp({
    dir,
    ironic: values.ironic,
    serverMode: values.mode,
    serverArgs: values['server-arg'],
    requireAvailable: values['require-available'],
    outlive: true,
    log: (l) => console.error(l),
  });
  console.log(
    [
      `kube-apiserver: ${c.controlPlane.url}`,
      `metal3-apiserver: ${c.serverURL}${c.ironicEndpoint ? ` (Ironic ${c.ironicEndpoint})` : ''}`,
      `admin:        export KUBECONFIG=${c.controlPlane.adminKubeconfig}`,
      `unprivileged: kubectl --kubeconfig ${c.controlPlane.userKubeconfig} ...`,
      `logs: ${dir}/*.log; stop with: npm run cluster:down -- --dir ${dir}`,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
