// BMC addresses as BMO reads them (pkg/hardwareutils/bmc): the URL grammar is Go's net/url, because an
// address BMO accepts must be accepted here and one it rejects rejected with the same words.

import { isIPv4, isIPv6 } from 'node:net';

// ---- Go net/url, the parts BMO relies on ----

/** A URL split the way Go's url.URL holds it. `host` keeps the port and IPv6 brackets, as URL.Host does. */
export interface ParsedURL {
  scheme: string;
  opaque: string;
  user: string;
  host: string;
  /** URL.Hostname(): host without port and brackets. */
  hostname: string;
  /** URL.Port(): '' when absent. */
  port: string;
  path: string;
  rawQuery: string;
}

export class URLParseError extends Error {}

const isLetter = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isDigit = (c: string) => c >= '0' && c <= '9';

function fail(raw: string, detail: string): never {
  throw new URLParseError(`parse ${JSON.stringify(raw)}: ${detail}`);
}

function splitScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (isLetter(c)) continue;
    if (isDigit(c) || c === '+' || c === '-' || c === '.') {
      if (i === 0) return ['', raw];
      continue;
    }
    if (c === ':') {
      if (i === 0) fail(raw, 'missing protocol scheme');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ['', raw];
  }
  return ['', raw];
}

const validOptionalPort = (port: string) => port === '' || /^:[0-9]*$/.test(port);

// Characters Go refuses in a host name (shouldEscape in encodeHost mode, for ASCII).
const badHostChar = /[^A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%]/;

function unescape(raw: string, s: string, what: 'host' | 'path'): string {
  if (what === 'host') {
    const bad = badHostChar.exec(s.replace(/[\u0080-\uffff]/g, ''));
    if (bad) fail(raw, `invalid character ${JSON.stringify(bad[0])} in host name`);
  }
  if (!s.includes('%')) return s;
  const bad = /%(?![0-9A-Fa-f]{2})/.exec(s);
  if (bad) fail(raw, `invalid URL escape ${JSON.stringify(s.slice(bad.index, bad.index + 3))}`);
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseHost(raw: string, host: string): string {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) fail(raw, "missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) fail(raw, `invalid port ${JSON.stringify(colonPort)} after host`);
    return host;
  }
  const i = host.lastIndexOf(':');
  if (i >= 0) {
    const colonPort = host.slice(i);
    if (!validOptionalPort(colonPort)) fail(raw, `invalid port ${JSON.stringify(colonPort)} after host`);
  }
  return unescape(raw, host, 'host');
}

function splitHostPortOfURL(host: string): [string, string] {
  let name = host;
  let port = '';
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && validOptionalPort(host.slice(colon)) && !(host.startsWith('[') && host.slice(colon).includes(']'))) {
    name = host.slice(0, colon);
    port = host.slice(colon + 1);
  }
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  return [name, port];
}

function withHost(u: Omit<ParsedURL, 'hostname' | 'port'>): ParsedURL {
  const [hostname, port] = splitHostPortOfURL(u.host);
  return { ...u, hostname, port };
}

/**
 * Go's url.Parse (viaRequest false) or url.ParseRequestURI (viaRequest true, no fragment split).
 * Throws URLParseError with Go's message, e.g. `parse "x": invalid URI for request`.
 */
export function parseURL(raw: string, viaRequest = false): ParsedURL {
  let s = raw;
  if (!viaRequest) {
    const hash = s.indexOf('#');
    if (hash >= 0) s = s.slice(0, hash);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s)) fail(raw, 'net/url: invalid control character in URL');
  if (s === '' && viaRequest) fail(raw, 'empty url');
  const empty = { scheme: '', opaque: '', user: '', host: '', path: '', rawQuery: '' };
  if (s === '*') return withHost({ ...empty, path: '*' });

  const [schemeRaw, afterScheme] = splitScheme(s);
  const scheme = schemeRaw.toLowerCase();
  let rest = afterScheme;
  let rawQuery = '';
  if (rest.endsWith('?') && rest.split('?').length === 2) {
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }

  if (!rest.startsWith('/')) {
    if (scheme !== '') return withHost({ ...empty, scheme, opaque: rest, rawQuery });
    if (viaRequest) fail(raw, 'invalid URI for request');
    const slash = rest.indexOf('/');
    const segment = slash >= 0 ? rest.slice(0, slash) : rest;
    if (segment.includes(':')) fail(raw, 'first path segment in URL cannot contain colon');
  }

  let user = '';
  let host = '';
  if ((scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
    const afterSlashes = rest.slice(2);
    const slash = afterSlashes.indexOf('/');
    const authority = slash >= 0 ? afterSlashes.slice(0, slash) : afterSlashes;
    rest = slash >= 0 ? afterSlashes.slice(slash) : '';
    const at = authority.lastIndexOf('@');
    if (at >= 0) user = authority.slice(0, at);
    host = parseHost(raw, authority.slice(at + 1));
  }
  const path = unescape(raw, rest, 'path');
  return withHost({ scheme, opaque: '', user, host, path, rawQuery });
}

/** Go's net.SplitHostPort, for the bare `host:port` form; throws with Go's message. */
function splitHostPort(hostport: string): void {
  const missingPort = 'missing port in address';
  const tooMany = 'too many colons in address';
  const addrErr = (why: string) => {
    throw new URLParseError(`address ${hostport}: ${why}`);
  };
  const i = hostport.lastIndexOf(':');
  if (i < 0) addrErr(missingPort);
  let host: string;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) addrErr("missing ']' in address");
    if (end + 1 === hostport.length) addrErr(missingPort);
    if (end + 1 !== i) addrErr(hostport[end + 1] === ':' ? tooMany : missingPort);
    host = hostport.slice(1, end);
    if (host.includes('[') || host.includes(']')) addrErr("unexpected '[' in address");
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) addrErr(tooMany);
    if (host.includes('[')) addrErr("unexpected '[' in address");
    if (host.includes(']')) addrErr("unexpected ']' in address");
  }
  if (hostport.slice(i + 1).includes('[')) addrErr("unexpected '[' in address");
  if (hostport.slice(i + 1).includes(']')) addrErr("unexpected ']' in address");
}

/** Go's net.ParseIP: dotted IPv4 without leading zeros, or IPv6 without a zone. */
export function isIPAddress(s: string): boolean {
  return isIPv4(s) || (isIPv6(s) && !s.includes('%'));
}

const dnsName =
  /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9])$/;

// ---- BMC access details ----

export class BMCAddressError extends Error {}

export class BMCCredentialsError extends Error {}

export interface BMCCredentials {
  username: string;
  password: string;
}

export type DriverInfo = Record<string, string | number | boolean>;

/** What BMO's bmc.AccessDetails answers for one address. Interface names of '' mean Ironic's default. */
export interface BMCAccessDetails {
  /** The scheme as written, lowercased: `redfish+http`, `ipmi`, `libvirt`... */
  type: string;
  address: { scheme: string; host: string; hostname: string; port: string; path: string; query: string };
  driver: string;
  bootInterface: string;
  managementInterface: string;
  powerInterface: string;
  vendorInterface: string;
  biosInterface: string;
  raidInterface: string;
  firmwareInterface: string;
  /** The out-of-band inspect interface used by inspectionMode fast; '' when the driver has none. */
  inspectInterface: string;
  needsMAC: boolean;
  supportsSecureBoot: boolean;
  supportsISOPreprovisioningImage: boolean;
  requiresProvisioningNetwork: boolean;
  driverInfo(credentials: BMCCredentials, disableCertificateVerification: boolean): DriverInfo;
}

type Interfaces = Pick<
  BMCAccessDetails,
  | 'driver'
  | 'bootInterface'
  | 'managementInterface'
  | 'powerInterface'
  | 'vendorInterface'
  | 'biosInterface'
  | 'raidInterface'
  | 'firmwareInterface'
  | 'inspectInterface'
  | 'supportsSecureBoot'
  | 'supportsISOPreprovisioningImage'
  | 'requiresProvisioningNetwork'
>;

type DriverInfoFn = (u: ParsedURL, type: string, c: BMCCredentials, insecure: boolean) => DriverInfo;

interface Family {
  interfaces: Interfaces;
  needsMAC: (type: string) => boolean;
  driverInfo: DriverInfoFn;
}

function privilegeLevel(rawQuery: string): string {
  try {
    const value = new URLSearchParams(rawQuery).get('privilegelevel');
    return value ?? 'ADMINISTRATOR';
  } catch {
    return 'ADMINISTRATOR';
  }
}

const ipmiDriverInfo: DriverInfoFn = (u, _type, c, insecure) => {
  const info: DriverInfo = {
    ipmi_port: u.port || '623',
    ipmi_username: c.username,
    ipmi_password: c.password,
    ipmi_address: u.hostname,
    ipmi_priv_level: privilegeLevel(u.rawQuery),
  };
  if (insecure) info.ipmi_verify_ca = false;
  return info;
};

/** `redfish+http` talks plain HTTP to the BMC; everything else HTTPS. */
const redfishAddress = (type: string, host: string) => `${type.split('+')[1] ?? 'https'}://${host}`;

const redfishDriverInfo =
  (alwaysSystemID: boolean): DriverInfoFn =>
  (u, type, c, insecure) => {
    const info: DriverInfo = {
      redfish_username: c.username,
      redfish_password: c.password,
      redfish_address: redfishAddress(type, u.host),
    };
    const trimmed = u.path.replace(/^\/+|\/+$/g, '');
    if (alwaysSystemID || (trimmed !== '' && trimmed !== 'redfish/v1')) info.redfish_system_id = u.path;
    if (insecure) info.redfish_verify_ca = false;
    return info;
  };

const noInterfaces = {
  managementInterface: '',
  powerInterface: '',
  vendorInterface: '',
  biosInterface: '',
};

const ipmiFamily: Family = {
  interfaces: {
    driver: 'ipmi',
    bootInterface: 'ipxe',
    ...noInterfaces,
    raidInterface: 'no-raid',
    firmwareInterface: '',
    inspectInterface: '',
    supportsSecureBoot: false,
    supportsISOPreprovisioningImage: false,
    requiresProvisioningNetwork: true,
  },
  // libvirt hosts are VMs whose ports Ironic cannot discover through IPMI.
  needsMAC: (type) => type === 'libvirt',
  driverInfo: ipmiDriverInfo,
};

const redfishInterfaces: Interfaces = {
  driver: 'redfish',
  bootInterface: 'ipxe',
  ...noInterfaces,
  raidInterface: 'redfish',
  firmwareInterface: 'redfish',
  inspectInterface: 'redfish',
  supportsSecureBoot: true,
  supportsISOPreprovisioningImage: false,
  requiresProvisioningNetwork: true,
};

const virtualMedia = { supportsISOPreprovisioningImage: true, requiresProvisioningNetwork: false };

const idracInterfaces: Interfaces = {
  ...redfishInterfaces,
  driver: 'idrac',
  managementInterface: 'idrac-redfish',
  powerInterface: 'idrac-redfish',
  vendorInterface: 'idrac-redfish',
  biosInterface: 'idrac-redfish',
  raidInterface: 'idrac-redfish',
};

const never = () => false;

const redfishFamily = (interfaces: Interfaces, alwaysSystemID = false): Family => ({
  interfaces,
  needsMAC: never,
  driverInfo: redfishDriverInfo(alwaysSystemID),
});

const fakeFamily: Family = {
  interfaces: {
    driver: 'fake-hardware',
    bootInterface: 'fake',
    managementInterface: 'fake',
    powerInterface: 'fake',
    vendorInterface: 'fake',
    biosInterface: 'fake',
    raidInterface: 'fake',
    firmwareInterface: 'fake',
    inspectInterface: 'fake',
    supportsSecureBoot: true,
    supportsISOPreprovisioningImage: true,
    requiresProvisioningNetwork: false,
  },
  needsMAC: never,
  driverInfo: (u) => ({ fake_name: u.hostname }),
};

/** Base scheme → family, and whether the `+http` / `+https` variants exist. */
const families: [string, Family, boolean][] = [
  ['ipmi', ipmiFamily, false],
  ['libvirt', ipmiFamily, false],
  ['redfish', redfishFamily(redfishInterfaces), true],
  ['ilo5-redfish', redfishFamily(redfishInterfaces), true],
  ['idrac-redfish', redfishFamily(idracInterfaces), true],
  ['redfish-virtualmedia', redfishFamily({ ...redfishInterfaces, bootInterface: 'redfish-virtual-media', ...virtualMedia }), true],
  ['ilo5-virtualmedia', redfishFamily({ ...redfishInterfaces, bootInterface: 'redfish-virtual-media', ...virtualMedia }), true],
  ['redfish-uefihttp', redfishFamily({ ...redfishInterfaces, bootInterface: 'redfish-https', ...virtualMedia }, true), true],
  [
    'idrac-virtualmedia',
    redfishFamily({ ...idracInterfaces, bootInterface: 'idrac-redfish-virtual-media', ...virtualMedia }),
    true,
  ],
];

const schemes = new Map<string, Family>();
for (const [name, family, variants] of families) {
  schemes.set(name, family);
  if (variants) for (const v of ['http', 'https']) schemes.set(`${name}+${v}`, family);
}

/** Every scheme BMO accepts today (the fake scheme aside). */
export const bmcSchemes: readonly string[] = [...schemes.keys()];

const fakeScheme = 'fake';

/** Go's url.Redacted: a password in the userinfo never reaches a message. */
export function redactAddress(address: string): string {
  return address.replace(/^([^/]*\/\/[^/@:]*):[^/@]*@/, '$1:xxxxx@');
}

/** BMO's GetParsedURL: the address as a URL, bare hosts and `scheme:host` made into `scheme://host`. */
export function parseBMCURL(address: string): ParsedURL {
  const wrap = (e: unknown): never => {
    const why = e instanceof Error ? e.message : String(e);
    throw new BMCAddressError(`failed to parse BMC address information: ${redactAddress(why)}`);
  };
  let u: ParsedURL;
  try {
    u = parseURL(address);
  } catch (e) {
    if (!(e instanceof URLParseError)) throw e;
    // Go's parser rejects `1.2.3.4:623` and `[fe80::1]:623`; BMO takes them as IPMI host:port.
    if (address.includes(':')) {
      try {
        splitHostPort(address);
      } catch {
        wrap(e);
      }
    }
    u = withHost({ scheme: 'ipmi', opaque: '', user: '', host: address, path: '', rawQuery: '' });
  }
  try {
    if (u.opaque !== '') u = parseURL(address.replace(':', '://'));
    if (u.scheme === '' && u.hostname === '') u = parseURL(`ipmi://${address}`);
  } catch (e) {
    wrap(e);
  }
  if (u.hostname !== '' && !isIPAddress(u.hostname) && !dnsName.test(u.hostname)) {
    wrap(new Error(`BMC address hostname/IP : [${u.hostname}] is invalid`));
  }
  return u;
}

export interface ParseBMCAddressOptions {
  /** Accept `fake://NAME`, served by Ironic's fake-hardware driver: for tests and scale runs only. */
  enableFakeBMC?: boolean;
}

/** BMO's bmc.NewAccessDetails. Throws BMCAddressError with BMO's message. */
export function parseBMCAddress(address: string, opts: ParseBMCAddressOptions = {}): BMCAccessDetails {
  if (address === '') throw new BMCAddressError('missing BMC address');
  const u = parseBMCURL(address);
  let family = schemes.get(u.scheme);
  const unknown = `Unknown BMC type '${u.scheme}' for address ${redactAddress(address)}`;
  if (u.scheme === fakeScheme) {
    if (!opts.enableFakeBMC) {
      throw new BMCAddressError(
        `${unknown}: the fake BMC scheme is only accepted when the server runs with --enable-fake-bmc`,
      );
    }
    family = fakeFamily;
  }
  if (!family) throw new BMCAddressError(unknown);
  const f = family;
  return {
    type: u.scheme,
    address: { scheme: u.scheme, host: u.host, hostname: u.hostname, port: u.port, path: u.path, query: u.rawQuery },
    ...f.interfaces,
    needsMAC: f.needsMAC(u.scheme),
    driverInfo: (credentials, insecure) => f.driverInfo(u, u.scheme, credentials, insecure),
  };
}

/**
 * The `username` and `password` of a BMC credentials Secret (base64 values, as in Secret.data), trimmed.
 * Throws BMCCredentialsError with BMO's messages.
 */
export function parseCredentials(secretData: Record<string, string> | undefined): BMCCredentials {
  const decode = (key: string) => {
    const v = secretData?.[key];
    return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8').trim() : '';
  };
  const username = decode('username');
  const password = decode('password');
  const prefix = 'Validation error with BMC credentials: ';
  if (username === '') throw new BMCCredentialsError(`${prefix}Missing BMC connection detail 'username' in credentials`);
  // BMO's wording, "details" included.
  if (password === '') throw new BMCCredentialsError(`${prefix}Missing BMC connection details 'password' in credentials`);
  return { username, password };
}
