// The whole stack for the lifecycle suites: Debian's Ironic on loopback, the real server with its
// reconcilers pointed at it, and kubectl as the user's hand. Assertions read the API (through the admin
// client) and Ironic itself (its REST API, and its database for what the API masks).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BareMetalHost, BareMetalHostStatus } from '../../api/kinds/baremetalhost.ts';
import type { KubeObject } from '../../api/types.ts';
import { IronicClient } from '../../reconcilers/ironic/client.ts';
import type { IronicNode } from '../../reconcilers/ironic/types.ts';
import { closeClient, request } from '../e2e/client.ts';
import { createNamespace, kubectlOK, requireKubectl, startServer, withReconcilers, type RunningServer } from '../e2e/harness.ts';
import { ironicSkipReason, startIronic, type IronicOptions, type RunningIronic } from '../ironic/harness.ts';

/** Why the suites would skip (never under CI=true: there they fail when Ironic cannot start). */
export const skip = ironicSkipReason();

export type Host = BareMetalHost & { status?: BareMetalHostStatus };

export interface Stack {
  ironic: RunningIronic;
  server: RunningServer;
  /** Ironic as the test sees it, with the same authentication the server uses. */
  client: IronicClient;
  namespace: string;
  stop(): Promise<void>;
}

export interface StackOptions extends IronicOptions {
  namespace?: string;
  /** Point the server at Ironic's basic-auth files through BMO's METAL3_AUTH_ROOT_DIR (http_basic only). */
  authThroughEnv?: boolean;
  serverArgs?: string[];
  /** How often the reconcilers poll Ironic (default 500 ms). */
  pollIntervalMs?: number;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  requireKubectl();
  const ironic = await startIronic(opts);
  const env: NodeJS.ProcessEnv = {
    // A developer's BMO environment must not leak into the suites.
    METAL3_AUTH_ROOT_DIR: opts.authThroughEnv ? join(ironic.dir, 'auth') : join(ironic.dir, 'no-auth-files'),
    IRONIC_ENDPOINT: '',
    PROVISIONING_LIMIT: '',
    // BMO's 3 s / 10 s polls would stretch each suite past a minute; Ironic's fake driver answers at once.
    METAL3_IRONIC_POLL_INTERVAL_MS: String(opts.pollIntervalMs ?? 500),
  };
  let server: RunningServer;
  try {
    server = await startServer([withReconcilers, '--enable-fake-bmc', '--ironic-endpoint', ironic.endpoint, ...(opts.serverArgs ?? [])], env);
  } catch (e) {
    await ironic.stop();
    throw e;
  }
  const namespace = opts.namespace ?? 'lifecycle';
  await createNamespace(server, namespace);
  const client = new IronicClient({ endpoint: ironic.endpoint, basicAuth: ironic.basicAuth });
  return {
    ironic,
    server,
    client,
    namespace,
    async stop() {
      client.close();
      closeClient(server);
      await server.stop();
      await ironic.stop();
    },
  };
}

export const PASSWORD_PREFIX = 'bmc-secret-';

export interface HostOptions {
  /** Default: a Secret `<name>-bmc` with username admin and a unique password. */
  credentialsName?: string;
  createSecret?: boolean;
  password?: string;
  online?: boolean;
  spec?: Record<string, unknown>;
  annotations?: Record<string, string>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export function secretManifest(namespace: string, name: string, data: Record<string, string>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) });
}

/** A Secret and a BareMetalHost with a fake:// BMC, created with kubectl as a user would. */
export async function createHost(stack: Stack, name: string, opts: HostOptions = {}): Promise<void> {
  const ns = stack.namespace;
  const credentialsName = opts.credentialsName ?? `${name}-bmc`;
  if (opts.createSecret ?? true) {
    await kubectlOK(stack.server, ['apply', '-f', '-'], { input: secretManifest(ns, credentialsName, { username: 'admin', password: opts.password ?? `${PASSWORD_PREFIX}${name}` }) });
  }
  const host = {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace: ns, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: { online: opts.online ?? true, bmc: { address: `fake://${name}`, credentialsName }, bootMode: 'UEFI', ...opts.spec },
  };
  await kubectlOK(stack.server, ['apply', '-f', '-'], { input: JSON.stringify(host) });
}

const hostPath = (ns: string, name: string) => `/apis/metal3.io/v1alpha1/namespaces/${ns}/baremetalhosts/${name}`;

/** The host as stored, or undefined once it is gone. A raw GET: polling through kubectl costs 100 ms a call. */
export async function getHost(stack: Stack, name: string): Promise<Host | undefined> {
  const r = await request(stack.server, 'GET', hostPath(stack.namespace, name));
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, r.body);
  return r.json() as Host;
}

export async function getObject(stack: Stack, plural: string, name: string, group = 'metal3.io/v1alpha1'): Promise<KubeObject | undefined> {
  const prefix = group === 'v1' ? '/api/v1' : `/apis/${group}`;
  const r = await request(stack.server, 'GET', `${prefix}/namespaces/${stack.namespace}/${plural}/${name}`);
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, r.body);
  return r.json() as KubeObject;
}

export const stateOf = (h: Host | undefined) => h?.status?.provisioning?.state ?? '';

/** Polls the host until pred holds; the failure names the last state seen and the server's tail. */
export async function waitForHost(stack: Stack, name: string, pred: (h: Host | undefined) => boolean, what: string, timeoutMs = 45_000): Promise<Host | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: Host | undefined;
  for (;;) {
    last = await getHost(stack, name);
    if (pred(last)) return last;
    if (Date.now() > deadline) {
      const s = last?.status;
      throw new Error(
        `${name}: timed out after ${timeoutMs} ms waiting for ${what}; state ${JSON.stringify(stateOf(last))}, ` +
          `operationalStatus ${s?.operationalStatus}, error ${JSON.stringify(s?.errorType)} ${JSON.stringify(s?.errorMessage)}\n` +
          `server output (tail):\n${stack.server.output().split('\n').slice(-30).join('\n')}`,
      );
    }
    await sleep(200);
  }
}

export async function waitForState(stack: Stack, name: string, state: string, timeoutMs?: number): Promise<Host> {
  const h = await waitForHost(stack, name, (x) => stateOf(x) === state, `state ${JSON.stringify(state)}`, timeoutMs);
  return h as Host;
}

export async function waitUntil<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

export interface EventView {
  type: string;
  reason: string;
  message: string;
  count?: number;
}

/** The host's Events, as `kubectl get events --field-selector involvedObject.name=NAME` lists them. */
export async function hostEvents(stack: Stack, name: string): Promise<EventView[]> {
  const out = await kubectlOK(stack.server, ['get', 'events', '-n', stack.namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json']);
  const list = JSON.parse(out) as { items: EventView[] };
  return list.items.map((e) => ({ type: e.type, reason: e.reason, message: e.message, count: e.count }));
}

export async function waitForEvent(stack: Stack, name: string, reason: string, timeoutMs = 20_000): Promise<EventView> {
  return waitUntil(async () => (await hostEvents(stack, name)).find((e) => e.reason === reason), `event ${reason} on ${name}`, timeoutMs);
}

/** POST to a host's action subresource with `kubectl create --raw`, as the README shows. */
export async function postAction(stack: Stack, name: string, action: 'provision' | 'inspect', body: Record<string, unknown>): Promise<unknown> {
  const file = join(stack.server.dataDir, `${name}-${action}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(body));
  return JSON.parse(await kubectlOK(stack.server, ['create', '--raw', `${hostPath(stack.namespace, name)}/${action}`, '-f', file])) as unknown;
}

export async function patchHost(stack: Stack, name: string, patch: Record<string, unknown>): Promise<void> {
  await kubectlOK(stack.server, ['patch', 'bmh', name, '-n', stack.namespace, '--type', 'merge', '-p', JSON.stringify(patch)]);
}

/** Ironic's node of a host (named namespace~name, as BMO names them). */
export async function nodeOf(stack: Stack, name: string): Promise<IronicNode | undefined> {
  return stack.client.getNode(`${stack.namespace}~${name}`);
}

export async function nodeNames(stack: Stack): Promise<string[]> {
  return (await stack.client.listNodes(['uuid', 'name'])).map((n) => n.name ?? '').sort();
}

/** The config drive Ironic stored for a node, read from its database: the API masks it. */
export function storedInstanceInfo(stack: Stack, uuid: string): Record<string, unknown> {
  const db = new DatabaseSync(join(stack.ironic.dir, 'ironic.sqlite'), { readOnly: true });
  try {
    const row = db.prepare('SELECT instance_info FROM nodes WHERE uuid = ?').get(uuid) as { instance_info?: string } | undefined;
    return row?.instance_info ? (JSON.parse(row.instance_info) as Record<string, unknown>) : {};
  } finally {
    db.close();
  }
}

/** Fails when a planted secret shows anywhere the server printed, or in the host's status and events. */
export async function assertNoLeak(stack: Stack, secrets: string[], hosts: string[]): Promise<void> {
  const out = stack.server.output();
  for (const s of secrets) assert.ok(!out.includes(s), `server output contains a planted secret`);
  for (const name of hosts) {
    const h = await getHost(stack, name);
    const events = JSON.stringify(await hostEvents(stack, name));
    for (const s of secrets) {
      assert.ok(!JSON.stringify(h?.status ?? {}).includes(s), `status of ${name} contains a planted secret`);
      assert.ok(!events.includes(s), `events of ${name} contain a planted secret`);
    }
  }
}

export const image = {
  url: 'http://127.0.0.1:8088/images/os.qcow2',
  checksum: 'a'.repeat(64),
  checksumType: 'sha256',
  format: 'qcow2',
};
