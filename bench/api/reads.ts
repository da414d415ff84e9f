// GET latency under a fixed offered load, and LIST time to the last byte.
import type { Client } from './client.ts';
import { hostName, hostPath, hostsPath } from './fixtures.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { paced } from './pacing.ts';
import { median, summarize, type LatencySummary } from './stats.ts';

export interface GetFigures {
  rate: number;
  seconds: number;
  latencyMs: LatencySummary;
  /** The client's own lateness against the schedule, to tell client jitter from server latency. */
  scheduleLagMs: LatencySummary;
  errors: number;
  /** The load generator's own event-loop delay (max), in ms: a stalled client shows here, not in the server. */
  clientLoopDelayMaxMs: number;
}

/** GETs of random hosts among 0..hosts-1 at `rate` per second, open loop. */
export async function measureGets(client: Client, ns: string, hosts: number, rate: number, seconds: number): Promise<GetFigures> {
  const latencies: number[] = [];
  let errors = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const run = await paced(rate, seconds, async () => {
    const res = await client.request('GET', hostPath(ns, hostName(Math.floor(Math.random() * hosts))));
    if (res.status === 200) latencies.push(res.ms);
    else errors++;
  });
  loop.disable();
  return { rate, seconds, latencyMs: summarize(latencies), scheduleLagMs: summarize(run.lagMs), errors, clientLoopDelayMaxMs: loop.max / 1e6 };
}

export const tableAccept = 'application/json;as=Table;v=v1;g=meta.k8s.io';

export interface ListFigures {
  items: number;
  bytes: number;
  medianMs: number;
  samplesMs: number[];
}

/**
 * LISTs ns `runs` times after one warm-up, timing each to its last byte. The warm-up's body is parsed
 * to check the count, so a server that answers fast with the wrong list cannot pass.
 */
export async function measureList(client: Client, ns: string, expectItems: number, runs: number, accept?: string): Promise<ListFigures> {
  const warm = await client.expect(200, 'GET', hostsPath(ns), { accept });
  const doc = JSON.parse(warm.body.toString('utf8')) as { kind?: string; items?: unknown[]; rows?: unknown[] };
  const items = (accept ? doc.rows : doc.items)?.length ?? -1;
  if (items !== expectItems) throw new Error(`LIST ${accept ?? 'json'} returned ${items} items (kind ${doc.kind}), expected ${expectItems}`);
  const samplesMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const res = await client.expect(200, 'GET', hostsPath(ns), { accept, discardBody: true });
    samplesMs.push(res.ms);
  }
  return { items, bytes: warm.body.length, medianMs: median(samplesMs), samplesMs };
}
