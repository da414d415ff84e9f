// What the provisioner knows of Ironic's nodes, and the one poller that keeps it current while hosts wait.
// A host waiting on Ironic (cleaning, deploying, a power change) used to cost one GET /v1/nodes/{id} per
// reconcile; with many hosts in flight Ironic spends more CPU answering those than doing the work. Instead,
// while any node is watched, one list of every node's state fields per interval refreshes this cache, and
// per-host reads are served from it. Nodes at rest (a provisioned host's active node) are held instead: a
// slow list refreshes them for the power checks every host makes each minute, so a fleet at rest costs Ironic
// a list per interval rather than a GET per host. Nothing watched or held: no polling.
import type { IronicClientAPI, IronicNode } from './types.ts';

/** Fields of a node that the state checks read; the list asks for these only (microversion 1.82 has them all). */
export const stateFields = [
  'uuid',
  'name',
  'driver',
  'provision_state',
  'target_provision_state',
  'power_state',
  'target_power_state',
  'last_error',
  'maintenance',
  'fault',
  'reservation',
  'instance_uuid',
  'automated_clean',
  'inspection_finished_at',
  'boot_interface',
  'deploy_interface',
  'raid_interface',
  'inspect_interface',
] as const;

/**
 * How far before the newest updated_at seen a changes-only list reaches back: a transaction that stamped its
 * row earlier may commit after a later one was already listed. Every full list closes any gap anyway.
 */
const changeMarginMs = 2000;

/** The fields whose change means a waiting host has something new to act on. */
const movedFields = ['provision_state', 'target_provision_state', 'power_state', 'target_power_state', 'last_error', 'fault'] as const;

export interface NodeCacheOptions {
  /** Gap between two list polls while something is watched (default 1 s). */
  pollIntervalMs?: number;
  /** How long a read node serves later reads (default: the poll interval; 0 turns caching and polling off). */
  maxAgeMs?: number;
  /** How long a node stays watched after the last watch() (default 30 s). */
  watchMs?: number;
  /**
   * Gap between list polls while nodes are held and none watched (default 30 s). Held state is served until
   * the next such list has answered, so it must be shorter than the hosts' own poll (BMO's 60 s power poll).
   */
  heldPollIntervalMs?: number;
  /**
   * While nodes are watched, most polls ask only for the nodes updated since the last one (a list of every node
   * costs Ironic ~0.3 ms of CPU per node, whatever the fields: a third of a second at 1,000 nodes, once a
   * second). A full list, which alone shows a node deleted behind our back, comes at least this often (default 10 s).
   */
  fullListIntervalMs?: number;
  /** Extra fields for the list, by negotiated microversion (e.g. disable_power_off from 1.95). */
  extraFields?: () => string[];
  /** A watched or held node's state moved (seen by a list poll): its host can be reconciled now, not at its requeue. */
  onChange?: (node: IronicNode, old: IronicNode) => void;
  /** Poll failures (Ironic down): reads fall back to single GETs, which report the failure. */
  onError?: (e: unknown) => void;
  /** A list poll answered: Ironic is up. */
  onAnswered?: () => void;
  now?: () => number;
}

interface Entry {
  node: IronicNode;
  at: number;
  /** From the list: only the state fields are there. */
  partial: boolean;
}

export class NodeCache {
  readonly pollIntervalMs: number;
  readonly heldPollIntervalMs: number;
  readonly maxAgeMs: number;
  private readonly watchMs: number;
  private readonly client: IronicClientAPI;
  private readonly opts: NodeCacheOptions;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly uuidByName = new Map<string, string>();
  /** When each node was last changed by us: a list sent before then may show the state it replaced. */
  private readonly changedAt = new Map<string, number>();
  private readonly watched = new Map<string, number>();
  /** Nodes at rest, refreshed by the slow list. */
  private readonly held = new Set<string>();
  private readonly partial = new WeakSet<IronicNode>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  /** Wall-clock start of the last list, which timers count from. */
  private lastPollStart = -Infinity;
  private polling = false;
  /** Every node's state as the lists left it (a full list replaces it, a changes-only one updates it), and when. */
  private lastList?: { at: number; nodes: Map<string, IronicNode> };
  /** When the last full list was sent. */
  private lastFullAt = -Infinity;
  /** The newest updated_at (ms, Ironic's clock) any list has shown; changes-only lists start from it. */
  private newestUpdate: number | undefined;
  readonly fullListIntervalMs: number;
  /** How long the last list took Ironic to answer. */
  private lastPollMs = 0;
  /** List polls sent (tests and benchmarks). */
  polls = 0;

  constructor(client: IronicClientAPI, opts: NodeCacheOptions = {}) {
    this.client = client;
    this.opts = opts;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.maxAgeMs = opts.maxAgeMs ?? this.pollIntervalMs;
    this.watchMs = opts.watchMs ?? 30_000;
    this.heldPollIntervalMs = opts.heldPollIntervalMs ?? 30_000;
    this.fullListIntervalMs = opts.fullListIntervalMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** The cached node by UUID or name, if fresh (and complete, when asked). */
  get(ident: string, complete: boolean): IronicNode | undefined {
    const e = this.entries.get(this.uuidByName.get(ident) ?? ident);
    if (!e || this.now() - e.at >= this.freshForMs(e)) return undefined;
    if (complete && e.partial) return undefined;
    return e.node;
  }

  /**
   * How long an entry serves reads: maxAgeMs, or, for state from the list while the poller runs, until the
   * next list has answered. A list of 1,000 nodes takes Ironic most of a second, so polls answer further apart
   * than maxAgeMs: reads in between went to Ironic one GET each (3.25 per host at 1,000 hosts, bench/provision).
   */
  private freshForMs(e: Entry): number {
    if (this.maxAgeMs <= 0) return 0;
    if (this.held.has(e.node.uuid)) return Math.max(this.maxAgeMs, this.heldPollIntervalMs + 2 * this.lastPollMs);
    if (!e.partial || this.watched.size === 0) return this.maxAgeMs;
    return Math.max(this.maxAgeMs, this.pollIntervalMs + 2 * this.lastPollMs);
  }

  /** Whether this node object came from the list and lacks the fields outside stateFields. */
  isPartial(node: IronicNode): boolean {
    return this.partial.has(node);
  }

  uuidOf(name: string): string | undefined {
    return this.uuidByName.get(name);
  }

  /** A node Ironic just returned in full (GET, POST, PATCH). */
  put(node: IronicNode): IronicNode {
    this.entries.set(node.uuid, { node, at: this.now(), partial: false });
    if (node.name) this.uuidByName.set(node.name, node.uuid);
    return node;
  }

  /** We are changing the node: the next read goes to Ironic, and lists already under way are ignored for it. */
  invalidate(uuid: string): void {
    this.entries.delete(uuid);
    this.held.delete(uuid);
    this.changedAt.set(uuid, this.now());
  }

  /**
   * What Ironic just accepted a change into (e.g. provision_state "deploying" after a deploy): Ironic records
   * the transition before it answers, so until the next list this is what a GET would show. Only for
   * changes whose outcome is certain; the entry is partial, so complete reads still go to Ironic.
   */
  expect(node: IronicNode, changes: Partial<IronicNode>): void {
    const expected: IronicNode = { ...node, ...changes };
    this.entries.set(node.uuid, { node: expected, at: this.now(), partial: true });
    this.partial.add(expected);
    // The capacity check counts from the list: a host let in must count before the next list shows it.
    this.lastList?.nodes.set(node.uuid, expected);
  }

  /** The node is gone (deleted, or 404). */
  forget(uuid: string | undefined, name?: string): void {
    if (uuid) {
      this.entries.delete(uuid);
      this.changedAt.delete(uuid);
      this.watched.delete(uuid);
      this.held.delete(uuid);
    }
    if (name && (uuid === undefined || this.uuidByName.get(name) === uuid)) this.uuidByName.delete(name);
    if (uuid) for (const [n, u] of this.uuidByName) if (u === uuid) this.uuidByName.delete(n);
  }

  /** The node waits on Ironic: keep polling its state for a while. */
  watch(uuid: string): void {
    if (this.maxAgeMs <= 0) return;
    this.held.delete(uuid);
    this.watched.set(uuid, this.now() + this.watchMs);
    // One interval after the last list: watching another node must not cost Ironic an extra list.
    this.schedule(Math.max(0, this.lastPollStart + this.pollIntervalMs - Date.now()));
  }

  /** The node is at rest: the slow list keeps its state, until we change it (invalidate) or watch it again. */
  hold(uuid: string): void {
    if (this.maxAgeMs <= 0 || this.held.has(uuid)) return;
    this.held.add(uuid);
    if (!this.watched.size) this.schedule(this.heldPollIntervalMs);
  }

  /** Every node's state as of the last list, if younger than maxAge (the capacity check shares it). */
  recentList(maxAgeMs: number): IronicNode[] | undefined {
    if (!this.lastList || this.now() - this.lastList.at >= maxAgeMs) return undefined;
    return [...this.lastList.nodes.values()];
  }

  get watching(): number {
    return this.watched.size;
  }

  isHeld(uuid: string): boolean {
    return this.held.has(uuid);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watched.clear();
    this.held.clear();
  }

  private schedule(delayMs: number): void {
    if (this.polling) return;
    // A node watched while only the slow, held-state poll is pending brings the next list forward.
    if (this.timer) {
      if (this.timerDue <= Date.now() + delayMs) return;
      clearTimeout(this.timer);
    }
    this.timerDue = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, delayMs);
    // A forgotten poller must not keep a process (or a test) alive.
    this.timer.unref();
  }

  private pruneWatched(): void {
    const now = this.now();
    for (const [uuid, until] of this.watched) if (until <= now) this.watched.delete(uuid);
  }

  /** One list of every node; then the next, one interval after this one started (or later), while anything is watched or held. */
  async poll(): Promise<void> {
    this.pruneWatched();
    if ((this.watched.size === 0 && this.held.size === 0) || this.polling) return;
    this.polling = true;
    this.lastPollStart = Date.now();
    const sent = this.now();
    try {
      const fields = [...stateFields, ...(this.opts.extraFields?.() ?? [])];
      // Held nodes alone are listed in full: that list is slow, and a changes-only one says nothing of deletions.
      const since = this.newestUpdate;
      const full = this.watched.size === 0 || since === undefined || !this.lastList || sent - this.lastFullAt >= this.fullListIntervalMs;
      // A list cannot ask for updated_at: where changes start is asked before the first full list, so that
      // every change after that list is at or after it.
      if (full && since === undefined && this.client.newestNodeUpdate) this.newestUpdate = await this.client.newestNodeUpdate();
      const nodes = full ? await this.client.listNodes(fields) : await this.client.listNodes(fields, { updatedSince: since - changeMarginMs });
      this.lastPollMs = this.now() - sent;
      this.polls++;
      if (full) this.lastFullAt = sent;
      this.opts.onAnswered?.();
      this.apply(nodes, sent, full);
    } catch (e) {
      this.opts.onError?.(e);
    } finally {
      this.polling = false;
    }
    this.pruneWatched();
    // Never sooner than the last list took: however many nodes, listing them keeps Ironic's API busy at most
    // half the time, the rest being for the requests that move nodes.
    const interval = this.watched.size > 0 ? this.pollIntervalMs : this.held.size > 0 ? this.heldPollIntervalMs : undefined;
    if (interval !== undefined) this.schedule(Math.max(0, sent + interval - this.now(), this.lastPollMs));
  }

  private apply(nodes: IronicNode[], sent: number, full: boolean): void {
    const at = this.now();
    const seen = new Set<string>();
    const changed: [IronicNode, IronicNode][] = [];
    for (const node of nodes) {
      seen.add(node.uuid);
      const updated = typeof node.updated_at === 'string' ? Date.parse(node.updated_at) : NaN;
      if (updated > (this.newestUpdate ?? -Infinity)) this.newestUpdate = updated;
      if ((this.changedAt.get(node.uuid) ?? -Infinity) >= sent) continue;
      const old = this.entries.get(node.uuid);
      // A complete read newer than the list's start says more than the list.
      if (old && !old.partial && old.at >= sent) continue;
      this.entries.set(node.uuid, { node, at, partial: true });
      this.partial.add(node);
      if (node.name) this.uuidByName.set(node.name, node.uuid);
      if (old && (this.watched.has(node.uuid) || this.held.has(node.uuid)) && movedFields.some((f) => old.node[f] !== node[f])) changed.push([node, old.node]);
    }
    for (const [uuid, e] of this.entries) {
      if (seen.has(uuid) || (this.changedAt.get(uuid) ?? -Infinity) >= sent) continue;
      if (full) {
        // A node missing from the list is gone, unless it was created or changed while the list was under way.
        if (e.partial || e.at < sent) this.entries.delete(uuid);
      } else {
        // Not among the changes: every update stamps updated_at, so this is still the node Ironic has.
        e.at = at;
      }
    }
    for (const [uuid, t] of this.changedAt) if (t < sent - this.maxAgeMs) this.changedAt.delete(uuid);
    const listed = full || !this.lastList ? new Map<string, IronicNode>() : this.lastList.nodes;
    for (const node of nodes) listed.set(node.uuid, node);
    this.lastList = { at, nodes: listed };
    for (const [node, old] of changed) this.opts.onChange?.(node, old);
  }
}
