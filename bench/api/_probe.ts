import { setTimeout as sleep } from 'node:timers/promises';
import { adminCredentials, Client } from './client.ts';
import { residentSet, startServer } from './server.ts';
import { ensureNamespace, resizeHosts } from './writes.ts';
const server = await startServer();
const client = new Client(server.url, adminCredentials(server.dataDir), 64);
await ensureNamespace(client, 'bench');
await resizeHosts(client, 'bench', 0, 10000);
for (let i = 0; i < 20; i++) { console.log(i, (residentSet(server.pid).rss / 2 ** 20).toFixed(1)); await sleep(1000); }
client.close(); await server.stop();
