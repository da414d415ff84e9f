// Watch: a chunked stream of newline-delimited JSON events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR),
// served from the watch cache. A watcher that cannot keep up is dropped rather than buffered without bound:
// it gets an ERROR event (410 Expired, so that client-go's reflector re-lists) and its stream ends.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/types.ts';
import type { CacheEvent } from '../storage/cacher.ts';
import type { Rendering } from '../negotiation.ts';
import { StatusError, badRequest } from '../status.ts';
import { parseIncludeObject, partialObjectMetadata, toTable } from '../table.ts';
import type { ServedResource } from './resource.ts';

/** Bytes a watcher may have queued in its socket before it counts as too slow. */
export const maxWatchBacklogBytes = 16 * 1024 * 1024;

/** When a watcher counts as too slow: too much queued, or its socket not drained for too long. */
export interface WatchBounds {
  maxBacklogBytes: number;
  maxStallMs: number;
}

export const defaultWatchBounds: WatchBounds = { maxBacklogBytes: maxWatchBacklogBytes, maxStallMs: 60_000 };

// After the ERROR event, a client that still reads gets it; one that does not is cut off, so that its
// backlog is freed rather than held until TCP gives up.
const droppedWatchGraceMs = 5_000;

const slowWatcherStatus = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'watch terminated: the client did not keep up with the event stream; list again and watch from the new resourceVersion',
  reason: 'Expired',
  code: 410,
};
const bookmarkIntervalMs = 30_000;

// One change reaches every watcher in the same synchronous fan-out, so remembering the last encoding
// turns a UTF-8 encode per watcher into one per event, without holding bytes for the event history.
let lastEncoded: { object: CacheEvent['object']; type: string; bytes: Buffer } | undefined;

function encodedEvent(ev: CacheEvent): Buffer {
  if (lastEncoded?.object !== ev.object || lastEncoded.type !== ev.type) {
    lastEncoded = { object: ev.object, type: ev.type, bytes: Buffer.from(`{"type":"${ev.type}","object":${ev.object.json()}}\n`) };
  }
  return lastEncoded.bytes;
}

export function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  served: ServedResource,
  namespace: string,
  q: URLSearchParams,
  rendering: Rendering,
  bounds: WatchBounds = defaultWatchBounds,
): void {
  const { def, store } = served;
  const timeoutRaw = q.get('timeoutSeconds');
  let timeoutSeconds: number | undefined;
  if (timeoutRaw !== null && timeoutRaw !== '') {
    if (!/^\d+$/.test(timeoutRaw)) throw badRequest(`invalid value for timeoutSeconds: "${timeoutRaw}"`);
    timeoutSeconds = Number(timeoutRaw);
  }
  const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
  if (q.get('sendInitialEvents') === 'true') {
    throw badRequest('sendInitialEvents is not supported; use list and watch');
  }
  const include = parseIncludeObject(q.get('includeObject')) ?? 'Metadata';
  let headersSent = false;
  let lastRevision = 0;

  const render = (obj: KubeObject): unknown => {
    if (rendering.as === 'Table') {
      const t = toTable(def, [obj], { resourceVersion: obj.metadata.resourceVersion }, include, served.strategy, !headersSent);
      headersSent = true;
      return t;
    }
    if (rendering.as === 'PartialObjectMetadataList') return partialObjectMetadata(obj);
    return obj;
  };

  let closed = false;
  let stop: () => void = () => {};
  const timers: NodeJS.Timeout[] = [];
  const close = () => {
    if (closed) return;
    closed = true;
    stop();
    for (const t of timers) clearTimeout(t);
    res.end();
  };

  // Since when the socket has refused more (write returned false) without draining.
  let stalledSince: number | undefined;
  res.on('drain', () => (stalledSince = undefined));
  // As kube's cacher does with a watcher that blocks dispatch: terminate it rather than let it hold
  // memory or the other watchers back; the client re-lists.
  const drop = () => {
    if (closed) return;
    res.write(`{"type":"ERROR","object":${JSON.stringify(slowWatcherStatus)}}\n`);
    close();
    const cutOff = setTimeout(() => res.destroy(), droppedWatchGraceMs);
    cutOff.unref();
    res.once('close', () => clearTimeout(cutOff));
  };

  const send = (bytes: string | Buffer) => {
    if (closed) return;
    // A socket stalled for too long gets nothing more queued; a backlog may exceed its bound by one event.
    if (stalledSince !== undefined && Date.now() - stalledSince > bounds.maxStallMs) {
      drop();
      return;
    }
    if (!res.write(bytes)) stalledSince ??= Date.now();
    if (res.writableLength > bounds.maxBacklogBytes) drop();
  };
  const write = (type: string, object: unknown) => send(`{"type":"${type}","object":${JSON.stringify(object)}}\n`);

  const onEvent = (ev: CacheEvent) => {
    lastRevision = ev.revision;
    if (rendering.as === 'object') {
      send(encodedEvent(ev));
      return;
    }
    write(ev.type, render(ev.object.object));
  };

  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  try {
    stop = store.watch(namespace, { resourceVersion: q.get('resourceVersion') ?? undefined, labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined }, onEvent);
  } catch (e) {
    const status = e instanceof StatusError ? e.toStatus() : new StatusError(500, 'InternalError', 'Internal error occurred: watch failed').toStatus();
    write('ERROR', status);
    close();
    return;
  }
  if (bookmarks) {
    const tick = () => {
      const rv = String(Math.max(lastRevision, Number(q.get('resourceVersion')) || 0, store.cacheRevision()));
      write('BOOKMARK', { kind: def.kind, apiVersion: store.apiVersion, metadata: { resourceVersion: rv, creationTimestamp: null } });
      timers.push(setTimeout(tick, bookmarkIntervalMs));
    };
    timers.push(setTimeout(tick, Math.min(bookmarkIntervalMs, 1000)));
  }
  // 0 is "no timeout", as kube reads it; a timer cannot hold more than 2^31-1 ms (~24.8 days).
  if (timeoutSeconds) timers.push(setTimeout(close, Math.min(timeoutSeconds * 1000, 2 ** 31 - 1)));
  req.on('close', close);
  res.on('close', close);
}
