// /healthz, /livez and /readyz with the output of k8s.io/apiserver's pkg/server/healthz, byte for byte,
// because probes and humans (kubectl get --raw '/readyz?verbose') read it.

import { Router } from 'express';
import type { Request, Response } from 'express';

export interface HealthCheck {
  name: string;
  check: () => Promise<void> | void;
}

export interface HealthRouter extends Router {
  /** From now on the readyz `shutdown` check fails, so load balancers drain this instance. */
  markShuttingDown(): void;
}

/** The check every kube server has: it passes as long as the process can answer. */
export const pingCheck: HealthCheck = { name: 'ping', check: () => {} };

const failureMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

const setTextHeaders = (res: Response) => {
  res.set('Content-Type', 'text/plain; charset=utf-8');
  res.set('X-Content-Type-Options', 'nosniff');
};

const quoted = (names: string[]) => names.map((n) => JSON.stringify(n)).join(',');

async function runCheck(c: HealthCheck): Promise<unknown> {
  try {
    await c.check();
    return undefined;
  } catch (err) {
    return err ?? new Error('check failed');
  }
}

/** The whole report for one endpoint (`livez`, `readyz` or `healthz`). */
async function rootHealth(endpoint: string, checks: HealthCheck[], req: Request, res: Response) {
  const query = new URL(req.originalUrl, 'http://localhost').searchParams;
  const excluded = new Set(query.getAll('exclude'));
  let lines = '';
  let failed = false;
  // Sequential like the Go handler, so the lines keep the registration order.
  for (const c of checks) {
    if (excluded.delete(c.name)) {
      lines += `[+]${c.name} excluded: ok\n`;
      continue;
    }
    if ((await runCheck(c)) !== undefined) {
      // The reason stays out of the body because these endpoints may be public; /<endpoint>/<name> shows it.
      lines += `[-]${c.name} failed: reason withheld\n`;
      failed = true;
    } else {
      lines += `[+]${c.name} ok\n`;
    }
  }
  if (excluded.size > 0) {
    lines += `warn: some health checks cannot be excluded: no matches for ${quoted([...excluded].sort())}\n`;
  }
  setTextHeaders(res);
  if (failed) {
    // Go's http.Error appends a newline to the message. end() rather than send(): no ETag, like kube.
    res.status(500).end(`${lines}${endpoint} check failed\n`);
    return;
  }
  res.status(200).end(query.has('verbose') ? `${lines}${endpoint} check passed\n` : 'ok');
}

async function singleCheck(c: HealthCheck, res: Response) {
  const err = await runCheck(c);
  setTextHeaders(res);
  if (err !== undefined) {
    res.status(500).end(`internal server error: ${failureMessage(err)}\n`);
    return;
  }
  res.status(200).end('ok');
}

const union = (...lists: HealthCheck[][]) => {
  const byName = new Map<string, HealthCheck>();
  for (const c of lists.flat()) if (!byName.has(c.name)) byName.set(c.name, c);
  return [...byName.values()];
};

/**
 * Serves /livez, /readyz and /healthz (the union of the livez and readyz checks) and one path per
 * check below each, e.g. /livez/ping. /readyz ends with a `shutdown` check, as kube's does.
 */
export function healthRouter(checks: { livez: HealthCheck[]; readyz: HealthCheck[] }): HealthRouter {
  let shuttingDown = false;
  const shutdown: HealthCheck = {
    name: 'shutdown',
    check: () => {
      if (shuttingDown) throw new Error('process is shutting down');
    },
  };
  const endpoints = new Map<string, HealthCheck[]>([
    ['livez', [...checks.livez]],
    ['readyz', [...checks.readyz, shutdown]],
    ['healthz', union(checks.livez, checks.readyz)],
  ]);

  const router = Router() as HealthRouter;
  // One handler instead of a route per check: check names such as `poststarthook/x` contain slashes
  // and characters that express path patterns would interpret.
  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const [, endpoint, ...rest] = req.path.split('/');
    const list = endpoints.get(endpoint);
    if (!list) return next();
    if (rest.length === 0) return rootHealth(endpoint, list, req, res).catch(next);
    const name = rest.join('/');
    const c = list.find((x) => x.name === name);
    if (!c) return next();
    return singleCheck(c, res).catch(next);
  });
  router.markShuttingDown = () => {
    shuttingDown = true;
  };
  return router;
}
