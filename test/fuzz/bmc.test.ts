// BMC addresses: parseBMCAddress directly (it only ever throws its own error types, and what it
// accepts has the shape the reconcilers rely on), and through BareMetalHost creates over HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bmcSchemes, BMCAddressError, parseBMCAddress, URLParseError } from '../../api/bmc.ts';
import { assertSane, stopFuzzServer, params, startFuzzServer, type FuzzServer } from './harness.ts';
import { collectionPath, kindNamed, nastyString } from './arbitraries.ts';

const hostPart = fc.oneof(
  fc.constantFrom('10.0.0.1', '[fe80::1]', '[fe80::1%25eth0]', 'bmc.example.com', 'bmc.example.com:623', '10.0.0.1:', '[::1]:8000', '[::1', '::1', '', 'user:pass@10.0.0.1', '@', ':', '%zz', '10.0.0.1:99999', '10.0.0.1:-1', 'ho st', 'höst'),
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
  nastyString,
);
const pathPart = fc.oneof(fc.constantFrom('', '/', '/redfish/v1/Systems/1', '/redfish/v1/Systems/1?x=%', '/%', '/%41', '//', '?', '#frag', '/a b'), fc.webPath(), nastyString);
const scheme = fc.oneof(fc.constantFrom(...bmcSchemes, 'fake', 'http', 'https', 'IPMI', 'Redfish', 'redfish+', '+http', 'idrac+', ''), fc.stringMatching(/^[a-z0-9+.-]{0,15}$/), nastyString);

/** Addresses built from BMO's schemes and URL parts, plus plain random text. */
const address = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(scheme, fc.constantFrom('://', ':', ':/', ':///', ''), hostPart, pathPart).map(([sc, sep, h, p]) => `${sc}${sep}${h}${p}`) },
  { weight: 2, arbitrary: fc.tuple(hostPart, pathPart).map(([h, p]) => `${h}${p}`) },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
);

test('parseBMCAddress accepts or refuses with its own errors, never anything else', () => {
  fc.assert(
    fc.property(address, fc.boolean(), (addr, enableFakeBMC) => {
      let details: ReturnType<typeof parseBMCAddress>;
      try {
        details = parseBMCAddress(addr, { enableFakeBMC });
      } catch (e) {
        assert.ok(e instanceof BMCAddressError || e instanceof URLParseError, `${JSON.stringify(addr)}: threw ${String(e)}`);
        assert.ok((e as Error).message.length > 0);
        return;
      }
      assert.ok(bmcSchemes.includes(details.type) || (enableFakeBMC && details.type === 'fake'), `${JSON.stringify(addr)}: accepted as type ${details.type}`);
      assert.equal(typeof details.needsMAC, 'boolean');
      const info = details.driverInfo({ username: 'u', password: 'p' }, false);
      assert.ok(info && typeof info === 'object', `${JSON.stringify(addr)}: driverInfo is not an object`);
    }),
    params('bmcParse'),
  );
});

let s: FuzzServer;
before(async () => {
  s = await startFuzzServer();
});
after(() => stopFuzzServer(s));

test('BareMetalHost creates with random BMC addresses', async () => {
  const hosts = kindNamed('BareMetalHost');
  let n = 0;
  await fc.assert(
    fc.asyncProperty(address, fc.constantFrom('', '?dryRun=All'), async (addr, query) => {
      const rev = s.storage.currentRevision();
      const body = JSON.stringify({
        apiVersion: 'metal3.io/v1alpha1',
        kind: 'BareMetalHost',
        metadata: { name: `bmc-${n++}` },
        spec: { online: false, bootMACAddress: '52:54:00:12:34:56', bmc: { address: addr, credentialsName: 'bmc-secret' } },
      });
      const reply = await s.request('POST', collectionPath(hosts, 'fuzz') + query, { body });
      const what = `create with BMC address ${JSON.stringify(addr)}`;
      assertSane(reply, what);
      // The server's verdict is the parser's: a 201 exactly when BMO's parsing accepts the address.
      // An empty address is a host without a BMC, which BMO accepts.
      let parses = true;
      if (addr !== '') try {
        parseBMCAddress(addr);
      } catch {
        parses = false;
      }
      if (!parses) assert.equal(reply.status, 422, `${what}: the parser refuses it, the server answered ${reply.status}`);
      if (reply.status >= 300 || query) assert.equal(s.storage.currentRevision(), rev, `${what}: a refused create wrote`);
    }),
    params('bmcCreate'),
  );
  s.assertNoCrash();
});
