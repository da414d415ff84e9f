// Ironic REST client (https://docs.openstack.org/api-ref/baremetal/). Transport concerns live here so the
// provisioner deals only in nodes: microversion negotiation, noauth/basic auth, TLS (custom CA, mTLS,
// insecure), a per-request timeout, keep-alive, Ironic's error envelope, and short retries of NodeLocked and
// 503 answers.
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IronicError,
  type IronicClientAPI,
  type IronicClientOptions,
  type IronicNode,
  type IronicPort,
  type JSONPatchOp,
} from './types.ts';

export type { IronicClientOptions } from './types.ts';

const DEFAULT_MAX_VERSION = '1.110';
const DEFAULT_TIMEOUT_MS = 30_000;
// Ironic's [api]max_limit default; limit=0 is rejected, so pages are followed through `next`.
const PAGE_LIMIT = 1000;
/**
 * Pages of a changes-only list, growing: most polls find a few nodes, and Ironic's cost is per node returned
 * (~0.8 ms each in full), however many of them turn out older than asked.
 */
const changesPageLimit = (page: number) => Math.min(10 * 4 ** page, 1000);
// NodeLocked usually clears within one conductor operation (tens of ms with fake drivers, seconds with real
// BMCs); a few short tries absorb it, anything longer is the reconciler's backoff to handle.
const RETRY_ATTEMPTS = 4;
const RETRY_BASE_MS = 100;
// Errors are shown in conditions and events; a stack trace from Ironic's debug mode must not flood them.
const MAX_ERROR_LENGTH = 1000;

/** Transport failures (refused, reset, timeout) have no HTTP status; they surface as IronicError status 0. */
export const NO_RESPONSE = 0;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Reply {
  status: number;
  body: unknown;
}

/** Parses "1.82" into comparable numbers; throws on anything else. */
export function parseMicroversion(v: string): [number, number] {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) throw new Error(`invalid Ironic API microversion ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2])];
}

export function compareMicroversions(a: string, b: string): number {
  const [aMajor, aMinor] = parseMicroversion(a);
  const [bMajor, bMinor] = parseMicroversion(b);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Ironic wraps errors as {"error_message": "<JSON text with faultstring>"}; Keystone-style middleware
 * (http_basic's 401) answers {"error": {"message": …}}. Falls back to the HTTP reason phrase.
 */
export function parseIronicErrorMessage(status: number, body: unknown): string {
  const fromFault = (v: unknown): string | undefined => {
    if (isRecord(v) && typeof v.faultstring === 'string') return v.faultstring;
    return undefined;
  };
  let msg: string | undefined;
  if (isRecord(body)) {
    const em = body.error_message;
    if (typeof em === 'string') {
      try {
        msg = fromFault(JSON.parse(em)) ?? em;
      } catch {
        msg = em;
      }
    } else {
      msg = fromFault(em);
    }
    if (msg === undefined && isRecord(body.error)) {
      const e = body.error;
      if (typeof e.message === 'string') msg = e.message;
      else if (typeof e.title === 'string') msg = e.title;
    }
  } else if (typeof body === 'string' && body.trim() !== '') {
    msg = body.trim();
  }
  msg = (msg ?? http.STATUS_CODES[status] ?? `HTTP ${status}`).trim();
  return msg.length > MAX_ERROR_LENGTH ? `${msg.slice(0, MAX_ERROR_LENGTH)}…` : msg;
}

const SECRET_KEY = /driver_info|pass|secret|token|key|cred|user_?data|configdrive|meta_?data|network_?data/i;

/**
 * Every string in the request body that sits under a secret-looking key (or a JSON-patch op whose path is
 * one). Ironic's validation messages may echo input values, and those may be BMC passwords or user data.
 */
export function secretStrings(body: unknown): string[] {
  const out: string[] = [];
  const collectAll = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length >= 4) out.push(v);
    } else if (Array.isArray(v)) v.forEach(collectAll);
    else if (isRecord(v)) Object.values(v).forEach(collectAll);
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isRecord(v)) {
      if (typeof v.op === 'string' && typeof v.path === 'string' && SECRET_KEY.test(v.path)) collectAll(v.value);
      for (const [k, child] of Object.entries(v)) {
        if (SECRET_KEY.test(k)) collectAll(child);
        else walk(child);
      }
    }
  };
  walk(body);
  return out;
}

export function redact(message: string, secrets: string[]): string {
  let out = message;
  // Longest first, so a secret containing another is not half-replaced.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('******');
  return out;
}

function jitter(attempt: number): number {
  const base = RETRY_BASE_MS * 2 ** attempt;
  return base + Math.random() * base * 0.5;
}

export class IronicClient implements IronicClientAPI {
  #root: URL;
  #agent: http.Agent;
  #authorization: string | undefined;
  #timeoutMs: number;
  #maxVersion: string;
  #version = '';
  #negotiating: Promise<string> | undefined;
  #requests = 0;

  constructor(opts: IronicClientOptions) {
    const url = new URL(opts.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`Ironic endpoint must be http or https, not ${url.protocol}`);
    }
    // BMO accepts user:password@ in IRONIC_ENDPOINT; take them out so the URL can be shown in errors.
    let basic = opts.basicAuth;
    if (!basic && url.username) {
      basic = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    }
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.#root = url;
    this.#authorization = basic
      ? `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`
      : undefined;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxVersion = opts.maxVersion ?? DEFAULT_MAX_VERSION;
    parseMicroversion(this.#maxVersion);
    this.#agent =
      url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            ca: opts.caPem,
            cert: opts.clientCertPem,
            key: opts.clientKeyPem,
            rejectUnauthorized: !opts.insecureSkipVerify,
          })
        : new http.Agent({ keepAlive: true });
  }

  get version(): string {
    return this.#version;
  }

  atLeast(v: string): boolean {
    return this.#version !== '' && compareMicroversions(this.#version, v) >= 0;
  }

  requestCount(): number {
    return this.#requests;
  }

  /** Closes idle keep-alive sockets (tests and shutdown). */
  close(): void {
    this.#agent.destroy();
  }

  negotiate(): Promise<string> {
    // Concurrent first calls share one GET /.
    this.#negotiating ??= this.#negotiate().finally(() => {
      this.#negotiating = undefined;
    });
    return this.#negotiating;
  }

  async #negotiate(): Promise<string> {
    const reply = await this.#send('GET', '/', undefined, false);
    if (reply.status !== 200) throw this.#error('GET', '/', reply, undefined);
    const body = reply.body;
    const def = isRecord(body) && isRecord(body.default_version) ? body.default_version : undefined;
    const max = def && typeof def.version === 'string' ? def.version : undefined;
    // Before microversions (Kilo) there is no version field: such an Ironic is far too old for us.
    if (!max) throw new IronicError(reply.status, 'Ironic did not report an API microversion at GET /');
    const min = def && typeof def.min_version === 'string' ? def.min_version : '1.1';
    if (compareMicroversions(min, this.#maxVersion) > 0) {
      throw new IronicError(reply.status, `Ironic's minimum API microversion ${min} is newer than ours (${this.#maxVersion})`);
    }
    this.#version = compareMicroversions(max, this.#maxVersion) < 0 ? max : this.#maxVersion;
    return this.#version;
  }

  async listDrivers(): Promise<string[]> {
    const body = await this.#json('GET', '/v1/drivers');
    const drivers = isRecord(body) && Array.isArray(body.drivers) ? body.drivers : [];
    return drivers.flatMap((d) => (isRecord(d) && typeof d.name === 'string' ? [d.name] : []));
  }

  async getNode(ident: string): Promise<IronicNode | undefined> {
    const body = await this.#json('GET', `/v1/nodes/${encodeURIComponent(ident)}`, undefined, { notFound: 'undefined' });
    return body === undefined ? undefined : (body as IronicNode);
  }

  async listNodes(fields?: string[], opts: { updatedSince?: number } = {}): Promise<IronicNode[]> {
    const since = opts.updatedSince;
    if (since === undefined) {
      const query: Record<string, string> = {};
      // The marker of the next page is a UUID, so the UUID must be among the fields.
      if (fields?.length) query.fields = [...new Set(['uuid', ...fields])].join(',');
      return (await this.#listAll('/v1/nodes', 'nodes', query)) as IronicNode[];
    }
    // updated_at is not among the fields Ironic lets a list ask for, so changes come from the detailed list,
    // whole nodes (as a GET shows them), which costs more per node but is asked of a few nodes at a time.
    const older = (n: IronicNode) => typeof n.updated_at !== 'string' || Date.parse(n.updated_at) < since;
    // Never-updated nodes (updated_at null) sort last in descending order: a page ending in one ends the list.
    const nodes = (await this.#listAll('/v1/nodes/detail', 'nodes', { sort_key: 'updated_at', sort_dir: 'desc' }, false, {
      pageLimit: changesPageLimit,
      done: (page) => page.length > 0 && older(page[page.length - 1] as IronicNode),
    })) as IronicNode[];
    return nodes.filter((n) => !older(n));
  }

  async newestNodeUpdate(): Promise<number | undefined> {
    const body = await this.#json('GET', '/v1/nodes/detail', undefined, { query: { sort_key: 'updated_at', sort_dir: 'desc', limit: '1' } });
    const [node] = isRecord(body) && Array.isArray(body.nodes) ? (body.nodes as unknown[]) : [];
    const at = isRecord(node) && typeof node.updated_at === 'string' ? Date.parse(node.updated_at) : NaN;
    return Number.isFinite(at) ? at : undefined;
  }

  async createNode(body: Record<string, unknown>): Promise<IronicNode> {
    return (await this.#json('POST', '/v1/nodes', body)) as IronicNode;
  }

  async patchNode(uuid: string, ops: JSONPatchOp[]): Promise<IronicNode> {
    return (await this.#json('PATCH', `/v1/nodes/${encodeURIComponent(uuid)}`, ops)) as IronicNode;
  }

  async deleteNode(uuid: string): Promise<void> {
    await this.#json('DELETE', `/v1/nodes/${encodeURIComponent(uuid)}`, undefined, { notFound: 'undefined' });
  }

  async validateNode(uuid: string): Promise<Record<string, { result: boolean | null; reason?: string | null }>> {
    const body = await this.#json('GET', `/v1/nodes/${encodeURIComponent(uuid)}/validate`);
    return (isRecord(body) ? body : {}) as Record<string, { result: boolean | null; reason?: string | null }>;
  }

  async setProvisionState(uuid: string, target: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.#json('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/states/provision`, { ...extra, target });
  }

  async setPowerState(uuid: string, target: string, timeoutSeconds?: number): Promise<void> {
    const body: Record<string, unknown> = { target };
    if (timeoutSeconds !== undefined) body.timeout = timeoutSeconds;
    await this.#json('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/states/power`, body);
  }

  async setRAIDConfig(uuid: string, logicalDisks: Record<string, unknown>[]): Promise<void> {
    await this.#json('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/states/raid`, { logical_disks: logicalDisks });
  }

  async setMaintenance(uuid: string, reason: string): Promise<void> {
    await this.#json('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/maintenance`, { reason });
  }

  async clearMaintenance(uuid: string): Promise<void> {
    await this.#json('DELETE', `/v1/nodes/${encodeURIComponent(uuid)}/maintenance`);
  }

  async getInventory(uuid: string): Promise<Record<string, unknown> | undefined> {
    const body = await this.#json('GET', `/v1/nodes/${encodeURIComponent(uuid)}/inventory`, undefined, { notFound: 'undefined' });
    return isRecord(body) ? body : undefined;
  }

  async getBIOS(uuid: string, detail: boolean): Promise<Record<string, unknown>[]> {
    const query: Record<string, string> = detail ? { detail: 'True' } : {};
    const body = await this.#json('GET', `/v1/nodes/${encodeURIComponent(uuid)}/bios`, undefined, { query });
    return isRecord(body) && Array.isArray(body.bios) ? body.bios.filter(isRecord) : [];
  }

  async listPorts(query: { address?: string; node_uuid?: string }): Promise<IronicPort[]> {
    const q: Record<string, string> = { fields: 'uuid,address,node_uuid,pxe_enabled' };
    if (query.address !== undefined) q.address = query.address;
    if (query.node_uuid !== undefined) q.node_uuid = query.node_uuid;
    // Ironic answers 404 when the node_uuid filter names no node: it has no ports.
    return (await this.#listAll('/v1/ports', 'ports', q, true)) as IronicPort[];
  }

  async createPort(nodeUUID: string, address: string, pxeEnabled: boolean): Promise<IronicPort> {
    return (await this.#json('POST', '/v1/ports', { node_uuid: nodeUUID, address, pxe_enabled: pxeEnabled })) as IronicPort;
  }

  async #listAll(
    path: string,
    key: string,
    query: Record<string, string>,
    notFoundIsEmpty = false,
    opts: { pageLimit?: (page: number) => number; done?: (page: unknown[]) => boolean } = {},
  ): Promise<unknown[]> {
    const items: unknown[] = [];
    let marker: string | undefined;
    for (let n = 0; ; n++) {
      const q = { ...query, limit: String(opts.pageLimit?.(n) ?? PAGE_LIMIT), ...(marker ? { marker } : {}) };
      const body = await this.#json('GET', path, undefined, { query: q, notFound: notFoundIsEmpty ? 'undefined' : undefined });
      const page = isRecord(body) && Array.isArray(body[key]) ? body[key] : [];
      items.push(...page);
      if (opts.done?.(page)) return items;
      // `next` carries Ironic's own idea of its public URL, which may not be ours; only its marker is used.
      const next = isRecord(body) && typeof body.next === 'string' ? body.next : undefined;
      if (!next || page.length === 0) return items;
      const nextMarker = new URL(next, this.#root).searchParams.get('marker') ?? undefined;
      if (!nextMarker || nextMarker === marker) return items;
      marker = nextMarker;
    }
  }

  /** A /v1 call: negotiated version, retries, errors. 404 gives undefined when asked. */
  async #json(
    method: Method,
    path: string,
    body?: unknown,
    opts: { query?: Record<string, string>; notFound?: 'undefined' } = {},
  ): Promise<unknown> {
    if (!this.#version) await this.negotiate();
    const qs = opts.query && Object.keys(opts.query).length ? `?${new URLSearchParams(opts.query)}` : '';
    const target = path + qs;
    for (let attempt = 0; ; attempt++) {
      let reply: Reply;
      try {
        reply = await this.#send(method, target, body, true);
      } catch (err) {
        // A reused keep-alive socket the server just closed resets at once; one retry is safe unless POST.
        if (err instanceof IronicError && err.message.includes('ECONNRESET') && method !== 'POST' && attempt === 0) continue;
        throw err;
      }
      if (reply.status >= 200 && reply.status < 300) return reply.body;
      if (reply.status === 404 && opts.notFound === 'undefined') return undefined;
      const error = this.#error(method, path, reply, body);
      if (attempt + 1 < RETRY_ATTEMPTS && this.#retriable(method, error)) {
        await sleep(jitter(attempt));
        continue;
      }
      throw error;
    }
  }

  #retriable(method: Method, error: IronicError): boolean {
    // NodeLocked means nothing was applied, so even a POST may be repeated; other conflicts (a duplicate
    // MAC or name) will not clear by waiting.
    if (error.isConflict) return /locked/i.test(error.message);
    return error.isUnavailable && method !== 'POST';
  }

  #error(method: Method, path: string, reply: Reply, requestBody: unknown): IronicError {
    const msg = redact(parseIronicErrorMessage(reply.status, reply.body), secretStrings(requestBody));
    return new IronicError(reply.status, `Ironic ${method} ${path}: ${reply.status} ${msg}`);
  }

  #send(method: Method, target: string, body: unknown, versioned: boolean): Promise<Reply> {
    this.#requests++;
    const url = new URL(this.#root.pathname.replace(/\/$/, '') + target, this.#root);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'metal3-apiserver' };
    // `fields=` and most node attributes are only served under an explicit microversion.
    if (versioned) headers['X-OpenStack-Ironic-API-Version'] = this.#version;
    if (this.#authorization) headers.Authorization = this.#authorization;
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const transport = url.protocol === 'https:' ? https : http;
    const what = `Ironic ${method} ${url.pathname}`;
    return new Promise<Reply>((resolve, reject) => {
      const req = transport.request(url, {
        method,
        headers,
        agent: this.#agent,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new IronicError(NO_RESPONSE, `${what}: ${e.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          if (text !== '') {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('error', (e: Error & { code?: string }) => {
        const reason =
          e.name === 'AbortError' || e.name === 'TimeoutError'
            ? `timed out after ${this.#timeoutMs} ms`
            : `${e.code ?? e.name}: ${e.message}`;
        reject(new IronicError(NO_RESPONSE, `${what}: ${reason}`));
      });
      req.end(payload);
    });
  }
}
