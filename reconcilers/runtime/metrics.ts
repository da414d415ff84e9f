// The reconcilers' Prometheus metrics: controller-runtime's names (so the usual controller dashboards work)
// and BMO's metal3_* names (bmo.md §2.10, so BMO's alerts keep working after migrating).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

// controller-runtime's reconcile_time_seconds buckets (pkg/internal/controller/metrics).
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5,
  1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// client-go's workqueue latency buckets: ExponentialBuckets(10e-9, 10, 12).
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
// BMO's slowOperationBuckets: registering, inspecting and (de)provisioning take minutes on real hardware.
const SLOW_OPERATION_BUCKETS = [30, 90, 180, 360, 720, 1440];

export type ReconcileResult = 'success' | 'error' | 'requeue' | 'requeue_after';

/** The operations whose duration BMO records, by provisioning state. */
export type TimedOperation = 'register' | 'inspect' | 'provision' | 'deprovision';

export interface Metal3Metrics {
  reconcileTotal: Counter<'namespace' | 'host'>;
  reconcileErrorTotal: Counter;
  hostErrorTotal: Counter<'error_type'>;
  powerChangeTotal: Counter<'namespace' | 'host' | 'on_off'>;
  credentialsMissing: Counter;
  credentialsInvalid: Counter;
  credentialsUnhandledError: Counter;
  credentialsUpdated: Counter;
  credentialsNoManagementAccess: Counter;
  waitingForPreprovImage: Counter;
  hostConfigDataError: Counter<'host_data_type'>;
  delayedProvisioning: Counter<'namespace' | 'host'>;
  delayedDeprovisioning: Counter<'namespace' | 'host'>;
  operationDuration: Record<TimedOperation, Histogram<'namespace' | 'host'>>;
  provisioningStateChange: Counter<'from' | 'to'>;
  hostRegistrationRequired: Counter<'reason'>;
  hostUnmanaged: Counter;
  deleteWithoutDeprovisioning: Counter;
  deleteWithoutPoweringOff: Counter;
  provisionerNotReady: Counter;
  deleteDelayedForDetached: Counter;
}

export interface RuntimeMetrics {
  /** Our own registry, never prom-client's global one, so tests and several runtimes do not share series. */
  registry: Registry;
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  reconcileTime: Histogram<'controller'>;
  activeWorkers: Gauge<'controller'>;
  maxConcurrentReconciles: Gauge<'controller'>;
  workqueueDepth: Gauge<'name'>;
  workqueueAdds: Counter<'name'>;
  workqueueRetries: Counter<'name'>;
  workqueueQueueDuration: Histogram<'name'>;
  workqueueWorkDuration: Histogram<'name'>;
  metal3: Metal3Metrics;
}

export function createRuntimeMetrics(): RuntimeMetrics {
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const hostLabels = ['namespace', 'host'] as const;
  const slow = (name: string, help: string) =>
    new Histogram<'namespace' | 'host'>({ name, help, labelNames: hostLabels, buckets: SLOW_OPERATION_BUCKETS, registers });

  return {
    registry,
    reconcileTotal: counter('controller_runtime_reconcile_total', 'Total number of reconciliations per controller', ['controller', 'result']),
    reconcileErrors: counter('controller_runtime_reconcile_errors_total', 'Total number of reconciliation errors per controller', ['controller']),
    reconcileTime: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_BUCKETS,
      registers,
    }),
    activeWorkers: new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers }),
    maxConcurrentReconciles: new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    }),
    workqueueDepth: new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers }),
    workqueueAdds: counter('workqueue_adds_total', 'Total number of adds handled by workqueue', ['name']),
    workqueueRetries: counter('workqueue_retries_total', 'Total number of retries handled by workqueue', ['name']),
    workqueueQueueDuration: new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
      registers,
    }),
    workqueueWorkDuration: new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
      registers,
    }),
    metal3: {
      reconcileTotal: counter('metal3_reconcile_total', 'The number of times hosts have been reconciled', hostLabels),
      reconcileErrorTotal: counter('metal3_reconcile_error_total', 'The number of times the operator has failed to reconcile a host'),
      hostErrorTotal: counter('metal3_host_error_total', 'Number of times a host has entered an error state', ['error_type']),
      powerChangeTotal: counter('metal3_operation_power_change_total', 'Number of times a host has been powered on or off', [...hostLabels, 'on_off']),
      credentialsMissing: counter('metal3_credentials_missing_total', 'Number of times a host\'s credentials are found to be missing'),
      credentialsInvalid: counter('metal3_credentials_invalid_total', 'Number of times a host\'s credentials are found to be invalid'),
      credentialsUnhandledError: counter('metal3_credentials_unhandled_error_total', 'Number of times getting a host\'s credentials fails in an unexpected way'),
      credentialsUpdated: counter('metal3_credentials_updated_total', 'Number of times a host\'s credentials change'),
      credentialsNoManagementAccess: counter(
        'metal3_credentials_no_management_access_total',
        'Number of times a host management interface is unavailable',
      ),
      waitingForPreprovImage: counter('metal3_waiting_for_preprov_image_total', 'Number of times a host waits for its preprovisioning image'),
      hostConfigDataError: counter('metal3_host_config_data_error_total', 'Number of times the operator has failed to retrieve host configuration data', [
        'host_data_type',
      ]),
      // The double underscores are BMO's own spelling; dashboards match on it.
      delayedProvisioning: counter('metal3_delayed__provisioning_total', 'Number of times provisioning of a host was delayed by the provisioning limit', hostLabels),
      delayedDeprovisioning: counter('metal3_delayed__deprovisioning_total', 'Number of times deprovisioning of a host was delayed by the provisioning limit', hostLabels),
      operationDuration: {
        register: slow('metal3_operation_register_duration_seconds', 'Length of time per registration per host'),
        inspect: slow('metal3_operation_inspect_duration_seconds', 'Length of time per hardware inspection per host'),
        provision: slow('metal3_operation_provision_duration_seconds', 'Length of time per provisioning operation per host'),
        deprovision: slow('metal3_operation_deprovision_duration_seconds', 'Length of time per deprovisioning operation per host'),
      },
      provisioningStateChange: counter('metal3_provisioning_state_change_total', 'Number of times a state transition has occurred', ['from', 'to']),
      hostRegistrationRequired: counter('metal3_host_registration_required_total', 'Number of times a host is found to require registration', ['reason']),
      hostUnmanaged: counter('metal3_host_unmanaged_total', 'Number of times a host is found to be unmanageable'),
      deleteWithoutDeprovisioning: counter('metal3_delete_without_deprovisioning_total', 'Number of times a host is deleted despite deprovisioning failing'),
      deleteWithoutPoweringOff: counter('metal3_delete_without_powering_off_total', 'Number of times a host is deleted despite powering off failing'),
      provisionerNotReady: counter('metal3_provisioner_not_ready_total', 'Number of times a host is not provision ready'),
      deleteDelayedForDetached: counter('metal3_delete_delayed_for_detached_total', 'Number of times a host deletion waits for a detached host'),
    },
  };
}
