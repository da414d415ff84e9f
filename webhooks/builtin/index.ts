// The built-in per-kind hooks the store runs on every write (and the AdmissionReview endpoints serve),
// keyed by plural. Structurally a subset of apiserver/registry/strategy.ts's Strategy.

import type { FieldCause } from '../../api/schema.ts';
import type { KubeObject } from '../../api/types.ts';
import { defaultBareMetalHost, validateBareMetalHost, validateBareMetalHostUpdate } from './baremetalhost.ts';
import {
  validateBMCEventSubscription,
  validateBMCEventSubscriptionUpdate,
  validateDataImage,
  validateHostFirmwareComponents,
  validateHostFirmwareSettings,
} from './others.ts';

export interface BuiltinStrategy {
  default?(obj: KubeObject): void;
  /** Create rules; the store runs them on updates too. */
  validate?(obj: KubeObject): FieldCause[];
  /** Update-only rules, never a repeat of `validate`. */
  validateUpdate?(obj: KubeObject, old: KubeObject): FieldCause[];
}

export interface BuiltinOptions {
  enableFakeBMC: boolean;
}

export function builtinStrategies(opts: BuiltinOptions): Record<string, BuiltinStrategy> {
  return {
    baremetalhosts: {
      default: defaultBareMetalHost,
      validate: (obj) => validateBareMetalHost(obj, opts),
      validateUpdate: (obj, old) => validateBareMetalHostUpdate(obj, old, opts),
    },
    bmceventsubscriptions: {
      validate: validateBMCEventSubscription,
      validateUpdate: validateBMCEventSubscriptionUpdate,
    },
    dataimages: { validate: validateDataImage },
    hostfirmwarecomponents: { validate: validateHostFirmwareComponents },
    hostfirmwaresettings: { validate: validateHostFirmwareSettings },
  };
}

export { defaultBareMetalHost, validateBareMetalHost, validateBareMetalHostUpdate } from './baremetalhost.ts';
export * from './others.ts';
