// Admission's cost per create with no HTTP in the way: three API servers built in this process over
// in-memory SQLite, driven by calling the BareMetalHost store's create directly.
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../../api/types.ts';
import { createAPIServer, type APIServer, type ServedKind } from '../../apiserver/server.ts';
import { standaloneKinds } from '../../apiserver/standalone.ts';
import { SqliteStorage } from '../../apiserver/storage/sqlite.ts';
import { storeConfigSource } from '../../apiserver/admission/store-source.ts';
import { resourceKey } from '../../apiserver/handlers/resource.ts';
import type { Store, WriteContext } from '../../apiserver/registry/store.ts';
import { PolicyEngine } from '../../webhooks/policy/index.ts';
import { WebhookDispatcher } from '../../webhooks/dispatch/index.ts';
import type { Admission } from '../../webhooks/types.ts';
import { bareMetalHost } from '../api/fixtures.ts';
import { summarize, type LatencySummary } from '../api/stats.ts';
import { admissionObjects, benchNamespace, benchNamespaceObject } from './policies.ts';

export type Configuration = 'off' | 'builtin' | 'policies';

export const configurations: readonly Configuration[] = ['off', 'builtin', 'policies'];

export const describeConfiguration: Record<Configuration, string> = {
  off: 'admission off',
  builtin: 'built-in admission',
  policies: 'built-in + 20 policies',
};

const ctx = (): WriteContext => ({
  user: { name: 'bench', groups: ['system:masters', 'system:authenticated'] },
  dryRun: false,
  fieldManager: 'bench-admission',
  fieldValidation: 'Strict',
  warnings: [],
});

interface Bench {
  config: Configuration;
  server: APIServer;
  hosts: Store;
  /** Time spent inside the policy plugin, per create (empty unless policies are bound). */
  policyMs: number[];
  dispatcher?: WebhookDispatcher;
}

/** The standalone kinds; with admission off, the metal3.io kinds lose their built-in strategies. */
export function kindsFor(config: Configuration): ServedKind[] {
  const kinds = standaloneKinds({ enableFakeBMC: false });
  if (config !== 'off') return kinds;
  return kinds.map((k) => (k.def.group === 'metal3.io' ? { def: k.def } : k));
}

async function build(config: Configuration): Promise<Bench> {
  const policyMs: number[] = [];
  let dispatcher: WebhookDispatcher | undefined;
  const server = createAPIServer({
    storage: SqliteStorage.open(':memory:'),
    kinds: kindsFor(config),
    // The plugins standalone mode runs (policies, then webhooks), with the policy plugin timed.
    admission:
      config === 'off'
        ? undefined
        : (stores): Admission[] => {
            const source = storeConfigSource(stores);
            const engine = new PolicyEngine(source);
            dispatcher = new WebhookDispatcher(source);
            const policies: Admission = {
              async validate(attrs, warnings) {
                const t0 = performance.now();
                await engine.validate(attrs, warnings);
                if (attrs.resource === 'baremetalhosts') policyMs.push(performance.now() - t0);
              },
            };
            return [policies, dispatcher];
          },
    authenticate: (_req, _res, next) => next(),
    serverAddress: '127.0.0.1:0',
  });
  await server.start();
  const store = (group: string, plural: string) => {
    const s = server.stores.get(resourceKey(group, group ? 'v1alpha1' : 'v1', plural));
    if (!s) throw new Error(`no store for ${plural}`);
    return s;
  };
  await store('', 'namespaces').create('', benchNamespaceObject(), ctx());
  if (config === 'policies') {
    for (const obj of admissionObjects()) await createThrough(server, obj);
  }
  return { config, server, hosts: store('metal3.io', 'baremetalhosts'), policyMs, dispatcher };
}

/** Creates an object through the store that serves its kind, as `kubectl create` would. */
async function createThrough(server: APIServer, obj: KubeObject): Promise<void> {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const store = [...server.stores.values()].find((s) => s.def.group === group && s.def.version === version && s.def.kind === obj.kind);
  if (!store) throw new Error(`no store serves ${obj.apiVersion} ${obj.kind}`);
  await store.create(obj.metadata.namespace ?? '', obj, ctx());
}

export interface InProcessFigures {
  config: Configuration;
  creates: number;
  latencyMs: LatencySummary;
  /** Inside the policy plugin alone, per create. */
  policyPluginMs?: LatencySummary;
}

/**
 * `warmup` then `creates` BareMetalHost creates per configuration, with the configurations interleaved in
 * batches so that JIT warm-up, GC and machine noise fall on all three alike.
 */
export async function measureInProcess(opts: { creates: number; warmup: number; batch: number }): Promise<InProcessFigures[]> {
  const benches: Bench[] = [];
  for (const c of configurations) benches.push(await build(c));
  const samples = new Map<Configuration, number[]>(configurations.map((c) => [c, []]));
  const next = new Map<Configuration, number>(configurations.map((c) => [c, 0]));
  const createOne = async (b: Bench, record: boolean) => {
    const i = next.get(b.config)!;
    next.set(b.config, i + 1);
    // Decoding the body is the handler's work, not admission's: done before the clock starts.
    const body: unknown = JSON.parse(bareMetalHost(benchNamespace, i));
    const t0 = performance.now();
    await b.hosts.create(benchNamespace, body, ctx());
    const ms = performance.now() - t0;
    if (record) samples.get(b.config)!.push(ms);
  };
  try {
    for (const record of [false, true]) {
      const total = record ? opts.creates : opts.warmup;
      for (let done = 0; done < total; done += opts.batch) {
        const n = Math.min(opts.batch, total - done);
        for (const b of benches) for (let k = 0; k < n; k++) await createOne(b, record);
      }
      if (!record) for (const b of benches) b.policyMs.length = 0;
    }
    return benches.map((b) => ({
      config: b.config,
      creates: samples.get(b.config)!.length,
      latencyMs: summarize(samples.get(b.config)!),
      ...(b.policyMs.length ? { policyPluginMs: summarize(b.policyMs) } : {}),
    }));
  } finally {
    for (const b of benches) {
      b.dispatcher?.close();
      await b.server.stop();
    }
  }
}
