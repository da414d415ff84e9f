// The resource types the BareMetalHost controller reads and writes, and the names of what it owns.
import type { OwnerReference } from '../../api/types.ts';
import type { ResourceType } from '../../api/client/types.ts';

const metal3 = (kind: string, plural: string): ResourceType => ({ group: 'metal3.io', version: 'v1alpha1', plural, kind, namespaced: true });

export const bareMetalHostType = metal3('BareMetalHost', 'baremetalhosts');
export const hardwareDataType = metal3('HardwareData', 'hardwaredata');
export const hostFirmwareSettingsType = metal3('HostFirmwareSettings', 'hostfirmwaresettings');
export const firmwareSchemaType = metal3('FirmwareSchema', 'firmwareschemas');
export const secretType: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

export const metal3APIVersion = 'metal3.io/v1alpha1';
export const hardwareDataFinalizer = 'baremetalhost.metal3.io/hardwareData';
export const secretFinalizer = 'baremetalhost.metal3.io/secret';
export const secretEnvironmentLabel = 'environment.metal3.io';
export const secretEnvironmentValue = 'baremetal';

export function ownerReference(
  owner: { apiVersion: string; kind: string; metadata: { name?: string; uid?: string } },
  controller: boolean,
): OwnerReference {
  const ref: OwnerReference = { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '' };
  if (controller) {
    ref.controller = true;
    ref.blockOwnerDeletion = true;
  }
  return ref;
}

export function hasOwnerReference(meta: { ownerReferences?: OwnerReference[] }, uid: string | undefined): boolean {
  return (meta.ownerReferences ?? []).some((r) => r.uid === uid);
}
