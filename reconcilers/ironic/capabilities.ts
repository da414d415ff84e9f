// Ironic reads the boot mode from the node's `properties.capabilities`, a comma-separated `key:value`
// list that operators may also fill with their own items; only the boot-mode items are ours.
import type { BootMode } from '../../api/kinds/baremetalhost.ts';

const bootModeItems: Record<BootMode, string[]> = {
  UEFI: ['boot_mode:uefi'],
  UEFISecureBoot: ['boot_mode:uefi', 'secure_boot:true'],
  legacy: ['boot_mode:bios'],
};

const ours = (item: string) => item.startsWith('boot_mode:') || item.startsWith('secure_boot:');

/** The capabilities string for `mode`, keeping every item of `current` that is not about boot mode. */
export function bootModeCapabilities(current: unknown, mode: BootMode): string {
  const kept = typeof current === 'string' ? current.split(',').filter((item) => item !== '' && !ours(item)) : [];
  return [...kept, ...bootModeItems[mode]].join(',');
}

/** `instance_info.capabilities` for a deployment: secure boot is requested per instance too. */
export function instanceCapabilities(mode: BootMode): Record<string, string> {
  return mode === 'UEFISecureBoot' ? { secure_boot: 'true' } : {};
}
