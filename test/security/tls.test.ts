// TLS 1.2 is the minimum on both listeners, the API and the AdmissionReview endpoints: a client that
// speaks only TLS 1.0 or 1.1 is refused by the server, and TLS 1.2 and 1.3 clients get through.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startStandalone, type Standalone } from '../../apiserver/standalone.ts';

let dir: string;
let server: Standalone;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metal3-tls-'));
  server = await startStandalone({ dataDir: dir, port: 0, bindAddress: '127.0.0.1', webhookPort: 0 });
});
after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Version = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** The negotiated protocol, or the error that ended the handshake. */
function handshake(port: number, version: Version): Promise<{ protocol?: string | null; error?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      minVersion: version,
      maxVersion: version,
      // OpenSSL 3 keeps TLS 1.0/1.1 off at its default security level; level 0 lets this client offer them,
      // so that a refusal can only come from the server.
      ciphers: 'DEFAULT@SECLEVEL=0',
      rejectUnauthorized: false,
    });
    socket.once('secureConnect', () => {
      const protocol = socket.getProtocol();
      socket.destroy();
      resolve({ protocol });
    });
    socket.once('error', (e) => {
      socket.destroy();
      resolve({ error: e.message });
    });
  });
}

const listeners = () => [
  ['API', server.port],
  ['webhook', Number(new URL(server.webhookURL!).port)],
] as const;

test('the legacy client really speaks TLS 1.0 and 1.1 to a server that allows them', async () => {
  // Without this, a refusal below could be the client's own doing.
  const permissive = tls.createServer({
    key: server.pki.serverKey,
    cert: server.pki.serverCert,
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT@SECLEVEL=0',
  });
  await new Promise<void>((r) => permissive.listen(0, '127.0.0.1', r));
  try {
    const port = (permissive.address() as AddressInfo).port;
    assert.deepEqual(await handshake(port, 'TLSv1.1'), { protocol: 'TLSv1.1' });
    assert.deepEqual(await handshake(port, 'TLSv1'), { protocol: 'TLSv1' });
  } finally {
    permissive.close();
  }
});

for (const version of ['TLSv1', 'TLSv1.1'] as const) {
  test(`a ${version} client is refused by the API and the webhook listener`, async () => {
    for (const [name, port] of listeners()) {
      const r = await handshake(port, version);
      assert.equal(r.protocol, undefined, `${name} accepted ${version}`);
      // The server's alert, not a local failure.
      assert.match(r.error ?? '', /alert protocol version|unsupported protocol/i, `${name}: ${r.error}`);
    }
  });
}

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`a ${version} client completes the handshake with the API and the webhook listener`, async () => {
    for (const [name, port] of listeners()) {
      assert.deepEqual(await handshake(port, version), { protocol: version }, name);
    }
  });
}
