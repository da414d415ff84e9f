// Types and schemas shared by several metal3.io kinds (and by core/v1 kinds for ObjectReference),
// written once so a fix to one of them reaches every kind that embeds it.

import type { JSONSchemaProps } from '../types.ts';
import { arr, bool, enumOf, int, num, obj, str, time } from '../openapi.ts';

// ---- core/v1 ObjectReference ----

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export const objectReferenceSchema: JSONSchemaProps = obj(
  'ObjectReference contains enough information to let you inspect or modify the referred object.',
  {
    apiVersion: str('API version of the referent.'),
    fieldPath: str(
      'If referring to a piece of an object instead of an entire object, this string should contain a valid ' +
        'JSON/Go field access statement, such as desiredState.manifest.containers[2].',
    ),
    kind: str('Kind of the referent.'),
    name: str('Name of the referent.'),
    namespace: str('Namespace of the referent.'),
    resourceVersion: str('Specific resourceVersion to which this reference is made, if any.'),
    uid: str('UID of the referent.'),
  },
  { 'x-kubernetes-map-type': 'atomic' },
);

// ---- core/v1 SecretReference ----

export interface SecretReference {
  name?: string;
  namespace?: string;
}

export const secretReferenceSchema: JSONSchemaProps = obj(
  'SecretReference names a Secret; the namespace defaults to the namespace of the referring object.',
  {
    name: str('Name of the Secret, unique within its namespace.'),
    namespace: str('Namespace in which the Secret lives.'),
  },
  { 'x-kubernetes-map-type': 'atomic' },
);

// ---- Image ----

export const checksumTypes = ['md5', 'sha256', 'sha512', 'auto'] as const;
export const imageFormats = ['raw', 'qcow2', 'vdi', 'vmdk', 'live-iso'] as const;

export interface Image {
  url: string;
  checksum?: string;
  checksumType?: (typeof checksumTypes)[number];
  format?: (typeof imageFormats)[number];
  ociAuthSecretName?: string;
}

export const imageSchema: JSONSchemaProps = obj(
  'Image holds the details of an image to write to the host disk (or boot, for a live ISO).',
  {
    checksum: str(
      'Checksum of the image, or the URL of a file that holds it. Required unless the format is live-iso ' +
        'or the URL is an oci:// reference, for which it must stay empty.',
    ),
    checksumType: enumOf(
      'Algorithm of the checksum. Leave empty or set "auto" to let Ironic detect it.',
      [...checksumTypes],
    ),
    format: enumOf(
      'Disk format of the image. "live-iso" boots the ISO directly instead of writing it to disk; ' +
        'leave empty to let Ironic detect the format.',
      [...imageFormats],
    ),
    ociAuthSecretName: str(
      'Name of a Secret of type kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg, in the host ' +
        'namespace, holding registry credentials. Only used for oci:// images.',
    ),
    url: str('URL of the image to deploy: http, https, ftp or oci scheme.'),
  },
  { required: ['url'] },
);

// ---- HardwareDetails ----

export const diskTypes = ['HDD', 'SSD', 'NVME'] as const;
export const macPattern = '[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}';

export interface HardwareSystemVendor {
  manufacturer?: string;
  productName?: string;
  serialNumber?: string;
}
export interface BIOS {
  date?: string;
  vendor?: string;
  version?: string;
}
export interface Firmware {
  bios?: BIOS;
}
export interface VLAN {
  id?: number;
  name?: string;
}
export interface LLDP {
  switchID?: string;
  portID?: string;
  switchSystemName?: string;
}
export interface NIC {
  name?: string;
  model?: string;
  mac?: string;
  ip?: string;
  speedGbps?: number;
  vlans?: VLAN[];
  vlanId?: number;
  pxe?: boolean;
  lldp?: LLDP;
  pciAddress?: string;
}
export interface Storage {
  name?: string;
  alternateNames?: string[];
  rotational?: boolean;
  type?: (typeof diskTypes)[number];
  sizeBytes?: number;
  vendor?: string;
  model?: string;
  serialNumber?: string;
  wwn?: string;
  wwnVendorExtension?: string;
  wwnWithExtension?: string;
  hctl?: string;
}
export interface CPU {
  arch?: string;
  model?: string;
  clockMegahertz?: number;
  flags?: string[];
  count?: number;
}
export interface HardwareDetails {
  systemVendor?: HardwareSystemVendor;
  firmware?: Firmware;
  ramMebibytes?: number;
  nics?: NIC[];
  storage?: Storage[];
  cpu?: CPU;
  hostname?: string;
}

const vlanId = (description: string) => int(description, { format: 'int32', minimum: 0, maximum: 4094 });

export const hardwareDetailsSchema: JSONSchemaProps = obj(
  'HardwareDetails collects the hardware discovered on the host by inspection.',
  {
    cpu: obj('CPU describes the processors of the host.', {
      arch: str('Architecture of the CPU, e.g. x86_64 or aarch64.'),
      clockMegahertz: num('Clock speed of the CPU in MHz, rounded to a whole number.', { format: 'double' }),
      count: int('Number of CPU threads.'),
      flags: arr('CPU feature flags, sorted.', str('A CPU feature flag.')),
      model: str('Model name of the CPU.'),
    }),
    firmware: obj('Firmware describes the firmware of the host.', {
      bios: obj('BIOS describes the BIOS of the host.', {
        date: str('Release date of the BIOS.'),
        vendor: str('Vendor of the BIOS.'),
        version: str('Version of the BIOS.'),
      }),
    }),
    hostname: str('Hostname reported by the inspection ramdisk.'),
    nics: arr(
      'Network interfaces of the host: one entry per interface and IP address family.',
      obj('NIC describes one network interface of the host.', {
        ip: str('IP address of the interface; one of IPv4 or IPv6, a dual-stack interface has two entries.'),
        lldp: obj('LLDP data the interface received from the switch it is cabled to.', {
          portID: str('Port ID of the switch port.'),
          switchID: str('Chassis ID of the switch.'),
          switchSystemName: str('System name of the switch.'),
        }),
        mac: str('MAC address of the interface.', { pattern: macPattern }),
        model: str('Vendor and product IDs of the interface, e.g. "0x8086 0x1572".'),
        name: str('Name of the interface, e.g. "en0".'),
        pciAddress: str('PCI address of the interface.'),
        pxe: bool('Whether the interface is able to boot over PXE.'),
        speedGbps: int('Speed of the interface in Gbps.'),
        vlanId: vlanId('Untagged VLAN ID of the interface.'),
        vlans: arr(
          'VLANs available on the interface.',
          obj('VLAN is a VLAN available on an interface.', {
            id: vlanId('VLAN ID, 0 to 4094.'),
            name: str('Name of the VLAN.'),
          }),
        ),
      }),
    ),
    ramMebibytes: int('Amount of memory of the host in MiB.'),
    storage: arr(
      'Disks of the host.',
      obj('Storage describes one disk of the host.', {
        alternateNames: arr('Other names of the disk, e.g. its kernel name.', str('An alternate name of the disk.')),
        hctl: str('SCSI location of the disk (host:channel:target:lun).'),
        model: str('Model of the disk.'),
        name: str('Stable name of the disk (a /dev/disk/by-path name when available, else the kernel name).'),
        rotational: bool('Whether the disk is a spinning disk.'),
        serialNumber: str('Serial number of the disk.'),
        sizeBytes: int('Size of the disk in bytes.', { format: 'int64' }),
        type: enumOf('Device type of the disk.', [...diskTypes]),
        vendor: str('Vendor of the disk.'),
        wwn: str('World Wide Name of the disk.'),
        wwnVendorExtension: str('Vendor extension of the World Wide Name.'),
        wwnWithExtension: str('World Wide Name of the disk with its vendor extension.'),
      }),
    ),
    systemVendor: obj('SystemVendor identifies the maker and model of the host.', {
      manufacturer: str('Manufacturer of the host.'),
      productName: str('Product name of the host.'),
      serialNumber: str('Serial number of the host.'),
    }),
  },
);

// ---- metav1.Condition ----

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

const conditionSchema: JSONSchemaProps = obj(
  'Condition contains details for one aspect of the current state of this API resource.',
  {
    lastTransitionTime: time(
      'Last time the condition transitioned from one status to another; when the underlying condition ' +
        'changed.',
    ),
    message: str('Human-readable message indicating details about the transition; may be empty.', {
      maxLength: 32768,
    }),
    observedGeneration: int(
      'The .metadata.generation that the condition was set based upon; a condition older than the current ' +
        'generation is out of date.',
      { format: 'int64', minimum: 0 },
    ),
    reason: str('Programmatic identifier, in CamelCase, of the reason for the last transition.', {
      maxLength: 1024,
      minLength: 1,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    status: enumOf('Status of the condition, one of True, False, Unknown.', ['True', 'False', 'Unknown']),
    type: str('Type of the condition in CamelCase or in foo.example.com/CamelCase.', {
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
  },
  { required: ['lastTransitionTime', 'message', 'reason', 'status', 'type'] },
);

/** A []metav1.Condition keyed by type, as every metal3.io kind with conditions declares it. */
export const conditionsSchema = (description: string, extra: { maxItems?: number } = {}): JSONSchemaProps =>
  arr(description, conditionSchema, {
    ...extra,
    'x-kubernetes-list-map-keys': ['type'],
    'x-kubernetes-list-type': 'map',
  });
