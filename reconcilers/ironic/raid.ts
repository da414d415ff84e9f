// RAID through Ironic's manual cleaning (bmo.md §3.7): the target goes to `PUT …/states/raid` as logical
// disks, and the clean steps delete the old volumes and create the new ones.
import { isDeepStrictEqual } from 'node:util';
import type { HardwareRAIDVolume, RAIDConfig, SoftwareRAIDVolume } from '../../api/kinds/baremetalhost.ts';
import { rootDeviceHints } from './roothints.ts';

export interface CleanStep {
  interface: string;
  step: string;
  args?: Record<string, unknown>;
}

export interface RAIDPlan {
  /** The RAID target to set before cleaning; undefined = leave it alone. */
  logicalDisks?: Record<string, unknown>[];
  steps: CleanStep[];
  /** Software RAID is built by the agent, whatever the driver's own RAID interface is. */
  raidInterface?: string;
}

const sizeGB = (gib: number | undefined) => (gib && gib > 0 ? gib : 'MAX');

function hardwareDisk(v: HardwareRAIDVolume, root: boolean): Record<string, unknown> {
  const disk: Record<string, unknown> = { size_gb: sizeGB(v.sizeGibibytes), raid_level: v.level };
  if (v.name) disk.volume_name = v.name;
  if (v.controller) disk.controller = v.controller;
  if (v.physicalDisks?.length) disk.physical_disks = v.physicalDisks;
  if (v.rotational !== undefined) disk.disk_type = v.rotational ? 'hdd' : 'ssd';
  if (v.numberOfPhysicalDisks) disk.number_of_physical_disks = v.numberOfPhysicalDisks;
  if (root) disk.is_root_volume = true;
  return disk;
}

function softwareDisk(v: SoftwareRAIDVolume, index: number, anyRoot: boolean): Record<string, unknown> {
  const disk: Record<string, unknown> = { size_gb: sizeGB(v.sizeGibibytes), raid_level: v.level, controller: 'software' };
  const physical = (v.physicalDisks ?? []).map((h) => rootDeviceHints(h) ?? {});
  if (physical.length > 0) disk.physical_disks = physical;
  // Without an explicit root volume, the first one holds the root file system, as in BMO.
  const root = anyRoot ? v.rootVolume === true : index === 0;
  disk.is_root_volume = root;
  return disk;
}

const raidStep = (step: string): CleanStep => ({ interface: 'raid', step });

/**
 * What cleaning must do to go from `actual` to `target`. `raidInterface` is the driver's; `fake` drivers
 * get the target only, because Ironic's fake RAID interface offers no clean steps.
 */
export function planRAID(
  target: RAIDConfig | undefined,
  actual: RAIDConfig | undefined,
  opts: { raidInterface: string; fake: boolean; rootHintsSet: boolean },
): RAIDPlan {
  const wantSoftware = target?.softwareRAIDVolumes ?? [];
  const haveSoftware = actual?.softwareRAIDVolumes ?? [];
  if (wantSoftware.length > 0 || haveSoftware.length > 0) {
    if (isDeepStrictEqual(wantSoftware, haveSoftware)) return { steps: [] };
    const anyRoot = wantSoftware.some((v) => v.rootVolume === true);
    const logicalDisks = wantSoftware.map((v, i) => softwareDisk(v, i, anyRoot));
    if (opts.fake) return { logicalDisks, steps: [] };
    const steps = [raidStep('delete_configuration'), { interface: 'deploy', step: 'erase_devices_metadata' }];
    if (wantSoftware.length > 0) steps.push(raidStep('create_configuration'));
    return { logicalDisks, steps, raidInterface: 'agent' };
  }

  const wantHardware = target?.hardwareRAIDVolumes;
  if (opts.raidInterface === 'no-raid' || wantHardware === undefined || wantHardware === null) return { steps: [] };
  if (isDeepStrictEqual(wantHardware, actual?.hardwareRAIDVolumes ?? undefined)) return { steps: [] };
  const logicalDisks = wantHardware.map((v, i) => hardwareDisk(v, i === 0 && !opts.rootHintsSet));
  if (opts.fake) return { logicalDisks, steps: [] };
  const steps = [raidStep('delete_configuration')];
  if (wantHardware.length > 0) steps.push(raidStep('create_configuration'));
  return { logicalDisks, steps };
}
