// Phase (b): N BareMetalHosts with fake:// BMC addresses created through our API, already carrying an
// image and online: true, so that the controller takes each straight through registering, inspecting,
// available and provisioning, then powers it on. A watch on the namespace records when each host first
// reaches each state; the phase ends when every host is provisioned and powered on (BMO's last step for a
// host with online: true, and the direct driver's).
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Client } from '../api/client.ts';

export interface HostsResult {
  hosts: number;
  seconds: number;
  hostsPerSecond: number;
  /** Seconds from the first create until half / all hosts reached each state. */
  stateTimes: Record<string, { median: number; last: number }>;
  /** Hosts seen in an error state on the way (they may have recovered). */
  errors: { host: string; type: string; message: string }[];
}

/** Not a provisioning state: when a provisioned host's status first said poweredOn. */
const poweredOn = 'provisioned, powered on';

const hostsPath = (ns: string) => `/apis/metal3.io/v1alpha1/namespaces/${ns}/baremetalhosts`;

export function hostName(i: number): string {
  return `bench-${String(i).padStart(4, '0')}`;
}

export function bootMAC(i: number): string {
  const hex = i.toString(16).padStart(6, '0');
  return `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

/** The hosts' image; the direct driver writes the same instance_info. Fake deploys never fetch it. */
export const image = {
  url: 'http://127.0.0.1:8088/images/bench.qcow2',
  checksum: '00000000000000000000000000000000',
  checksumType: 'md5',
  format: 'qcow2',
} as const;

/** inspect: false gives the hosts `inspectionMode: disabled`, the same Ironic work as the direct driver's. */
export function hostManifest(ns: string, name: string, inspect = true, index = 0): Record<string, unknown> {
  return {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name, namespace: ns },
    spec: {
      online: true,
      // Without inspection BMO needs the boot MAC up front (its port is what inspection would have found).
      ...(inspect ? {} : { inspectionMode: 'disabled', bootMACAddress: bootMAC(index) }),
      bmc: { address: `fake://${name}`, credentialsName: `${name}-bmc` },
      image,
    },
  };
}

/** Host i lives in namespaces[i % namespaces.length]. */
export const namespaceOf = (namespaces: readonly string[], i: number) => namespaces[i % namespaces.length];

/** The namespaces and one credentials Secret per host: set up before the clock starts. */
export async function createFixtures(client: Client, namespaces: readonly string[], n: number): Promise<void> {
  for (const ns of namespaces) {
    await client.expect(201, 'POST', '/api/v1/namespaces', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }) });
  }
  await inParallel(n, 8, async (i) => {
    const name = hostName(i);
    const ns = namespaceOf(namespaces, i);
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-bmc`, namespace: ns },
      data: { username: Buffer.from('admin').toString('base64'), password: Buffer.from(`pw-${name}`).toString('base64') },
    };
    await client.expect(201, 'POST', `/api/v1/namespaces/${ns}/secrets`, { body: JSON.stringify(secret) });
  });
}

export async function inParallel(n: number, width: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

interface HostStatus {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  status?: { provisioning?: { state?: string }; poweredOn?: boolean; errorType?: string; errorMessage?: string };
}

/** Newline-delimited watch events, one callback each, until the stream ends or is destroyed. */
function readEvents(stream: IncomingMessage, onEvent: (type: string, object: HostStatus) => void): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === '') continue;
      const ev = JSON.parse(line) as { type: string; object: HostStatus };
      onEvent(ev.type, ev.object);
    }
  });
}

export async function runHosts(client: Client, namespaces: readonly string[], n: number, timeoutMs: number, inspect = true): Promise<HostsResult> {
  // One namespace is watched by itself; several, through the cluster-wide collection.
  const watched = namespaces.length === 1 ? hostsPath(namespaces[0]) : '/apis/metal3.io/v1alpha1/baremetalhosts';
  const list = JSON.parse((await client.expect(200, 'GET', `${watched}?limit=1`)).body.toString('utf8')) as { metadata: { resourceVersion: string } };
  const agent = client.streamAgent();
  const stream = await client.stream(`${watched}?watch=1&resourceVersion=${list.metadata.resourceVersion}`, agent);
  const reached = new Map<string, Map<string, number>>(); // host → state → seconds
  const errors: HostsResult['errors'] = [];
  const errorSeen = new Set<string>();
  let finished = 0;
  let started = 0;
  let finish: (() => void) | undefined;
  const allFinished = new Promise<void>((r) => (finish = r));
  readEvents(stream, (type, obj) => {
    if (type === 'ERROR' || !obj.metadata?.name) return;
    const name = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const at = (performance.now() - started) / 1000;
    const state = obj.status?.provisioning?.state;
    let states = reached.get(name);
    if (!states) reached.set(name, (states = new Map()));
    if (state && !states.has(state)) states.set(state, at);
    if (state === 'provisioned' && obj.status?.poweredOn === true && !states.has(poweredOn)) {
      states.set(poweredOn, at);
      if (++finished === n) finish?.();
    }
    const errorType = obj.status?.errorType;
    if (errorType && !errorSeen.has(`${name}/${errorType}`)) {
      errorSeen.add(`${name}/${errorType}`);
      errors.push({ host: name, type: errorType, message: obj.status?.errorMessage ?? '' });
    }
  });
  const streamEnded = new Promise<never>((_, reject) => stream.once('end', () => reject(new Error('the watch stream ended before every host was provisioned and powered on'))));

  started = performance.now();
  await inParallel(n, 8, async (i) => {
    const ns = namespaceOf(namespaces, i);
    await client.expect(201, 'POST', hostsPath(ns), { body: JSON.stringify(hostManifest(ns, hostName(i), inspect, i)) });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${finished}/${n} hosts provisioned and powered on after ${timeoutMs / 1000} s; states: ${JSON.stringify(stateCounts(reached))}`)), timeoutMs);
  });
  try {
    await Promise.race([allFinished, timeout, streamEnded]);
  } finally {
    clearTimeout(timer);
    stream.destroy();
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  return { hosts: n, seconds, hostsPerSecond: n / seconds, stateTimes: stateTimes(reached), errors };
}

/** How many hosts are in each state now (the last one each reached). */
function stateCounts(reached: Map<string, Map<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const states of reached.values()) {
    const last = [...states.entries()].sort((a, b) => a[1] - b[1]).at(-1)?.[0] ?? '(none)';
    out[last] = (out[last] ?? 0) + 1;
  }
  return out;
}

function stateTimes(reached: Map<string, Map<string, number>>): HostsResult['stateTimes'] {
  const byState = new Map<string, number[]>();
  for (const states of reached.values()) {
    for (const [state, at] of states) {
      const list = byState.get(state) ?? [];
      list.push(at);
      byState.set(state, list);
    }
  }
  const out: HostsResult['stateTimes'] = {};
  for (const [state, times] of byState) {
    times.sort((a, b) => a - b);
    out[state] = { median: round(times[Math.floor(times.length / 2)]), last: round(times[times.length - 1]) };
  }
  return out;
}

const round = (n: number) => Number(n.toFixed(2));
