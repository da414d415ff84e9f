#!/usr/bin/env node
// The standalone server with admission off, for the HTTP half of the bench: what cmd/metal3-apiserver.ts
// serves (same kinds, SQLite file, PKI, TLS and namespace controller), but with the metal3.io kinds'
// built-in strategies removed and no admission plugins. main.ts has no switch for this, by design.
// Usage: node bench/admission/serve-off.ts --data-dir DIR
import https from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { createAPIServer } from '../../apiserver/server.ts';
import { SqliteStorage } from '../../apiserver/storage/sqlite.ts';
import { ensureStandalonePKI } from '../../apiserver/auth/pki.ts';
import { clientCertAuthenticator } from '../../apiserver/auth/authn.ts';
import { startNamespaceController } from '../../apiserver/core/namespace-controller.ts';
import { kindsFor } from './inprocess.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'data-dir': { type: 'string' } }, strict: true });
  const dataDir = values['data-dir'];
  if (!dataDir) throw new Error('--data-dir is required');
  const pki = await ensureStandalonePKI(dataDir, { hosts: ['127.0.0.1', 'localhost'] });
  let port = 0;
  const server = createAPIServer({
    storage: SqliteStorage.open(join(dataDir, 'state.db')),
    kinds: kindsFor('off'),
    authenticate: clientCertAuthenticator({ caPem: pki.caCert }),
    serverAddress: () => `127.0.0.1:${port}`,
  });
  await server.start();
  const namespaces = server.stores.get('/v1/namespaces');
  const stopController = namespaces ? startNamespaceController(namespaces, [...server.stores.values()].filter((s) => s.def.namespaced)) : () => {};
  const httpsServer = https.createServer(
    { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    server.app,
  );
  httpsServer.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  port = (httpsServer.address() as AddressInfo).port;
  process.stdout.write(`metal3-apiserver (admission off) serving on https://127.0.0.1:${port}\n`);
  const stop = () => {
    stopController();
    httpsServer.closeAllConnections();
    httpsServer.close();
    server.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
