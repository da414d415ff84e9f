// kubectl-metal3: the kubectl plugin for the BareMetalHost actions. Every request goes through the user's own
// kubectl (create --raw, patch, annotate), so the kubeconfig, context, credentials and the way server errors
// are shown are exactly kubectl's; the plugin only builds the request and words the answer.
import { spawn } from 'node:child_process';
import { stringify as toYAML } from 'yaml';

const resource = 'baremetalhosts.metal3.io';
const kindName = 'baremetalhost.metal3.io';
const apiVersion = 'metal3.io/v1alpha1';

class UsageError extends Error {}

/** kubectl's global flags that take a value; they are passed through to every kubectl call. */
const globalValueFlags = new Set([
  'kubeconfig', 'context', 'cluster', 'user', 'server', 'token', 'as', 'as-group', 'as-uid',
  'certificate-authority', 'client-certificate', 'client-key', 'request-timeout', 'tls-server-name', 'cache-dir', 'v',
]);
const globalBoolFlags = new Set(['insecure-skip-tls-verify']);
const shortGlobals: Record<string, string> = { s: 'server', v: 'v' };

interface FlagSpec {
  /** Flags taking a value, with their one-letter aliases. */
  values: Record<string, string | undefined>;
  bools: Set<string>;
}

interface Parsed {
  positional: string[];
  values: Map<string, string>;
  bools: Map<string, boolean>;
  globals: string[];
  namespace?: string;
  help: boolean;
}

/** Parses kubectl-style flags: --flag value, --flag=value, -f value, booleans as --flag or --flag=false. */
function parseArgs(args: string[], spec: FlagSpec): Parsed {
  const p: Parsed = { positional: [], values: new Map(), bools: new Map(), globals: [], help: false };
  const shortValues = new Map(Object.entries(spec.values).filter(([, s]) => s).map(([long, s]) => [s as string, long]));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      p.positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      p.positional.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const eq = arg.indexOf('=');
    let name = arg.slice(long ? 2 : 1, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (!long) name = name === 'n' ? 'namespace' : name === 'h' ? 'help' : (shortValues.get(name) ?? shortGlobals[name] ?? `-${name}`);
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= args.length) throw new UsageError(`flag needs an argument: ${arg}`);
      return args[++i];
    };
    if (name === 'help') {
      p.help = true;
    } else if (name === 'namespace') {
      p.namespace = takeValue();
    } else if (globalValueFlags.has(name)) {
      p.globals.push(`--${name}=${takeValue()}`);
    } else if (globalBoolFlags.has(name)) {
      p.globals.push(`--${name}=${inline ?? 'true'}`);
    } else if (name in spec.values) {
      p.values.set(name, takeValue());
    } else if (spec.bools.has(name)) {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') throw new UsageError(`invalid argument "${inline}" for "${arg}": must be true or false`);
      p.bools.set(name, inline !== 'false');
    } else {
      throw new UsageError(`unknown flag: ${long ? '--' : '-'}${name.replace(/^-/, '')}`);
    }
  }
  return p;
}

interface KubectlRun {
  code: number;
  stdout: string;
}

/** Runs kubectl with the user's environment; its stderr (server errors, warnings) goes straight to ours. */
function kubectl(args: string[], input?: string): Promise<KubectlRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.KUBECTL ?? 'kubectl', args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.once('error', (err) => reject(new UsageError(`cannot run kubectl: ${err.message}`)));
    child.once('close', (code) => resolve({ code: code ?? 1, stdout }));
    child.stdin.end(input ?? '');
  });
}

/** The namespace kubectl would use: -n, else the context's namespace, else "default". */
async function resolveNamespace(p: Parsed): Promise<string> {
  if (p.namespace) return p.namespace;
  const r = await new Promise<KubectlRun>((resolve) => {
    const child = spawn(process.env.KUBECTL ?? 'kubectl', ['config', 'view', '--minify', '-o', 'jsonpath={.contexts[0].context.namespace}', ...p.globals], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.once('error', () => resolve({ code: 1, stdout: '' }));
    child.once('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
  return (r.code === 0 && r.stdout.trim()) || 'default';
}

function dryRunOf(p: Parsed): boolean {
  const d = p.values.get('dry-run');
  if (d === undefined || d === 'none') return false;
  if (d === 'server') return true;
  throw new UsageError(`--dry-run=${d} is not supported: use --dry-run=server (the server decides whether an action is allowed)`);
}

function hostArg(p: Parsed, verb: string): string {
  if (p.positional.length !== 1) throw new UsageError(`${verb} takes exactly one host name, got ${p.positional.length}`);
  return p.positional[0];
}

const outputFormats = new Set(['json', 'yaml', 'name']);

function outputOf(p: Parsed): string | undefined {
  const o = p.values.get('output');
  if (o !== undefined && !outputFormats.has(o)) throw new UsageError(`unable to match a printer suitable for the output format "${o}", allowed formats are: ${[...outputFormats].join(',')}`);
  return o;
}

/** Prints a subresource answer as -o asks, or as kubectl's one-line message. */
function report(host: string, message: string, dryRun: boolean, output: string | undefined, body: string): void {
  if (output === 'json') process.stdout.write(`${JSON.stringify(JSON.parse(body), null, 4)}\n`);
  else if (output === 'yaml') process.stdout.write(toYAML(JSON.parse(body)));
  else if (output === 'name') process.stdout.write(`${kindName}/${host}\n`);
  else process.stdout.write(`${kindName}/${host} ${message}${dryRun ? ' (server dry run)' : ''}\n`);
}

/** POSTs a body to a host's subresource with `kubectl create --raw`, so kubectl's auth and error output apply. */
async function postAction(p: Parsed, host: string, action: string, body: unknown, dryRun: boolean): Promise<KubectlRun> {
  const ns = await resolveNamespace(p);
  const path = `/apis/${apiVersion}/namespaces/${encodeURIComponent(ns)}/baremetalhosts/${encodeURIComponent(host)}/${action}${dryRun ? '?dryRun=All' : ''}`;
  return kubectl(['create', '--raw', path, '-f', '-', ...p.globals], JSON.stringify(body));
}

interface Verb {
  usage: string;
  flags: FlagSpec;
  run(p: Parsed): Promise<number>;
}

const commonHelp = `
Global options: --kubeconfig, --context, -n/--namespace and kubectl's other connection flags are honoured;
every request is made by kubectl itself.`;

const inspect: Verb = {
  usage: `Request a (re-)inspection of an available host (POST baremetalhosts/HOST/inspect).

Usage:
  kubectl metal3 inspect HOST [-n NAMESPACE] [--force] [--dry-run=server] [-o json|yaml|name]

Options:
  --force=false        request an inspection even while one is already requested or in progress
  --dry-run=none       "server" asks the server to check the request without acting on it
  -o, --output=''      print the server's InspectionRequest answer as json or yaml, or the host as name
${commonHelp}`,
  flags: { values: { 'dry-run': undefined, output: 'o' }, bools: new Set(['force']) },
  async run(p) {
    const host = hostArg(p, 'inspect');
    const dryRun = dryRunOf(p);
    const output = outputOf(p);
    const body: Record<string, unknown> = { apiVersion, kind: 'InspectionRequest' };
    if (p.bools.has('force')) body.force = p.bools.get('force');
    const r = await postAction(p, host, 'inspect', body, dryRun);
    if (r.code === 0) report(host, 'inspection requested', dryRun, output, r.stdout);
    return r.code;
  },
};

/** KIND/NAME, or Kind.version.group/NAME (kubectl's fully qualified form) to give the consumer's apiVersion. */
function consumerRef(value: string, namespace: string): Record<string, string> {
  const slash = value.indexOf('/');
  if (slash <= 0 || slash === value.length - 1) throw new UsageError(`--consumer must be KIND/NAME (e.g. Metal3Machine/worker-0), got "${value}"`);
  const [kind, version, ...group] = value.slice(0, slash).split('.');
  const ref: Record<string, string> = { kind, name: value.slice(slash + 1), namespace };
  if (version) ref.apiVersion = group.length ? `${group.join('.')}/${version}` : version;
  return ref;
}

const provision: Verb = {
  usage: `Set what a host runs, in one atomic write (POST baremetalhosts/HOST/provision). Fields left out
(user data, network data, ...) are cleared, so nothing stale is deployed.

Usage:
  kubectl metal3 provision HOST --image URL --checksum CHECKSUM [options]
  kubectl metal3 provision HOST --custom-deploy METHOD [options]

Options:
  --image=''           URL of the image to write to the disk
  --checksum=''        checksum of the image, or the URL of a file holding it
  --checksum-type=''   md5, sha256, sha512 or auto (default: the server's, from the checksum)
  --format=''          raw, qcow2, vdi, vmdk, live-iso
  --custom-deploy=''   a custom deploy method instead of an image
  --user-data=''       name of the Secret holding the cloud-init user data
  --network-data=''    name of the Secret holding the network data
  --meta-data=''       name of the Secret holding the meta data
  --consumer=''        KIND/NAME (or Kind.version.group/NAME) of the object consuming the host
  --online=true        power the host on once provisioned
  --dry-run=none       "server" asks the server to check the request without storing it
  -o, --output=''      print the resulting BareMetalHost as json or yaml, or its name
${commonHelp}`,
  flags: {
    values: {
      image: undefined, checksum: undefined, 'checksum-type': undefined, format: undefined, 'custom-deploy': undefined,
      'user-data': undefined, 'network-data': undefined, 'meta-data': undefined, consumer: undefined, 'dry-run': undefined, output: 'o',
    },
    bools: new Set(['online']),
  },
  async run(p) {
    const host = hostArg(p, 'provision');
    const dryRun = dryRunOf(p);
    const output = outputOf(p);
    const v = (name: string) => p.values.get(name);
    if (!v('image') && !v('custom-deploy')) throw new UsageError('one of --image or --custom-deploy is required');
    for (const f of ['checksum', 'checksum-type', 'format']) {
      if (v(f) !== undefined && !v('image')) throw new UsageError(`--${f} describes an image: it needs --image`);
    }
    const body: Record<string, unknown> = { apiVersion, kind: 'ProvisionRequest' };
    const image = v('image');
    if (image) {
      body.image = {
        url: image,
        ...(v('checksum') !== undefined ? { checksum: v('checksum') } : {}),
        ...(v('checksum-type') !== undefined ? { checksumType: v('checksum-type') } : {}),
        ...(v('format') !== undefined ? { format: v('format') } : {}),
      };
    }
    const method = v('custom-deploy');
    if (method) body.customDeploy = { method };
    for (const [flag, field] of [['user-data', 'userData'], ['network-data', 'networkData'], ['meta-data', 'metaData']] as const) {
      const secret = v(flag);
      if (secret) body[field] = { name: secret };
    }
    const consumer = v('consumer');
    if (consumer) body.consumerRef = consumerRef(consumer, await resolveNamespace(p));
    if (p.bools.has('online')) body.online = p.bools.get('online');
    const r = await postAction(p, host, 'provision', body, dryRun);
    if (r.code === 0) report(host, 'provisioning requested', dryRun, output, r.stdout);
    return r.code;
  },
};

const power: Verb = {
  usage: `Power a host on or off (sets spec.online), or reboot it (the reboot.metal3.io annotation).

Usage:
  kubectl metal3 power on HOST [-n NAMESPACE] [--dry-run=server]
  kubectl metal3 power off HOST [-n NAMESPACE] [--dry-run=server]
  kubectl metal3 power reboot HOST [-n NAMESPACE] [--hard] [--dry-run=server]

Options:
  --hard=false         reboot with a hard power cycle instead of a soft (ACPI) one
  --dry-run=none       "server" asks the server to check the change without storing it
${commonHelp}`,
  flags: { values: { 'dry-run': undefined }, bools: new Set(['hard']) },
  async run(p) {
    const [action, ...rest] = p.positional;
    if (action !== 'on' && action !== 'off' && action !== 'reboot') throw new UsageError(`power needs one of on, off or reboot, got "${action ?? ''}"`);
    const host = hostArg({ ...p, positional: rest }, `power ${action}`);
    const dryRun = dryRunOf(p);
    if (p.bools.has('hard') && action !== 'reboot') throw new UsageError('--hard applies to reboot only');
    const ns = p.namespace ? ['-n', p.namespace] : [];
    const dry = dryRun ? ['--dry-run=server'] : [];
    let r: KubectlRun;
    if (action === 'reboot') {
      // The base annotation asks for one reboot: the controller powers off, removes it, and powers on again.
      const value = p.bools.get('hard') ? JSON.stringify({ mode: 'hard' }) : '';
      r = await kubectl(['annotate', resource, host, `reboot.metal3.io=${value}`, '--overwrite', '-o', 'name', ...ns, ...dry, ...p.globals]);
    } else {
      const patch = JSON.stringify({ spec: { online: action === 'on' } });
      r = await kubectl(['patch', resource, host, '--type', 'merge', '-p', patch, '-o', 'name', ...ns, ...dry, ...p.globals]);
    }
    if (r.code === 0) process.stdout.write(`${kindName}/${host} ${action === 'reboot' ? 'reboot requested' : `power ${action} requested`}${dryRun ? ' (server dry run)' : ''}\n`);
    return r.code;
  },
};

const verbs: Record<string, Verb> = { inspect, provision, power };

const topUsage = `kubectl metal3 acts on Metal3 BareMetalHosts through the metal3.io API.

Commands:
  inspect     request a (re-)inspection of an available host
  provision   set the image (or custom deploy) and cloud-init data of a host, in one write
  power       power a host on or off, or reboot it

Usage:
  kubectl metal3 COMMAND HOST [options]

Use "kubectl metal3 COMMAND --help" for more information about a command.
`;

async function main(argv: string[]): Promise<number> {
  const [verbName, ...rest] = argv;
  if (verbName === undefined || verbName === '--help' || verbName === '-h' || verbName === 'help') {
    const topic = verbName === 'help' ? rest[0] : undefined;
    process.stdout.write(topic && verbs[topic] ? `${verbs[topic].usage}\n` : topUsage);
    return verbName === undefined ? 1 : 0;
  }
  const verb = verbs[verbName];
  try {
    if (!verb) throw new UsageError(`unknown command "${verbName}" for "kubectl metal3"`);
    const parsed = parseArgs(rest, verb.flags);
    if (parsed.help) {
      process.stdout.write(`${verb.usage}\n`);
      return 0;
    }
    return await verb.run(parsed);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\nSee 'kubectl metal3 ${verb ? `${verbName} ` : ''}--help' for usage.\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
