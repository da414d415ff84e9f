// Create throughput, and bringing a namespace to an exact number of hosts for the read figures.
import type { Client } from './client.ts';
import { bareMetalHost, hostName, hostPath, hostsPath, namespaceBody } from './fixtures.ts';
import { closedLoop } from './pacing.ts';
import { summarize, type LatencySummary } from './stats.ts';

export async function ensureNamespace(client: Client, name: string): Promise<void> {
  const res = await client.request('POST', '/api/v1/namespaces', { body: namespaceBody(name) });
  if (res.status !== 201 && res.status !== 409) throw new Error(`create namespace ${name}: HTTP ${res.status}: ${res.body.toString()}`);
}

export interface CreateFigures {
  created: number;
  seconds: number;
  perSecond: number;
  latencyMs: LatencySummary;
}

/** `clients` concurrent closed loops POSTing fresh hosts (indices from `firstIndex`) for `seconds`. */
export async function measureCreates(client: Client, ns: string, clients: number, seconds: number, firstIndex = 0): Promise<CreateFigures> {
  let next = firstIndex;
  const latencies: number[] = [];
  const { done, ms } = await closedLoop(clients, seconds, async () => {
    const res = await client.expect(201, 'POST', hostsPath(ns), { body: bareMetalHost(ns, next++) });
    latencies.push(res.ms);
  });
  return { created: done, seconds: ms / 1000, perSecond: done / (ms / 1000), latencyMs: summarize(latencies) };
}

/** Runs op over indices [from, to) with `concurrency` requests in flight. */
async function forEachIndex(from: number, to: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await op(next++);
    }),
  );
}

/** Given hosts 0..have-1 exist in ns, creates or deletes so that exactly hosts 0..want-1 do. */
export async function resizeHosts(client: Client, ns: string, have: number, want: number, concurrency = 16): Promise<void> {
  if (have < want) {
    await forEachIndex(have, want, concurrency, async (i) => {
      await client.expect(201, 'POST', hostsPath(ns), { body: bareMetalHost(ns, i) });
    });
  } else if (have > want) {
    await forEachIndex(want, have, concurrency, async (i) => {
      await client.expect(200, 'DELETE', hostPath(ns, hostName(i)));
    });
  }
}
