// The Ironic REST client contract (https://docs.openstack.org/api-ref/baremetal/): the provisioner talks
// to Ironic only through this, so the client's transport concerns (microversions, auth, TLS, retries)
// stay in one place.

export interface IronicNode {
  uuid: string;
  name?: string | null;
  driver?: string;
  driver_info?: Record<string, unknown>;
  provision_state?: string;
  target_provision_state?: string | null;
  power_state?: string | null;
  target_power_state?: string | null;
  last_error?: string | null;
  maintenance?: boolean;
  maintenance_reason?: string | null;
  fault?: string | null;
  reservation?: string | null;
  instance_uuid?: string | null;
  instance_info?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  automated_clean?: boolean | null;
  disable_power_off?: boolean;
  boot_interface?: string;
  deploy_interface?: string;
  inspect_interface?: string;
  raid_interface?: string;
  /** When the node's row last changed (ISO 8601, Ironic's clock); null until its first update. */
  updated_at?: string | null;
  [field: string]: unknown;
}

export interface IronicPort {
  uuid: string;
  address: string;
  node_uuid: string;
  pxe_enabled?: boolean;
}

export type JSONPatchOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

export interface IronicClientOptions {
  /** e.g. http://127.0.0.1:6385 (a trailing /v1 is accepted). */
  endpoint: string;
  /** HTTP basic auth; absent = noauth. */
  basicAuth?: { username: string; password: string };
  /** PEM CA bundle for https endpoints. */
  caPem?: string;
  /** PEM client certificate and key (mTLS). */
  clientCertPem?: string;
  clientKeyPem?: string;
  insecureSkipVerify?: boolean;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Highest microversion we speak (default 1.110); the client negotiates min(ours, server's). */
  maxVersion?: string;
}

/** An Ironic error answer; never carries request bodies (they hold BMC passwords). */
export class IronicError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
  /** 409 NodeLocked / conflict: retry shortly. */
  get isConflict(): boolean {
    return this.status === 409;
  }
  /** 503: Ironic is over its concurrency limits or a conductor is missing: retry later. */
  get isUnavailable(): boolean {
    return this.status === 503;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
}

export interface IronicClientAPI {
  /** GET / : negotiate the microversion; returns the one in use. */
  negotiate(): Promise<string>;
  /** The negotiated microversion (after negotiate()). */
  readonly version: string;
  /** Whether `version` is at least `v` (e.g. '1.95'). */
  atLeast(v: string): boolean;
  listDrivers(): Promise<string[]>;
  /** By UUID or name; undefined when 404. */
  getNode(ident: string): Promise<IronicNode | undefined>;
  /**
   * Every node, or with updatedSince (ms since the epoch) only the nodes updated at or after it: newest first,
   * paged until older ones come (Ironic cannot filter on updated_at, but sorts by it).
   */
  listNodes(fields?: string[], opts?: { updatedSince?: number }): Promise<IronicNode[]>;
  /** The newest updated_at of any node (ms since the epoch), where changes-only lists start; none yet: undefined. */
  newestNodeUpdate?(): Promise<number | undefined>;
  createNode(body: Record<string, unknown>): Promise<IronicNode>;
  patchNode(uuid: string, ops: JSONPatchOp[]): Promise<IronicNode>;
  /** 404 is success. */
  deleteNode(uuid: string): Promise<void>;
  validateNode(uuid: string): Promise<Record<string, { result: boolean | null; reason?: string | null }>>;
  setProvisionState(uuid: string, target: string, extra?: Record<string, unknown>): Promise<void>;
  setPowerState(uuid: string, target: string, timeoutSeconds?: number): Promise<void>;
  setRAIDConfig(uuid: string, logicalDisks: Record<string, unknown>[]): Promise<void>;
  setMaintenance(uuid: string, reason: string): Promise<void>;
  clearMaintenance(uuid: string): Promise<void>;
  /** Inspection inventory; undefined when 404 (not inspected yet). */
  getInventory(uuid: string): Promise<Record<string, unknown> | undefined>;
  getBIOS(uuid: string, detail: boolean): Promise<Record<string, unknown>[]>;
  listPorts(query: { address?: string; node_uuid?: string }): Promise<IronicPort[]>;
  createPort(nodeUUID: string, address: string, pxeEnabled: boolean): Promise<IronicPort>;
  /** Requests sent so far (for benchmarks: Ironic requests per host). */
  requestCount(): number;
}
