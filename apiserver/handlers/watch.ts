// Watch: a chunked stream of newline-delimited JSON events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR),
// served from the watch cache. A watcher that cannot keep up is dropped rather than buffered without bound.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/types.ts';
import type { CacheEvent } from '../storage/cacher.ts';
import type { Rendering } from '../negotiation.ts';
import { StatusError, badRequest } from '../status.ts';
import { parseIncludeObject, partialObjectMetadata, toTable } from '../table.ts';
import type { ServedResource } from './resource.ts';

/** Bytes a watcher may have queued in its socket before it counts as too slow. */
export const maxWatchBacklogBytes = 16 * 1024 * 1024;
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

  const write = (type: string, object: unknown) => {
    if (closed) return;
    res.write(`{"type":"${type}","object":${JSON.stringify(object)}}\n`);
    if (res.writableLength > maxWatchBacklogBytes) {
      // As kube's cacher does with a watcher whose buffer is full: end it; the client re-lists.
      close();
    }
  };

  const onEvent = (ev: CacheEvent) => {
    lastRevision = ev.revision;
    const obj = ev.object.object;
    if (rendering.as === 'object') {
      if (closed) return;
      res.write(encodedEvent(ev));
      if (res.writableLength > maxWatchBacklogBytes) close();
      return;
    }
    write(ev.type, render(obj));
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
  if (timeoutSeconds !== undefined) timers.push(setTimeout(close, timeoutSeconds * 1000));
  req.on('close', close);
  res.on('close', close);
}
