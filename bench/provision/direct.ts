// Phase (a): the limit of this machine's Ironic for the work our controller gives it per host. A direct driver
// of Ironic's REST API takes N fake-hardware nodes through what BMO (and our reconciler) makes Ironic do for a
// BareMetalHost with an image and online: true, as fast as Ironic allows: one loop lists every node's state
// and hands the next step of each settled node to a pool of concurrent workers. Nothing here is our
// controller; the requests and bodies mirror the ones it sends (see bench/README.md for the list):
//
//   create (driver, interfaces, driver_info, boot mode, automated_clean as the host's) [+ boot-MAC port]
//   → manage → BIOS settings read (HostFirmwareSettings) → inspect → port of the inspected NIC
//   → provide (automated cleaning) → PATCH instance_uuid/instance_info → deploy with the config drive
//   → power on.
//
// With inspection off (--no-inspection) the port is the boot MAC's, created with the node, and
// inspect is skipped, as for hosts with `inspectionMode: disabled`.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { IronicClient } from '../../reconcilers/ironic/client.ts';
import { buildConfigDrive } from '../../reconcilers/ironic/configdrive.ts';
import type { IronicNode, JSONPatchOp } from '../../reconcilers/ironic/types.ts';
import { image } from './hosts.ts';

export interface DirectOptions {
  endpoint: string;
  nodes: number;
  workers: number;
  /** Name prefix, so that the nodes of this phase are told from the server's. */
  prefix: string;
  /** Inspect each node, as hosts without `inspectionMode: disabled` are (default true). */
  inspect?: boolean;
  /** Least gap between two list polls (default 100 ms; never less than the last poll took). */
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
  /** Median time one list poll took, in ms (it grows with the number of nodes). */
  listPollMedianMs: number;
  /** Actions Ironic refused (409/503) and that were tried again. */
  retries: number;
  /** Seconds from the start until half / all nodes finished each step. */
  stepTimes: Record<string, { median: number; last: number }>;
  uuids: string[];
}

/** Where a node is in the lifecycle: the step last sent to Ironic. */
type Stage = 'created' | 'managed' | 'inspected' | 'provided' | 'deployed' | 'poweringOn' | 'done';

type Step = 'manage' | 'inspect' | 'provide' | 'deploy' | 'powerOn';

const POWER_ON = 'power on';

/** What the driver does next for a node Ironic holds in no transition, or why it waits or gives up. */
export function nextStep(node: IronicNode, stage: Stage, inspect: boolean): Step | 'wait' | 'done' | 'failed' {
  if (node.target_provision_state || node.target_power_state) return 'wait';
  const state = node.provision_state;
  switch (stage) {
    case 'created':
      return state === 'enroll' ? 'manage' : 'failed';
    case 'managed':
      if (state === 'verifying') return 'wait';
      if (state !== 'manageable') return 'failed';
      return inspect ? 'inspect' : 'provide';
    case 'inspected':
      if (state === 'inspecting' || state === 'inspect wait') return 'wait';
      return state === 'manageable' ? 'provide' : 'failed';
    case 'provided':
      if (state === 'cleaning' || state === 'clean wait') return 'wait';
      return state === 'available' ? 'deploy' : 'failed';
    case 'deployed':
      if (state === 'deploying' || state === 'wait call-back') return 'wait';
      return state === 'active' ? 'powerOn' : 'failed';
    case 'poweringOn':
      if (state !== 'active') return 'failed';
      if (node.power_state === POWER_ON) return 'done';
      // Fake power is instant but the list may predate it; a failed power change leaves last_error.
      return node.last_error ? 'failed' : 'wait';
    case 'done':
      return 'done';
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

/** A MAC per node and purpose, apart from the hosts' (52:54:00:…), so no port of (a) can clash with (b)'s. */
function directMAC(kind: 0x01 | 0x02, i: number): string {
  const hex = i.toString(16).padStart(6, '0');
  return `52:54:${kind.toString(16).padStart(2, '0')}:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

interface DirectNode {
  index: number;
  name: string;
  /** What our controller puts in instance_uuid: the host's UID. */
  instanceUUID: string;
  stage: Stage;
}

/** The node our controller creates for a `fake://` host (reconcilers/ironic/provisioner.ts createBody). */
function createBody(name: string): Record<string, unknown> {
  return {
    driver: 'fake-hardware',
    name,
    driver_info: { fake_name: name },
    properties: { capabilities: 'boot_mode:uefi' },
    automated_clean: true,
    boot_interface: 'fake',
    management_interface: 'fake',
    power_interface: 'fake',
    vendor_interface: 'fake',
    bios_interface: 'fake',
    raid_interface: 'fake',
    inspect_interface: 'fake',
  };
}

/** The deploy PATCH our controller sends (startDeploy), plus the cpu_arch its inspection data adds. */
function deployOps(node: DirectNode, inspected: boolean): JSONPatchOp[] {
  const ops: JSONPatchOp[] = [
    { op: 'replace', path: '/instance_uuid', value: node.instanceUUID },
    { op: 'add', path: '/instance_info/capabilities', value: {} },
    { op: 'add', path: '/instance_info/image_source', value: image.url },
    { op: 'add', path: '/instance_info/image_disk_format', value: image.format },
    { op: 'add', path: '/instance_info/image_os_hash_algo', value: image.checksumType },
    { op: 'add', path: '/instance_info/image_os_hash_value', value: image.checksum },
    { op: 'add', path: '/driver_info/force_persistent_boot_device', value: 'Default' },
  ];
  // Our controller writes the architecture inspection found in a PATCH of its own; here it rides along.
  if (inspected) ops.push({ op: 'add', path: '/properties/cpu_arch', value: 'x86_64' });
  return ops;
}

function quantiles(times: number[]): { median: number; last: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const round = (n: number) => Number(n.toFixed(2));
  return { median: round(sorted[Math.floor(sorted.length / 2)]), last: round(sorted[sorted.length - 1]) };
}

export async function runDirect(opts: DirectOptions): Promise<DirectResult> {
  const inspect = opts.inspect ?? true;
  const client = new IronicClient({ endpoint: opts.endpoint, timeoutMs: 120_000 });
  await client.negotiate();
  const pool = new Pool(opts.workers);
  const byUUID = new Map<string, DirectNode>();
  const inFlight = new Set<string>();
  // When each node's last action returned: a list that left before then may show the state it replaced.
  const settledAt = new Map<string, number>();
  const stepDone = new Map<string, number[]>();
  let retries = 0;
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  const started = performance.now();
  const mark = (step: string) => {
    const list = stepDone.get(step) ?? [];
    list.push((performance.now() - started) / 1000);
    stepDone.set(step, list);
  };

  const steps: Record<Step, (uuid: string, node: DirectNode) => Promise<Stage>> = {
    manage: async (uuid) => {
      await client.setProvisionState(uuid, 'manage');
      return 'managed';
    },
    inspect: async (uuid) => {
      // Our controller reads the BIOS settings (HostFirmwareSettings) once the node is manageable.
      await client.getBIOS(uuid, true);
      await client.setProvisionState(uuid, 'inspect');
      return 'inspected';
    },
    provide: async (uuid, node) => {
      // Fake inspection creates no port; our controller adds the NIC its made-up inspection data lists.
      if (inspect) await client.createPort(uuid, directMAC(0x02, node.index), true);
      else await client.getBIOS(uuid, true);
      await client.setProvisionState(uuid, 'provide');
      return 'provided';
    },
    deploy: async (uuid, node) => {
      await client.patchNode(uuid, deployOps(node, inspect));
      const configdrive = buildConfigDrive({ namespace: opts.prefix, name: node.name, uid: node.instanceUUID }, {});
      await client.setProvisionState(uuid, 'active', { configdrive });
      return 'deployed';
    },
    powerOn: async (uuid) => {
      await client.setPowerState(uuid, POWER_ON);
      return 'poweringOn';
    },
  };

  // An action Ironic turns away because it is busy (NodeLocked, over its limits) is simply left for the
  // next poll; anything else is a failure of the benchmark.
  const act = (uuid: string, node: DirectNode, step: Step) => async () => {
    try {
      node.stage = await steps[step](uuid, node);
      mark(step);
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 409 || status === 503) retries++;
      else throw e;
    } finally {
      settledAt.set(uuid, performance.now());
      inFlight.delete(uuid);
    }
  };

  let creating = opts.nodes;
  for (let i = 0; i < opts.nodes; i++) {
    const node: DirectNode = { index: i, name: `${opts.prefix}-${i}`, instanceUUID: randomUUID(), stage: 'created' };
    pool.push(async () => {
      try {
        const created = await client.createNode(createBody(node.name));
        // Our controller creates the boot-MAC port with the node when there is no inspection to find it.
        if (!inspect) await client.createPort(created.uuid, directMAC(0x01, node.index), true);
        mark('create');
        byUUID.set(created.uuid, node);
        // Nothing to wait for: the node is enrolled, and our controller asks for manage at once too.
        inFlight.add(created.uuid);
        await act(created.uuid, node, 'manage')();
      } finally {
        creating--;
      }
    });
  }

  const pollTimes: number[] = [];
  let done = 0;
  while (done < opts.nodes) {
    if (pool.errors.length > 0) throw new Error(`direct driver: ${String(pool.errors[0])}`);
    if (Date.now() > deadline) {
      const stages: Record<string, number> = {};
      for (const n of byUUID.values()) stages[n.stage] = (stages[n.stage] ?? 0) + 1;
      throw new Error(`direct driver: ${done}/${opts.nodes} nodes done when the time ran out; ${creating} not created; stages ${JSON.stringify(stages)}`);
    }
    const listedAt = performance.now();
    const nodes = await client.listNodes(['uuid', 'name', 'provision_state', 'target_provision_state', 'power_state', 'target_power_state', 'last_error']);
    pollTimes.push(performance.now() - listedAt);
    done = 0;
    for (const listed of nodes) {
      const node = byUUID.get(listed.uuid);
      if (node === undefined) continue;
      if (node.stage === 'done') {
        done++;
        continue;
      }
      if (inFlight.has(listed.uuid) || (settledAt.get(listed.uuid) ?? 0) > listedAt) continue;
      const step = nextStep(listed, node.stage, inspect);
      if (step === 'failed') {
        throw new Error(`direct driver: node ${node.name} is in ${listed.provision_state}/${listed.power_state} after ${node.stage}: ${listed.last_error ?? ''}`);
      } else if (step === 'done') {
        node.stage = 'done';
        mark('power on');
        done++;
      } else if (step !== 'wait') {
        inFlight.add(listed.uuid);
        pool.push(act(listed.uuid, node, step));
      }
    }
    // A list of 1,000 nodes keeps Ironic's API busy for a good part of a second: waiting as long as it took
    // leaves that process at least half its time for the requests that move nodes.
    if (done < opts.nodes) await sleep(Math.max(opts.pollMs ?? 100, pollTimes[pollTimes.length - 1]));
  }
  const seconds = (performance.now() - started) / 1000;
  await pool.drained();
  const requests = client.requestCount();
  client.close();
  const stepTimes: DirectResult['stepTimes'] = {};
  for (const [step, times] of stepDone) stepTimes[step] = quantiles(times);
  return {
    nodes: opts.nodes,
    seconds,
    nodesPerSecond: opts.nodes / seconds,
    requests,
    listPolls: pollTimes.length,
    listPollMedianMs: quantiles(pollTimes).median,
    retries,
    stepTimes,
    uuids: [...byUUID.keys()],
  };
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
