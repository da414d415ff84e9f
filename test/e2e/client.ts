// Raw HTTPS requests to a running server with the admin client certificate, for the checks kubectl
// cannot express: exact status codes, headers, malformed bodies, chunked uploads and watch streams.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { RunningServer } from './harness.ts';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json(): unknown;
}

export interface RequestOptions {
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length), as kubectl does for `-f -`. */
  chunked?: boolean;
  /** Connect without the admin client certificate. */
  anonymous?: boolean;
}

interface Credentials {
  ca: string;
  cert: string;
  key: string;
  agent: https.Agent;
  anonymousAgent: https.Agent;
}

const credentials = new WeakMap<RunningServer, Credentials>();

function credentialsOf(server: RunningServer): Credentials {
  let c = credentials.get(server);
  if (!c) {
    const pki = join(server.dataDir, 'pki');
    const ca = readFileSync(join(pki, 'ca.crt'), 'utf8');
    const cert = readFileSync(join(pki, 'admin.crt'), 'utf8');
    const key = readFileSync(join(pki, 'admin.key'), 'utf8');
    c = {
      ca,
      cert,
      key,
      agent: new https.Agent({ keepAlive: true, ca, cert, key }),
      anonymousAgent: new https.Agent({ keepAlive: false, ca }),
    };
    credentials.set(server, c);
  }
  return c;
}

/** Close the keep-alive connections of a server's agents (call before stopping it). */
export function closeClient(server: RunningServer): void {
  const c = credentials.get(server);
  if (!c) return;
  c.agent.destroy();
  c.anonymousAgent.destroy();
  credentials.delete(server);
}

function start(server: RunningServer, method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
  const c = credentialsOf(server);
  const url = new URL(path, server.url);
  const headers: Record<string, string> = { ...opts.headers };
  const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
  if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
  if (body && !opts.chunked) headers['Content-Length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        headers,
        agent: opts.anonymous ? c.anonymousAgent : c.agent,
      },
      resolve,
    );
    req.on('error', reject);
    if (body && opts.chunked) {
      // Several writes so the body really travels in more than one chunk.
      const step = Math.max(1, Math.ceil(body.length / 4));
      for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      req.end();
    } else {
      req.end(body);
    }
  });
}

export async function request(server: RunningServer, method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
  const res = await start(server, method, path, opts);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    body,
    json: () => JSON.parse(body) as unknown,
  };
}

export interface WatchEvent {
  type: string;
  object: Record<string, unknown>;
}

export interface WatchStream {
  status: number;
  headers: IncomingHttpHeaders;
  events: WatchEvent[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Wait until at least n events arrived. */
  waitForEvents(n: number, timeoutMs?: number): Promise<WatchEvent[]>;
  close(): void;
}

/** Open a watch (or any streaming GET) and collect newline-delimited JSON events as they arrive. */
export async function watch(server: RunningServer, path: string, headers: Record<string, string> = {}): Promise<WatchStream> {
  const res = await start(server, 'GET', path, { headers });
  const events: WatchEvent[] = [];
  let buffered = '';
  let done = false;
  const ended = new Promise<void>((resolve) => {
    res.on('data', (d: Buffer) => {
      buffered += d.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) events.push(JSON.parse(line) as WatchEvent);
      }
    });
    const finish = () => {
      done = true;
      if (buffered.trim()) {
        try {
          events.push(JSON.parse(buffered) as WatchEvent);
        } catch {
          // a non-JSON tail is left for the caller to notice through the event count
        }
        buffered = '';
      }
      resolve();
    };
    res.on('end', finish);
    res.on('close', finish);
    res.on('error', finish);
  });
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    events,
    ended,
    async waitForEvents(n, timeoutMs = 10_000) {
      const startAt = Date.now();
      while (events.length < n) {
        if (done) throw new Error(`watch ended after ${events.length} events, wanted ${n}: ${JSON.stringify(events)}`);
        if (Date.now() - startAt > timeoutMs) throw new Error(`timed out waiting for ${n} watch events, got ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return events;
    },
    close() {
      res.destroy();
    },
  };
}
