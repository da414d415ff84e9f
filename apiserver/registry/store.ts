// The generic registry store (k8s.io/apiserver/pkg/registry/generic/registry.Store): every kind is served
// by this one implementation of create, get, list, watch, update, patch and delete, parameterised by a
// ResourceDefinition and a Strategy. Storage is the revisioned log; reads come from the watch cache.
import { randomUUID } from 'node:crypto';
import type { KubeObject, ResourceDefinition } from '../../api/types.ts';
import { apiVersionOf } from '../../api/types.ts';
import { compileSchema, jsonPathValue, type CompiledSchema } from '../../api/schema.ts';
import type { Cacher, CachedObject, CacheEvent, Predicate } from '../storage/cacher.ts';
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  StorageUnavailableError,
  type KeyValue,
  type Storage,
} from '../storage/interface.ts';
import {
  alreadyExists,
  badRequest,
  conflict,
  fieldErrors,
  gone,
  invalid,
  notFound,
  serviceUnavailable,
  staleObject,
  StatusError,
  tooOldResourceVersion,
  type StatusCause,
} from '../status.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../api/objectmeta.ts';
import { parseLabelSelector } from '../../api/labels.ts';
import { parseFieldSelector } from '../selectors/fields.ts';
import { updateManagedFields, apply as applyConfiguration } from '../fieldmanager/index.ts';
import type { Admission, AdmissionAttributes, Operation, Strategy, UserInfo } from './strategy.ts';
import { clone, deepEqual, goType, isPlainObject, nowRFC3339, sameContent, specPart } from './objects.ts';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Per-request options common to every write. */
export interface WriteContext {
  user: UserInfo;
  dryRun: boolean;
  fieldManager: string;
  fieldValidation: FieldValidation;
  /** Problems found while decoding the body (duplicate fields), reported per fieldValidation. */
  decodeProblems?: string[];
  /** Warning texts for the response's Warning headers. */
  warnings: string[];
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: CachedObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface DeleteOptions {
  propagationPolicy?: string;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

export type PatchType = 'json' | 'merge' | 'apply';

const generateNameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
const maxGeneratedNameLength = 63;

const knownMetadataFields = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);

function encodeContinue(revision: number, lastKey: string, prefix: string): string {
  const token = { v: 'meta.k8s.io/v1', rv: revision, start: lastKey.slice(prefix.length) + '\u0000' };
  return Buffer.from(JSON.stringify(token)).toString('base64');
}

function decodeContinue(token: string, prefix: string): { revision: number; startAfter: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw badRequest('continue key is not valid: illegal base64 data or JSON');
  }
  if (
    !isPlainObject(parsed) ||
    parsed.v !== 'meta.k8s.io/v1' ||
    typeof parsed.rv !== 'number' ||
    !Number.isInteger(parsed.rv) ||
    parsed.rv <= 0 ||
    typeof parsed.start !== 'string' ||
    !parsed.start.endsWith('\u0000') ||
    parsed.start.includes('/..') ||
    parsed.start.startsWith('/')
  ) {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
  return { revision: parsed.rv, startAfter: prefix + parsed.start.slice(0, -1) };
}

function parseResourceVersion(rv: string, what = 'resourceVersion'): number {
  if (!/^\d+$/.test(rv)) throw badRequest(`invalid ${what}: "${rv}"`);
  return Number(rv);
}

const listOptionsInvalid = (causes: StatusCause[]) => invalid('ListOptions', 'meta.k8s.io', '', causes);

/** An object as guaranteedUpdate starts from; current is false for the watch cache's possibly lagging copy. */
interface Latest {
  obj: KubeObject;
  kv: Pick<KeyValue, 'modRevision'>;
  current: boolean;
}

export class Store {
  readonly def: ResourceDefinition;
  readonly apiVersion: string;
  readonly schema: CompiledSchema;
  private readonly storage: Storage;
  private readonly cacher: Cacher;
  private readonly strategy: Strategy;
  private readonly admission: Admission[];
  private readonly root: string;

  constructor(opts: {
    def: ResourceDefinition;
    storage: Storage;
    cacher: Cacher;
    strategy?: Strategy;
    admission?: Admission[];
  }) {
    this.def = opts.def;
    this.apiVersion = apiVersionOf(opts.def);
    this.schema = compileSchema(opts.def);
    this.storage = opts.storage;
    this.cacher = opts.cacher;
    this.strategy = opts.strategy ?? {};
    this.admission = opts.admission ?? [];
    this.root = storagePrefix(opts.def);
  }

  // ---- keys and encoding ----

  key(namespace: string, name: string): string {
    return this.def.namespaced ? `${this.root}${namespace}/${name}` : `${this.root}${name}`;
  }

  prefix(namespace: string): string {
    return this.def.namespaced && namespace ? `${this.root}${namespace}/` : this.root;
  }

  private decode(kv: KeyValue): KubeObject {
    const obj = JSON.parse(kv.value) as KubeObject;
    obj.metadata.resourceVersion = String(kv.modRevision);
    return obj;
  }

  private encode(obj: KubeObject): string {
    const rv = obj.metadata.resourceVersion;
    delete obj.metadata.resourceVersion;
    try {
      return JSON.stringify(obj);
    } finally {
      if (rv !== undefined) obj.metadata.resourceVersion = rv;
    }
  }

  private withRevision(obj: KubeObject, kv: KeyValue): KubeObject {
    obj.metadata.resourceVersion = String(kv.modRevision);
    return obj;
  }

  private ref() {
    return { group: this.def.group, plural: this.def.plural };
  }

  // ---- reads ----

  hasCached(namespace: string, name: string): boolean {
    return this.cacher.get(this.key(namespace, name)) !== undefined;
  }

  /** Every cached object (in one namespace, or all), synchronously. */
  cachedObjects(namespace = ''): KubeObject[] {
    return this.cacher.listCurrent(this.prefix(namespace)).map((c) => c.object);
  }

  cachedObject(namespace: string, name: string): KubeObject | undefined {
    return this.cacher.get(this.key(namespace, name))?.object;
  }

  cacheRevision(): number {
    return this.cacher.revision();
  }

  /** The revision of the last change to this kind seen by the cache; see Cacher.changeRevision. */
  cacheChangeRevision(): number {
    return this.cacher.changeRevision();
  }

  async get(namespace: string, name: string): Promise<KubeObject> {
    const cached = this.cacher.get(this.key(namespace, name));
    if (!cached) throw notFound(this.ref(), name);
    return cached.object;
  }

  /** The latest committed state: the base of every read-modify-write. */
  private async getLatest(namespace: string, name: string): Promise<Latest | undefined> {
    const key = this.key(namespace, name);
    // With no write between storage and the watch cache, the cache holds the latest state, already
    // parsed: skip the storage read and JSON.parse. Otherwise the cache may lag, so read what is committed.
    const committed = this.storage.committedRevision?.() ?? this.storage.currentRevision();
    if (this.cacher.revision() === committed) return this.fromCache(key, true);
    return this.fromStorage(key);
  }

  private fromCache(key: string, current: boolean): Latest | undefined {
    const cached = this.cacher.get(key);
    return cached ? { obj: clone(cached.object), kv: { modRevision: cached.modRevision }, current } : undefined;
  }

  private async fromStorage(key: string): Promise<Latest | undefined> {
    const kv = await this.storage.get(key);
    return kv ? { obj: this.decode(kv), kv, current: true } : undefined;
  }

  /** Build the object predicate for label and field selectors (shared by list and watch). */
  predicate(labelSelector?: string, fieldSelector?: string): Predicate | undefined {
    const preds: Predicate[] = [];
    if (labelSelector) {
      const matches = parseLabelSelector(labelSelector);
      preds.push((o) => matches(o.metadata.labels));
    }
    if (fieldSelector) {
      const supported = ['metadata.name', 'metadata.namespace', ...this.def.selectableFields];
      preds.push(parseFieldSelector(fieldSelector, supported, fieldValue));
    }
    if (preds.length === 0) return undefined;
    if (preds.length === 1) return preds[0];
    return (o) => preds.every((p) => p(o));
  }

  async list(namespace: string, q: ListQuery): Promise<ListResult> {
    const rv = q.resourceVersion ?? '';
    const match = q.resourceVersionMatch ?? '';
    const causes: StatusCause[] = [];
    if (match && !['Exact', 'NotOlderThan'].includes(match)) {
      causes.push(fieldErrors.notSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan', '']));
    }
    if (match && !rv) {
      causes.push(fieldErrors.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
    }
    if (q.continue && match) {
      causes.push(fieldErrors.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
    }
    if (match === 'Exact' && rv === '0') {
      causes.push(fieldErrors.forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
    }
    if (q.continue && rv && rv !== '0') {
      causes.push(fieldErrors.forbidden('resourceVersion', 'specifying resource version is not allowed when using continue'));
    }
    if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 0)) {
      causes.push(fieldErrors.invalid('limit', q.limit, 'must be a non-negative integer'));
    }
    if (causes.length) throw listOptionsInvalid(causes);

    const prefix = this.prefix(namespace);
    const predicate = this.predicate(q.labelSelector, q.fieldSelector);
    const limit = q.limit && q.limit > 0 ? q.limit : undefined;
    let revision: number | undefined;
    let startAfter: string | undefined;

    if (q.continue) {
      ({ revision, startAfter } = decodeContinue(q.continue, prefix));
      if (revision < this.storage.compactedRevision()) throw this.continueExpired(namespace, q);
    } else if (rv && rv !== '0') {
      const requested = parseResourceVersion(rv);
      const exact = match === 'Exact' || (!match && limit !== undefined);
      if (exact) {
        if (requested > this.cacher.revision()) await this.waitFresh(requested);
        revision = requested;
        if (requested < this.storage.compactedRevision()) {
          throw tooOldResourceVersion(requested, this.storage.compactedRevision());
        }
      } else if (requested > this.cacher.revision()) {
        await this.waitFresh(requested);
      }
    }
    try {
      const res = await this.cacher.list(prefix, { revision, startAfter, limit, predicate });
      const out: ListResult = { items: res.items, resourceVersion: String(res.revision) };
      if (res.continueKey !== undefined) {
        out.continue = encodeContinue(res.revision, res.continueKey, prefix);
        if (res.remainingItemCount !== undefined) out.remainingItemCount = res.remainingItemCount;
      }
      return out;
    } catch (e) {
      if (e instanceof CompactedError) {
        if (q.continue) throw this.continueExpired(namespace, q);
        throw tooOldResourceVersion(e.requested, e.compacted);
      }
      throw e;
    }
  }

  private continueExpired(_namespace: string, _q: ListQuery): StatusError {
    return gone(
      'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
    );
  }

  private async waitFresh(rv: number): Promise<void> {
    try {
      await this.cacher.waitForRevision(rv, 3000);
    } catch {
      throw new StatusError(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.cacher.revision()}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      });
    }
  }

  /**
   * Start a watch. `resourceVersion` unset or "0" begins with synthetic ADDED events for the current state.
   * A compacted resourceVersion is reported through onError as a 410 Expired Status, as kube's cacher does.
   */
  watch(
    namespace: string,
    q: { resourceVersion?: string; labelSelector?: string; fieldSelector?: string },
    onEvent: (ev: CacheEvent) => void,
  ): () => void {
    const predicate = this.predicate(q.labelSelector, q.fieldSelector);
    const rv = q.resourceVersion ?? '';
    const fromRevision = rv && rv !== '0' ? parseResourceVersion(rv) : undefined;
    try {
      return this.cacher.watch(this.prefix(namespace), { fromRevision, predicate, onEvent });
    } catch (e) {
      if (e instanceof CompactedError) throw tooOldResourceVersion(e.requested, e.compacted);
      throw e;
    }
  }

  // ---- writes ----

  /** Check fields against the schema per fieldValidation, then prune what the schema does not know. */
  private checkFields(obj: KubeObject, ctx: WriteContext): void {
    const problems = [...(ctx.decodeProblems ?? []).map((p) => `duplicate field "${p}"`)];
    for (const k of Object.keys(obj.metadata ?? {})) {
      if (!knownMetadataFields.has(k)) problems.push(`unknown field "metadata.${k}"`);
    }
    for (const f of this.schema.unknownFields(obj)) problems.push(`unknown field "${f}"`);
    if (problems.length) {
      if (ctx.fieldValidation === 'Strict') throw badRequest(`strict decoding error: ${problems.join(', ')}`);
      if (ctx.fieldValidation === 'Warn') ctx.warnings.push(...problems);
    }
    for (const k of Object.keys(obj.metadata ?? {})) {
      if (!knownMetadataFields.has(k)) delete (obj.metadata as Record<string, unknown>)[k];
    }
    this.schema.prune(obj);
  }

  private checkTypeMeta(obj: unknown): asserts obj is KubeObject {
    if (!isPlainObject(obj)) throw badRequest('the object provided is unrecognized (must be a JSON object)');
    const { apiVersion, kind } = obj;
    for (const [field, v] of [['apiVersion', apiVersion], ['kind', kind]] as const) {
      if (v !== undefined && typeof v !== 'string') {
        throw badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${goType(v)} into Go struct field .${field} of type string`);
      }
    }
    if (kind === undefined || kind === '') throw badRequest("Object 'Kind' is missing in '" + JSON.stringify(obj).slice(0, 200) + "'");
    if (apiVersion !== this.apiVersion) {
      throw badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${this.apiVersion})`);
    }
    if (kind !== this.def.kind) {
      throw badRequest(`the kind in the data (${kind}) does not match the expected kind (${this.def.kind})`);
    }
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (!isPlainObject(obj.metadata)) throw badRequest(`${this.def.kind} in version "${this.def.version}" cannot be handled as a ${this.def.kind}: metadata must be an object`);
    const typeError = metadataTypeError(obj.metadata);
    if (typeError) throw badRequest(`${this.def.kind} in version "${this.def.version}" cannot be handled as a ${this.def.kind}: ${typeError}`);
  }

  private checkNamespace(obj: KubeObject, namespace: string): void {
    if (!this.def.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    if (obj.metadata.namespace === undefined || obj.metadata.namespace === '') obj.metadata.namespace = namespace;
    else if (obj.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
  }

  private validateAll(obj: KubeObject, old?: KubeObject, requestNamespace?: string, subresource = ''): void {
    // A /status write is checked against the schema only: the kind's own rules (BMO's webhook rules)
    // govern the spec users write, and must not block a controller reporting status.
    const kindRules = subresource !== 'status';
    const causes: StatusCause[] = [
      // The update check re-validates everything the create check covers, so only one runs.
      ...(old
        ? validateObjectMetaUpdate(obj.metadata, old.metadata)
        : validateObjectMeta(obj.metadata, { namespaced: this.def.namespaced, requestNamespace })),
      ...this.schema.validate(obj),
      ...(kindRules ? (this.strategy.validate?.(obj) ?? []) : []),
      ...(kindRules && old ? (this.strategy.validateUpdate?.(obj, old) ?? []) : []),
    ];
    if (causes.length) throw invalid(this.def.kind, this.def.group, obj.metadata.name ?? obj.metadata.generateName ?? '', causes);
  }

  // kube's order: built-in defaulting, mutating admission, schema and built-in validation, then
  // validating admission (policies and webhooks), so a mutating webhook cannot smuggle in an invalid object.
  private async mutatingAdmission(attrs: AdmissionAttributes, ctx: WriteContext): Promise<void> {
    for (const a of this.admission) await a.mutate?.(attrs, ctx.warnings);
  }

  private async validatingAdmission(attrs: AdmissionAttributes, ctx: WriteContext): Promise<void> {
    for (const a of this.admission) await a.validate?.(attrs, ctx.warnings);
  }

  /** Schema defaults, then the kind's own defaults. */
  private applyDefaults(obj: KubeObject): void {
    this.schema.applyDefaults(obj);
    this.strategy.default?.(obj);
  }

  private attrs(op: Operation, obj: KubeObject | undefined, old: KubeObject | undefined, ctx: WriteContext, subresource = '', options?: Record<string, unknown>): AdmissionAttributes {
    const meta = (obj ?? old)?.metadata ?? {};
    return {
      operation: op,
      group: this.def.group,
      version: this.def.version,
      kind: this.def.kind,
      resource: this.def.plural,
      subresource,
      namespace: meta.namespace ?? '',
      name: meta.name ?? '',
      object: obj,
      oldObject: old,
      dryRun: ctx.dryRun,
      user: ctx.user,
      options,
    };
  }

  private generateName(prefix: string): string {
    const base = prefix.length > maxGeneratedNameLength - 5 ? prefix.slice(0, maxGeneratedNameLength - 5) : prefix;
    let suffix = '';
    for (let i = 0; i < 5; i++) suffix += generateNameAlphabet[Math.floor(Math.random() * generateNameAlphabet.length)];
    return base + suffix;
  }

  /** Turn storage failures into API errors; anything else propagates. */
  private storageError(e: unknown, name: string): never {
    if (e instanceof KeyExistsError) throw alreadyExists(this.ref(), name);
    if (e instanceof KeyNotFoundError) throw notFound(this.ref(), name);
    if (e instanceof StorageUnavailableError) throw serviceUnavailable(`storage is unavailable: ${e.message}`);
    throw e;
  }

  async create(namespace: string, body: unknown, ctx: WriteContext): Promise<KubeObject> {
    this.checkTypeMeta(body);
    const obj = body;
    this.checkNamespace(obj, namespace);
    if (obj.metadata.resourceVersion) {
      throw invalid(this.def.kind, this.def.group, obj.metadata.name ?? '', [
        fieldErrors.invalid('metadata.resourceVersion', obj.metadata.resourceVersion, 'must be empty'),
      ]);
    }
    this.checkFields(obj, ctx);
    this.prepareForCreate(obj);
    this.applyDefaults(obj);
    const generated = !obj.metadata.name && !!obj.metadata.generateName;
    if (generated) obj.metadata.name = this.generateName(obj.metadata.generateName!);
    const attrs = this.attrs('CREATE', obj, undefined, ctx);
    await this.mutatingAdmission(attrs, ctx);
    obj.metadata.managedFields = updateManagedFields(this.fmContext(), undefined, obj, ctx.fieldManager);
    if (obj.metadata.managedFields.length === 0) delete obj.metadata.managedFields;
    this.validateAll(obj, undefined, this.def.namespaced ? namespace : undefined);
    await this.validatingAdmission(attrs, ctx);
    if (ctx.dryRun) {
      if (this.cacher.get(this.key(namespace, obj.metadata.name!))) throw alreadyExists(this.ref(), obj.metadata.name!);
      return obj;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const kv = await this.storage.create(this.key(namespace, obj.metadata.name!), this.encode(obj));
        return this.withRevision(obj, kv);
      } catch (e) {
        // RetryGenerateName: a generated name that collides is retried with a fresh suffix.
        if (e instanceof KeyExistsError && generated && attempt < 7) {
          obj.metadata.name = this.generateName(obj.metadata.generateName!);
          continue;
        }
        this.storageError(e, obj.metadata.name!);
      }
    }
  }

  private prepareForCreate(obj: KubeObject): void {
    const m = obj.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = nowRFC3339();
    m.generation = 1;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    delete m.resourceVersion;
    if (this.def.subresources.status) delete obj.status;
    this.strategy.prepareForCreate?.(obj);
  }

  private fmContext() {
    return { schema: this.def.schema, apiVersion: this.apiVersion, now: nowRFC3339 };
  }

  /**
   * Read-modify-write with optimistic concurrency against the latest stored revision, retried when a
   * concurrent writer got there first (unless the caller pinned a resourceVersion: then it is a 409).
   */
  private async guaranteedUpdate(
    namespace: string,
    name: string,
    ctx: WriteContext,
    subresource: string,
    tryUpdate: (current: KubeObject | undefined) => Promise<{ obj: KubeObject; pinnedRV?: string; created?: boolean }>,
  ): Promise<{ obj: KubeObject; created: boolean }> {
    const key = this.key(namespace, name);
    // As k8s.io/apiserver's etcd3 store: start from the watch cache's copy even while writes are in flight,
    // and let the storage's compare-and-swap tell whether it was current; a conflict carries the stored
    // state, so the common update costs one storage round trip, not a read and a write.
    let latest = this.fromCache(key, false);
    // Every conflict means another writer succeeded, so the loop always progresses; the bound is for
    // writers racing on one object (kube retries without one), not for a livelock.
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (!latest) latest = await this.getLatest(namespace, name);
      const { obj, pinnedRV, created } = await tryUpdate(latest ? clone(latest.obj) : undefined);
      if (!latest) {
        // Only apply creates through an update path.
        if (!created) throw notFound(this.ref(), name);
        if (ctx.dryRun) return { obj, created: true };
        try {
          const kv = await this.storage.create(key, this.encode(obj));
          return { obj: this.withRevision(obj, kv), created: true };
        } catch (e) {
          if (e instanceof KeyExistsError) continue;
          this.storageError(e, name);
        }
      }
      const old = latest.obj;
      // A mismatch or a no-op decided against a copy that may be stale is decided again on the stored state.
      const settled = (decision: boolean) => {
        if (!decision || latest!.current) return true;
        latest = undefined;
        return false;
      };
      if (pinnedRV !== undefined && pinnedRV !== old.metadata.resourceVersion) {
        if (settled(true)) throw staleObject(this.ref(), name);
        continue;
      }
      if (sameContent(obj, old)) {
        if (settled(true)) return { obj: old, created: false };
        continue;
      }
      // The last finalizer removed from an object being deleted completes the deletion.
      const finishDelete = !!obj.metadata.deletionTimestamp && (obj.metadata.finalizers ?? []).length === 0;
      if (ctx.dryRun) return { obj, created: false };
      try {
        if (finishDelete) {
          const kv = await this.storage.delete(key, latest.kv.modRevision);
          return { obj: this.withRevision(obj, kv), created: false };
        }
        const kv = await this.storage.update(key, this.encode(obj), latest.kv.modRevision);
        return { obj: this.withRevision(obj, kv), created: false };
      } catch (e) {
        if (e instanceof RevisionConflictError) {
          if (pinnedRV !== undefined && latest.current) throw staleObject(this.ref(), name);
          latest = { obj: this.decode(e.current), kv: e.current, current: true };
          continue;
        }
        if (e instanceof KeyNotFoundError) {
          if (pinnedRV !== undefined && latest.current) throw staleObject(this.ref(), name);
          latest = undefined;
          continue;
        }
        this.storageError(e, name);
      }
    }
    void subresource;
    throw conflict(this.ref(), name, 'the object has been modified too often; please retry');
  }

  /** The common tail of PUT, PATCH and apply: metadata rules, defaults, validation, admission. */
  private async finishUpdate(
    obj: KubeObject,
    old: KubeObject,
    ctx: WriteContext,
    subresource: string,
    namespace: string,
    managed: 'update' | 'applied',
    operation: Operation = 'UPDATE',
  ): Promise<KubeObject> {
    const m = obj.metadata;
    const om = old.metadata;
    if (subresource === 'status') {
      // Writes to /status change status only.
      const status = obj.status;
      const next = clone(old);
      if (status === undefined) delete next.status;
      else next.status = status;
      next.metadata.managedFields = m.managedFields;
      next.metadata.resourceVersion = m.resourceVersion;
      obj = next;
    } else if (this.def.subresources.status) {
      if (old.status === undefined) delete obj.status;
      else obj.status = clone(old.status);
    }
    const meta = obj.metadata;
    // Fields the server owns: clients cannot set or change them through an update.
    if (!meta.uid) meta.uid = om.uid;
    meta.creationTimestamp = om.creationTimestamp;
    if (om.deletionTimestamp) {
      meta.deletionTimestamp = om.deletionTimestamp;
      meta.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    delete meta.selfLink;
    if (meta.generateName === undefined && om.generateName !== undefined) meta.generateName = om.generateName;
    meta.generation = om.generation ?? 1;
    if (subresource !== 'status') this.strategy.prepareForUpdate?.(obj, old);
    this.applyDefaults(obj);
    const attrs = this.attrs(operation, obj, old, ctx, subresource);
    await this.mutatingAdmission(attrs, ctx);
    if (!deepEqual(specPart(obj), specPart(old))) meta.generation = (om.generation ?? 0) + 1;
    if (managed === 'update' && !sameContent(obj, old)) {
      meta.managedFields = updateManagedFields(this.fmContext(), old, obj, ctx.fieldManager, subresource || undefined);
      if (meta.managedFields.length === 0) delete meta.managedFields;
    }
    this.validateAll(obj, old, this.def.namespaced ? namespace : undefined, subresource);
    await this.validatingAdmission(attrs, ctx);
    return obj;
  }

  /** PUT */
  async update(namespace: string, name: string, body: unknown, ctx: WriteContext, subresource = ''): Promise<{ obj: KubeObject; created: boolean }> {
    this.checkTypeMeta(body);
    const input = body;
    this.checkNamespace(input, namespace);
    if (input.metadata.name !== name) {
      throw badRequest(`the name of the object (${input.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    }
    const pinned = input.metadata.resourceVersion;
    if (!pinned) {
      throw invalid(this.def.kind, this.def.group, name, [
        fieldErrors.invalid('metadata.resourceVersion', '0x0', 'must be specified for an update'),
      ]);
    }
    parseResourceVersion(pinned, 'resourceVersion');
    this.checkFields(input, ctx);
    return this.guaranteedUpdate(namespace, name, ctx, subresource, async (current) => {
      if (!current) throw notFound(this.ref(), name);
      const obj = clone(input);
      if (obj.metadata.managedFields === undefined) obj.metadata.managedFields = current.metadata.managedFields;
      return { obj: await this.finishUpdate(obj, current, ctx, subresource, namespace, 'update'), pinnedRV: pinned };
    });
  }

  /** PATCH: json-patch, merge-patch or server-side apply. */
  async patch(
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    ctx: WriteContext,
    opts: {
      force: boolean;
      subresource?: string;
      applyPatch?: (doc: unknown, patch: unknown) => unknown;
      /** What admission is told: action subresources are POSTs, so CREATE (with the host as object). */
      operation?: Operation;
    },
  ): Promise<{ obj: KubeObject; created: boolean }> {
    const subresource = opts.subresource ?? '';
    if (type === 'apply') {
      this.checkTypeMeta(patch);
      const applied = patch;
      if (applied.metadata.name !== undefined && applied.metadata.name !== name) {
        throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
      }
      applied.metadata.name = name;
      this.checkNamespace(applied, namespace);
      this.checkFields(applied, ctx);
      const pinned = applied.metadata.resourceVersion;
      return this.guaranteedUpdate(namespace, name, ctx, subresource, async (current) => {
        const merged = applyConfiguration(this.fmContext(), current, clone(applied), ctx.fieldManager, {
          force: opts.force,
          subresource: subresource || undefined,
        });
        if (!current) {
          if (subresource) throw notFound(this.ref(), name);
          merged.metadata.namespace = this.def.namespaced ? namespace : undefined;
          if (!this.def.namespaced) delete merged.metadata.namespace;
          const managedFields = merged.metadata.managedFields;
          this.prepareForCreate(merged);
          merged.metadata.managedFields = managedFields;
          this.applyDefaults(merged);
          const attrs = this.attrs('CREATE', merged, undefined, ctx);
          await this.mutatingAdmission(attrs, ctx);
          this.validateAll(merged, undefined, this.def.namespaced ? namespace : undefined);
          await this.validatingAdmission(attrs, ctx);
          return { obj: merged, created: true };
        }
        return {
          obj: await this.finishUpdate(merged, current, ctx, subresource, namespace, 'applied'),
          pinnedRV: pinned || undefined,
        };
      });
    }
    return this.guaranteedUpdate(namespace, name, ctx, subresource, async (current) => {
      if (!current) throw notFound(this.ref(), name);
      const patched = opts.applyPatch!(current, patch);
      if (!isPlainObject(patched)) throw badRequest('the patch produced something that is not an object');
      const obj = patched as KubeObject;
      this.checkTypeMeta(obj);
      // A resourceVersion the patch set (or kept, with a `test`) is a precondition.
      const pinned = obj.metadata.resourceVersion !== current.metadata.resourceVersion ? obj.metadata.resourceVersion : undefined;
      if (obj.metadata.name !== name) {
        throw invalid(this.def.kind, this.def.group, name, [fieldErrors.invalid('metadata.name', obj.metadata.name, 'field is immutable')]);
      }
      if (this.def.namespaced && obj.metadata.namespace !== namespace) {
        throw invalid(this.def.kind, this.def.group, name, [fieldErrors.invalid('metadata.namespace', obj.metadata.namespace, 'field is immutable')]);
      }
      this.checkFields(obj, ctx);
      if (pinned !== undefined) obj.metadata.resourceVersion = current.metadata.resourceVersion;
      return {
        obj: await this.finishUpdate(obj, current, ctx, subresource, namespace, 'update', opts.operation),
        pinnedRV: pinned === undefined ? undefined : String(pinned),
      };
    });
  }

  /** DELETE: immediate, or marks the object for deletion while finalizers remain. Returns the object. */
  async delete(namespace: string, name: string, options: DeleteOptions, ctx: WriteContext): Promise<{ obj: KubeObject; deleted: boolean }> {
    for (let attempt = 0; attempt < 16; attempt++) {
      const latest = await this.getLatest(namespace, name);
      if (!latest) throw notFound(this.ref(), name);
      const obj = latest.obj;
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== obj.metadata.uid) {
        throw this.preconditionFailed(name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
        throw this.preconditionFailed(
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
        );
      }
      if (this.admission.length) {
        const attrs = this.attrs('DELETE', undefined, obj, ctx, '', { kind: 'DeleteOptions', ...options });
        await this.mutatingAdmission(attrs, ctx);
        await this.validatingAdmission(attrs, ctx);
      }
      if ((obj.metadata.finalizers ?? []).length > 0) {
        if (obj.metadata.deletionTimestamp) return { obj, deleted: false };
        const next = clone(obj);
        next.metadata.deletionTimestamp = nowRFC3339();
        next.metadata.deletionGracePeriodSeconds = 0;
        next.metadata.generation = (next.metadata.generation ?? 0) + 1;
        if (ctx.dryRun) return { obj: next, deleted: false };
        try {
          const kv = await this.storage.update(this.key(namespace, name), this.encode(next), latest.kv.modRevision);
          return { obj: this.withRevision(next, kv), deleted: false };
        } catch (e) {
          if (e instanceof RevisionConflictError || e instanceof KeyNotFoundError) continue;
          this.storageError(e, name);
        }
      }
      if (ctx.dryRun) return { obj, deleted: true };
      try {
        const kv = await this.storage.delete(this.key(namespace, name), latest.kv.modRevision);
        return { obj: this.withRevision(obj, kv), deleted: true };
      } catch (e) {
        if (e instanceof RevisionConflictError || e instanceof KeyNotFoundError) continue;
        this.storageError(e, name);
      }
    }
    throw conflict(this.ref(), name, 'the object has been modified too often; please retry');
  }

  // kube reports a failed precondition as a storage conflict: storeerr.InterpretDeleteError → NewConflict.
  private preconditionFailed(name: string, message: string): StatusError {
    return conflict(this.ref(), name, message);
  }

  async deleteCollection(namespace: string, q: ListQuery, options: DeleteOptions, ctx: WriteContext): Promise<KubeObject[]> {
    const { items } = await this.list(namespace, { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector });
    const out: KubeObject[] = [];
    for (const item of items) {
      const meta = item.object.metadata;
      try {
        const { obj } = await this.delete(meta.namespace ?? '', meta.name!, options, ctx);
        out.push(obj);
      } catch (e) {
        if (e instanceof StatusError && e.code === 404) continue;
        throw e;
      }
    }
    return out;
  }
}

export function storagePrefix(def: Pick<ResourceDefinition, 'group' | 'plural'>): string {
  return `/${def.group || 'core'}/${def.plural}/`;
}

/** Field selector values: metadata.name/namespace, and the kind's selectable fields. */
function fieldValue(obj: KubeObject, field: string): string | undefined {
  if (field === 'metadata.name') return obj.metadata.name ?? '';
  if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
  const v = jsonPathValue(obj, field);
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const metadataFieldTypes: Record<string, 'string' | 'integer' | 'stringMap' | 'stringList' | 'objectList'> = {
  name: 'string',
  generateName: 'string',
  namespace: 'string',
  uid: 'string',
  resourceVersion: 'string',
  selfLink: 'string',
  creationTimestamp: 'string',
  deletionTimestamp: 'string',
  generation: 'integer',
  deletionGracePeriodSeconds: 'integer',
  labels: 'stringMap',
  annotations: 'stringMap',
  finalizers: 'stringList',
  ownerReferences: 'objectList',
  managedFields: 'objectList',
};

/**
 * kube decodes metadata into the typed ObjectMeta, so a label that is a number or a finalizer list that is
 * a string is a 400 before validation; without this check such values were stored as sent. Nulls decode to
 * the zero value, which is dropped here as Go's omitempty would.
 */
function metadataTypeError(meta: Record<string, unknown>): string | undefined {
  const fail = (field: string, v: unknown, want: string) => `json: cannot unmarshal ${goType(v)} into Go struct field ObjectMeta.metadata.${field} of type ${want}`;
  for (const [field, type] of Object.entries(metadataFieldTypes)) {
    const v = meta[field];
    if (v === undefined) continue;
    if (v === null) {
      delete meta[field];
      continue;
    }
    switch (type) {
      case 'string':
        if (typeof v !== 'string') return fail(field, v, 'string');
        break;
      case 'integer':
        if (typeof v !== 'number' || !Number.isInteger(v)) return fail(field, v, 'int64');
        break;
      case 'stringMap':
        if (!isPlainObject(v)) return fail(field, v, 'map[string]string');
        for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') return fail(`${field}.${k}`, x, 'string');
        break;
      case 'stringList':
        if (!Array.isArray(v)) return fail(field, v, '[]string');
        for (const x of v) if (typeof x !== 'string') return fail(field, x, 'string');
        break;
      case 'objectList':
        if (!Array.isArray(v)) return fail(field, v, `[]v1.${field === 'managedFields' ? 'ManagedFieldsEntry' : 'OwnerReference'}`);
        for (const x of v) if (!isPlainObject(x)) return fail(field, x, `v1.${field === 'managedFields' ? 'ManagedFieldsEntry' : 'OwnerReference'}`);
        break;
    }
  }
  return undefined;
}
