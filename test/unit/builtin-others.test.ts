import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/types.ts';
import { builtinStrategies } from '../../webhooks/builtin/index.ts';
import {
  validateBMCEventSubscription,
  validateBMCEventSubscriptionUpdate,
  validateDataImage,
  validateHostFirmwareComponents,
  validateHostFirmwareSettings,
} from '../../webhooks/builtin/others.ts';

const obj = (kind: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind,
  metadata: { name: 'host-0', namespace: 'default' },
  spec,
});

const sub = (spec: Record<string, unknown>) =>
  obj('BMCEventSubscription', { hostName: 'host-0', destination: 'https://events.example.com/hook', ...spec });

interface Case {
  rule: string;
  validate: (o: KubeObject) => { field: string; reason: string; message: string }[];
  ok: KubeObject;
  bad: KubeObject;
  field: string;
  message: string;
}

const cases: Case[] = [
  { rule: 'BMCEventSubscription hostName', validate: validateBMCEventSubscription, ok: sub({}), bad: sub({ hostName: '' }), field: 'spec.hostName', message: 'hostName cannot be empty' },
  { rule: 'BMCEventSubscription destination required', validate: validateBMCEventSubscription, ok: sub({ destination: 'http://10.0.0.9:8080/' }), bad: sub({ destination: undefined }), field: 'spec.destination', message: 'destination cannot be empty' },
  { rule: 'BMCEventSubscription destination URI', validate: validateBMCEventSubscription, ok: sub({ destination: 'https://e.example.com/a?b' }), bad: sub({ destination: 'events.example.com/hook' }), field: 'spec.destination', message: 'destination is invalid: parse "events.example.com/hook": invalid URI for request' },
  { rule: 'BMCEventSubscription destination path', validate: validateBMCEventSubscription, ok: sub({ destination: 'https://events.example.com/' }), bad: sub({ destination: 'https://events.example.com' }), field: 'spec.destination', message: 'hostname-only destination must have a trailing slash' },
  { rule: 'BMCEventSubscription httpHeadersRef namespace', validate: validateBMCEventSubscription, ok: sub({ httpHeadersRef: { name: 'h', namespace: 'default' } }), bad: sub({ httpHeadersRef: { name: 'h', namespace: 'other' } }), field: 'spec.httpHeadersRef.namespace', message: 'httpHeadersRef secret must be in the same namespace as the BMCEventSubscription' },
  { rule: 'DataImage URL', validate: validateDataImage, ok: obj('DataImage', { url: 'https://images/data.iso' }), bad: obj('DataImage', { url: 'nfs://images/data.iso' }), field: 'spec.url', message: 'URL "nfs://images/data.iso" is invalid: invalid scheme in URL, "nfs" not allowed' },
  { rule: 'DataImage URL required', validate: validateDataImage, ok: obj('DataImage', { url: 'ftp://images/data.iso' }), bad: obj('DataImage', {}), field: 'spec.url', message: 'URL "" is invalid: parse "": empty url' },
  {
    rule: 'HostFirmwareComponents update URLs',
    validate: validateHostFirmwareComponents,
    ok: obj('HostFirmwareComponents', { updates: [{ component: 'bios', url: 'https://fw/bios.bin' }] }),
    bad: obj('HostFirmwareComponents', { updates: [{ component: 'bios', url: 'https://fw/bios.bin' }, { component: 'bmc', url: 'fw/bmc.bin' }] }),
    field: 'spec.updates[1].url',
    message: 'invalid URL "fw/bmc.bin" in FirmwareUpdate in component "bmc": parse "fw/bmc.bin": invalid URI for request',
  },
  { rule: 'HostFirmwareSettings names', validate: validateHostFirmwareSettings, ok: obj('HostFirmwareSettings', { settings: { ProcVirtualization: 'Enabled', BootRetries: 3 } }), bad: obj('HostFirmwareSettings', { settings: { ' ProcVirtualization': 'Enabled' } }), field: 'spec.settings[ ProcVirtualization]', message: 'a firmware setting name must be non-empty' },
];

for (const c of cases) {
  test(`${c.rule}: accepted`, () => assert.deepEqual(c.validate(c.ok), []));
  test(`${c.rule}: rejected`, () => {
    const causes = c.validate(c.bad);
    assert.equal(causes.length, 1, JSON.stringify(causes));
    assert.equal(causes[0].field, c.field);
    assert.ok(causes[0].message.includes(c.message), causes[0].message);
  });
}

test('BMCEventSubscription spec is immutable', () => {
  const old = sub({ httpHeadersRef: { name: 'h', namespace: 'default' } });
  const same = structuredClone(old);
  same.metadata.labels = { a: 'b' };
  assert.deepEqual(validateBMCEventSubscriptionUpdate(same, old), []);
  const changed = sub({ context: 'new' });
  const causes = validateBMCEventSubscriptionUpdate(changed, old);
  assert.deepEqual(causes.map((c) => [c.field, c.reason]), [['spec', 'FieldValueForbidden']]);
  assert.match(causes[0].message, /subscriptions cannot be updated, please recreate it/);
});

test('builtinStrategies wires each kind by plural', () => {
  const s = builtinStrategies({ enableFakeBMC: true });
  assert.deepEqual(Object.keys(s).sort(), ['baremetalhosts', 'bmceventsubscriptions', 'dataimages', 'hostfirmwarecomponents', 'hostfirmwaresettings']);
  const bmh: KubeObject = { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: { name: 'h' }, spec: { online: true, bmc: { address: 'fake://h', credentialsName: 'c' } } };
  assert.deepEqual(s.baremetalhosts.validate!(bmh), []);
  assert.equal(builtinStrategies({ enableFakeBMC: false }).baremetalhosts.validate!(bmh).length, 1);
  s.baremetalhosts.default!(bmh);
  assert.equal((bmh.spec as Record<string, unknown>).bootMode, 'UEFI');
  assert.equal(s.bmceventsubscriptions.validateUpdate!(sub({}), sub({ context: 'x' })).length, 1);
});
