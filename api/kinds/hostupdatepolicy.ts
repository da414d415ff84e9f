// HostUpdatePolicy: whether firmware changes may be applied to the provisioned host of the same name.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, enumOf, kindSchema, obj } from '../openapi.ts';

export const updatePolicyModes = ['onPreparing', 'onReboot'] as const;
export type UpdatePolicyMode = (typeof updatePolicyModes)[number];

export interface HostUpdatePolicySpec {
  firmwareSettings?: UpdatePolicyMode;
  firmwareUpdates?: UpdatePolicyMode;
}

export interface HostUpdatePolicy {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'HostUpdatePolicy';
  metadata: ObjectMeta;
  spec?: HostUpdatePolicySpec;
  status?: Record<string, never>;
}

const modeDescription = (what: string) =>
  `When ${what} are applied: "onPreparing" only while preparing the host, "onReboot" also by servicing ` +
  'a provisioned host when it is rebooted.';

export const hostUpdatePolicyDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'HostUpdatePolicy',
  listKind: 'HostUpdatePolicyList',
  plural: 'hostupdatepolicies',
  singular: 'hostupdatepolicy',
  shortNames: [],
  categories: [],
  namespaced: true,
  schema: kindSchema('HostUpdatePolicy controls how the BareMetalHost of the same name is updated.', {
    spec: obj('HostUpdatePolicySpec sets the update policy of each kind of change.', {
      firmwareSettings: enumOf(modeDescription('firmware setting changes'), [...updatePolicyModes]),
      firmwareUpdates: enumOf(modeDescription('firmware updates'), [...updatePolicyModes]),
    }),
    status: obj('HostUpdatePolicyStatus is empty.', {}),
  }),
  printerColumns: [ageColumn('HostUpdatePolicy')],
  subresources: { status: false },
  selectableFields: [],
};
