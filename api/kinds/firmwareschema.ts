// FirmwareSchema: what the BIOS settings of one hardware model accept; shared by hosts of that model.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, arr, bool, enumOf, int, kindSchema, mapOf, obj, str } from '../openapi.ts';

export const settingAttributeTypes = ['Enumeration', 'String', 'Integer', 'Boolean', 'Password'] as const;

/** Field names use snake_case, as Ironic returns them. */
export interface SettingSchema {
  attribute_type?: (typeof settingAttributeTypes)[number];
  allowable_values?: string[];
  lower_bound?: number;
  upper_bound?: number;
  min_length?: number;
  max_length?: number;
  read_only?: boolean;
  unique?: boolean;
}

export interface FirmwareSchemaSpec {
  hardwareVendor?: string;
  hardwareModel?: string;
  schema: Record<string, SettingSchema>;
}

export interface FirmwareSchema {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'FirmwareSchema';
  metadata: ObjectMeta;
  spec?: FirmwareSchemaSpec;
}

export const firmwareSchemaDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'FirmwareSchema',
  listKind: 'FirmwareSchemaList',
  plural: 'firmwareschemas',
  singular: 'firmwareschema',
  shortNames: [],
  categories: [],
  namespaced: true,
  schema: kindSchema('FirmwareSchema describes the BIOS settings a hardware model accepts.', {
    spec: obj(
      'FirmwareSchemaSpec holds the schema of every setting.',
      {
        hardwareModel: str('Hardware model the schema applies to.'),
        hardwareVendor: str('Hardware vendor the schema applies to.'),
        schema: mapOf(
          'Schema of each setting, by setting name.',
          obj('SettingSchema constrains the values of one setting.', {
            allowable_values: arr('Allowed values of an Enumeration setting.', str('An allowed value.')),
            attribute_type: enumOf('Type of the setting.', [...settingAttributeTypes]),
            lower_bound: int('Smallest value of an Integer setting.'),
            max_length: int('Longest value of a String setting.'),
            min_length: int('Shortest value of a String setting.'),
            read_only: bool('Whether the setting cannot be changed.'),
            unique: bool('Whether the value of the setting is unique to this host.'),
            upper_bound: int('Largest value of an Integer setting.'),
          }),
        ),
      },
      { required: ['schema'] },
    ),
  }),
  printerColumns: [ageColumn('FirmwareSchema')],
  subresources: { status: false },
  selectableFields: [],
};
