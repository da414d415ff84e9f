import { setTimeout as sleep } from 'node:timers/promises';
import { adminCredentials, Client } from './client.ts';
import { residentSet, startServer } from './server.ts';
import { ensureNamespace, resizeHosts } from './writes.ts';
import { measureList, tableAccept } from './reads.ts';
const server = await startServer();
const client = new Client(server.url, adminCredentials(server.dataDir), 64);
await ensureNamespace(client, 'bench');
await resizeHosts(client, 'bench', 0, 10000);
console.log('after populate', (residentSet(server.pid).rss / 2 ** 20).toFixed(1));
await measureList(client, 'bench', 10000, 3);
await measureList(client, 'bench', 10000, 3, tableAccept);
for (let i = 0; i < 30; i += 3) { console.log(i, (residentSet(server.pid).rss / 2 ** 20).toFixed(1)); await sleep(3000); }
client.close(); await server.stop();
