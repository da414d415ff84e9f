import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchema, jsonPathValue, type FieldCause } from '../../api/schema.ts';
import { metal3Kinds, metal3Group, metal3Version } from '../../api/index.ts';
import { bareMetalHostDefinition } from '../../api/kinds/baremetalhost.ts';
import { hostFirmwareSettingsDefinition } from '../../api/kinds/hostfirmwaresettings.ts';
import { coreKinds } from '../../apiserver/core/kinds.ts';
import type { JSONSchemaProps, ResourceDefinition } from '../../api/types.ts';

const bmh = compileSchema(bareMetalHostDefinition);

function realisticHost(): Record<string, unknown> {
  return {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name: 'worker-0', namespace: 'metal3', labels: { role: 'worker' } },
    spec: {
      online: true,
      bootMode: 'UEFI',
      bootMACAddress: '00:5c:52:31:3a:9c',
      automatedCleaningMode: 'metadata',
      bmc: {
        address: 'redfish-virtualmedia+https://192.168.111.1:8000/redfish/v1/Systems/1',
        credentialsName: 'worker-0-bmc-secret',
        disableCertificateVerification: true,
      },
      rootDeviceHints: { deviceName: '/dev/sda', minSizeGigabytes: 20, rotational: false },
      raid: { hardwareRAIDVolumes: [{ level: '1', name: 'root', sizeGibibytes: 100, numberOfPhysicalDisks: 2 }] },
      image: {
        url: 'http://172.22.0.1/images/CENTOS_9_NODE_IMAGE_K8S_v1.32.0.qcow2',
        checksum: 'http://172.22.0.1/images/CENTOS_9_NODE_IMAGE_K8S_v1.32.0.qcow2.sha256sum',
        checksumType: 'sha256',
        format: 'qcow2',
      },
      userData: { name: 'worker-0-user-data', namespace: 'metal3' },
      networkData: { name: 'worker-0-network-data', namespace: 'metal3' },
      consumerRef: { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1', kind: 'Metal3Machine', name: 'm3m-0', namespace: 'metal3' },
      networkInterfaces: [{ macAddress: '00:5c:52:31:3a:9d', switchPort: { switchID: 'aa:bb:cc:dd:ee:ff', portID: 'Eth1/1' } }],
    },
    status: {
      operationalStatus: 'OK',
      errorMessage: '',
      errorCount: 0,
      provisioningFailCount: 0,
      poweredOn: true,
      lastUpdated: '2025-01-02T03:04:05Z',
      provisioning: {
        ID: '4c1a6ae5-3b47-4d5b-8d2a-3f1c3f9b8e11',
        state: 'provisioned',
        bootMode: 'UEFI',
        image: { url: 'http://172.22.0.1/images/x.qcow2', checksum: 'abc', checksumType: 'sha256' },
        rootDeviceHints: { deviceName: '/dev/sda' },
      },
      goodCredentials: { credentials: { name: 'worker-0-bmc-secret', namespace: 'metal3' }, credentialsVersion: '1234' },
      operationHistory: {
        register: { start: '2025-01-02T03:00:00Z', end: '2025-01-02T03:01:00Z' },
        inspect: { start: null, end: null },
        provision: {},
        deprovision: {},
      },
      hardware: {
        cpu: { arch: 'x86_64', model: 'Intel Xeon', clockMegahertz: 2400, count: 8, flags: ['avx', 'sse'] },
        firmware: { bios: { date: '01/01/2024', vendor: 'ACME', version: '1.2' } },
        hostname: 'worker-0',
        ramMebibytes: 16384,
        nics: [{ name: 'eth0', mac: '00:5c:52:31:3a:9c', ip: '172.22.0.10', speedGbps: 10, pxe: true, vlanId: 0, vlans: [{ id: 100, name: 'v100' }] }],
        storage: [{ name: '/dev/sda', type: 'SSD', sizeBytes: 500107862016, rotational: false }],
        systemVendor: { manufacturer: 'ACME', productName: 'Box', serialNumber: 'S1' },
      },
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Provisioned', message: '', lastTransitionTime: '2025-01-02T03:04:05Z', observedGeneration: 2 },
        { type: 'Provisioned', status: 'True', reason: 'Provisioned', message: '', lastTransitionTime: '2025-01-02T03:04:05Z' },
      ],
    },
  };
}

const byField = (causes: FieldCause[], field: string) => causes.filter((c) => c.field === field);

test('metal3Kinds lists BareMetalHost first and every kind is metal3.io/v1alpha1 and namespaced', () => {
  assert.equal(metal3Group, 'metal3.io');
  assert.equal(metal3Version, 'v1alpha1');
  assert.equal(metal3Kinds[0].kind, 'BareMetalHost');
  assert.deepEqual(
    metal3Kinds.map((d) => d.kind).sort(),
    [
      'BMCEventSubscription',
      'BareMetalHost',
      'DataImage',
      'FirmwareSchema',
      'HardwareData',
      'HostFirmwareComponents',
      'HostFirmwareSettings',
      'HostUpdatePolicy',
      'PreprovisioningImage',
    ],
  );
  for (const d of metal3Kinds) {
    assert.equal(d.group, 'metal3.io');
    assert.equal(d.version, 'v1alpha1');
    assert.equal(d.namespaced, true);
    assert.ok(d.printerColumns.some((c) => c.name === 'Age' && c.jsonPath === '.metadata.creationTimestamp' && c.type === 'date'), d.kind);
  }
});

test('BareMetalHost resource facts match the CRD', () => {
  const d = bareMetalHostDefinition;
  assert.deepEqual(d.shortNames, ['bmh', 'bmhost']);
  assert.equal(d.subresources.status, true);
  assert.deepEqual(d.subresources.actions?.map((a) => a.name), ['inspect', 'provision']);
  assert.deepEqual(d.selectableFields, ['status.provisioning.state']);
  assert.deepEqual(
    d.printerColumns.map((c) => [c.name, c.jsonPath, c.priority ?? 0]),
    [
      ['Status', '.status.operationalStatus', 1],
      ['State', '.status.provisioning.state', 0],
      ['Consumer', '.spec.consumerRef.name', 0],
      ['BMC', '.spec.bmc.address', 1],
      ['Online', '.spec.online', 0],
      ['Error', '.status.errorType', 0],
      ['Age', '.metadata.creationTimestamp', 0],
    ],
  );
});

test('every property of every schema has a description (kubectl explain prints them)', () => {
  const missing: string[] = [];
  const walk = (s: JSONSchemaProps, path: string, root: boolean) => {
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      // A structural schema may only give root metadata its type.
      if (!(root && k === 'metadata') && !v.description) missing.push(`${path}.${k}`);
      walk(v, `${path}.${k}`, false);
    }
    if (s.items) walk(s.items, `${path}[]`, false);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}{}`, false);
  };
  for (const d of [...metal3Kinds, ...coreKinds]) walk(d.schema, d.kind, true);
  assert.deepEqual(missing, []);
});

test('a full realistic BareMetalHost validates clean and has no unknown fields', () => {
  const host = realisticHost();
  assert.deepEqual(bmh.unknownFields(host), []);
  assert.deepEqual(bmh.validate(host), []);
});

test('defaults apply to absent fields of present objects, recursively and inside array items', () => {
  const host = realisticHost();
  const spec = host.spec as Record<string, unknown>;
  delete spec.automatedCleaningMode;
  spec.raid = { softwareRAIDVolumes: [{ level: '1' }, { level: '0', rootVolume: true }] };
  const status = host.status as Record<string, unknown>;
  delete status.errorCount;
  delete status.provisioningFailCount;
  bmh.applyDefaults(host);
  assert.equal(spec.automatedCleaningMode, 'metadata');
  assert.deepEqual(spec.raid, { softwareRAIDVolumes: [{ level: '1', rootVolume: false }, { level: '0', rootVolume: true }] });
  assert.equal(status.errorCount, 0);
  assert.equal(status.provisioningFailCount, 0);
});

test('defaults never create a missing parent object, and keep values that are set', () => {
  const host: Record<string, unknown> = { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: {}, spec: { online: false, automatedCleaningMode: 'disabled' } };
  bmh.applyDefaults(host);
  assert.equal(host.status, undefined);
  assert.equal((host.spec as Record<string, unknown>).raid, undefined);
  assert.equal((host.spec as Record<string, unknown>).automatedCleaningMode, 'disabled');
});

test('a null in a non-nullable field takes the default, or is dropped when there is none; nullable nulls stay', () => {
  const host = realisticHost();
  const spec = host.spec as Record<string, unknown>;
  spec.automatedCleaningMode = null;
  spec.description = null;
  spec.raid = { hardwareRAIDVolumes: null };
  bmh.applyDefaults(host);
  assert.equal(spec.automatedCleaningMode, 'metadata');
  assert.equal('description' in spec, false);
  assert.deepEqual(spec.raid, { hardwareRAIDVolumes: null });
  assert.deepEqual(bmh.validate(host), []);
});

test('unknown fields are found with kube paths, and pruned; root metadata is left alone', () => {
  const host = realisticHost();
  const spec = host.spec as Record<string, unknown>;
  spec.foo = 1;
  (spec.raid as { hardwareRAIDVolumes: Record<string, unknown>[] }).hardwareRAIDVolumes[0].bar = true;
  (host.metadata as Record<string, unknown>).whatever = 'x';
  host.extra = {};
  assert.deepEqual(bmh.unknownFields(host), ['spec.raid.hardwareRAIDVolumes[0].bar', 'spec.foo', 'extra']);
  bmh.prune(host);
  assert.deepEqual(bmh.unknownFields(host), []);
  assert.equal('foo' in spec, false);
  assert.equal('extra' in host, false);
  assert.equal((host.metadata as Record<string, unknown>).whatever, 'x');
  assert.deepEqual(bmh.validate(host), []);
});

test('map values (additionalProperties) are not unknown; x-kubernetes-preserve-unknown-fields keeps everything', () => {
  const hfs = compileSchema(hostFirmwareSettingsDefinition);
  const obj = { apiVersion: 'metal3.io/v1alpha1', kind: 'HostFirmwareSettings', metadata: {}, spec: { settings: { ProcTurboMode: 'Disabled', NumCores: 4 } } };
  assert.deepEqual(hfs.unknownFields(obj), []);
  assert.deepEqual(hfs.validate(obj), []);

  const def: ResourceDefinition = {
    ...hostFirmwareSettingsDefinition,
    schema: {
      type: 'object',
      properties: {
        metadata: { type: 'object' },
        spec: {
          type: 'object',
          properties: {
            free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'object', properties: {} } } },
          },
        },
      },
    },
  };
  const c = compileSchema(def);
  const o = { spec: { free: { anything: { deep: 1 }, known: { nope: 1 } }, gone: 1 } };
  assert.deepEqual(c.unknownFields(o), ['spec.free.known.nope', 'spec.gone']);
  c.prune(o);
  assert.deepEqual(o, { spec: { free: { anything: { deep: 1 }, known: {} } } });
});

test('int-or-string settings accept both and reject other types', () => {
  const hfs = compileSchema(hostFirmwareSettingsDefinition);
  const causes = hfs.validate({ spec: { settings: { A: true } } });
  assert.deepEqual(causes, [
    {
      field: 'spec.settings.A',
      reason: 'FieldValueTypeInvalid',
      message: 'Invalid value: "boolean": spec.settings.A in body must be of type integer,string: "boolean"',
    },
  ]);
});

test('required, enum, type and pattern errors are worded as kube-apiserver words them', () => {
  const host = realisticHost();
  const spec = host.spec as Record<string, unknown>;
  spec.bootMode = 'foo';
  spec.bootMACAddress = 'xx';
  spec.online = 'string';
  const causes = bmh.validate(host);
  assert.deepEqual(byField(causes, 'spec.bootMode'), [
    {
      field: 'spec.bootMode',
      reason: 'FieldValueNotSupported',
      message: 'Unsupported value: "foo": supported values: "UEFI", "UEFISecureBoot", "legacy"',
    },
  ]);
  assert.deepEqual(byField(causes, 'spec.online'), [
    {
      field: 'spec.online',
      reason: 'FieldValueTypeInvalid',
      message: 'Invalid value: "string": spec.online in body must be of type boolean: "string"',
    },
  ]);
  assert.deepEqual(byField(causes, 'spec.bootMACAddress'), [
    {
      field: 'spec.bootMACAddress',
      reason: 'FieldValueInvalid',
      message: "Invalid value: \"xx\": spec.bootMACAddress in body should match '[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}'",
    },
  ]);
  assert.equal(causes.length, 3);

  delete spec.online;
  assert.deepEqual(byField(bmh.validate(host), 'spec.online'), [
    { field: 'spec.online', reason: 'FieldValueRequired', message: 'Required value' },
  ]);
});

test('a wrong type also reports its enum failure, as kube-openapi does', () => {
  const host = realisticHost();
  (host.spec as Record<string, unknown>).bootMode = 5;
  assert.deepEqual(bmh.validate(host), [
    {
      field: 'spec.bootMode',
      reason: 'FieldValueTypeInvalid',
      message: 'Invalid value: "integer": spec.bootMode in body must be of type string: "integer"',
    },
    {
      field: 'spec.bootMode',
      reason: 'FieldValueNotSupported',
      message: 'Unsupported value: 5: supported values: "UEFI", "UEFISecureBoot", "legacy"',
    },
  ]);
});

test('array indices appear in field paths', () => {
  const host = realisticHost();
  (host.spec as Record<string, unknown>).raid = { hardwareRAIDVolumes: [{ level: '1' }, { level: '7' }, { name: 'x' }] };
  assert.deepEqual(bmh.validate(host), [
    {
      field: 'spec.raid.hardwareRAIDVolumes[1].level',
      reason: 'FieldValueNotSupported',
      message: 'Unsupported value: "7": supported values: "0", "1", "2", "5", "6", "1+0", "5+0", "6+0"',
    },
    { field: 'spec.raid.hardwareRAIDVolumes[2].level', reason: 'FieldValueRequired', message: 'Required value' },
  ]);
});

test('bounds, lengths, item counts, formats and list-map duplicates', () => {
  const host = realisticHost();
  const spec = host.spec as Record<string, unknown>;
  spec.rootDeviceHints = { minSizeGigabytes: -1 };
  spec.raid = {
    softwareRAIDVolumes: [
      { level: '1', physicalDisks: [{ deviceName: '/dev/sda' }] },
      { level: '1' },
      { level: '1' },
    ],
  };
  const status = host.status as Record<string, unknown>;
  status.lastUpdated = 'yesterday';
  const conditions = status.conditions as Record<string, unknown>[];
  conditions.push({ ...conditions[0] });
  const causes = bmh.validate(host);
  const sorted = [...causes].sort((a, b) => a.field.localeCompare(b.field));
  assert.deepEqual(sorted, [
    {
      field: 'spec.raid.softwareRAIDVolumes',
      reason: 'FieldValueTooMany',
      message: 'Too many: 3: must have at most 2 items',
    },
    {
      field: 'spec.raid.softwareRAIDVolumes[0].physicalDisks',
      reason: 'FieldValueInvalid',
      message: 'Invalid value: 1: spec.raid.softwareRAIDVolumes[0].physicalDisks in body should have at least 2 items',
    },
    {
      field: 'spec.rootDeviceHints.minSizeGigabytes',
      reason: 'FieldValueInvalid',
      message: 'Invalid value: -1: spec.rootDeviceHints.minSizeGigabytes in body should be greater than or equal to 0',
    },
    {
      field: 'status.conditions[2]',
      reason: 'FieldValueDuplicate',
      message: 'Duplicate value: map[string]interface {}{"type":"Ready"}',
    },
    {
      field: 'status.lastUpdated',
      reason: 'FieldValueTypeInvalid',
      message: 'Invalid value: "yesterday": status.lastUpdated in body must be of type date-time: "yesterday"',
    },
  ]);

  const long = realisticHost();
  (long.spec as Record<string, unknown>).raid = { hardwareRAIDVolumes: [{ level: '1', name: 'n'.repeat(65) }] };
  assert.deepEqual(bmh.validate(long), [
    {
      field: 'spec.raid.hardwareRAIDVolumes[0].name',
      reason: 'FieldValueTooLong',
      message: 'Too long: may not be more than 64 bytes',
    },
  ]);
});

test('compileSchema caches per definition', () => {
  assert.equal(compileSchema(bareMetalHostDefinition), bmh);
});

test('jsonPathValue evaluates printer-column and selectable-field paths', () => {
  const host = realisticHost();
  assert.equal(jsonPathValue(host, '.status.provisioning.state'), 'provisioned');
  assert.equal(jsonPathValue(host, 'status.provisioning.state'), 'provisioned');
  assert.equal(jsonPathValue(host, '.spec.consumerRef.name'), 'm3m-0');
  assert.equal(jsonPathValue(host, '.spec.online'), true);
  assert.equal(jsonPathValue(host, '{.metadata.name}'), 'worker-0');
  assert.equal(jsonPathValue(host, '.status.hardware.nics[0].mac'), '00:5c:52:31:3a:9c');
  assert.equal(jsonPathValue(host, ".status.conditions[?(@.type=='Provisioned')].reason"), 'Provisioned');
  assert.equal(jsonPathValue(host, ".metadata.labels['role']"), 'worker');
  assert.equal(jsonPathValue(host, '.metadata.creationTimestamp'), undefined);
  assert.equal(jsonPathValue(host, '.spec.consumerRef.name.deeper'), undefined);
  assert.equal(jsonPathValue(host, ".status.conditions[?(@.type=='Missing')].status"), undefined);
  assert.equal(jsonPathValue(host, '.status.hardware.nics[5].mac'), undefined);
  assert.equal(jsonPathValue({ metadata: { annotations: { 'a.b/c': 'v' } } }, '.metadata.annotations.a\\.b/c'), 'v');
  assert.equal(jsonPathValue(null, '.a'), undefined);
  assert.throws(() => jsonPathValue(host, '.a[?(@.b>1)]'), /unsupported JSONPath/);
});

test('core kinds: Namespace is cluster-scoped with a status subresource; Secret, ConfigMap and Event are namespaced', () => {
  const byKind = (kind: string) => {
    const def = coreKinds.find((d) => d.kind === kind);
    assert.ok(def, `${kind} is served`);
    return def;
  };
  const [ns, secret, event, cm] = [byKind('Namespace'), byKind('Secret'), byKind('Event'), byKind('ConfigMap')];
  assert.deepEqual([cm.namespaced, cm.shortNames], [true, ['cm']]);
  assert.deepEqual([ns.kind, ns.namespaced, ns.subresources.status, ns.shortNames], ['Namespace', false, true, ['ns']]);
  assert.deepEqual(ns.printerColumns.map((c) => c.name), ['Status', 'Age']);
  assert.deepEqual([secret.kind, secret.namespaced, secret.group, secret.version], ['Secret', true, '', 'v1']);
  assert.deepEqual([event.kind, event.namespaced, event.shortNames], ['Event', true, ['ev']]);
  assert.deepEqual(
    event.printerColumns.filter((c) => !c.priority).map((c) => c.name),
    ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
  );
  const s = compileSchema(secret);
  assert.deepEqual(s.validate({ data: { a: 'aGVsbG8=' }, stringData: { b: 'x' }, type: 'Opaque' }), []);
  assert.equal(s.validate({ data: { a: 'not base64!' } })[0].field, 'data.a');
});
