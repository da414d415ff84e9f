// Deterministic hardware for simulated hosts: the same namespace/name always yields the same machine, so
// demos and tests are repeatable while different hosts still look different.
import { createHash } from 'node:crypto';
import type { HardwareDetails, NIC, Storage } from '../../api/kinds/common.ts';
import type { FirmwareSchemaEntry, FirmwareSetting } from '../provisioner/types.ts';

/** A small seeded generator (mulberry32): reproducible, and independent of Math.random. */
export function seededRandom(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;

const vendors = [
  { manufacturer: 'Dell Inc.', productName: 'PowerEdge R650', bios: 'Dell Inc.' },
  { manufacturer: 'HPE', productName: 'ProLiant DL360 Gen10 Plus', bios: 'HPE' },
  { manufacturer: 'Supermicro', productName: 'SYS-1029P-WTR', bios: 'American Megatrends Inc.' },
  { manufacturer: 'Lenovo', productName: 'ThinkSystem SR630 V2', bios: 'Lenovo' },
] as const;

const x86CPUs = [
  { model: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz', mhz: 2000, flags: ['avx2', 'avx512f', 'sse4_2', 'vmx'] },
  { model: 'Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz', mhz: 2400, flags: ['avx2', 'avx512f', 'sse4_2', 'vmx'] },
  { model: 'AMD EPYC 7313 16-Core Processor', mhz: 3000, flags: ['avx2', 'sse4_2', 'svm'] },
] as const;
const armCPUs = [{ model: 'Ampere(R) Altra(R) Processor Q80-30', mhz: 3000, flags: ['asimd', 'fp', 'sha2'] }] as const;

function mac(rnd: () => number): string {
  const bytes = Array.from({ length: 6 }, () => Math.floor(rnd() * 256));
  // Locally administered unicast: never a real vendor's address.
  bytes[0] = ((bytes[0] ?? 0) & 0xfc) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The hardware of namespace/name; bootMAC, when known, is the first (PXE) NIC's address. */
export function simulatedHardware(namespace: string, name: string, opts: { architecture?: string; bootMAC?: string } = {}): HardwareDetails {
  const rnd = seededRandom(`${namespace}/${name}`);
  const vendor = pick(rnd, vendors);
  const arm = opts.architecture === 'aarch64';
  const cpu = arm ? pick(rnd, armCPUs) : pick(rnd, x86CPUs);
  const nicCount = 2 + Math.floor(rnd() * 3);
  const nics: NIC[] = [];
  for (let i = 0; i < nicCount; i++) {
    const nic: NIC = {
      name: `eno${i + 1}`,
      model: pick(rnd, ['0x8086 0x1572', '0x15b3 0x1017', '0x14e4 0x16d7']),
      mac: i === 0 && opts.bootMAC ? opts.bootMAC.toLowerCase() : mac(rnd),
      speedGbps: pick(rnd, [10, 25, 100]),
      pxe: i === 0,
    };
    // Documentation addresses (RFC 5737): plausible, never routable.
    if (i === 0) nic.ip = `192.0.2.${1 + Math.floor(rnd() * 250)}`;
    nics.push(nic);
  }
  const diskCount = 1 + Math.floor(rnd() * 4);
  const storage: Storage[] = [];
  for (let i = 0; i < diskCount; i++) {
    const nvme = rnd() < 0.4;
    const rotational = !nvme && rnd() < 0.3;
    const serial = Math.floor(rnd() * 1e10).toString(36).toUpperCase();
    storage.push({
      name: nvme ? `/dev/nvme${i}n1` : `/dev/sd${String.fromCharCode(97 + i)}`,
      rotational,
      type: nvme ? 'NVME' : rotational ? 'HDD' : 'SSD',
      sizeBytes: pick(rnd, [480, 960, 1920, 3840]) * 1_000_000_000,
      vendor: pick(rnd, ['Samsung', 'Micron', 'Seagate', 'Intel']),
      model: nvme ? 'PM9A3' : rotational ? 'ST2000NM000A' : 'MZ7L3960',
      serialNumber: serial,
      ...(nvme ? {} : { hctl: `${i}:0:0:0` }),
    });
  }
  const cores = pick(rnd, [16, 24, 32, 48, 64, 80, 128]);
  return {
    systemVendor: { manufacturer: vendor.manufacturer, productName: vendor.productName, serialNumber: `SIM${Math.floor(rnd() * 1e8).toString().padStart(8, '0')}` },
    firmware: { bios: { vendor: vendor.bios, version: `${1 + Math.floor(rnd() * 3)}.${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 10)}`, date: '2024-03-12' } },
    ramMebibytes: pick(rnd, [65536, 131072, 262144, 524288, 1048576]),
    nics,
    storage,
    cpu: { arch: arm ? 'aarch64' : 'x86_64', model: cpu.model, clockMegahertz: cpu.mhz, flags: [...cpu.flags].sort(), count: cores },
    hostname: name,
  };
}

/** BIOS settings and their schema, the same for every machine of a vendor model. */
export function simulatedFirmware(hardware: HardwareDetails): { settings: FirmwareSetting[]; schema: Record<string, FirmwareSchemaEntry> } {
  const bootMode = hardware.systemVendor?.manufacturer === 'Supermicro' ? 'Bios' : 'Uefi';
  const settings: FirmwareSetting[] = [
    { name: 'BootMode', value: bootMode },
    { name: 'ProcVirtualization', value: 'Enabled' },
    { name: 'LogicalProc', value: 'Enabled' },
    { name: 'SriovGlobalEnable', value: 'Disabled' },
    { name: 'NumLock', value: 'On' },
    { name: 'AdminPassword', value: '' },
  ];
  const enabled = ['Enabled', 'Disabled'];
  const schema: Record<string, FirmwareSchemaEntry> = {
    BootMode: { attribute_type: 'Enumeration', allowable_values: ['Uefi', 'Bios'], read_only: false },
    ProcVirtualization: { attribute_type: 'Enumeration', allowable_values: enabled, read_only: false },
    LogicalProc: { attribute_type: 'Enumeration', allowable_values: enabled, read_only: false },
    SriovGlobalEnable: { attribute_type: 'Enumeration', allowable_values: enabled, read_only: false },
    NumLock: { attribute_type: 'Enumeration', allowable_values: ['On', 'Off'], read_only: false },
    AdminPassword: { attribute_type: 'Password', max_length: 32, min_length: 0, read_only: false },
    SystemModelName: { attribute_type: 'String', max_length: 64, min_length: 0, read_only: true },
  };
  return { settings, schema };
}
