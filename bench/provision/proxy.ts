// A counting HTTP proxy in front of Ironic: every client of the bench (the direct driver and the server's
// provisioner) talks to Ironic through it, so the request counts are Ironic's own, whoever sent them.
// Counts are kept per request kind (method and path with node/port UUIDs folded), so a breakdown shows
// where the requests go.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestCounts {
  total: number;
  /** e.g. "GET /v1/nodes/{id}", "PUT /v1/nodes/{id}/states/provision". */
  byKind: Record<string, number>;
  /** Replies with status >= 400, by status. */
  errors: Record<string, number>;
}

export interface CountingProxy {
  /** http://127.0.0.1:PORT, to use as the Ironic endpoint. */
  endpoint: string;
  /** A copy of the counts so far. */
  counts(): RequestCounts;
  close(): Promise<void>;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The kind of a request: nodes are named by UUID or by BMO's "namespace~name", both folded to {id}. */
export function requestKind(method: string, url: string): string {
  const path = url.split('?')[0].replace(UUID, '{id}');
  const parts = path.split('/');
  // /v1/nodes/<ident>/… and /v1/ports/<ident>: the identifier segment, whatever its spelling.
  if (parts[1] === 'v1' && (parts[2] === 'nodes' || parts[2] === 'ports') && parts.length > 3 && parts[3] !== '') parts[3] = '{id}';
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

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const counts: RequestCounts = { total: 0, byKind: {}, errors: {} };
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const kind = requestKind(method, url);
    counts.total++;
    counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
    const out = http.request(
      { hostname: upstream.hostname, port: upstream.port, method, path: url, headers: { ...req.headers, host: upstream.host }, agent },
      (reply) => {
        const status = reply.statusCode ?? 502;
        if (status >= 400) counts.errors[String(status)] = (counts.errors[String(status)] ?? 0) + 1;
        res.writeHead(status, reply.headers);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
