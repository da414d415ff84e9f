// Ironic's inspection data (`GET /v1/nodes/{id}/inventory`: the agent's inventory plus the processing
// plugins' data) turned into the BareMetalHost's HardwareDetails (bmo.md §1.5).
import { createHash } from 'node:crypto';
import type { HardwareDetails, NIC, Storage, VLAN } from '../../api/kinds/common.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number.parseFloat(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};

/** Drop undefined members so details compare and serialise the same however they were built. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The answer of the inventory endpoint, or a bare inventory: both shapes are accepted. */
export function splitInspectionData(data: Obj): { inventory: Obj; pluginData: Obj } {
  if (isObj(data.inventory)) return { inventory: data.inventory, pluginData: obj(data.plugin_data) };
  return { inventory: data, pluginData: {} };
}

function lldpOf(processed: Obj): NIC['lldp'] {
  const lldp = compact({
    switchID: str(processed.switch_chassis_id),
    portID: str(processed.switch_port_id),
    switchSystemName: str(processed.switch_system_name),
  });
  return Object.keys(lldp).length > 0 ? lldp : undefined;
}

function vlansOf(processed: Obj): { vlans?: VLAN[]; vlanId?: number } {
  const vlans = list(processed.switch_port_vlans).map((v) => compact({ id: num(v.id), name: str(v.name) }));
  const vlanId = num(processed.switch_port_untagged_vlan_id);
  return compact({ vlans: vlans.length > 0 ? vlans : undefined, vlanId });
}

function nicsOf(inventory: Obj, pluginData: Obj): NIC[] {
  const all = obj(pluginData.all_interfaces);
  const parsedLLDP = obj(pluginData.parsed_lldp);
  const pxeMAC = str(obj(inventory.boot).pxe_interface)?.toLowerCase();
  const nics: NIC[] = [];
  for (const intf of list(inventory.interfaces)) {
    const name = str(intf.name);
    const extra = name ? obj(all[name]) : {};
    const processed = name && isObj(parsedLLDP[name]) ? parsedLLDP[name] : obj(extra.lldp_processed);
    const mac = str(intf.mac_address);
    const model = [str(intf.vendor), str(intf.product)].filter(Boolean).join(' ');
    const speed = num(intf.speed_mbps);
    const pxe = typeof extra.pxe === 'boolean' ? extra.pxe : pxeMAC !== undefined && mac?.toLowerCase() === pxeMAC;
    const base: NIC = compact({
      name,
      model: model || undefined,
      mac,
      speedGbps: speed !== undefined ? Math.floor(speed / 1000) : undefined,
      ...vlansOf(processed),
      pxe,
      lldp: lldpOf(processed),
      pciAddress: str(intf.pci_address),
    });
    // One entry per address family, as BMO reports dual-stack interfaces.
    const ips = [str(intf.ipv4_address), str(intf.ipv6_address)].filter((ip): ip is string => ip !== undefined);
    if (ips.length === 0) nics.push(base);
    for (const ip of ips) nics.push({ ...base, ip });
  }
  return nics;
}

function diskType(name: string, rotational: boolean): Storage['type'] {
  if (rotational) return 'HDD';
  return name.startsWith('/dev/nvme') ? 'NVME' : 'SSD';
}

function storageOf(inventory: Obj): Storage[] {
  return list(inventory.disks).map((d) => {
    const kernelName = str(d.name) ?? '';
    const byPath = str(d.by_path);
    const rotational = d.rotational === true;
    return compact({
      name: byPath ?? kernelName,
      alternateNames: byPath ? [kernelName, byPath] : undefined,
      rotational,
      type: diskType(kernelName, rotational),
      sizeBytes: num(d.size),
      vendor: str(d.vendor),
      model: str(d.model),
      serialNumber: str(d.serial),
      wwn: str(d.wwn),
      wwnVendorExtension: str(d.wwn_vendor_extension),
      wwnWithExtension: str(d.wwn_with_extension),
      hctl: str(d.hctl),
    });
  });
}

/** HardwareDetails from Ironic's inspection data (either the endpoint's answer or a bare inventory). */
export function hardwareDetails(data: Obj): HardwareDetails {
  const { inventory, pluginData } = splitInspectionData(data);
  const cpu = obj(inventory.cpu);
  const vendor = obj(inventory.system_vendor);
  const firmware = obj(vendor.firmware);
  const clock = num(cpu.frequency);
  const flags = Array.isArray(cpu.flags) ? cpu.flags.filter((f): f is string => typeof f === 'string').sort() : [];
  const bios = compact({ date: str(firmware.build_date), vendor: str(firmware.vendor), version: str(firmware.version) });
  return compact({
    systemVendor: compact({
      manufacturer: str(vendor.manufacturer),
      productName: str(vendor.product_name),
      serialNumber: str(vendor.serial_number),
    }),
    firmware: { bios },
    ramMebibytes: num(obj(inventory.memory).physical_mb),
    nics: nicsOf(inventory, pluginData),
    storage: storageOf(inventory),
    cpu: compact({
      arch: str(cpu.architecture),
      model: str(cpu.model_name),
      clockMegahertz: clock !== undefined ? Math.round(clock) : undefined,
      flags,
      count: num(cpu.count),
    }),
    hostname: str(inventory.hostname),
  });
}

/**
 * Hardware details for a node of Ironic's fake-hardware driver. Its inspect interface finishes without
 * an agent and so stores no inventory; the details are derived from the node's name (and boot MAC), so
 * the same host gets the same hardware after every inspection and re-registration.
 */
export function fakeHardwareDetails(nodeName: string, opts: { bootMAC?: string; arch?: string } = {}): HardwareDetails {
  const h = createHash('sha256').update(nodeName).digest();
  const mac =
    opts.bootMAC?.toLowerCase() ??
    ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
  const serial = h.subarray(5, 11).toString('hex').toUpperCase();
  const hostname = nodeName.split('~').pop() ?? nodeName;
  return {
    systemVendor: { manufacturer: 'OpenStack Ironic', productName: 'fake-hardware', serialNumber: serial },
    firmware: { bios: { date: '01/01/2024', vendor: 'fake', version: '1.0.0' } },
    ramMebibytes: 8192 * (1 + (h[11] % 4)),
    nics: [
      {
        name: 'eth0',
        model: '0x1af4 0x0001',
        mac,
        ip: `192.0.2.${1 + (h[12] % 254)}`,
        speedGbps: 10,
        pxe: true,
      },
    ],
    storage: [
      {
        name: '/dev/sda',
        rotational: false,
        type: 'SSD',
        sizeBytes: (100 + 100 * (h[13] % 4)) * 1024 ** 3,
        vendor: 'fake',
        model: 'fake disk',
        serialNumber: `${serial}-0`,
        hctl: '0:0:0:0',
      },
    ],
    cpu: {
      arch: opts.arch ?? 'x86_64',
      model: 'Fake CPU',
      clockMegahertz: 2400,
      flags: ['fpu', 'lm', 'vmx'],
      count: 2 * (1 + (h[14] % 8)),
    },
    hostname,
  };
}
