// HostFirmwareComponents: firmware versions of the BareMetalHost of the same name, and updates to flash.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, arr, kindSchema, obj, str, time } from '../openapi.ts';
import { conditionsSchema, type Condition } from './common.ts';

export interface FirmwareUpdate {
  component: string;
  url: string;
}

export interface FirmwareComponentStatus {
  component: string;
  initialVersion: string;
  currentVersion?: string;
  lastVersionFlashed?: string;
  updatedAt?: string;
}

export interface HostFirmwareComponentsSpec {
  updates: FirmwareUpdate[];
}

export interface HostFirmwareComponentsStatus {
  updates?: FirmwareUpdate[];
  components?: FirmwareComponentStatus[];
  lastUpdated?: string;
  conditions?: Condition[];
}

export interface HostFirmwareComponents {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'HostFirmwareComponents';
  metadata: ObjectMeta;
  spec?: HostFirmwareComponentsSpec;
  status?: HostFirmwareComponentsStatus;
}

const firmwareUpdateSchema = obj(
  'FirmwareUpdate names a component and the firmware image to flash on it.',
  {
    component: str('Component to update: "bmc", "bios" or "nic:<id>".'),
    url: str('URL of the firmware image.'),
  },
  { required: ['component', 'url'] },
);

export const hostFirmwareComponentsDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'HostFirmwareComponents',
  listKind: 'HostFirmwareComponentsList',
  plural: 'hostfirmwarecomponents',
  singular: 'hostfirmwarecomponents',
  shortNames: [],
  categories: [],
  namespaced: true,
  schema: kindSchema(
    'HostFirmwareComponents holds the firmware components of the BareMetalHost of the same name.',
    {
      spec: obj(
        'HostFirmwareComponentsSpec lists the firmware updates to apply.',
        { updates: arr('Firmware updates to apply.', firmwareUpdateSchema) },
        { required: ['updates'] },
      ),
      status: obj('HostFirmwareComponentsStatus reports the firmware of the host.', {
        components: arr(
          'Firmware components of the host and their versions.',
          obj(
            'FirmwareComponentStatus reports the versions of one component.',
            {
              component: str('Name of the component.'),
              currentVersion: str('Version currently running.'),
              initialVersion: str('Version found when the host was registered.'),
              lastVersionFlashed: str('Version most recently flashed.'),
              updatedAt: time('When the component was last updated.'),
            },
            { required: ['component', 'initialVersion'] },
          ),
        ),
        conditions: conditionsSchema('Conditions of the components: ChangeDetected and Valid.'),
        lastUpdated: time('When the components were last read from the host.'),
        updates: arr('The updates last applied.', firmwareUpdateSchema),
      }),
    },
  ),
  printerColumns: [ageColumn('HostFirmwareComponents')],
  subresources: { status: true },
  selectableFields: [],
};
