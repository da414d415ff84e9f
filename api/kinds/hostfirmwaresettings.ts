// HostFirmwareSettings: desired and current BIOS settings of the BareMetalHost of the same name.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, intOrString, kindSchema, mapOf, obj, str, time } from '../openapi.ts';
import { conditionsSchema, type Condition } from './common.ts';

export interface SchemaReference {
  namespace: string;
  name: string;
}

export interface HostFirmwareSettingsSpec {
  settings: Record<string, number | string>;
}

export interface HostFirmwareSettingsStatus {
  schema?: SchemaReference;
  settings: Record<string, string>;
  lastUpdated?: string;
  conditions?: Condition[];
}

export interface HostFirmwareSettings {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'HostFirmwareSettings';
  metadata: ObjectMeta;
  spec?: HostFirmwareSettingsSpec;
  status?: HostFirmwareSettingsStatus;
}

export const hostFirmwareSettingsDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'HostFirmwareSettings',
  listKind: 'HostFirmwareSettingsList',
  plural: 'hostfirmwaresettings',
  singular: 'hostfirmwaresettings',
  shortNames: ['hfs'],
  categories: [],
  namespaced: true,
  schema: kindSchema('HostFirmwareSettings holds the BIOS settings of the BareMetalHost of the same name.', {
    spec: obj(
      'HostFirmwareSettingsSpec lists the settings to change.',
      {
        settings: mapOf(
          'Settings to apply, by name; values are checked against the FirmwareSchema of the host.',
          intOrString('Desired value of the setting.'),
        ),
      },
      { required: ['settings'] },
    ),
    status: obj(
      'HostFirmwareSettingsStatus reports the settings read from the host.',
      {
        conditions: conditionsSchema('Conditions of the settings: ChangeDetected and Valid.'),
        lastUpdated: time('When the settings were last read from the host.'),
        schema: obj(
          'The FirmwareSchema that describes the settings of this host.',
          {
            name: str('Name of the FirmwareSchema.'),
            namespace: str('Namespace of the FirmwareSchema.'),
          },
          { required: ['name', 'namespace'] },
        ),
        settings: mapOf(
          'Current settings of the host, by name; password settings are left out.',
          str('Current value of the setting.'),
        ),
      },
      { required: ['settings'] },
    ),
  }),
  printerColumns: [ageColumn('HostFirmwareSettings')],
  subresources: { status: true },
  selectableFields: [],
};
