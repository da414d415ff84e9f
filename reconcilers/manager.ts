// Runs the reconcilers: informers feed a rate-limited queue, the BareMetalHost controller drains it with
// bounded concurrency, and everything stops gracefully. It sees the API server only through a KubeClient.
import type { KubeObject } from '../api/types.ts';
import type { Provisioner } from './provisioner/types.ts';
import type { KubeClient } from '../api/client/types.ts';
import { Informer, specOrMetadataChanged } from '../api/client/informer.ts';
import { Controller } from './runtime/controller.ts';
import { EventRecorder } from './runtime/events.ts';
import { createRuntimeMetrics, type RuntimeMetrics } from './runtime/metrics.ts';
import { bareMetalHostReconciler } from './baremetalhost/controller.ts';
import { CapacityWaiters } from './baremetalhost/capacity.ts';
import { bareMetalHostType, secretType } from './baremetalhost/resources.ts';
import { LeaderElector } from './runtime/leaderelection.ts';
import { CachedReadClient } from './runtime/cachedclient.ts';

export interface ManagerOptions {
  kube: KubeClient;
  provisioner: Provisioner;
  /** Hosts reconciled at once (BMO's --controller-concurrency); default 32. */
  concurrency?: number;
  maxProvisioningRetries?: number;
  enableFakeBMC?: boolean;
  log?: (message: string) => void;
  /** With several replicas: reconcile only while holding this Lease. */
  leaderElection?: {
    namespace: string;
    name: string;
    identity: string;
    /** The Lease timings; the LeaderElector's (controller-runtime's) defaults unless given. */
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
    /** Leadership lost: what was reconciling must stop at once (the process exits, as controller-runtime's do). */
    onLost?: () => void;
  };
}

export interface Manager {
  metrics: RuntimeMetrics;
  /** Resolves once the caches are filled and the controller runs. */
  started: Promise<void>;
  stop(): Promise<void>;
}

const secretLabel = 'environment.metal3.io=baremetal';
export const defaultConcurrency = 32;

/** The hosts an object belongs to: a Secret BMO claimed carries an owner reference to its host. */
const ownerHosts = (obj: KubeObject) =>
  (obj.metadata.ownerReferences ?? [])
    .filter((r) => r.kind === 'BareMetalHost' && r.apiVersion.startsWith('metal3.io/'))
    .map((r) => ({ namespace: obj.metadata.namespace ?? '', name: r.name }));

export function startManager(opts: ManagerOptions): Manager {
  const log = opts.log ?? (() => {});
  const metrics = createRuntimeMetrics();
  const events = new EventRecorder({ client: opts.kube, onError: (e) => log(`event: ${e.message}`) });
  // Reads hosts and claimed Secrets from the informers below, once they exist.
  const cachedKube = new CachedReadClient(opts.kube);
  const capacityWaiters = new CapacityWaiters();
  const reconcile = bareMetalHostReconciler({
    capacityWaiters,
    kube: cachedKube,
    provisioner: opts.provisioner,
    events,
    metrics: metrics.metal3,
    config: { maxProvisioningRetries: opts.maxProvisioningRetries ?? 5, enableFakeBMC: opts.enableFakeBMC ?? false },
    log,
  });
  const controller = new Controller({
    name: 'baremetalhost',
    reconcile,
    // A reconcile spends nearly all its time waiting for Ironic and the API server, not on CPU: with BMO's
    // 8 workers, 200 hosts waited ~20 s in the queue before every reconcile (bench/provision: 0.46 → 0.83
    // hosts/s at 32, where Ironic's own CPU becomes the limit).
    concurrency: opts.concurrency ?? defaultConcurrency,
    metrics,
    logger: { error: (m: string) => log(m), info: () => {} },
  });
  // A host whose Ironic node finished a step is reconciled now, not after its poll delay.
  opts.provisioner.onNodeChange?.((k) => controller.enqueue(k));
  // A provisioning slot that freed up goes to the host that has waited longest for one.
  opts.provisioner.onCapacityFreed?.(() => capacityWaiters.take(1).forEach((k) => controller.enqueue(k)));
  const hosts = new Informer({
    client: opts.kube,
    type: bareMetalHostType,
    // Our own status writes must not wake us up again; spec, finalizer and annotation changes do.
    updatePredicate: specOrMetadataChanged,
    onError: (e) => log(`baremetalhost informer: ${e.message}`),
  });
  const key = (o: KubeObject) => ({ namespace: o.metadata.namespace ?? '', name: o.metadata.name ?? '' });
  hosts.addHandler({
    onAdd: (o) => controller.enqueue(key(o)),
    onUpdate: (_old, o) => controller.enqueue(key(o)),
    onDelete: (o) => controller.enqueue(key(o)),
  });
  // A change to a claimed Secret (new credentials, new user data) re-registers its host.
  const secrets = new Informer({
    client: opts.kube,
    type: secretType,
    labelSelector: secretLabel,
    onError: (e) => log(`secret informer: ${e.message}`),
  });
  const ownersOf = (o: KubeObject) => ownerHosts(o).forEach((k) => controller.enqueue(k));
  secrets.addHandler({ onAdd: ownersOf, onUpdate: (_old, o) => ownersOf(o), onDelete: ownersOf });
  cachedKube.use(hosts, secrets);

  let elector: LeaderElector | undefined;
  const started = (async () => {
    hosts.start();
    secrets.start();
    await Promise.all([hosts.waitForSync(), secrets.waitForSync()]);
    const le = opts.leaderElection;
    if (!le) {
      controller.start();
      return;
    }
    elector = new LeaderElector({
      client: opts.kube,
      namespace: le.namespace,
      name: le.name,
      identity: le.identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      onStartedLeading: () => {
        log(`${le.identity} leads ${le.namespace}/${le.name}: reconciling`);
        controller.start();
      },
      onStoppedLeading: () => {
        log(`${le.identity} lost ${le.namespace}/${le.name}`);
        (le.onLost ?? (() => void controller.stop()))();
      },
      onError: (e) => log(`leader election: ${e.message}`),
    });
    elector.start();
  })();

  return {
    metrics,
    started,
    async stop() {
      await elector?.stop();
      hosts.stop();
      secrets.stop();
      await controller.stop();
    },
  };
}
