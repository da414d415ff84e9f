// Test harness for the BareMetalHost controller: an in-memory KubeClient with the API server's rules that
// matter here (resourceVersion conflicts, /status, finalizers and deletionTimestamp), an event recorder,
// and the simulator at speed 0 (each operation completes on the call after the one that starts it).
import type { BareMetalHost, BareMetalHostSpec, BareMetalHostStatus } from '../../api/kinds/baremetalhost.ts';
import type { KubeObject } from '../../api/types.ts';
import { reconcileBareMetalHost, type BareMetalHostControllerConfig } from '../../reconcilers/baremetalhost/controller.ts';
import { bareMetalHostType, secretType } from '../../reconcilers/baremetalhost/resources.ts';
import type { Provisioner } from '../../reconcilers/provisioner/types.ts';
import type { ReconcileResult } from '../../reconcilers/runtime/controller.ts';
import { APIError, type KubeClient, type ResourceType } from '../../api/client/types.ts';
import { SimulatedProvisioner, type SimulatorOptions } from '../../reconcilers/simulator/provisioner.ts';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  private rv = 1;
  /** Calls to update that will fail with 409, to exercise conflict handling. */
  conflictsToInject = 0;
  readonly writes: { verb: string; plural: string; name: string; subresource?: string }[] = [];

  private key(type: ResourceType, ns: string | undefined, name: string | undefined) {
    return `${type.plural}/${ns ?? ''}/${name ?? ''}`;
  }

  private nextRV(): string {
    return String(++this.rv);
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    const o = this.objects.get(this.key(type, namespace, name));
    return o ? structuredClone(o) : undefined;
  }

  async list(type: ResourceType, namespace?: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const items = [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(`${type.plural}/`) && (namespace === undefined || o.metadata.namespace === namespace))
      .map(([, o]) => structuredClone(o));
    return { items, resourceVersion: String(this.rv) };
  }

  watch(): () => void {
    return () => {};
  }

  async create(type: ResourceType, obj: KubeObject): Promise<KubeObject> {
    const k = this.key(type, obj.metadata.namespace, obj.metadata.name);
    if (this.objects.has(k)) throw new APIError(409, 'AlreadyExists', `${type.plural} "${obj.metadata.name}" already exists`);
    const o = structuredClone(obj);
    o.metadata.uid = `uid-${obj.metadata.name}-${this.rv}`;
    o.metadata.resourceVersion = this.nextRV();
    o.metadata.generation = 1;
    o.metadata.creationTimestamp = new Date().toISOString();
    this.objects.set(k, o);
    this.writes.push({ verb: 'create', plural: type.plural, name: obj.metadata.name ?? '' });
    return structuredClone(o);
  }

  async update(type: ResourceType, obj: KubeObject, opts?: { subresource?: 'status' }): Promise<KubeObject> {
    const k = this.key(type, obj.metadata.namespace, obj.metadata.name);
    const cur = this.objects.get(k);
    if (!cur) throw new APIError(404, 'NotFound', `${type.plural} "${obj.metadata.name}" not found`);
    if (this.conflictsToInject > 0) {
      this.conflictsToInject--;
      throw new APIError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
    }
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw new APIError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
    }
    this.writes.push({ verb: 'update', plural: type.plural, name: obj.metadata.name ?? '', subresource: opts?.subresource });
    let next: KubeObject;
    if (opts?.subresource === 'status') {
      next = { ...structuredClone(cur), status: structuredClone(obj.status) };
    } else {
      next = { ...structuredClone(obj), metadata: { ...structuredClone(obj.metadata), uid: cur.metadata.uid, deletionTimestamp: cur.metadata.deletionTimestamp, creationTimestamp: cur.metadata.creationTimestamp } };
      if ('status' in cur) next.status = structuredClone(cur.status);
      else delete next.status;
      const specChanged = JSON.stringify(cur.spec ?? null) !== JSON.stringify(obj.spec ?? null);
      next.metadata.generation = (cur.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    }
    next.metadata.resourceVersion = this.nextRV();
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.objects.delete(k);
    } else {
      this.objects.set(k, next);
    }
    return structuredClone(next);
  }

  async patch(type: ResourceType, namespace: string, name: string, _patchType: 'merge' | 'json', patch: unknown): Promise<KubeObject> {
    const cur = this.objects.get(this.key(type, namespace, name));
    if (!cur) throw new APIError(404, 'NotFound', `${type.plural} "${name}" not found`);
    const next = mergePatch(cur, patch) as KubeObject;
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.update(type, next);
  }

  async delete(type: ResourceType, namespace: string, name: string): Promise<void> {
    const k = this.key(type, namespace, name);
    const cur = this.objects.get(k);
    if (!cur) throw new APIError(404, 'NotFound', `${type.plural} "${name}" not found`);
    if ((cur.metadata.finalizers ?? []).length > 0) {
      cur.metadata.deletionTimestamp ??= new Date().toISOString();
      cur.metadata.resourceVersion = this.nextRV();
    } else {
      this.objects.delete(k);
    }
  }
}

export interface RecordedEvent {
  name: string;
  type: string;
  reason: string;
  message: string;
}

export const ns = 'metal3';

export interface HarnessOptions {
  sim?: SimulatorOptions;
  config?: Partial<BareMetalHostControllerConfig>;
  provisioner?: Provisioner;
}

export function newHarness(opts: HarnessOptions = {}) {
  const kube = new FakeKube();
  const sim = new SimulatedProvisioner({ speed: 0, ...opts.sim });
  const events: RecordedEvent[] = [];
  const logs: string[] = [];
  const deps = {
    kube,
    provisioner: opts.provisioner ?? sim,
    events: {
      eventf: (obj: KubeObject, type: string, reason: string, message: string) => {
        events.push({ name: obj.metadata.name ?? '', type, reason, message });
      },
    },
    config: { enableFakeBMC: true, ...opts.config },
    random: () => 0,
    log: (m: string) => logs.push(m),
  };

  const reconcile = (name: string): Promise<ReconcileResult> => reconcileBareMetalHost(deps, { namespace: ns, name });

  const host = async (name: string): Promise<BareMetalHost & { status: BareMetalHostStatus }> => {
    const o = await kube.get(bareMetalHostType, ns, name);
    if (!o) throw new Error(`host ${name} is gone`);
    return o as unknown as BareMetalHost & { status: BareMetalHostStatus };
  };
  const state = async (name: string) => (await host(name)).status?.provisioning?.state;
  const exists = async (name: string) => (await kube.get(bareMetalHostType, ns, name)) !== undefined;

  /** Reconciles until pred holds (requeue delays are skipped: the simulator runs at speed 0). */
  const runUntil = async (name: string, pred: (h: BareMetalHost & { status: BareMetalHostStatus }) => boolean, max = 60) => {
    for (let i = 0; i < max; i++) {
      if (!(await exists(name))) throw new Error(`host ${name} vanished while waiting`);
      const h = await host(name);
      if (h.status && pred(h)) return h;
      await reconcile(name);
    }
    const h = await host(name);
    throw new Error(`condition not reached for ${name}: state ${JSON.stringify(h.status?.provisioning?.state)} ${h.status?.operationalStatus} ${h.status?.errorType ?? ''} ${h.status?.errorMessage ?? ''}`);
  };
  const runUntilState = (name: string, st: string, max = 60) => runUntil(name, (h) => h.status.provisioning?.state === st, max);

  const createSecret = async (name: string, data: Record<string, string>) =>
    kube.create(secretType, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: ns },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });

  const createHost = async (name: string, spec: Partial<BareMetalHostSpec>, meta: { annotations?: Record<string, string> } = {}) =>
    kube.create(bareMetalHostType, {
      apiVersion: 'metal3.io/v1alpha1',
      kind: 'BareMetalHost',
      metadata: { name, namespace: ns, ...meta },
      spec: { online: true, ...spec },
    });

  /** A host with a fake BMC and its credentials Secret. */
  const createManagedHost = async (name: string, spec: Partial<BareMetalHostSpec> = {}, meta: { annotations?: Record<string, string> } = {}) => {
    await createSecret(`${name}-bmc`, { username: 'admin', password: `pw-${name}` });
    return createHost(name, { bmc: { address: `fake://${name}`, credentialsName: `${name}-bmc` }, ...spec }, meta);
  };

  /** Applies a merge patch to the host's main resource (spec, metadata). */
  const patchHost = async (name: string, patch: Record<string, unknown>) => kube.patch(bareMetalHostType, ns, name, 'merge', patch);

  /** Overwrites part of the stored status, as a test's way to put a host in a given state. */
  const setStatus = async (name: string, status: Partial<BareMetalHostStatus>) => {
    const h = await host(name);
    const body = { ...h, status: { ...h.status, ...status } } as unknown as KubeObject;
    await kube.update(bareMetalHostType, body, { subresource: 'status' });
  };

  const deleteHost = (name: string) => kube.delete(bareMetalHostType, ns, name);

  return { kube, sim, events, logs, deps, reconcile, host, state, exists, runUntil, runUntilState, createSecret, createHost, createManagedHost, patchHost, setStatus, deleteHost };
}

export type Harness = ReturnType<typeof newHarness>;
