// Developer entry point for the test Ironic (scripts/ironic-up.sh, scripts/ironic-down.sh):
//   node test/ironic/cli.ts up DIR [--auth noauth|http_basic] [--single] [--api-port N] [--delays power=1,deploy=3]
//   node test/ironic/cli.ts down DIR
// `up` leaves Ironic running after it exits and prints the endpoint; `down` stops the processes whose PID
// files are in DIR, if they are still that Ironic.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startIronic, stopIronicDir, type FakeDelays, type IronicAuth } from './harness.ts';

function parseDelays(spec: string | undefined): FakeDelays {
  const out: FakeDelays = {};
  if (!spec) return out;
  for (const part of spec.split(',')) {
    const [name, value] = part.split('=');
    if (!['power', 'boot', 'deploy', 'inspect', 'management'].includes(name)) throw new Error(`unknown fake delay ${name}`);
    out[name as keyof FakeDelays] = Number(value);
  }
  return out;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      auth: { type: 'string', default: 'noauth' },
      single: { type: 'boolean', default: false },
      'api-port': { type: 'string' },
      delays: { type: 'string' },
    },
  });
  const [command, dirArg] = positionals;
  if (!dirArg || (command !== 'up' && command !== 'down')) {
    throw new Error('usage: cli.ts up DIR [--auth noauth|http_basic] [--single] [--api-port N] [--delays power=1,...] | down DIR');
  }
  const dir = resolve(dirArg);
  if (command === 'down') {
    const stopped = await stopIronicDir(dir);
    console.log(stopped.length ? `stopped Ironic (pids ${stopped.join(' ')})` : 'no Ironic of ours was running');
    return;
  }
  if (values.auth !== 'noauth' && values.auth !== 'http_basic') throw new Error(`--auth must be noauth or http_basic, not ${values.auth}`);
  const ironic = await startIronic({
    dir,
    outliveProcess: true,
    auth: values.auth as IronicAuth,
    split: !values.single,
    apiPort: values['api-port'] ? Number(values['api-port']) : undefined,
    fakeDelays: parseDelays(values.delays),
  });
  console.log(ironic.endpoint);
  if (ironic.basicAuth) console.error(`http_basic credentials: METAL3_AUTH_ROOT_DIR=${dir}/auth`);
  console.error(`logs: ${dir}/log; stop with scripts/ironic-down.sh ${dirArg}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
