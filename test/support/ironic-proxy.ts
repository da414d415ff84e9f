// A counting HTTP proxy in front of Ironic: every client (a benchmark's direct driver, the server's
// provisioner, several replicas of it) talks to Ironic through it, so the counts are Ironic's own, whoever
// sent the requests. Counts are kept per request kind (method and path with node/port identifiers folded),
// so a breakdown shows where the requests go. Besides the counts it keeps, per node, the operations Ironic
// accepted (node creations, provision-state and power-state changes): what a failover must not repeat.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestCounts {
  total: number;
  /** e.g. "GET /v1/nodes/{id}", "PUT /v1/nodes/{id}/states/provision". */
  byKind: Record<string, number>;
  /** Replies with status >= 400, by status. */
  errors: Record<string, number>;
}

/** One operation Ironic accepted (a 2xx reply). */
export interface NodeOperation {
  op: 'create' | 'provision' | 'power';
  /** The node's name when known (from the creation's body or reply), else the identifier the request used. */
  node: string;
  /** The provision or power target ("manage", "inspect", "provide", "active", "power on", …); none for a creation. */
  target?: string;
  status: number;
  /** Date.now() when the reply's status arrived. */
  at: number;
}

export interface CountingProxy {
  /** http://127.0.0.1:PORT, to use as the Ironic endpoint. */
  endpoint: string;
  /** A copy of the counts so far. */
  counts(): RequestCounts;
  /** The accepted node operations so far, in the order their replies arrived. */
  operations(): NodeOperation[];
  /** Date.now() of every request received, in order (when clients acted, not what they did). */
  requestTimes(): number[];
  close(): Promise<void>;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The kind of a request: nodes are named by UUID or by BMO's "namespace~name", both folded to {id}. */
export function requestKind(method: string, url: string): string {
  const path = url.split('?')[0].replace(UUID, '{id}');
  const parts = path.split('/');
  // /v1/nodes/<ident>/… and /v1/ports/<ident>: the identifier segment, whatever its spelling.
  if (parts[1] === 'v1' && (parts[2] === 'nodes' || parts[2] === 'ports') && parts.length > 3 && parts[3] !== '' && parts[3] !== 'detail') parts[3] = '{id}';
  return `${method} ${parts.join('/')}`;
}

/** Difference of two snapshots (later minus earlier), for the requests of one phase. */
export function subtractCounts(later: RequestCounts, earlier: RequestCounts): RequestCounts {
  const minus = (a: Record<string, number>, b: Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(a)) if (v - (b[k] ?? 0) > 0) out[k] = v - (b[k] ?? 0);
    return out;
  };
  return { total: later.total - earlier.total, byKind: minus(later.byKind, earlier.byKind), errors: minus(later.errors, earlier.errors) };
}

/** What a request would do to a node, if it is one of the recorded operations; the node as the path names it. */
function operationOf(method: string, url: string): { op: NodeOperation['op']; ident?: string } | undefined {
  const parts = url.split('?')[0].split('/');
  if (parts[1] !== 'v1' || parts[2] !== 'nodes') return undefined;
  if (method === 'POST' && parts.length === 3) return { op: 'create' };
  if (method === 'PUT' && parts.length === 6 && parts[4] === 'states' && (parts[5] === 'provision' || parts[5] === 'power')) {
    return { op: parts[5], ident: decodeURIComponent(parts[3]) };
  }
  return undefined;
}

function parseJSON(body: Buffer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * Operations that were accepted more than once: a node name created twice (two Ironic nodes for one host),
 * or one provision target accepted twice for one node. Power changes are not counted here: BMO may switch
 * a node off and on again on purpose.
 */
export function duplicateOperations(ops: NodeOperation[]): string[] {
  const seen = new Map<string, number>();
  for (const o of ops) {
    if (o.op === 'power') continue;
    const key = o.op === 'create' ? `create ${o.node}` : `${o.node} provision ${o.target ?? ''}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([key, n]) => `${key} accepted ${n} times`);
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const counts: RequestCounts = { total: 0, byKind: {}, errors: {} };
  const operations: NodeOperation[] = [];
  const times: number[] = [];
  // Clients act on nodes by UUID after creating them by name: the creation's reply links the two.
  const names = new Map<string, string>();
  const record = (method: string, url: string, status: number, requestBody: Buffer, replyBody: Buffer) => {
    const kind = operationOf(method, url);
    if (!kind || status < 200 || status >= 300) return;
    const req = parseJSON(requestBody);
    if (kind.op === 'create') {
      const reply = parseJSON(replyBody);
      const name = text(req.name) ?? text(reply.name) ?? text(reply.uuid) ?? '(unnamed)';
      const uuid = text(reply.uuid);
      if (uuid) names.set(uuid, name);
      operations.push({ op: 'create', node: name, status, at: Date.now() });
      return;
    }
    const ident = kind.ident ?? '';
    operations.push({ op: kind.op, node: names.get(ident) ?? ident, target: text(req.target), status, at: Date.now() });
  };
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const kind = requestKind(method, url);
    counts.total++;
    counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
    times.push(Date.now());
    const watched = operationOf(method, url) !== undefined;
    const sent: Buffer[] = [];
    if (watched) req.on('data', (c: Buffer) => sent.push(c));
    const out = http.request(
      { hostname: upstream.hostname, port: upstream.port, method, path: url, headers: { ...req.headers, host: upstream.host }, agent },
      (reply) => {
        const status = reply.statusCode ?? 502;
        if (status >= 400) counts.errors[`${status} ${kind}`] = (counts.errors[`${status} ${kind}`] ?? 0) + 1;
        res.writeHead(status, reply.headers);
        if (watched) {
          const got: Buffer[] = [];
          reply.on('data', (c: Buffer) => got.push(c));
          // Recorded before the client can read the end of the reply, so a client never sees an
          // operation that the proxy has not recorded yet.
          reply.on('end', () => record(method, url, status, Buffer.concat(sent), Buffer.concat(got)));
        }
        reply.pipe(res);
      },
    );
    out.on('error', (e) => {
      counts.errors.proxy = (counts.errors.proxy ?? 0) + 1;
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${e.message}`);
    });
    req.pipe(out);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ total: counts.total, byKind: { ...counts.byKind }, errors: { ...counts.errors } }),
    operations: () => operations.map((o) => ({ ...o })),
    requestTimes: () => [...times],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
