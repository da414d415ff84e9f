// Root device hints in Ironic's matching language (`s==` exact string, `<in>` substring, `>=` number):
// what BMO writes into instance_info.root_device and into software RAID physical disks.
import type { RootDeviceHints } from '../../api/kinds/baremetalhost.ts';

const byPathPrefix = '/dev/disk/by-path/';

/** The Ironic hint map for `hints`; undefined when no hint is set. */
export function rootDeviceHints(hints: RootDeviceHints | undefined): Record<string, string> | undefined {
  if (!hints) return undefined;
  const out: Record<string, string> = {};
  const exact = (key: string, value: string | undefined) => {
    if (value) out[key] = `s== ${value}`;
  };
  if (hints.deviceName) {
    exact(hints.deviceName.startsWith(byPathPrefix) ? 'by_path' : 'name', hints.deviceName);
  }
  exact('hctl', hints.hctl);
  if (hints.model) out.model = `<in> ${hints.model}`;
  if (hints.vendor) out.vendor = `<in> ${hints.vendor}`;
  exact('serial', hints.serialNumber);
  if (hints.minSizeGigabytes) out.size = `>= ${hints.minSizeGigabytes}`;
  exact('wwn', hints.wwn);
  exact('wwn_with_extension', hints.wwnWithExtension);
  exact('wwn_vendor_extension', hints.wwnVendorExtension);
  if (hints.rotational !== undefined) out.rotational = String(hints.rotational);
  return Object.keys(out).length > 0 ? out : undefined;
}
