// Phase (a): the limit of this machine's Ironic. A direct driver of Ironic's REST API takes N fake-hardware
// nodes through enroll → manage → provide (automated cleaning) → active, as fast as Ironic allows: one
// loop lists every node's provision state and hands the next action of each settled node to a pool of
// concurrent workers (the client ironic.md measured ~4.9 nodes/s with). Nothing here is our controller.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { IronicClient } from '../../reconcilers/ironic/client.ts';
import type { IronicNode } from '../../reconcilers/ironic/types.ts';

export interface DirectOptions {
  endpoint: string;
  nodes: number;
  workers: number;
  /** Name prefix, so that the nodes of this phase are told from the server's. */
  prefix: string;
  /** Gap between two list polls. */
  pollMs?: number;
  timeoutMs?: number;
}

export interface DirectResult {
  nodes: number;
  seconds: number;
  nodesPerSecond: number;
  /** Requests the driver sent (its client's own count). */
  requests: number;
  listPolls: number;
  /** Actions Ironic refused (409/503) and that were tried again. */
  retries: number;
  uuids: string[];
}

type Step = 'manage' | 'provide' | 'active';

/** The next action for a node at rest, or 'done' / an error for a failed state. */
function nextStep(node: IronicNode): Step | 'busy' | 'failed' {
  if (node.target_provision_state) return 'busy';
  switch (node.provision_state) {
    case 'enroll':
      return 'manage';
    case 'manageable':
      return 'provide';
    case 'available':
      return 'active';
    case 'verifying':
    case 'cleaning':
    case 'deploying':
      return 'busy';
    default:
      return 'failed';
  }
}

/** A fixed-size pool of workers draining a queue of async jobs. */
class Pool {
  #queue: (() => Promise<void>)[] = [];
  #running = 0;
  #size: number;
  #idle: (() => void)[] = [];
  errors: unknown[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  push(job: () => Promise<void>): void {
    this.#queue.push(job);
    this.#pump();
  }

  get pending(): number {
    return this.#queue.length + this.#running;
  }

  #pump(): void {
    while (this.#running < this.#size && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      job()
        .catch((e: unknown) => this.errors.push(e))
        .finally(() => {
          this.#running--;
          this.#pump();
          if (this.pending === 0) for (const r of this.#idle.splice(0)) r();
        });
    }
  }

  drained(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((r) => this.#idle.push(r));
  }
}

const IMAGE = {
  image_source: 'http://127.0.0.1:8088/images/bench.qcow2',
  image_checksum: '00000000000000000000000000000000',
  image_os_hash_algo: 'md5',
  image_os_hash_value: '00000000000000000000000000000000',
};

export async function runDirect(opts: DirectOptions): Promise<DirectResult> {
  const client = new IronicClient({ endpoint: opts.endpoint, timeoutMs: 120_000 });
  await client.negotiate();
  const pool = new Pool(opts.workers);
  const ours = new Map<string, string>(); // uuid → name
  const inFlight = new Set<string>();
  // When each node's last action returned: a list that left before then may show the state it replaced.
  const settledAt = new Map<string, number>();
  let retries = 0;
  let listPolls = 0;
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);

  // An action Ironic turns away because it is busy (NodeLocked, over its limits) is simply left for the
  // next poll; anything else is a failure of the benchmark.
  const act = (uuid: string, name: string, step: Step) => async () => {
    try {
      if (step === 'active') {
        const ops = Object.entries(IMAGE).map(([k, v]) => ({ op: 'add' as const, path: `/instance_info/${k}`, value: v }));
        await client.patchNode(uuid, ops);
        await client.setProvisionState(uuid, 'active', { configdrive: { meta_data: { uuid, name, hostname: name } } });
      } else {
        await client.setProvisionState(uuid, step);
      }
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 409 || status === 503) retries++;
      else throw e;
    } finally {
      settledAt.set(uuid, performance.now());
      inFlight.delete(uuid);
    }
  };

  const started = performance.now();
  for (let i = 0; i < opts.nodes; i++) {
    const name = `${opts.prefix}-${i}`;
    inFlight.add(name);
    pool.push(async () => {
      try {
        const node = await client.createNode({
          name,
          driver: 'fake-hardware',
          resource_class: 'baremetal',
          properties: { cpus: 2, memory_mb: 4096, local_gb: 20, cpu_arch: 'x86_64' },
        });
        ours.set(node.uuid, name);
      } finally {
        inFlight.delete(name);
      }
    });
  }

  let done = 0;
  while (done < opts.nodes) {
    if (pool.errors.length > 0) throw new Error(`direct driver: ${String(pool.errors[0])}`);
    if (Date.now() > deadline) throw new Error(`direct driver: ${done}/${opts.nodes} nodes active when the time ran out`);
    const listedAt = performance.now();
    const nodes = await client.listNodes(['name', 'provision_state', 'target_provision_state', 'last_error']);
    listPolls++;
    done = 0;
    for (const node of nodes) {
      const name = ours.get(node.uuid);
      if (name === undefined) continue;
      if (node.provision_state === 'active' && !node.target_provision_state) {
        done++;
        continue;
      }
      if (inFlight.has(node.uuid) || (settledAt.get(node.uuid) ?? 0) > listedAt) continue;
      const step = nextStep(node);
      if (step === 'failed') throw new Error(`direct driver: node ${name} is in ${node.provision_state}: ${node.last_error ?? ''}`);
      else if (step !== 'busy') {
        inFlight.add(node.uuid);
        pool.push(act(node.uuid, name, step));
      }
    }
    if (done < opts.nodes) await sleep(opts.pollMs ?? 100);
  }
  const seconds = (performance.now() - started) / 1000;
  await pool.drained();
  const requests = client.requestCount();
  client.close();
  return { nodes: opts.nodes, seconds, nodesPerSecond: opts.nodes / seconds, requests, listPolls, retries, uuids: [...ours.keys()] };
}

/**
 * Removes the given nodes (maintenance, then delete: Ironic deletes an active node only in maintenance),
 * so that phase (b) starts on an Ironic as empty as phase (a) did.
 */
export async function removeNodes(endpoint: string, uuids: string[], workers: number): Promise<void> {
  const client = new IronicClient({ endpoint, timeoutMs: 120_000 });
  const pool = new Pool(workers);
  for (const uuid of uuids) {
    pool.push(async () => {
      await client.setMaintenance(uuid, 'bench/provision cleanup');
      await client.deleteNode(uuid);
    });
  }
  await pool.drained();
  client.close();
  if (pool.errors.length > 0) throw new Error(`removing the direct driver's nodes: ${String(pool.errors[0])}`);
}
