// The metal3.io kinds other than BareMetalHost that BMO validates (bmo.md §5.3), plus the cheap checks
// on HostFirmwareSettings that the schema cannot express.

import { isDeepStrictEqual } from 'node:util';
import type { FieldCause } from '../../api/schema.ts';
import type { KubeObject } from '../../api/types.ts';
import { parseURL } from '../../api/bmc.ts';
import { arrAt, cause, isObj, objAt, strAt, urlError } from './fields.ts';

export function validateBMCEventSubscription(sub: KubeObject): FieldCause[] {
  const out: FieldCause[] = [];
  if (strAt(sub.spec, 'hostName') === '') out.push(cause.required('spec.hostName', 'hostName cannot be empty'));
  const headers = objAt(sub.spec, 'httpHeadersRef');
  // As BMO: the namespace must be spelled out and equal the subscription's.
  if (headers && strAt(headers, 'namespace') !== (sub.metadata?.namespace ?? '')) {
    out.push(
      cause.invalid(
        'spec.httpHeadersRef.namespace',
        strAt(headers, 'namespace'),
        'httpHeadersRef secret must be in the same namespace as the BMCEventSubscription',
      ),
    );
  }
  const destination = strAt(sub.spec, 'destination');
  if (destination === '') {
    out.push(cause.required('spec.destination', 'destination cannot be empty'));
  } else {
    try {
      if (parseURL(destination, true).path === '') {
        out.push(cause.invalid('spec.destination', destination, 'hostname-only destination must have a trailing slash'));
      }
    } catch (e) {
      out.push(cause.invalid('spec.destination', destination, `destination is invalid: ${(e as Error).message}`));
    }
  }
  return out;
}

/** A subscription lives in the BMC; changing it means deleting and creating it again. */
export function validateBMCEventSubscriptionUpdate(sub: KubeObject, old: KubeObject): FieldCause[] {
  if (isDeepStrictEqual(sub.spec ?? {}, old.spec ?? {})) return [];
  return [cause.forbidden('spec', 'subscriptions cannot be updated, please recreate it')];
}

export function validateDataImage(image: KubeObject): FieldCause[] {
  const url = strAt(image.spec, 'url');
  const err = urlError(url);
  return err ? [cause.invalid('spec.url', url, `URL "${url}" is invalid: ${err}`)] : [];
}

export function validateHostFirmwareComponents(hfc: KubeObject): FieldCause[] {
  const out: FieldCause[] = [];
  arrAt(hfc.spec, 'updates').forEach((update, i) => {
    const url = strAt(update, 'url');
    const err = urlError(url);
    if (err) {
      const component = strAt(update, 'component');
      out.push(
        cause.invalid(`spec.updates[${i}].url`, url, `invalid URL "${url}" in FirmwareUpdate in component "${component}": ${err}`),
      );
    }
  });
  return out;
}

/** BIOS setting names come from the firmware schema: never empty, never padded. */
export function validateHostFirmwareSettings(hfs: KubeObject): FieldCause[] {
  const settings = objAt(hfs.spec, 'settings');
  if (!settings) return [];
  const out: FieldCause[] = [];
  for (const [name, value] of Object.entries(settings)) {
    const field = `spec.settings[${name}]`;
    if (name.trim() === '' || name.trim() !== name) {
      out.push(cause.invalid(field, name, 'a firmware setting name must be non-empty and have no leading or trailing spaces'));
    } else if (isObj(value) || Array.isArray(value)) {
      out.push(cause.invalid(field, value, 'a firmware setting value must be a string or an integer'));
    }
  }
  return out;
}
