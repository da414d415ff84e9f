import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BMCAddressError,
  BMCCredentialsError,
  bmcSchemes,
  parseBMCAddress,
  parseCredentials,
  parseURL,
} from '../../api/bmc.ts';

const creds = { username: 'admin', password: 's3cret' };

// [scheme base, driver, boot, management/power/vendor, bios, raid, firmware, inspect, secureBoot, isoPreprov, provNet, variants]
const families: [string, string, string, string, string, string, string, string, boolean, boolean, boolean, boolean][] = [
  ['ipmi', 'ipmi', 'ipxe', '', '', 'no-raid', '', '', false, false, true, false],
  ['libvirt', 'ipmi', 'ipxe', '', '', 'no-raid', '', '', false, false, true, false],
  ['redfish', 'redfish', 'ipxe', '', '', 'redfish', 'redfish', 'redfish', true, false, true, true],
  ['ilo5-redfish', 'redfish', 'ipxe', '', '', 'redfish', 'redfish', 'redfish', true, false, true, true],
  ['redfish-virtualmedia', 'redfish', 'redfish-virtual-media', '', '', 'redfish', 'redfish', 'redfish', true, true, false, true],
  ['ilo5-virtualmedia', 'redfish', 'redfish-virtual-media', '', '', 'redfish', 'redfish', 'redfish', true, true, false, true],
  ['redfish-uefihttp', 'redfish', 'redfish-https', '', '', 'redfish', 'redfish', 'redfish', true, true, false, true],
  ['idrac-redfish', 'idrac', 'ipxe', 'idrac-redfish', 'idrac-redfish', 'idrac-redfish', 'redfish', 'redfish', true, false, true, true],
  [
    'idrac-virtualmedia',
    'idrac',
    'idrac-redfish-virtual-media',
    'idrac-redfish',
    'idrac-redfish',
    'idrac-redfish',
    'redfish',
    'redfish',
    true,
    true,
    false,
    true,
  ],
];

for (const [base, driver, boot, mpv, bios, raid, firmware, inspect, secure, iso, provNet, variants] of families) {
  for (const scheme of variants ? [base, `${base}+http`, `${base}+https`] : [base]) {
    test(`scheme ${scheme}: driver and interfaces`, () => {
      const d = parseBMCAddress(`${scheme}://10.0.0.1/redfish/v1/Systems/1`);
      assert.equal(d.type, scheme);
      assert.equal(d.driver, driver);
      assert.equal(d.bootInterface, boot);
      assert.equal(d.managementInterface, mpv);
      assert.equal(d.powerInterface, mpv);
      assert.equal(d.vendorInterface, mpv);
      assert.equal(d.biosInterface, bios);
      assert.equal(d.raidInterface, raid);
      assert.equal(d.firmwareInterface, firmware);
      assert.equal(d.inspectInterface, inspect);
      assert.equal(d.needsMAC, scheme === 'libvirt');
      assert.equal(d.supportsSecureBoot, secure);
      assert.equal(d.supportsISOPreprovisioningImage, iso);
      assert.equal(d.requiresProvisioningNetwork, provNet);
      assert.ok(bmcSchemes.includes(scheme));
    });
  }
}

test('ipmi driver_info: default port 623, privilege level from the query, verify_ca only when insecure', () => {
  assert.deepEqual(parseBMCAddress('ipmi://10.0.0.1').driverInfo(creds, false), {
    ipmi_address: '10.0.0.1',
    ipmi_port: '623',
    ipmi_username: 'admin',
    ipmi_password: 's3cret',
    ipmi_priv_level: 'ADMINISTRATOR',
  });
  assert.deepEqual(parseBMCAddress('ipmi://10.0.0.1:6230?privilegelevel=OPERATOR').driverInfo(creds, true), {
    ipmi_address: '10.0.0.1',
    ipmi_port: '6230',
    ipmi_username: 'admin',
    ipmi_password: 's3cret',
    ipmi_priv_level: 'OPERATOR',
    ipmi_verify_ca: false,
  });
  assert.equal(parseBMCAddress('libvirt://[fe80::1]:6233/').driverInfo(creds, false).ipmi_address, 'fe80::1');
});

test('redfish driver_info: address scheme from the +variant, system id from the path', () => {
  assert.deepEqual(parseBMCAddress('redfish://bmc.example.com:8443/redfish/v1/Systems/1').driverInfo(creds, false), {
    redfish_address: 'https://bmc.example.com:8443',
    redfish_system_id: '/redfish/v1/Systems/1',
    redfish_username: 'admin',
    redfish_password: 's3cret',
  });
  const http = parseBMCAddress('redfish+http://10.0.0.1/redfish/v1/').driverInfo(creds, true);
  assert.equal(http.redfish_address, 'http://10.0.0.1');
  assert.equal(http.redfish_verify_ca, false);
  assert.ok(!('redfish_system_id' in http), 'the service root is not a system id');
  assert.ok(!('redfish_system_id' in parseBMCAddress('redfish://10.0.0.1').driverInfo(creds, false)));
  assert.equal(parseBMCAddress('idrac-virtualmedia+https://[fe80::1]/x').driverInfo(creds, false).redfish_address, 'https://[fe80::1]');
  // uefihttp always sends the system id, even empty
  assert.equal(parseBMCAddress('redfish-uefihttp://10.0.0.1').driverInfo(creds, false).redfish_system_id, '');
});

test('address forms: bare host, host:port, opaque scheme:host, IPv6', () => {
  const cases: [string, string, string, string][] = [
    ['192.168.122.1', 'ipmi', '192.168.122.1', ''],
    ['my.favoritebmc.com', 'ipmi', 'my.favoritebmc.com', ''],
    ['192.168.122.1:6233', 'ipmi', '192.168.122.1', '6233'],
    ['[fe80::fc33:62ff:fe83:8a76]:6233', 'ipmi', 'fe80::fc33:62ff:fe83:8a76', '6233'],
    ['ipmi:192.168.122.1', 'ipmi', '192.168.122.1', ''],
    ['ipmi:192.168.122.1:6233', 'ipmi', '192.168.122.1', '6233'],
    ['redfish:192.168.122.1', 'redfish', '192.168.122.1', ''],
    ['REDFISH://10.0.0.1', 'redfish', '10.0.0.1', ''],
  ];
  for (const [address, type, hostname, port] of cases) {
    const d = parseBMCAddress(address);
    assert.deepEqual([d.type, d.address.hostname, d.address.port], [type, hostname, port], address);
  }
  assert.equal(parseBMCAddress('redfish://10.0.0.1:6233/foo').address.path, '/foo');
});

test('invalid addresses carry BMO messages', () => {
  const cases: [string, RegExp][] = [
    ['', /^missing BMC address$/],
    ['my-.examplehost.com', /^failed to parse BMC address information: BMC address hostname\/IP : \[my-\.examplehost\.com\] is invalid$/],
    ['[fe80::fc33:62ff:fe33:8xff]:6223', /hostname\/IP : \[fe80::fc33:62ff:fe33:8xff\] is invalid/],
    ['[fe80::fc33:62ff:fe83:8a76]', /^failed to parse BMC address information: parse ".*": first path segment in URL cannot contain colon$/],
    ['redfish://bad_host/', /hostname\/IP : \[bad_host\] is invalid/],
    ['foo://192.168.122.1', /^Unknown BMC type 'foo' for address foo:\/\/192\.168\.122\.1$/],
  ];
  for (const [address, message] of cases) {
    assert.throws(() => parseBMCAddress(address), (e: unknown) => e instanceof BMCAddressError && message.test(e.message), address);
  }
});

test('removed schemes get exactly BMO unknown-type message', () => {
  for (const scheme of ['idrac', 'idrac+http', 'idrac+https', 'ibmc', 'ibmc+http', 'ibmc+https', 'ilo4', 'ilo4-virtualmedia', 'ilo5', 'irmc']) {
    const address = `${scheme}://1.2.3.4`;
    assert.throws(() => parseBMCAddress(address), { message: `Unknown BMC type '${scheme}' for address ${address}` });
    assert.ok(!bmcSchemes.includes(scheme));
  }
});

test('no +http variant for ipmi or libvirt', () => {
  assert.throws(() => parseBMCAddress('ipmi+https://1.2.3.4'), /Unknown BMC type 'ipmi\+https'/);
  assert.throws(() => parseBMCAddress('libvirt+http://1.2.3.4'), /Unknown BMC type 'libvirt\+http'/);
});

test('fake scheme only with enableFakeBMC', () => {
  assert.throws(
    () => parseBMCAddress('fake://host-1'),
    (e: unknown) =>
      e instanceof BMCAddressError && e.message.startsWith("Unknown BMC type 'fake' for address fake://host-1") && /--enable-fake-bmc/.test(e.message),
  );
  const d = parseBMCAddress('fake://host-1', { enableFakeBMC: true });
  assert.equal(d.driver, 'fake-hardware');
  for (const iface of [d.bootInterface, d.managementInterface, d.powerInterface, d.vendorInterface, d.biosInterface, d.raidInterface, d.firmwareInterface, d.inspectInterface]) {
    assert.equal(iface, 'fake');
  }
  assert.deepEqual(d.driverInfo(creds, true), { fake_name: 'host-1' });
});

test('a password in the address never reaches a message', () => {
  assert.throws(
    () => parseBMCAddress('nope://admin:hunter2@10.0.0.1/'),
    (e: unknown) => e instanceof Error && !e.message.includes('hunter2') && e.message.includes('admin:xxxxx@'),
  );
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('credentials: trimmed, both required, with BMO messages', () => {
  assert.deepEqual(parseCredentials({ username: b64(' admin\n'), password: b64('pw \n') }), { username: 'admin', password: 'pw' });
  assert.throws(
    () => parseCredentials({ password: b64('pw') }),
    (e: unknown) =>
      e instanceof BMCCredentialsError &&
      e.message === "Validation error with BMC credentials: Missing BMC connection detail 'username' in credentials",
  );
  assert.throws(() => parseCredentials({ username: b64('admin'), password: b64('   ') }), {
    message: "Validation error with BMC credentials: Missing BMC connection details 'password' in credentials",
  });
  assert.throws(() => parseCredentials(undefined), /'username'/);
});

test('parseURL follows Go url.ParseRequestURI', () => {
  assert.equal(parseURL('http://example.com/a?b=c', true).path, '/a');
  assert.throws(() => parseURL('example.com/a', true), { message: 'parse "example.com/a": invalid URI for request' });
  assert.throws(() => parseURL('', true), { message: 'parse "": empty url' });
  assert.throws(() => parseURL('http://a:b/', true), /invalid port ":b" after host/);
  assert.throws(() => parseURL('://x', true), /missing protocol scheme/);
  assert.equal(parseURL('http://example.com', true).path, '');
});
