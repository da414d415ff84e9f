import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/types.ts';
import {
  defaultBareMetalHost,
  validateBareMetalHost,
  validateBareMetalHostUpdate,
} from '../../webhooks/builtin/baremetalhost.ts';

type Spec = Record<string, unknown>;

function host(spec: Spec = {}, meta: Partial<KubeObject['metadata']> = {}, status?: Spec): KubeObject {
  return {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name: 'host-0', namespace: 'default', ...meta },
    spec: {
      online: true,
      bmc: { address: 'redfish://10.0.0.1/redfish/v1/Systems/1', credentialsName: 'bmc-secret' },
      bootMACAddress: '00:11:22:33:44:55',
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

const opts = { enableFakeBMC: false };
const bmc = (address: string) => ({ address, credentialsName: 'bmc-secret' });
const img = (image: Spec) => ({ image });

interface Rule {
  rule: string;
  ok: KubeObject;
  bad: KubeObject;
  field: string;
  reason: string;
  message: string;
}

const hwVolume = (v: Spec) => ({ raid: { hardwareRAIDVolumes: [{ level: '1', ...v }] } });

const rules: Rule[] = [
  // 1, 7: address parsing and hostname validity
  { rule: '1 known BMC scheme', ok: host({ bmc: bmc('idrac-virtualmedia://10.0.0.1/') }), bad: host({ bmc: bmc('idrac://10.0.0.1') }), field: 'spec.bmc.address', reason: 'FieldValueInvalid', message: "Unknown BMC type 'idrac' for address idrac://10.0.0.1" },
  { rule: '1 fake scheme gated', ok: host({ bmc: bmc('redfish://fake-1/') }), bad: host({ bmc: bmc('fake://fake-1') }), field: 'spec.bmc.address', reason: 'FieldValueInvalid', message: '--enable-fake-bmc' },
  { rule: '7 BMC hostname', ok: host({ bmc: bmc('redfish://bmc-1.example.com/') }), bad: host({ bmc: bmc('redfish://bmc_1.example.com/') }), field: 'spec.bmc.address', reason: 'FieldValueInvalid', message: 'BMC address hostname/IP : [bmc_1.example.com] is invalid' },
  // 2
  { rule: '2 firmware field', ok: host(), bad: host({ firmware: { sriovEnabled: true } }), field: 'spec.firmware', reason: 'FieldValueForbidden', message: 'the Firmware field is no longer supported, use HostFirmwareSettings resource instead' },
  // 3
  { rule: '3 userData namespace', ok: host({ userData: { name: 'ud', namespace: 'default' } }), bad: host({ userData: { name: 'ud', namespace: 'other' } }), field: 'spec.userData.namespace', reason: 'FieldValueForbidden', message: 'cross-namespace Secret references are not allowed' },
  { rule: '3 networkData namespace', ok: host({ networkData: { name: 'nd' } }), bad: host({ networkData: { name: 'nd', namespace: 'other' } }), field: 'spec.networkData.namespace', reason: 'FieldValueForbidden', message: 'networkData: cross-namespace Secret references are not allowed' },
  { rule: '3 metaData namespace', ok: host({ metaData: { name: 'md', namespace: 'default' } }), bad: host({ metaData: { name: 'md', namespace: 'kube-system' } }), field: 'spec.metaData.namespace', reason: 'FieldValueForbidden', message: 'metaData: cross-namespace' },
  // 4
  { rule: '4 hardware and software RAID', ok: host({ raid: { hardwareRAIDVolumes: [{ level: '1' }], softwareRAIDVolumes: [] } }), bad: host({ raid: { hardwareRAIDVolumes: [{ level: '1' }], softwareRAIDVolumes: [{ level: '1' }] } }), field: 'spec.raid', reason: 'FieldValueForbidden', message: 'hardwareRAIDVolumes and softwareRAIDVolumes can not be set at the same time' },
  { rule: '4 physicalDisks need controller', ok: host(hwVolume({ physicalDisks: ['d1', 'd2'], controller: 'RAID.1' })), bad: host(hwVolume({ physicalDisks: ['d1', 'd2'] })), field: 'spec.raid.hardwareRAIDVolumes[0].controller', reason: 'FieldValueRequired', message: "'physicalDisks' specified without 'controller' in hardware RAID volume 0" },
  { rule: '4 numberOfPhysicalDisks', ok: host(hwVolume({ physicalDisks: ['a', 'b'], controller: 'c', numberOfPhysicalDisks: 2 })), bad: host(hwVolume({ physicalDisks: ['a', 'b'], controller: 'c', numberOfPhysicalDisks: 3 })), field: 'spec.raid.hardwareRAIDVolumes[0].numberOfPhysicalDisks', reason: 'FieldValueInvalid', message: "the 'numberOfPhysicalDisks'[3] and number of 'physicalDisks'[2] is not same for volume 0" },
  { rule: '4 one software rootVolume', ok: host({ raid: { softwareRAIDVolumes: [{ level: '1', rootVolume: true }, { level: '0' }] } }), bad: host({ raid: { softwareRAIDVolumes: [{ level: '1', rootVolume: true }, { level: '1', rootVolume: true }] } }), field: 'spec.raid.softwareRAIDVolumes', reason: 'FieldValueForbidden', message: 'softwareRAIDVolumes[*].rootVolume can only be set once' },
  { rule: '4 rootVolume vs rootDeviceHints', ok: host({ raid: { softwareRAIDVolumes: [{ level: '1' }] }, rootDeviceHints: { deviceName: '/dev/sda' } }), bad: host({ raid: { softwareRAIDVolumes: [{ level: '1', rootVolume: true }] }, rootDeviceHints: { deviceName: '/dev/sda' } }), field: 'spec.rootDeviceHints', reason: 'FieldValueForbidden', message: 'softwareRAIDVolumes[*].rootVolume and rootDeviceHints can not be set at the same time' },
  { rule: '4 rootVolume is RAID-1', ok: host({ raid: { softwareRAIDVolumes: [{ level: '1', rootVolume: true }] } }), bad: host({ raid: { softwareRAIDVolumes: [{ level: '0', rootVolume: true }] } }), field: 'spec.raid.softwareRAIDVolumes[0].level', reason: 'FieldValueInvalid', message: 'softwareRAIDVolumes[0] with rootVolume set must use RAID level 1' },
  // 5
  { rule: '5 RAID needs a RAID driver', ok: host({ ...hwVolume({}), bmc: bmc('idrac-redfish://10.0.0.1/') }), bad: host({ ...hwVolume({}), bmc: bmc('ipmi://10.0.0.1') }), field: 'spec.raid.hardwareRAIDVolumes', reason: 'FieldValueForbidden', message: 'BMC driver ipmi does not support configuring RAID' },
  { rule: '5 libvirt needs a MAC', ok: host({ bmc: bmc('libvirt://10.0.0.1') }), bad: host({ bmc: bmc('libvirt://10.0.0.1'), bootMACAddress: undefined }), field: 'spec.bootMACAddress', reason: 'FieldValueRequired', message: 'BMC driver libvirt requires a BootMACAddress value' },
  { rule: '5 no inspection needs a MAC', ok: host({ bootMACAddress: undefined }), bad: host({ bootMACAddress: undefined, inspectionMode: 'disabled' }), field: 'spec.bootMACAddress', reason: 'FieldValueRequired', message: 'BMC driver redfish requires a BootMACAddress value' },
  { rule: '5 MAC parses', ok: host({ bootMACAddress: '00-11-22-33-44-AA' }), bad: host({ bootMACAddress: 'x00:11:22:33:44:55' }), field: 'spec.bootMACAddress', reason: 'FieldValueInvalid', message: 'address x00:11:22:33:44:55: invalid MAC address' },
  { rule: '5 secure boot support', ok: host({ bootMode: 'UEFISecureBoot' }), bad: host({ bootMode: 'UEFISecureBoot', bmc: bmc('ipmi://10.0.0.1') }), field: 'spec.bootMode', reason: 'FieldValueInvalid', message: 'BMC driver ipmi does not support secure boot' },
  // 6
  { rule: '6 name characters', ok: host({}, { name: 'Host_1.rack-2' }), bad: host({}, { name: 'host+1' }), field: 'metadata.name', reason: 'FieldValueInvalid', message: 'BareMetalHost resource name cannot contain characters other than [A-Za-z0-9._-]' },
  { rule: '6 name not a UUID', ok: host({}, { name: 'e2b1c0f5-3f2a-4c8e-9a47-1b2c3d4e5f6' }), bad: host({}, { name: 'e2b1c0f5-3f2a-4c8e-9a47-1b2c3d4e5f60' }), field: 'metadata.name', reason: 'FieldValueInvalid', message: 'BareMetalHost resource name cannot be a UUID' },
  // 8
  { rule: '8 deviceName under /dev', ok: host({ rootDeviceHints: { deviceName: '/dev/disk/by-path/pci-0000:01:00.0-scsi-0:2:0:0' } }), bad: host({ rootDeviceHints: { deviceName: 'sda' } }), field: 'spec.rootDeviceHints.deviceName', reason: 'FieldValueInvalid', message: 'device name of root device hint must be a /dev/ path, not "sda"' },
  { rule: '8 deviceName subdirectory', ok: host({ rootDeviceHints: { deviceName: '/dev/vda' } }), bad: host({ rootDeviceHints: { deviceName: '/dev/disk/by-id/wwn-1' } }), field: 'spec.rootDeviceHints.deviceName', reason: 'FieldValueInvalid', message: 'device name of root device hint must be path in /dev/ or /dev/disk/by-path/, not "/dev/disk/by-id/wwn-1"' },
  // 9
  { rule: '9 image URL scheme', ok: host(img({ url: 'oci://quay.io/os/image:1' })), bad: host(img({ url: 'file:///images/os.qcow2', checksum: 'abc' })), field: 'spec.image.url', reason: 'FieldValueInvalid', message: 'image URL file:///images/os.qcow2 is invalid: invalid scheme in URL, "file" not allowed' },
  { rule: '9 image URL parses', ok: host(img({ url: 'https://images/os.qcow2', checksum: 'abc' })), bad: host(img({ url: 'images/os.qcow2', checksum: 'abc' })), field: 'spec.image.url', reason: 'FieldValueInvalid', message: 'invalid URI for request' },
  { rule: '9 checksum required', ok: host(img({ url: 'http://i/live.iso', format: 'live-iso' })), bad: host(img({ url: 'http://i/os.qcow2' })), field: 'spec.image.checksum', reason: 'FieldValueRequired', message: 'checksum is required for normal images' },
  { rule: '9 no checksum for OCI', ok: host(img({ url: 'oci://quay.io/os/image:1' })), bad: host(img({ url: 'OCI://quay.io/os/image:1', checksum: 'abc' })), field: 'spec.image.checksum', reason: 'FieldValueForbidden', message: 'spec.image.checksum must be empty for OCI images (oci:// images have embedded checksums)' },
  { rule: '9 checksumType', ok: host(img({ url: 'http://i/os', checksum: 'abc', checksumType: 'auto' })), bad: host(img({ url: 'http://i/os', checksum: 'abc', checksumType: 'sha1' })), field: 'spec.image.checksumType', reason: 'FieldValueInvalid', message: 'unknown checksumType sha1, supported are auto, md5, sha256, sha512' },
  // 10
  { rule: '10 status annotation decodes strictly', ok: host({}, { annotations: { 'baremetalhost.metal3.io/status': '{"operationalStatus":"OK","poweredOn":true,"provisioning":{"state":"available","ID":""}}' } }), bad: host({}, { annotations: { 'baremetalhost.metal3.io/status': '{"operationalStatus":"OK","bogus":1}' } }), field: 'metadata.annotations[baremetalhost.metal3.io/status]', reason: 'FieldValueInvalid', message: 'error decoding status annotation: json: unknown field "bogus"' },
  { rule: '10 status annotation operationalStatus', ok: host({}, { annotations: { 'baremetalhost.metal3.io/status': '{"operationalStatus":"detached"}' } }), bad: host({}, { annotations: { 'baremetalhost.metal3.io/status': '{"operationalStatus":"servicing"}' } }), field: 'metadata.annotations[baremetalhost.metal3.io/status]', reason: 'FieldValueInvalid', message: "invalid operationalStatus 'servicing' in the baremetalhost.metal3.io/status annotation" },
  { rule: '10 status annotation errorType', ok: host({}, { annotations: { 'baremetalhost.metal3.io/status': '{"errorType":"registration error"}' } }), bad: host({}, { annotations: { 'baremetalhost.metal3.io/status': '{"errorType":"detach error"}' } }), field: 'metadata.annotations[baremetalhost.metal3.io/status]', reason: 'FieldValueInvalid', message: "invalid errorType 'detach error' in the baremetalhost.metal3.io/status annotation" },
  { rule: '10 status annotation types', ok: host({}, { annotations: { 'baremetalhost.metal3.io/status': '' } }), bad: host({}, { annotations: { 'baremetalhost.metal3.io/status': '{"poweredOn":"yes"}' } }), field: 'metadata.annotations[baremetalhost.metal3.io/status]', reason: 'FieldValueInvalid', message: 'json: cannot unmarshal string into Go struct field poweredOn of type bool' },
  { rule: '10 reboot annotation mode', ok: host({}, { annotations: { 'reboot.metal3.io': '{"mode":"soft"}', 'reboot.metal3.io/capm3': '' } }), bad: host({}, { annotations: { 'reboot.metal3.io/remediation': '{"mode":"cold"}' } }), field: 'metadata.annotations[reboot.metal3.io/remediation]', reason: 'FieldValueInvalid', message: 'invalid mode in the reboot.metal3.io annotation, allowed are "hard", "soft" or ""' },
  { rule: '10 reboot annotation JSON', ok: host({}, { annotations: { 'reboot.metal3.io': '{"mode":"hard","force":true}' } }), bad: host({}, { annotations: { 'reboot.metal3.io': 'now' } }), field: 'metadata.annotations[reboot.metal3.io]', reason: 'FieldValueInvalid', message: 'failed to unmarshal the data from the reboot.metal3.io annotation' },
  { rule: '10 inspect annotation', ok: host({}, { annotations: { 'inspect.metal3.io': 'disabled' } }), bad: host({}, { annotations: { 'inspect.metal3.io': 'please' } }), field: 'metadata.annotations[inspect.metal3.io]', reason: 'FieldValueInvalid', message: 'invalid value for the inspect.metal3.io annotation, allowed are "disabled" or ""' },
  { rule: '10 hardwaredetails needs inspection disabled', ok: host({ inspectionMode: 'disabled' }, { annotations: { 'inspect.metal3.io/hardwaredetails': '{"cpu":{"arch":"x86_64","count":8}}' } }), bad: host({}, { annotations: { 'inspect.metal3.io/hardwaredetails': '{"cpu":{"arch":"x86_64"}}' } }), field: 'metadata.annotations[inspect.metal3.io/hardwaredetails]', reason: 'FieldValueInvalid', message: 'when hardware details are provided, inspection must be disabled' },
  { rule: '10 hardwaredetails decodes strictly', ok: host({}, { annotations: { 'inspect.metal3.io': 'disabled', 'inspect.metal3.io/hardwaredetails': '{"ramMebibytes":4096}' } }), bad: host({}, { annotations: { 'inspect.metal3.io': 'disabled', 'inspect.metal3.io/hardwaredetails': '{"ram":4096}' } }), field: 'metadata.annotations[inspect.metal3.io/hardwaredetails]', reason: 'FieldValueInvalid', message: 'error decoding the inspect.metal3.io/hardwaredetails annotation: json: unknown field "ram"' },
  // 11
  { rule: '11 inspection annotation vs mode', ok: host({ inspectionMode: 'disabled' }, { annotations: { 'inspect.metal3.io': 'disabled' } }), bad: host({ inspectionMode: 'agent' }, { annotations: { 'inspect.metal3.io': 'disabled' } }), field: 'spec.inspectionMode', reason: 'FieldValueInvalid', message: 'inspect.metal3.io annotation and inspectionMode field have contradicting values' },
  { rule: '11 inspectionMode value', ok: host({ inspectionMode: 'agent' }), bad: host({ inspectionMode: 'quick' }), field: 'spec.inspectionMode', reason: 'FieldValueInvalid', message: "invalid inspectionMode value: quick, allowed values are 'disabled', 'agent', or 'fast'" },
  { rule: '11 fast inspection needs OOB', ok: host({ inspectionMode: 'fast' }), bad: host({ inspectionMode: 'fast', bmc: bmc('ipmi://10.0.0.1') }), field: 'spec.inspectionMode', reason: 'FieldValueInvalid', message: 'BMC driver ipmi does not support fast (out-of-band) inspection' },
  // 12
  { rule: '12 disablePowerOff needs online', ok: host({ disablePowerOff: true }), bad: host({ disablePowerOff: true, online: false }), field: 'spec.disablePowerOff', reason: 'FieldValueForbidden', message: "node can't simultaneously have online set to false and have power off disabled" },
  // 13
  { rule: '13 interface needs a selector', ok: host({ networkInterfaces: [{ name: 'eno1' }] }), bad: host({ networkInterfaces: [{ switchPort: { switchID: 'aa:bb:cc:dd:ee:ff', portID: '1' } }] }), field: 'spec.networkInterfaces[0]', reason: 'FieldValueRequired', message: 'networkInterfaces[0]: must specify either name or macAddress' },
  { rule: '13 name xor MAC', ok: host({ networkInterfaces: [{ macAddress: '00:11:22:33:44:66' }] }), bad: host({ networkInterfaces: [{ name: 'eno1', macAddress: '00:11:22:33:44:66' }] }), field: 'spec.networkInterfaces[0]', reason: 'FieldValueForbidden', message: 'networkInterfaces[0]: name and macAddress are mutually exclusive' },
  { rule: '13 unique selectors', ok: host({ networkInterfaces: [{ name: 'eno1' }, { name: 'eno2' }] }), bad: host({ networkInterfaces: [{ macAddress: 'AA:BB:CC:DD:EE:FF' }, { macAddress: 'aa:bb:cc:dd:ee:ff' }] }), field: 'spec.networkInterfaces[1]', reason: 'FieldValueDuplicate', message: 'networkInterfaces[1]: duplicate interface selector for "aa:bb:cc:dd:ee:ff"' },
];

for (const r of rules) {
  test(`rule ${r.rule}: accepted`, () => {
    assert.deepEqual(validateBareMetalHost(r.ok, opts), []);
  });
  test(`rule ${r.rule}: rejected with the field named`, () => {
    const causes = validateBareMetalHost(r.bad, opts);
    assert.equal(causes.length, 1, JSON.stringify(causes));
    assert.equal(causes[0].field, r.field);
    assert.equal(causes[0].reason, r.reason);
    assert.ok(causes[0].message.includes(r.message), causes[0].message);
  });
}

test('every failure of one host comes back together', () => {
  const causes = validateBareMetalHost(
    host({ bmc: bmc('ilo4://10.0.0.1'), firmware: {}, image: { url: 'http://i/os' }, disablePowerOff: true, online: false }, { name: 'a+b' }),
    opts,
  );
  assert.deepEqual(
    causes.map((c) => c.field),
    ['spec.bmc.address', 'spec.firmware', 'metadata.name', 'spec.image.checksum', 'spec.disablePowerOff'],
  );
});

test('an invalid hostname is reported once, not twice as BMO does', () => {
  assert.equal(validateBareMetalHost(host({ bmc: bmc('-bad-') }), opts).length, 1);
});

test('fake BMC accepted when enabled', () => {
  assert.deepEqual(validateBareMetalHost(host({ bmc: bmc('fake://fake-1'), inspectionMode: 'fast', bootMode: 'UEFISecureBoot' }), { enableFakeBMC: true }), []);
});

test('ill-typed input never throws', () => {
  const weird = host({ bmc: 'x', raid: { hardwareRAIDVolumes: 'no', softwareRAIDVolumes: [null, 3] }, networkInterfaces: [null], image: 7 }, { annotations: { 'reboot.metal3.io': '[1]' } });
  assert.doesNotThrow(() => validateBareMetalHost(weird, opts));
  assert.doesNotThrow(() => validateBareMetalHost({ apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: {} }, opts));
  assert.doesNotThrow(() => validateBareMetalHostUpdate(weird, { apiVersion: 'x', kind: 'y', metadata: {}, spec: null }));
});

// ---- §5.2 ----

const registered = (state: string, operationalStatus = 'OK') => ({ operationalStatus, provisioning: { state, ID: 'x' } });

interface UpdateRule {
  rule: string;
  old: KubeObject;
  ok: KubeObject;
  bad: KubeObject;
  /** The stored object the bad update is made against; `old` when unset. */
  badOld?: KubeObject;
  field: string;
  message: string;
}

const updates: UpdateRule[] = [
  {
    rule: 'BMC address changes only while registering',
    old: host({}, {}, registered('registering')),
    ok: host({ bmc: bmc('redfish://10.0.0.2/') }, {}, registered('registering')),
    bad: host({ bmc: bmc('redfish://10.0.0.2/') }, {}, registered('available')),
    badOld: host({}, {}, registered('available')),
    field: 'spec.bmc.address',
    message: 'BMC address can not be changed if the BMH is not in the Registering state, or if the BMH is not detached',
  },
  {
    rule: 'BMC address changes while detached',
    old: host({}, {}, registered('provisioned', 'detached')),
    ok: host({ bmc: bmc('redfish://10.0.0.2/') }, {}, registered('provisioned', 'detached')),
    bad: host({ bmc: bmc('redfish://10.0.0.2/') }, {}, registered('provisioned', 'OK')),
    badOld: host({}, {}, registered('provisioned', 'OK')),
    field: 'spec.bmc.address',
    message: 'BMC address can not be changed',
  },
  {
    rule: 'bootMACAddress immutable once set (case-insensitive)',
    old: host({}, {}, registered('available')),
    ok: host({ bootMACAddress: '00:11:22:33:44:55'.toUpperCase() }, {}, registered('available')),
    bad: host({ bootMACAddress: '00:11:22:33:44:56' }, {}, registered('available')),
    field: 'spec.bootMACAddress',
    message: 'bootMACAddress can not be changed once it is set',
  },
  {
    rule: 'externallyProvisioned turns on only from available',
    old: host({}, {}, registered('available')),
    ok: host({ externallyProvisioned: true }, {}, registered('available')),
    bad: host({ externallyProvisioned: true }, {}, registered('provisioning')),
    badOld: host({}, {}, registered('provisioning')),
    field: 'spec.externallyProvisioned',
    message: 'externallyProvisioned can only be enabled when in Available state, currently in provisioning',
  },
];

for (const u of updates) {
  test(`update: ${u.rule}: accepted`, () => {
    assert.deepEqual(validateBareMetalHostUpdate(u.ok, u.old, opts), []);
  });
  test(`update: ${u.rule}: rejected`, () => {
    const causes = validateBareMetalHostUpdate(u.bad, u.badOld ?? u.old, opts);
    assert.equal(causes.length, 1, JSON.stringify(causes));
    assert.equal(causes[0].field, u.field);
    assert.equal(causes[0].reason, 'FieldValueForbidden');
    assert.ok(causes[0].message.includes(u.message), causes[0].message);
  });
}

test('update: setting a first BMC address or a first MAC is allowed in any state', () => {
  const old = host({ bmc: { address: '', credentialsName: '' }, bootMACAddress: undefined }, {}, registered('available'));
  assert.deepEqual(validateBareMetalHostUpdate(host({}, {}, registered('available')), old, opts), []);
});

test('update-only rules do not repeat the create rules', () => {
  const bad = host({ firmware: {} }, {}, registered('available'));
  assert.deepEqual(validateBareMetalHostUpdate(bad, bad, opts), []);
});

// ---- defaults ----

test('defaults: bootMode UEFI and automatedCleaningMode metadata, idempotent, user values kept', () => {
  const h = host();
  defaultBareMetalHost(h);
  const spec = h.spec as Spec;
  assert.equal(spec.bootMode, 'UEFI');
  assert.equal(spec.automatedCleaningMode, 'metadata');
  const once = structuredClone(h);
  defaultBareMetalHost(h);
  assert.deepEqual(h, once);
  const legacy = host({ bootMode: 'legacy', automatedCleaningMode: 'disabled' });
  defaultBareMetalHost(legacy);
  assert.equal((legacy.spec as Spec).bootMode, 'legacy');
  assert.equal((legacy.spec as Spec).automatedCleaningMode, 'disabled');
  const noSpec: KubeObject = { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', metadata: {} };
  defaultBareMetalHost(noSpec);
  assert.equal(noSpec.spec, undefined);
});
