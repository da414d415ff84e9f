// The generic REST handler (k8s.io/apiserver/pkg/endpoints/handlers): one implementation of every verb
// for every kind, dispatched on RequestInfo. Kinds differ only through their Store and Strategy.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject, ResourceDefinition } from '../../api/types.ts';
import { decodeJSON, decodeObjectBody, decodeWriteBody, decodeYAML, mediaType, readBody } from '../body.ts';
import { negotiateRendering, type Rendering } from '../negotiation.ts';
import type { RequestInfo } from '../requestinfo.ts';
import type { Store, WriteContext, FieldValidation, DeleteOptions, PatchType, ListQuery } from '../registry/store.ts';
import type { Strategy, UserInfo } from '../registry/strategy.ts';
import { isPlainObject, shown } from '../registry/objects.ts';
import {
  badRequest,
  fieldErrors,
  invalid,
  notAcceptable,
  notFound,
  notFoundPath,
  StatusError,
  unsupportedMediaType,
  type StatusCause,
} from '../status.ts';
import { parseIncludeObject, partialObjectMetadata, toTable, type IncludeObject } from '../table.ts';
import { applyJSONPatch } from '../patch/jsonpatch.ts';
import { applyMergePatch } from '../patch/mergepatch.ts';
import { applyStrategicMergePatch } from '../patch/strategicmerge.ts';
import { serveWatch, type WatchBounds } from './watch.ts';

export interface ServedResource {
  def: ResourceDefinition;
  store: Store;
  strategy?: Strategy;
}

/** A POST action subresource (baremetalhosts/inspect): gets the decoded body, returns the response object. */
export type ActionHandler = (args: {
  resource: ServedResource;
  namespace: string;
  name: string;
  body: unknown;
  ctx: WriteContext;
}) => Promise<{ code: number; body: unknown }>;

export interface ResourceHandlerOptions {
  resources: Map<string, ServedResource>;
  actions?: Map<string, ActionHandler>;
  /** Namespace lifecycle: creating into a missing namespace is a 404, as kube's NamespaceLifecycle admission answers. */
  namespaceExists?: (ns: string) => boolean;
  /** When a watcher is too slow to keep; the defaults of watch.ts when absent. */
  watchBounds?: WatchBounds;
}

export const resourceKey = (group: string, version: string, plural: string) => `${group}/${version}/${plural}`;

const acceptedPatchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];

/**
 * A warning as a header value. Node refuses header text outside Latin-1, and a warning may quote a
 * field name the client sent (any unicode): that threw after the write had committed and answered 500.
 * Escaped as strconv.QuoteToASCII would.
 */
const warningHeader = (w: string) =>
  `299 - ${JSON.stringify(w).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`;

export function send(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  const text = JSON.stringify(body);
  for (const w of warnings) res.appendHeader('Warning', warningHeader(w));
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = err instanceof StatusError ? err : undefined;
  if (!e) {
    // Never leak internals (which may hold credentials) into the response; the log has the stack.
    console.error('internal error:', err);
    send(res, 500, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Internal error occurred: an internal error occurred; see the server log',
      reason: 'InternalError',
      details: { causes: [{ message: 'an internal error occurred' }] },
      code: 500,
    });
    return;
  }
  if (e.code === 429 && e.details?.retryAfterSeconds) res.setHeader('Retry-After', String(e.details.retryAfterSeconds));
  send(res, e.code, e.toStatus());
}

function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '' || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw badRequest(`invalid boolean value for ${name}: ${JSON.stringify(v)}`);
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(v)}: must be an integer`);
  return Number(v);
}

function dryRunOf(values: string[], optionsKind: string): boolean {
  const bad = values.filter((v) => v !== 'All');
  if (bad.length) throw invalid(optionsKind, 'meta.k8s.io', '', [fieldErrors.notSupported('dryRun', bad[0], ['All'])]);
  return values.length > 0;
}

function writeContext(req: IncomingMessage, q: URLSearchParams, user: UserInfo, optionsKind: string): WriteContext {
  const causes: StatusCause[] = [];
  const dryRun = dryRunOf(q.getAll('dryRun'), optionsKind);
  let fieldManager = q.get('fieldManager') ?? '';
  if (fieldManager.length > 128) causes.push(fieldErrors.tooLong('fieldManager', fieldManager, 128));
  else if (/[^\x20-\x7e]/.test(fieldManager)) causes.push(fieldErrors.invalid('fieldManager', fieldManager, 'must only contain printable characters'));
  const fv = q.get('fieldValidation') ?? '';
  let fieldValidation: FieldValidation = 'Warn';
  if (fv === 'Strict' || fv === 'Warn' || fv === 'Ignore') fieldValidation = fv;
  // ValidateFieldValidation: an option error (422 on CreateOptions/UpdateOptions/PatchOptions), not a decode error.
  else if (fv !== '') causes.push(fieldErrors.notSupported('fieldValidation', fv, ['', 'Ignore', 'Strict', 'Warn']));
  if (causes.length) throw invalid(optionsKind, 'meta.k8s.io', '', causes);
  if (!fieldManager) fieldManager = (req.headers['user-agent'] ?? 'unknown').split('/')[0] || 'unknown';
  return { user, dryRun, fieldManager, fieldValidation, warnings: [] };
}

function listQuery(q: URLSearchParams): ListQuery {
  return {
    labelSelector: q.get('labelSelector') ?? undefined,
    fieldSelector: q.get('fieldSelector') ?? undefined,
    limit: intParam(q, 'limit'),
    continue: q.get('continue') || undefined,
    resourceVersion: q.get('resourceVersion') ?? undefined,
    resourceVersionMatch: q.get('resourceVersionMatch') || undefined,
  };
}

function requireRendering(req: IncomingMessage, isList: boolean): Rendering {
  const r = negotiateRendering(req.headers.accept, isList);
  if (!r) throw notAcceptable();
  return r;
}

function includeObject(q: URLSearchParams): IncludeObject {
  const v = parseIncludeObject(q.get('includeObject'));
  if (!v) throw badRequest(`includeObject: Unsupported value: "${q.get('includeObject')}": supported values: "None", "Metadata", "Object"`);
  return v;
}

/** Render one object per the negotiated representation. */
function renderObject(r: ServedResource, obj: KubeObject, rendering: Rendering, q: URLSearchParams): unknown {
  if (rendering.as === 'Table') return toTable(r.def, [obj], { resourceVersion: obj.metadata.resourceVersion }, includeObject(q), r.strategy);
  if (rendering.as === 'PartialObjectMetadata') return partialObjectMetadata(obj);
  return obj;
}

/** Decode a DELETE body (DeleteOptions), merging the query-parameter forms kube also accepts. */
async function deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
  const buf = await readBody(req);
  let opts: DeleteOptions = {};
  if (buf.length > 0) {
    const body = decodeObjectBody(buf, mediaType(req));
    if (!isPlainObject(body)) throw badRequest('the body of a delete request must be a DeleteOptions object');
    if (body.kind !== undefined && body.kind !== 'DeleteOptions') throw badRequest(`the kind in the data (${shown(body.kind)}) does not match the expected kind (DeleteOptions)`);
    opts = body as DeleteOptions;
  }
  const causes: StatusCause[] = [];
  const pp = q.get('propagationPolicy') ?? opts.propagationPolicy;
  if (pp !== undefined && !['Orphan', 'Background', 'Foreground'].includes(pp)) {
    causes.push(fieldErrors.notSupported('propagationPolicy', pp, ['Foreground', 'Background', 'Orphan', 'nil']));
  }
  const grace = intParam(q, 'gracePeriodSeconds') ?? opts.gracePeriodSeconds;
  if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace))) causes.push(fieldErrors.invalid('gracePeriodSeconds', grace, 'must be an integer'));
  if (opts.dryRun !== undefined && !Array.isArray(opts.dryRun)) causes.push(fieldErrors.invalid('dryRun', opts.dryRun, 'must be a list'));
  if (causes.length) throw invalid('DeleteOptions', 'meta.k8s.io', '', causes);
  return {
    ...opts,
    propagationPolicy: pp,
    gracePeriodSeconds: grace,
    dryRun: [...(Array.isArray(opts.dryRun) ? opts.dryRun : []), ...q.getAll('dryRun')],
  };
}

export function resourceHandler(opts: ResourceHandlerOptions) {
  return async function handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo, query: URLSearchParams, user: UserInfo): Promise<void> {
    const served = opts.resources.get(resourceKey(info.apiGroup, info.apiVersion, info.resource));
    if (!served) throw notFoundPath();
    const { def, store } = served;
    const ns = info.namespace;
    if (def.namespaced === false && ns) throw notFoundPath();
    if (def.namespaced && !ns && info.name) throw notFoundPath();
    const sub = info.subresource;
    const action = sub && sub !== 'status' ? opts.actions?.get(`${def.plural}/${sub}`) : undefined;
    // As the CRD handler answers an unknown subresource: the object itself is reported not found.
    if (sub && sub !== 'status' && !action) throw notFound({ group: def.group, plural: def.plural }, info.name);
    if (sub === 'status' && !def.subresources.status) throw notFoundPath();
    if (info.parts.length > 3) throw notFoundPath();
    const method = req.method ?? 'GET';

    switch (info.verb) {
      case 'list': {
        const rendering = requireRendering(req, true);
        const result = await store.list(ns, listQuery(query));
        const meta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
        if (result.continue) meta.continue = result.continue;
        if (result.remainingItemCount !== undefined) meta.remainingItemCount = result.remainingItemCount;
        if (rendering.as === 'Table') {
          send(res, 200, toTable(def, result.items.map((i) => i.object), meta, includeObject(query), served.strategy));
        } else if (rendering.as === 'PartialObjectMetadataList') {
          send(res, 200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: meta, items: result.items.map((i) => partialObjectMetadata(i.object)) });
        } else {
          sendList(res, def, meta, result.items.map((i) => i.json()));
        }
        return;
      }
      case 'watch': {
        const rendering = requireRendering(req, true);
        serveWatch(req, res, served, ns, query, rendering, opts.watchBounds);
        return;
      }
      case 'get': {
        const rendering = requireRendering(req, false);
        const obj = await store.get(ns, info.name);
        send(res, 200, renderObject(served, obj, rendering, query));
        return;
      }
      case 'create': {
        const ctx = writeContext(req, query, user, 'CreateOptions');
        const buf = await readBody(req);
        const { body, duplicates } = decodeWriteBody(buf, mediaType(req), ctx.fieldValidation !== 'Ignore');
        ctx.decodeProblems = duplicates;
        if (action) {
          const out = await action({ resource: served, namespace: ns, name: info.name, body, ctx });
          send(res, out.code, out.body, ctx.warnings);
          return;
        }
        if (info.name) throw methodNotSupported(def, info.verb);
        const rendering = requireRendering(req, false);
        if (def.namespaced && opts.namespaceExists && !opts.namespaceExists(ns)) throw notFound({ group: '', plural: 'namespaces' }, ns);
        const obj = await store.create(ns, body, ctx);
        send(res, 201, renderObject(served, obj, rendering, query), ctx.warnings);
        return;
      }
      case 'update': {
        const ctx = writeContext(req, query, user, 'UpdateOptions');
        const buf = await readBody(req);
        const { body, duplicates } = decodeWriteBody(buf, mediaType(req), ctx.fieldValidation !== 'Ignore');
        ctx.decodeProblems = duplicates;
        const rendering = requireRendering(req, false);
        const { obj, created } = await store.update(ns, info.name, body, ctx, sub);
        send(res, created ? 201 : 200, renderObject(served, obj, rendering, query), ctx.warnings);
        return;
      }
      case 'patch': {
        const ctx = writeContext(req, query, user, 'PatchOptions');
        const strategic = mediaType(req) === 'application/strategic-merge-patch+json' && def.strategicMergePatch === true;
        const type = strategic ? 'merge' : patchTypeOf(mediaType(req));
        const force = boolParam(query, 'force');
        if (type === 'apply' && !query.get('fieldManager')) {
          throw invalid('PatchOptions', 'meta.k8s.io', '', [fieldErrors.required('fieldManager', 'is required for apply patch')]);
        }
        if (type !== 'apply' && query.has('force')) {
          throw invalid('PatchOptions', 'meta.k8s.io', '', [fieldErrors.forbidden('force', 'may not be specified for non-apply patch')]);
        }
        const buf = await readBody(req);
        const patch = type === 'apply' ? decodeYAML(buf) : decodeJSON(buf);
        const rendering = requireRendering(req, false);
        if (type === 'apply' && def.namespaced && opts.namespaceExists && !opts.namespaceExists(ns)) {
          throw notFound({ group: '', plural: 'namespaces' }, ns);
        }
        const { obj, created } = await store.patch(ns, info.name, type, patch, ctx, {
          force,
          subresource: sub,
          applyPatch: strategic ? applyStrategicMergePatch : type === 'json' ? applyJSONPatch : applyMergePatch,
        });
        send(res, created ? 201 : 200, renderObject(served, obj, rendering, query), ctx.warnings);
        return;
      }
      case 'delete': {
        if (sub) throw methodNotSupported(def, info.verb);
        const options = await deleteOptions(req, query);
        const ctx = writeContext(req, new URLSearchParams(), user, 'DeleteOptions');
        ctx.dryRun = dryRunOf(options.dryRun ?? [], 'DeleteOptions');
        const { obj } = await store.delete(ns, info.name, options, ctx);
        send(res, 200, obj, ctx.warnings);
        return;
      }
      case 'deletecollection': {
        const options = await deleteOptions(req, query);
        const ctx = writeContext(req, new URLSearchParams(), user, 'DeleteOptions');
        ctx.dryRun = dryRunOf(options.dryRun ?? [], 'DeleteOptions');
        const items = await store.deleteCollection(ns, listQuery(query), options, ctx);
        send(res, 200, { kind: def.listKind, apiVersion: store.apiVersion, metadata: {}, items }, ctx.warnings);
        return;
      }
      default:
        void method;
        throw methodNotSupported(def, info.verb);
    }
  };
}

/** apierrors.NewMethodNotSupported, which the CRD handler answers for a verb the resource does not serve. */
function methodNotSupported(def: ResourceDefinition, verb: string): StatusError {
  const qualified = def.group ? `${def.plural}.${def.group}` : def.plural;
  return new StatusError(405, 'MethodNotAllowed', `${verb} is not supported on resources of kind "${qualified}"`, { group: def.group, kind: def.plural });
}

function patchTypeOf(ct: string): PatchType {
  if (ct === 'application/json-patch+json') return 'json';
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/apply-patch+yaml') return 'apply';
  throw unsupportedMediaType(acceptedPatchTypes);
}

/** A list body from cached serializations: concatenating JSON text is what keeps a 10,000-item LIST fast. */
function sendList(res: ServerResponse, def: ResourceDefinition, meta: Record<string, unknown>, itemsJSON: string[]): void {
  const apiVersion = def.group ? `${def.group}/${def.version}` : def.version;
  const head = `{"apiVersion":${JSON.stringify(apiVersion)},"items":[`;
  const tail = `],"kind":${JSON.stringify(def.listKind)},"metadata":${JSON.stringify(meta)}}`;
  if (itemsJSON.length <= listSliceItems) {
    const body = head + itemsJSON.join(',') + tail;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  // A large list goes out chunked, a slice at a time as the socket drains (as Go's server does once a
  // body outgrows its buffer): the client decodes while we encode, and the server never holds the whole
  // body as one string, one buffer and its encryption at once.
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let next = 0;
  const pump = () => {
    while (next < itemsJSON.length) {
      const end = Math.min(next + listSliceItems, itemsJSON.length);
      const slice = (next === 0 ? head : ',') + itemsJSON.slice(next, end).join(',');
      next = end;
      if (!res.write(slice)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(tail);
  };
  pump();
}

/** Items per write of a streamed list: large enough that per-write costs vanish, small enough to pipeline. */
const listSliceItems = 64;
