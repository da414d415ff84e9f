// BareMetalHost: BMO's validating webhook rules (bmo.md §5.1, §5.2), each failure a cause naming its field
// with BMO's own words inside, and the defaults BMO applies in code, made visible at the API.

import type { FieldCause } from '../../api/schema.ts';
import type { JSONSchemaProps, KubeObject } from '../../api/types.ts';
import { BMCAddressError, parseBMCAddress, type BMCAccessDetails } from '../../api/bmc.ts';
import { bareMetalHostDefinition } from '../../api/kinds/baremetalhost.ts';
import { arrAt, boolAt, cause, goField, isObj, objAt, strAt, strictDecodeError, urlError, type Obj } from './fields.ts';

export interface BareMetalHostRuleOptions {
  /** Accept `fake://` BMC addresses (Ironic fake-hardware). */
  enableFakeBMC: boolean;
}

const statusAnnotation = 'baremetalhost.metal3.io/status';
const rebootAnnotation = 'reboot.metal3.io';
const inspectAnnotation = 'inspect.metal3.io';
const hardwareDetailsAnnotation = 'inspect.metal3.io/hardwaredetails';

// What the status annotation may restore; BMO's lists leave out `servicing` and `detach error` on purpose.
const statusAnnotationOperationalStatuses = ['', 'OK', 'discovered', 'error', 'delayed', 'detached'];
const statusAnnotationErrorTypes = [
  '',
  'provisioned registration error',
  'registration error',
  'inspection error',
  'preparation error',
  'provisioning error',
  'power management error',
];
const rebootModes = ['hard', 'soft', ''];
const inspectionModes = ['disabled', 'agent', 'fast'];
const supportedChecksums = 'auto, md5, sha256, sha512';

const statusSchema: JSONSchemaProps = bareMetalHostDefinition.schema.properties?.status ?? { type: 'object' };
const hardwareDetailsSchema: JSONSchemaProps = statusSchema.properties?.hardware ?? { type: 'object' };

const annotationsOf = (host: KubeObject): Record<string, string> => {
  const a = host.metadata?.annotations;
  return isObj(a) ? (a as Record<string, string>) : {};
};

/** BMO's InspectionDisabled: the inspectionMode field first, then the legacy annotation. */
function inspectionDisabled(host: KubeObject): boolean {
  if (strAt(host.spec, 'inspectionMode') === 'disabled') return true;
  return annotationsOf(host)[inspectAnnotation] === 'disabled';
}

const hex = '[0-9a-fA-F]';
const macForms = [2, 8, 20].flatMap((bytes) => [
  new RegExp(`^${hex}{2}(:${hex}{2}){${bytes === 2 ? 5 : bytes - 1}}$`),
  new RegExp(`^${hex}{2}(-${hex}{2}){${bytes === 2 ? 5 : bytes - 1}}$`),
  new RegExp(`^${hex}{4}(\\.${hex}{4}){${(bytes === 2 ? 6 : bytes) / 2 - 1}}$`),
]);

/** Go's net.ParseMAC: EUI-48, EUI-64 and 20-byte InfiniBand addresses, colon, hyphen or dot separated. */
export const isMACAddress = (s: string) => macForms.some((re) => re.test(s));

const uuidForms = [new RegExp(`^${hex}{8}-${hex}{4}-${hex}{4}-${hex}{4}-${hex}{12}$`), new RegExp(`^${hex}{32}$`)];

// ---- §5.1, one function per rule ----

function bmcAddress(host: KubeObject, opts: BareMetalHostRuleOptions): { access?: BMCAccessDetails; causes: FieldCause[] } {
  const address = strAt(objAt(host.spec, 'bmc'), 'address');
  if (address === '') return { causes: [] };
  try {
    return { access: parseBMCAddress(address, opts), causes: [] };
  } catch (e) {
    if (!(e instanceof BMCAddressError)) throw e;
    // BMO checks the hostname twice (rule 1 and rule 7) and reports the same error twice; once is enough.
    return { causes: [cause.invalid('spec.bmc.address', address, e.message)] };
  }
}

function firmware(host: KubeObject): FieldCause[] {
  if (!isObj(host.spec) || host.spec.firmware === undefined || host.spec.firmware === null) return [];
  return [
    cause.forbidden('spec.firmware', 'the Firmware field is no longer supported, use HostFirmwareSettings resource instead'),
  ];
}

function crossNamespaceSecrets(host: KubeObject): FieldCause[] {
  const namespace = host.metadata?.namespace ?? '';
  const out: FieldCause[] = [];
  for (const field of ['userData', 'networkData', 'metaData']) {
    const ref = objAt(host.spec, field);
    const ns = strAt(ref, 'namespace');
    if (ns !== '' && ns !== namespace) {
      out.push(cause.forbidden(`spec.${field}.namespace`, `${field}: cross-namespace Secret references are not allowed`));
    }
  }
  return out;
}

function raid(host: KubeObject): FieldCause[] {
  const r = objAt(host.spec, 'raid');
  if (!r) return [];
  const out: FieldCause[] = [];
  const hardware = arrAt(r, 'hardwareRAIDVolumes');
  const software = arrAt(r, 'softwareRAIDVolumes');
  if (hardware.length > 0 && software.length > 0) {
    out.push(cause.forbidden('spec.raid', 'hardwareRAIDVolumes and softwareRAIDVolumes can not be set at the same time'));
  }
  hardware.forEach((volume, i) => {
    const disks = arrAt(volume, 'physicalDisks');
    const path = `spec.raid.hardwareRAIDVolumes[${i}]`;
    if (disks.length > 0 && strAt(volume, 'controller') === '') {
      out.push(cause.required(`${path}.controller`, `'physicalDisks' specified without 'controller' in hardware RAID volume ${i}`));
    }
    const count = isObj(volume) ? volume.numberOfPhysicalDisks : undefined;
    if (typeof count === 'number' && disks.length > 0 && count !== disks.length) {
      out.push(
        cause.invalid(
          `${path}.numberOfPhysicalDisks`,
          count,
          `the 'numberOfPhysicalDisks'[${count}] and number of 'physicalDisks'[${disks.length}] is not same for volume ${i}`,
        ),
      );
    }
  });
  const roots = software.filter((v) => boolAt(v, 'rootVolume')).length;
  if (roots > 1) out.push(cause.forbidden('spec.raid.softwareRAIDVolumes', 'softwareRAIDVolumes[*].rootVolume can only be set once'));
  if (roots === 1 && isObj(host.spec) && host.spec.rootDeviceHints != null) {
    out.push(
      cause.forbidden('spec.rootDeviceHints', 'softwareRAIDVolumes[*].rootVolume and rootDeviceHints can not be set at the same time'),
    );
  }
  software.forEach((volume, i) => {
    const level = strAt(volume, 'level');
    if (boolAt(volume, 'rootVolume') && level !== '1') {
      out.push(
        cause.invalid(`spec.raid.softwareRAIDVolumes[${i}].level`, level, `softwareRAIDVolumes[${i}] with rootVolume set must use RAID level 1`),
      );
    }
  });
  return out;
}

function bmcCapabilities(host: KubeObject, access: BMCAccessDetails | undefined): FieldCause[] {
  const out: FieldCause[] = [];
  const mac = strAt(host.spec, 'bootMACAddress');
  // BMO checks the MAC only when the BMC address parses; a bad MAC is wrong whatever the address.
  if (mac !== '' && !isMACAddress(mac)) out.push(cause.invalid('spec.bootMACAddress', mac, `address ${mac}: invalid MAC address`));
  if (!access) return out;
  if (arrAt(objAt(host.spec, 'raid'), 'hardwareRAIDVolumes').length > 0 && access.raidInterface === 'no-raid') {
    out.push(cause.forbidden('spec.raid.hardwareRAIDVolumes', `BMC driver ${access.type} does not support configuring RAID`));
  }
  // Virtual media drivers need no MAC to boot, but without inspection nothing discovers one.
  if ((access.needsMAC || inspectionDisabled(host)) && mac === '') {
    out.push(cause.required('spec.bootMACAddress', `BMC driver ${access.type} requires a BootMACAddress value`));
  }
  if (strAt(host.spec, 'bootMode') === 'UEFISecureBoot' && !access.supportsSecureBoot) {
    out.push(cause.invalid('spec.bootMode', 'UEFISecureBoot', `BMC driver ${access.type} does not support secure boot`));
  }
  return out;
}

function name(host: KubeObject): FieldCause[] {
  const n = host.metadata?.name ?? '';
  if (/[^A-Za-z0-9._-]/.test(n)) {
    return [cause.invalid('metadata.name', n, 'BareMetalHost resource name cannot contain characters other than [A-Za-z0-9._-]')];
  }
  if (uuidForms.some((re) => re.test(n))) return [cause.invalid('metadata.name', n, 'BareMetalHost resource name cannot be a UUID')];
  return [];
}

function rootDeviceHints(host: KubeObject): FieldCause[] {
  const deviceName = strAt(objAt(host.spec, 'rootDeviceHints'), 'deviceName');
  if (deviceName === '') return [];
  const field = 'spec.rootDeviceHints.deviceName';
  if (!deviceName.startsWith('/dev/')) {
    return [cause.invalid(field, deviceName, `device name of root device hint must be a /dev/ path, not "${deviceName}"`)];
  }
  let sub = deviceName.slice('/dev/'.length);
  if (sub.startsWith('disk/by-path/')) sub = sub.slice('disk/by-path/'.length);
  if (sub.includes('/')) {
    return [
      cause.invalid(field, deviceName, `device name of root device hint must be path in /dev/ or /dev/disk/by-path/, not "${deviceName}"`),
    ];
  }
  return [];
}

function image(host: KubeObject): FieldCause[] {
  const img = objAt(host.spec, 'image');
  if (!img) return [];
  const out: FieldCause[] = [];
  const url = strAt(img, 'url');
  const err = urlError(url);
  if (err) out.push(cause.invalid('spec.image.url', url, `image URL ${url} is invalid: ${err}`));
  const checksum = strAt(img, 'checksum');
  const checksumType = strAt(img, 'checksumType');
  if (url.toLowerCase().startsWith('oci://')) {
    if (checksum !== '') {
      out.push(
        cause.forbidden('spec.image.checksum', 'spec.image.checksum must be empty for OCI images (oci:// images have embedded checksums)'),
      );
    }
  } else if (strAt(img, 'format') === 'live-iso') {
    // a live ISO is booted, not written, so nothing is verified
  } else if (checksum === '') {
    out.push(cause.required('spec.image.checksum', 'checksum is required for normal images'));
  } else if (!['', 'auto', 'md5', 'sha256', 'sha512'].includes(checksumType)) {
    out.push(
      cause.invalid('spec.image.checksumType', checksumType, `unknown checksumType ${checksumType}, supported are ${supportedChecksums}`),
    );
  }
  return out;
}

function statusAnnotationError(value: string): string {
  if (value === '') return '';
  let decoded: unknown;
  try {
    decoded = JSON.parse(value);
  } catch (e) {
    return `error decoding status annotation: ${(e as Error).message}`;
  }
  const err = strictDecodeError(decoded, statusSchema);
  if (err) return `error decoding status annotation: ${err}`;
  const status = isObj(decoded) ? decoded : {};
  const opStatus = goField(status, 'operationalStatus') ?? '';
  if (!statusAnnotationOperationalStatuses.includes(String(opStatus))) {
    return `invalid operationalStatus '${String(opStatus)}' in the ${statusAnnotation} annotation`;
  }
  const errorType = goField(status, 'errorType') ?? '';
  if (!statusAnnotationErrorTypes.includes(String(errorType))) {
    return `invalid errorType '${String(errorType)}' in the ${statusAnnotation} annotation`;
  }
  return '';
}

function rebootAnnotationError(value: string): string {
  if (value === '') return '';
  const prefix = `failed to unmarshal the data from the ${rebootAnnotation} annotation: `;
  let decoded: unknown;
  try {
    decoded = JSON.parse(value);
  } catch (e) {
    return prefix + (e as Error).message;
  }
  const err = strictDecodeError(decoded, {
    type: 'object',
    properties: { mode: { type: 'string' }, force: { type: 'boolean' } },
    // Go's json.Unmarshal without DisallowUnknownFields ignores other keys.
    additionalProperties: true,
  });
  if (err) return prefix + err;
  const mode = isObj(decoded) ? (goField(decoded, 'mode') ?? '') : '';
  if (!rebootModes.includes(String(mode))) {
    return `invalid mode in the ${rebootAnnotation} annotation, allowed are "hard", "soft" or ""`;
  }
  return '';
}

function hardwareDetailsAnnotationError(value: string, disabled: boolean): string {
  if (value === '') return '';
  if (!disabled) {
    return 'when hardware details are provided, inspection must be disabled (either via inspect.metal3.io annotation or inspectionMode field)';
  }
  const prefix = `error decoding the ${hardwareDetailsAnnotation} annotation: `;
  try {
    const err = strictDecodeError(JSON.parse(value), hardwareDetailsSchema);
    return err ? prefix + err : '';
  } catch (e) {
    return prefix + (e as Error).message;
  }
}

function annotations(host: KubeObject): FieldCause[] {
  const all = annotationsOf(host);
  const out: FieldCause[] = [];
  // Go walks the map in random order; sorted keys keep our answers stable.
  for (const key of Object.keys(all).sort()) {
    const value = typeof all[key] === 'string' ? all[key] : '';
    let err = '';
    if (key === statusAnnotation) err = statusAnnotationError(value);
    else if (key === rebootAnnotation || key.startsWith(`${rebootAnnotation}/`)) err = rebootAnnotationError(value);
    else if (key === inspectAnnotation) {
      if (value !== '' && value !== 'disabled') err = `invalid value for the ${inspectAnnotation} annotation, allowed are "disabled" or ""`;
    } else if (key === hardwareDetailsAnnotation) err = hardwareDetailsAnnotationError(value, inspectionDisabled(host));
    // The value may be a large JSON document; the message carries BMO's words, not the value again.
    if (err) out.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${err}`, field: `metadata.annotations[${key}]` });
  }
  return out;
}

function inspectionMode(host: KubeObject, access: BMCAccessDetails | undefined): FieldCause[] {
  const annotation = annotationsOf(host)[inspectAnnotation] ?? '';
  const mode = strAt(host.spec, 'inspectionMode');
  const field = 'spec.inspectionMode';
  if (annotation !== '' && mode !== '' && (annotation === 'disabled') !== (mode === 'disabled')) {
    return [cause.invalid(field, mode, 'inspect.metal3.io annotation and inspectionMode field have contradicting values')];
  }
  if (mode !== '' && !inspectionModes.includes(mode)) {
    return [cause.invalid(field, mode, `invalid inspectionMode value: ${mode}, allowed values are 'disabled', 'agent', or 'fast'`)];
  }
  if (mode === 'fast' && access && access.inspectInterface === '') {
    return [cause.invalid(field, mode, `BMC driver ${access.type} does not support fast (out-of-band) inspection`)];
  }
  return [];
}

function powerOff(host: KubeObject): FieldCause[] {
  if (boolAt(host.spec, 'disablePowerOff') && !boolAt(host.spec, 'online')) {
    return [cause.forbidden('spec.disablePowerOff', "node can't simultaneously have online set to false and have power off disabled")];
  }
  return [];
}

function networkInterfaces(host: KubeObject): FieldCause[] {
  const out: FieldCause[] = [];
  const seen = new Set<string>();
  arrAt(host.spec, 'networkInterfaces').forEach((iface, i) => {
    const path = `spec.networkInterfaces[${i}]`;
    const ifName = strAt(iface, 'name');
    const mac = strAt(iface, 'macAddress');
    if (ifName === '' && mac === '') {
      out.push(cause.required(path, `networkInterfaces[${i}]: must specify either name or macAddress`));
      return;
    }
    if (ifName !== '' && mac !== '') {
      out.push(cause.forbidden(path, `networkInterfaces[${i}]: name and macAddress are mutually exclusive`));
      return;
    }
    const key = mac || ifName;
    if (seen.has(key.toLowerCase())) {
      out.push(cause.duplicate(path, key, `networkInterfaces[${i}]: duplicate interface selector for ${JSON.stringify(key)}`));
    }
    seen.add(key.toLowerCase());
  });
  return out;
}

/** BMO's create rules (§5.1), also run on every update; all failures at once, in BMO's order. */
export function validateBareMetalHost(host: KubeObject, opts: BareMetalHostRuleOptions): FieldCause[] {
  const { access, causes } = bmcAddress(host, opts);
  return [
    ...causes,
    ...firmware(host),
    ...crossNamespaceSecrets(host),
    ...raid(host),
    ...bmcCapabilities(host, access),
    ...name(host),
    ...rootDeviceHints(host),
    ...image(host),
    ...annotations(host),
    ...inspectionMode(host, access),
    ...powerOff(host),
    ...networkInterfaces(host),
  ];
}

const stateOf = (host: KubeObject) => strAt(objAt(host.status, 'provisioning'), 'state');
const operationalStatusOf = (host: KubeObject) => strAt(host.status, 'operationalStatus');

/** BMO's update-only rules (§5.2). The create rules are not repeated: the caller runs both. */
export function validateBareMetalHostUpdate(host: KubeObject, old: KubeObject, _opts?: BareMetalHostRuleOptions): FieldCause[] {
  const out: FieldCause[] = [];
  const oldAddress = strAt(objAt(old.spec, 'bmc'), 'address');
  const newAddress = strAt(objAt(host.spec, 'bmc'), 'address');
  const either = (f: (h: KubeObject) => string, v: string) => f(old) === v || f(host) === v;
  // A BMC can be replaced only while nothing in Ironic depends on the old address.
  if (oldAddress !== '' && newAddress !== oldAddress && !either(operationalStatusOf, 'detached') && !either(stateOf, 'registering')) {
    out.push(
      cause.forbidden(
        'spec.bmc.address',
        'BMC address can not be changed if the BMH is not in the Registering state, or if the BMH is not detached',
      ),
    );
  }
  const oldMAC = strAt(old.spec, 'bootMACAddress');
  if (oldMAC !== '' && strAt(host.spec, 'bootMACAddress').toLowerCase() !== oldMAC.toLowerCase()) {
    out.push(cause.forbidden('spec.bootMACAddress', 'bootMACAddress can not be changed once it is set'));
  }
  if (!boolAt(old.spec, 'externallyProvisioned') && boolAt(host.spec, 'externallyProvisioned') && !either(stateOf, 'available')) {
    out.push(
      cause.forbidden(
        'spec.externallyProvisioned',
        `externallyProvisioned can only be enabled when in Available state, currently in ${stateOf(old)}`,
      ),
    );
  }
  return out;
}

/**
 * The defaults BMO applies in code, written into the object so users see them. Only fields with a fixed
 * default and no dependence on status, so that repeated apply never sees a diff.
 */
export function defaultBareMetalHost(host: KubeObject): void {
  const spec: Obj | undefined = isObj(host.spec) ? host.spec : undefined;
  if (!spec) return;
  spec.automatedCleaningMode ??= 'metadata';
  spec.bootMode ??= 'UEFI';
}
