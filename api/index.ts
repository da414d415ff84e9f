// The metal3.io/v1alpha1 kinds this server serves, BareMetalHost first (discovery and docs list it first).

import type { ResourceDefinition } from './types.ts';
import { bareMetalHostDefinition } from './kinds/baremetalhost.ts';
import { bmcEventSubscriptionDefinition } from './kinds/bmceventsubscription.ts';
import { dataImageDefinition } from './kinds/dataimage.ts';
import { firmwareSchemaDefinition } from './kinds/firmwareschema.ts';
import { hardwareDataDefinition } from './kinds/hardwaredata.ts';
import { hostFirmwareComponentsDefinition } from './kinds/hostfirmwarecomponents.ts';
import { hostFirmwareSettingsDefinition } from './kinds/hostfirmwaresettings.ts';
import { hostUpdatePolicyDefinition } from './kinds/hostupdatepolicy.ts';
import { preprovisioningImageDefinition } from './kinds/preprovisioningimage.ts';

export const metal3Group = 'metal3.io';
export const metal3Version = 'v1alpha1';

export const metal3Kinds: ResourceDefinition[] = [
  bareMetalHostDefinition,
  hardwareDataDefinition,
  hostFirmwareSettingsDefinition,
  firmwareSchemaDefinition,
  hostFirmwareComponentsDefinition,
  hostUpdatePolicyDefinition,
  bmcEventSubscriptionDefinition,
  preprovisioningImageDefinition,
  dataImageDefinition,
];

export {
  bareMetalHostDefinition,
  bmcEventSubscriptionDefinition,
  dataImageDefinition,
  firmwareSchemaDefinition,
  hardwareDataDefinition,
  hostFirmwareComponentsDefinition,
  hostFirmwareSettingsDefinition,
  hostUpdatePolicyDefinition,
  preprovisioningImageDefinition,
};
