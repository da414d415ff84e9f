// Watch delivery latency: many raw watch streams, a fixed rate of writes, and for every event the time
// from sending its write to a watcher reading it. The written annotation carries the send time.
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from './client.ts';
import { annotationSent, bareMetalHost, hostName, hostPath, hostsPath, sentAnnotationPatch } from './fixtures.ts';
import { paced } from './pacing.ts';
import { summarize, type LatencySummary } from './stats.ts';

export interface WatchFigures {
  watchers: number;
  writeRate: number;
  seconds: number;
  writes: number;
  expectedEvents: number;
  deliveredEvents: number;
  deliveryMs: LatencySummary;
  writeLatencyMs: LatencySummary;
  writeErrors: number;
  /** Server CPU per write over the write window, fan-out to every watcher included. */
  serverCpuMsPerWrite: number;
}

const marker = `"${annotationSent}":"`;

/**
 * Reads one watch stream without parsing JSON: the client must keep up with watchers × writes events
 * a second on one core, so it only finds line ends and the timestamp in each line.
 */
function consume(res: IncomingMessage, onSent: (sentMs: number, nowMs: number) => void, onOther: (line: string) => void): void {
  res.setEncoding('latin1');
  let tail = '';
  res.on('data', (chunk: string) => {
    const now = performance.now();
    const text = tail + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const at = text.indexOf(marker, start);
      if (at >= 0 && at < nl) {
        const from = at + marker.length;
        onSent(Number(text.slice(from, text.indexOf('"', from))), now);
      } else {
        onOther(text.slice(start, nl));
      }
      start = nl + 1;
    }
    tail = text.slice(start);
  });
  res.on('error', () => {});
}

export async function measureWatch(
  client: Client,
  writer: Client,
  ns: string,
  opts: { watchers: number; hosts: number; rate: number; seconds: number; serverCpuMs: () => number },
): Promise<WatchFigures> {
  for (let i = 0; i < opts.hosts; i++) await client.expect(201, 'POST', hostsPath(ns), { body: bareMetalHost(ns, i) });
  const list = await client.expect(200, 'GET', `${hostsPath(ns)}?limit=1`);
  const rv = (JSON.parse(list.body.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;

  const agent = client.streamAgent();
  const delivery: number[] = [];
  let unexpected = 0;
  let lastUnexpected = '';
  const streams = await Promise.all(
    Array.from({ length: opts.watchers }, () => client.stream(`${hostsPath(ns)}?watch=1&resourceVersion=${rv}`, agent)),
  );
  for (const s of streams) {
    consume(
      s,
      (sent, now) => delivery.push(now - sent),
      (line) => {
        unexpected++;
        lastUnexpected = line.slice(0, 300);
      },
    );
  }

  const writeLatencies: number[] = [];
  const cpu = opts.serverCpuMs();
  let writeErrors = 0;
  const run = await paced(opts.rate, opts.seconds, async (i) => {
    const sent = performance.now();
    const res = await writer.request('PATCH', hostPath(ns, hostName(i % opts.hosts)), {
      body: sentAnnotationPatch(sent),
      contentType: 'application/merge-patch+json',
    });
    if (res.status === 200) writeLatencies.push(res.ms);
    else writeErrors++;
  });
  const expected = (run.started - writeErrors) * opts.watchers;
  const deadline = performance.now() + 10_000;
  while (delivery.length < expected && performance.now() < deadline) await sleep(20);
  const cpuPerWrite = (opts.serverCpuMs() - cpu) / run.started;
  for (const s of streams) s.destroy();
  agent.destroy();
  if (unexpected) console.error(`  note: ${unexpected} watch lines without a send time, e.g. ${lastUnexpected}`);
  return {
    watchers: opts.watchers,
    writeRate: opts.rate,
    seconds: opts.seconds,
    writes: run.started,
    expectedEvents: expected,
    deliveredEvents: delivery.length,
    // Undelivered events count as infinitely late, so losing events can never improve the percentile.
    deliveryMs: summarize([...delivery, ...Array<number>(Math.max(0, expected - delivery.length)).fill(Infinity)]),
    writeLatencyMs: summarize(writeLatencies),
    writeErrors,
    serverCpuMsPerWrite: Number(cpuPerWrite.toFixed(3)),
  };
}
