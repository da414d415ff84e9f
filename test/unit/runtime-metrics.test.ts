import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntimeMetrics } from '../../reconcilers/runtime/metrics.ts';

test('BMO metric names are exported under its spelling, with their labels', async () => {
  const m = createRuntimeMetrics();
  m.metal3.reconcileTotal.inc({ namespace: 'ns', host: 'h' });
  m.metal3.provisioningStateChange.inc({ from: 'registering', to: 'inspecting' });
  m.metal3.delayedProvisioning.inc({ namespace: 'ns', host: 'h' });
  m.metal3.operationDuration.provision.observe({ namespace: 'ns', host: 'h' }, 100);
  m.metal3.hostErrorTotal.inc({ error_type: 'registration error' });
  const text = await m.registry.metrics();
  assert.match(text, /^metal3_reconcile_total\{namespace="ns",host="h"\} 1$/m);
  assert.match(text, /^metal3_provisioning_state_change_total\{from="registering",to="inspecting"\} 1$/m);
  assert.match(text, /^metal3_delayed__provisioning_total\{namespace="ns",host="h"\} 1$/m);
  assert.match(text, /^metal3_operation_provision_duration_seconds_bucket\{le="180",namespace="ns",host="h"\} 1$/m);
  assert.match(text, /^metal3_operation_provision_duration_seconds_bucket\{le="90",namespace="ns",host="h"\} 0$/m);
  assert.match(text, /^metal3_host_error_total\{error_type="registration error"\} 1$/m);
  for (const name of ['metal3_credentials_missing_total', 'metal3_delete_without_powering_off_total', 'metal3_provisioner_not_ready_total', 'controller_runtime_reconcile_total', 'workqueue_depth']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
  }
});

test('each runtime has its own registry', async () => {
  const a = createRuntimeMetrics();
  const b = createRuntimeMetrics();
  a.metal3.reconcileErrorTotal.inc();
  assert.match(await a.registry.metrics(), /^metal3_reconcile_error_total 1$/m);
  assert.match(await b.registry.metrics(), /^metal3_reconcile_error_total 0$/m);
});
