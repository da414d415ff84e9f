// HardwareData: the inspection result of a host, kept apart from the BareMetalHost so it survives a move.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, describe, kindSchema, obj } from '../openapi.ts';
import { hardwareDetailsSchema, type HardwareDetails } from './common.ts';

export interface HardwareDataSpec {
  hardware?: HardwareDetails;
}

export interface HardwareData {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'HardwareData';
  metadata: ObjectMeta;
  spec?: HardwareDataSpec;
}

export const hardwareDataDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'HardwareData',
  listKind: 'HardwareDataList',
  plural: 'hardwaredata',
  singular: 'hardwaredata',
  shortNames: ['hd'],
  categories: [],
  namespaced: true,
  schema: kindSchema(
    'HardwareData holds the hardware details discovered by inspecting the BareMetalHost of the same name.',
    {
      spec: obj('HardwareDataSpec holds the inspection data.', {
        hardware: describe(hardwareDetailsSchema, 'Hardware discovered by the last successful inspection.'),
      }),
    },
  ),
  printerColumns: [ageColumn('HardwareData')],
  subresources: { status: false },
  selectableFields: [],
};
