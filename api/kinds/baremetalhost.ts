// BareMetalHost: one physical server, its BMC, and what should run on it.

import type { JSONSchemaProps, ObjectMeta, ResourceDefinition } from '../types.ts';
import { arr, bool, describe, enumOf, int, kindSchema, obj, str, time } from '../openapi.ts';
import {
  conditionsSchema,
  hardwareDetailsSchema,
  imageSchema,
  macPattern,
  objectReferenceSchema,
  secretReferenceSchema,
  type Condition,
  type HardwareDetails,
  type Image,
  type ObjectReference,
  type SecretReference,
} from './common.ts';

export const bootModes = ['UEFI', 'UEFISecureBoot', 'legacy'] as const;
export const automatedCleaningModes = ['metadata', 'disabled'] as const;
export const inspectionModes = ['disabled', 'agent', 'fast'] as const;
export const hardwareRAIDLevels = ['0', '1', '2', '5', '6', '1+0', '5+0', '6+0'] as const;
export const softwareRAIDLevels = ['0', '1', '1+0'] as const;

/** Values of status.provisioning.state. The CRD declares no enum for it; these are what BMO writes. */
export const provisioningStates = [
  '',
  'unmanaged',
  'registering',
  'match profile',
  'preparing',
  'ready',
  'available',
  'provisioning',
  'provisioned',
  'externally provisioned',
  'deprovisioning',
  'inspecting',
  'powering off before delete',
  'deleting',
] as const;

export const operationalStatuses = ['', 'OK', 'discovered', 'error', 'delayed', 'detached', 'servicing'] as const;

// BMO can also set "detach error", but its CRD enum leaves it out; we keep the CRD's list.
export const errorTypes = [
  'provisioned registration error',
  'registration error',
  'inspection error',
  'preparation error',
  'provisioning error',
  'power management error',
  'servicing error',
] as const;

export type BootMode = (typeof bootModes)[number];
export type ProvisioningState = (typeof provisioningStates)[number];
export type OperationalStatus = (typeof operationalStatuses)[number];
export type ErrorType = (typeof errorTypes)[number] | 'detach error';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export interface BMCDetails {
  address: string;
  credentialsName: string;
  disableCertificateVerification?: boolean;
}

export interface RootDeviceHints {
  deviceName?: string;
  hctl?: string;
  model?: string;
  vendor?: string;
  serialNumber?: string;
  minSizeGigabytes?: number;
  wwn?: string;
  wwnWithExtension?: string;
  wwnVendorExtension?: string;
  rotational?: boolean;
}

export interface HardwareRAIDVolume {
  sizeGibibytes?: number;
  level: (typeof hardwareRAIDLevels)[number];
  name?: string;
  rotational?: boolean;
  numberOfPhysicalDisks?: number;
  controller?: string;
  physicalDisks?: string[];
}

export interface SoftwareRAIDVolume {
  rootVolume?: boolean;
  sizeGibibytes?: number;
  level: (typeof softwareRAIDLevels)[number];
  physicalDisks?: RootDeviceHints[];
}

export interface RAIDConfig {
  hardwareRAIDVolumes?: HardwareRAIDVolume[] | null;
  softwareRAIDVolumes?: SoftwareRAIDVolume[] | null;
}

export interface FirmwareConfig {
  virtualizationEnabled?: boolean;
  simultaneousMultithreadingEnabled?: boolean;
  sriovEnabled?: boolean;
}

export interface CustomDeploy {
  method: string;
}

export interface NetworkInterface {
  name?: string;
  macAddress?: string;
  hostNetworkAttachment?: { name?: string; namespace?: string };
  switchPort?: { switchID: string; portID: string };
}

export interface BareMetalHostSpec {
  taints?: Taint[];
  bmc?: BMCDetails;
  raid?: RAIDConfig;
  firmware?: FirmwareConfig;
  hardwareProfile?: string;
  rootDeviceHints?: RootDeviceHints;
  bootMode?: BootMode;
  bootMACAddress?: string;
  online: boolean;
  consumerRef?: ObjectReference;
  image?: Image;
  userData?: SecretReference;
  preprovisioningNetworkDataName?: string;
  networkData?: SecretReference;
  metaData?: SecretReference;
  description?: string;
  externallyProvisioned?: boolean;
  automatedCleaningMode?: (typeof automatedCleaningModes)[number];
  customDeploy?: CustomDeploy;
  architecture?: string;
  disablePowerOff?: boolean;
  inspectionMode?: (typeof inspectionModes)[number];
  networkInterfaces?: NetworkInterface[];
}

export interface ProvisionStatus {
  state: ProvisioningState;
  ID: string;
  image?: Image;
  rootDeviceHints?: RootDeviceHints;
  bootMode?: BootMode;
  raid?: RAIDConfig;
  firmware?: FirmwareConfig;
  customDeploy?: CustomDeploy;
}

export interface CredentialsStatus {
  credentials?: SecretReference;
  credentialsVersion?: string;
}

export interface OperationMetric {
  start?: string | null;
  end?: string | null;
}

export interface OperationHistory {
  register?: OperationMetric;
  inspect?: OperationMetric;
  provision?: OperationMetric;
  deprovision?: OperationMetric;
}

export interface BareMetalHostStatus {
  operationalStatus: OperationalStatus;
  errorType?: ErrorType;
  lastUpdated?: string;
  hardwareProfile?: string;
  hardware?: HardwareDetails;
  provisioning: ProvisionStatus;
  goodCredentials?: CredentialsStatus;
  triedCredentials?: CredentialsStatus;
  errorMessage: string;
  poweredOn: boolean;
  operationHistory?: OperationHistory;
  errorCount: number;
  provisioningFailCount: number;
  lastAttemptedImage?: Image;
  conditions?: Condition[];
}

export interface BareMetalHost {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'BareMetalHost';
  metadata: ObjectMeta;
  spec?: BareMetalHostSpec;
  status?: BareMetalHostStatus;
}

// ---- schema ----

const rootDeviceHintsSchema = obj(
  'RootDeviceHints select the disk the image is written to. All given hints must match the same disk.',
  {
    deviceName: str(
      'Linux device name of the disk, e.g. "/dev/vda", or a by-path name such as ' +
        '"/dev/disk/by-path/pci-0000:01:00.0-scsi-0:2:0:0". The hint must match the actual value exactly.',
    ),
    hctl: str('SCSI bus address, e.g. "0:0:0:0". The hint must match the actual value exactly.'),
    minSizeGigabytes: int('Smallest acceptable disk size in GB.', { minimum: 0 }),
    model: str('Vendor-specific device identifier. The hint may be a substring of the actual value.'),
    rotational: bool('True for a spinning disk, false for anything else.'),
    serialNumber: str('Disk serial number. The hint must match the actual value exactly.'),
    vendor: str('Name of the vendor or manufacturer of the disk. The hint may be a substring of the actual value.'),
    wwn: str('Unique storage identifier. The hint must match the actual value exactly.'),
    wwnVendorExtension: str('Unique vendor storage identifier. The hint must match the actual value exactly.'),
    wwnWithExtension: str(
      'Unique storage identifier with the vendor extension appended. The hint must match the actual value exactly.',
    ),
  },
);

const raidSchema = obj(
  'RAIDConfig describes the RAID volumes to build while preparing the host. Hardware and software volumes ' +
    'are mutually exclusive.',
  {
    hardwareRAIDVolumes: arr(
      'Hardware RAID volumes to create. An empty list deletes every hardware RAID volume; leaving it unset ' +
        'keeps the current configuration.',
      obj(
        'HardwareRAIDVolume describes one volume built by the RAID controller.',
        {
          controller: str('Name of the RAID controller to use; required when physicalDisks is set.'),
          level: enumOf('RAID level of the volume.', [...hardwareRAIDLevels]),
          name: str('Name of the volume, unique within the node; generated when empty.', { maxLength: 64 }),
          numberOfPhysicalDisks: int('Number of physical disks to build the volume from.', { minimum: 1 }),
          physicalDisks: arr(
            'Vendor-specific names of the physical disks to use; requires controller.',
            str('A physical disk name.'),
          ),
          rotational: bool('True to use HDDs for the volume, false for SSDs; unset lets the controller choose.'),
          sizeGibibytes: int('Size of the volume in GiB; 0 or unset uses the maximum size available.', {
            minimum: 0,
          }),
        },
        { required: ['level'] },
      ),
      { nullable: true },
    ),
    softwareRAIDVolumes: arr(
      'Software RAID volumes to create, at most two; the first one must be RAID-1. An empty list deletes ' +
        'every software RAID volume.',
      obj(
        'SoftwareRAIDVolume describes one volume built by the kernel md driver.',
        {
          level: enumOf('RAID level of the volume.', [...softwareRAIDLevels]),
          physicalDisks: arr(
            'Disks to build the volume from, each selected by root device hints; at least two.',
            rootDeviceHintsSchema,
            { minItems: 2 },
          ),
          rootVolume: bool('Whether the image is deployed on this volume. At most one volume, of level 1.', {
            default: false,
          }),
          sizeGibibytes: int('Size of the volume in GiB; unset uses the maximum size available.', { minimum: 0 }),
        },
        { required: ['level'] },
      ),
      { maxItems: 2, nullable: true },
    ),
  },
);

const firmwareConfigSchema = obj('Deprecated: BIOS settings; use a HostFirmwareSettings instead.', {
  simultaneousMultithreadingEnabled: bool('Allows a single physical processor core to appear as several logical processors.', {
    enum: [true, false],
  }),
  sriovEnabled: bool('SR-IOV support, to virtualise network interfaces.', { enum: [true, false] }),
  virtualizationEnabled: bool('Support for hardware virtualization extensions.', { enum: [true, false] }),
});

const customDeploySchema = obj(
  'CustomDeploy runs a custom deploy step from the ramdisk instead of writing an image.',
  { method: str('Name of the custom deploy step to run.') },
  { required: ['method'] },
);

const operationMetricSchema = (what: string) =>
  obj(`Start and end of the last ${what}.`, {
    end: time(`When the last ${what} ended.`, { nullable: true }),
    start: time(`When the last ${what} started.`, { nullable: true }),
  });

const credentialsStatusSchema = (description: string) =>
  obj(description, {
    credentials: describe(secretReferenceSchema, 'The Secret holding the BMC credentials.'),
    credentialsVersion: str('The resourceVersion of that Secret.'),
  });

const specSchema: JSONSchemaProps = obj(
  'BareMetalHostSpec defines the desired state of the host.',
  {
    architecture: str(
      'CPU architecture of the host, e.g. "x86_64" or "aarch64". Filled in from inspection data when empty.',
    ),
    automatedCleaningMode: enumOf(
      'Whether disks are cleaned ("metadata") or not ("disabled") when the host is deprovisioned and ' +
        'before its first provisioning.',
      [...automatedCleaningModes],
      { default: 'metadata' },
    ),
    bmc: obj(
      'How to reach the baseboard management controller of the host.',
      {
        address: str(
          'URL of the BMC; its scheme selects the driver, e.g. "redfish+https://10.0.0.1/redfish/v1/Systems/1" ' +
            'or "ipmi://10.0.0.1".',
        ),
        credentialsName: str('Name of a Secret in the same namespace with the "username" and "password" of the BMC.'),
        disableCertificateVerification: bool('Skip verification of the BMC TLS certificate.'),
      },
      { required: ['address', 'credentialsName'] },
    ),
    bootMACAddress: str(
      'MAC address of the NIC used to boot the host over the provisioning network (not the BMC MAC). ' +
        'Cannot be changed once set.',
      { pattern: macPattern },
    ),
    bootMode: enumOf('Boot mode of the host. Defaults to UEFI when unset.', [...bootModes]),
    consumerRef: describe(objectReferenceSchema, 'The object that uses this host, e.g. a Metal3Machine.'),
    customDeploy: customDeploySchema,
    description: str('Free-form description of the host, for humans.'),
    disablePowerOff: bool('Never power the host off; reboot it instead. Requires online to be true.'),
    externallyProvisioned: bool(
      'The host already runs an operating system not deployed by Metal3; only its power is managed. ' +
        'Can be turned on only at creation or while the host is available.',
    ),
    firmware: firmwareConfigSchema,
    hardwareProfile: str('Deprecated: name of the hardware profile matching the host; "empty" selects none.'),
    image: describe(imageSchema, 'Image to deploy. Setting its url while online is true provisions the host.'),
    inspectionMode: enumOf(
      'How the host is inspected: "agent" boots the inspection ramdisk, "fast" inspects out of band ' +
        'through the BMC, "disabled" skips inspection.',
      [...inspectionModes],
    ),
    metaData: describe(
      secretReferenceSchema,
      'Secret whose "metaData" key holds metadata (YAML or JSON) merged into the config drive.',
    ),
    networkData: describe(
      secretReferenceSchema,
      'Secret whose "networkData" key holds the network configuration (YAML or JSON) for the config drive.',
    ),
    networkInterfaces: arr(
      'Switch port configuration for the host network interfaces.',
      obj('NetworkInterface attaches one host interface, selected by name or MAC address, to a network.', {
        hostNetworkAttachment: obj('The HostNetworkAttachment that configures the switch port.', {
          name: str('Name of the HostNetworkAttachment.', { maxLength: 253 }),
          namespace: str('Namespace of the HostNetworkAttachment; defaults to the namespace of the host.', {
            maxLength: 63,
          }),
        }),
        macAddress: str('MAC address of the interface; mutually exclusive with name.', {
          pattern: `^${macPattern}$`,
        }),
        name: str('Name of the interface; mutually exclusive with macAddress.', { pattern: '^[a-zA-Z0-9._-]+$' }),
        switchPort: obj(
          'The switch port the interface is cabled to; overrides what LLDP reports.',
          {
            portID: str('Port identifier on the switch.'),
            switchID: str('Management MAC address of the switch.', { pattern: `^${macPattern}$` }),
          },
          { required: ['portID', 'switchID'] },
        ),
      }),
    ),
    online: bool('Whether the host should be powered on.'),
    preprovisioningNetworkDataName: str(
      'Name of a Secret in the same namespace whose "networkData" key configures the network of the ' +
        'inspection and deploy ramdisk.',
    ),
    raid: raidSchema,
    rootDeviceHints: rootDeviceHintsSchema,
    taints: arr(
      'Deprecated and never implemented: taints to apply to the node.',
      obj(
        'A taint on a node.',
        {
          effect: str('Effect of the taint on pods that do not tolerate it: NoSchedule, PreferNoSchedule or NoExecute.'),
          key: str('Key of the taint.'),
          timeAdded: time('When the taint was added; only for NoExecute taints.'),
          value: str('Value of the taint.'),
        },
        { required: ['effect', 'key'] },
      ),
    ),
    userData: describe(
      secretReferenceSchema,
      'Secret whose "userData" key holds the user data (e.g. cloud-init) for the config drive.',
    ),
  },
  { required: ['online'] },
);

const statusSchema: JSONSchemaProps = obj(
  'BareMetalHostStatus is the observed state of the host.',
  {
    conditions: conditionsSchema(
      'Conditions of the host: Manageable, AvailableForProvisioning, Provisioned, Ready, Progressing, Healthy.',
      { maxItems: 32 },
    ),
    errorCount: int('Number of errors since the last successful operation; drives the retry back-off.', {
      default: 0,
    }),
    errorMessage: str('Details of the last error, empty when there is none.'),
    errorType: enumOf('Kind of the last error; set together with operationalStatus "error".', [...errorTypes]),
    goodCredentials: credentialsStatusSchema('The last credentials that were validated successfully.'),
    hardware: describe(
      hardwareDetailsSchema,
      'Hardware discovered by inspection. Deprecated in favour of the HardwareData of the same name.',
    ),
    hardwareProfile: str('Deprecated: name of the hardware profile matching the host.'),
    lastAttemptedImage: describe(imageSchema, 'The image of the last provisioning attempt.'),
    lastUpdated: time('When the status was last written.'),
    operationHistory: obj('Start and end times of the main operations on the host.', {
      deprovision: operationMetricSchema('deprovisioning'),
      inspect: operationMetricSchema('inspection'),
      provision: operationMetricSchema('provisioning'),
      register: operationMetricSchema('registration'),
    }),
    operationalStatus: enumOf(
      'Overall health of the host: OK, discovered (no BMC details), error, delayed (waiting for ' +
        'capacity), detached or servicing.',
      [...operationalStatuses],
    ),
    poweredOn: bool('Whether the host was last seen powered on.'),
    provisioning: obj(
      'ProvisionStatus holds the state of provisioning and what was provisioned.',
      {
        ID: str('UUID of the node in the provisioning backend (Ironic).'),
        bootMode: enumOf('Boot mode the host was provisioned with.', [...bootModes]),
        customDeploy: describe(customDeploySchema, 'The custom deploy step the host was provisioned with.'),
        firmware: describe(firmwareConfigSchema, 'Deprecated: BIOS settings applied; always empty.'),
        image: describe(imageSchema, 'The image most recently provisioned.'),
        raid: describe(raidSchema, 'The RAID configuration applied.'),
        rootDeviceHints: describe(rootDeviceHintsSchema, 'The root device hints used to provision the host.'),
        state: str(
          'Provisioning state of the host: registering, inspecting, preparing, available, provisioning, ' +
            'provisioned, externally provisioned, deprovisioning, powering off before delete, deleting, ' +
            'unmanaged, or empty.',
        ),
      },
      { required: ['ID', 'state'] },
    ),
    provisioningFailCount: int(
      'Consecutive failed attempts to provision the same image; not reset by deprovisioning.',
      { default: 0 },
    ),
    triedCredentials: credentialsStatusSchema('The last credentials sent to the provisioning backend.'),
  },
  {
    required: ['errorCount', 'errorMessage', 'operationalStatus', 'poweredOn', 'provisioning', 'provisioningFailCount'],
  },
);

export const bareMetalHostDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'BareMetalHost',
  listKind: 'BareMetalHostList',
  plural: 'baremetalhosts',
  singular: 'baremetalhost',
  shortNames: ['bmh', 'bmhost'],
  categories: [],
  namespaced: true,
  schema: kindSchema('BareMetalHost is the Schema for the baremetalhosts API: one physical server managed by Metal3.', {
    spec: specSchema,
    status: statusSchema,
  }),
  printerColumns: [
    { name: 'Status', type: 'string', jsonPath: '.status.operationalStatus', description: 'Operational status', priority: 1 },
    { name: 'State', type: 'string', jsonPath: '.status.provisioning.state', description: 'Provisioning status' },
    { name: 'Consumer', type: 'string', jsonPath: '.spec.consumerRef.name', description: 'Consumer using this host' },
    { name: 'BMC', type: 'string', jsonPath: '.spec.bmc.address', description: 'Address of management controller', priority: 1 },
    { name: 'Online', type: 'string', jsonPath: '.spec.online', description: 'Whether the host is online or not' },
    { name: 'Error', type: 'string', jsonPath: '.status.errorType', description: 'Type of the most recent error' },
    {
      name: 'Age',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
      description: 'Time duration since creation of BaremetalHost',
    },
  ],
  subresources: {
    status: true,
    actions: [
      { name: 'inspect', kind: 'InspectionRequest' },
      { name: 'provision', kind: 'ProvisionRequest' },
    ],
  },
  selectableFields: ['status.provisioning.state'],
};
