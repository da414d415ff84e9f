// AdmissionReview v1 endpoints at BMO's paths, so a cluster running the generated CRDs can point its
// webhook configurations here instead of at BMO. The checks are the ones the API runs: the kind's schema
// and the built-in rules for /validate, schema and built-in defaults for /mutate.

import express, { type NextFunction, type Request, type Response } from 'express';
import { isDeepStrictEqual } from 'node:util';
import { metal3Kinds } from '../api/index.ts';
import { compileSchema, type FieldCause } from '../api/schema.ts';
import { maxNestingDepth, scanJSONText } from '../api/nesting.ts';
import { badRequest, StatusError } from '../api/status.ts';
import { apiVersionOf, type KubeObject, type ResourceDefinition } from '../api/types.ts';
import { builtinStrategies, type BuiltinOptions, type BuiltinStrategy } from './builtin/index.ts';

const reviewVersions = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];
const operations = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface JSONPatchOperation {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const pointer = (base: string, key: string) => `${base}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

/**
 * RFC 6902 operations turning `from` into `to`. Objects are diffed key by key; an array that changed is
 * replaced whole, since index-wise patches of lists are fragile and defaulting rarely touches them.
 */
export function jsonPatchDiff(from: unknown, to: unknown, path = ''): JSONPatchOperation[] {
  if (isDeepStrictEqual(from, to)) return [];
  if (!isObj(from) || !isObj(to)) return [{ op: 'replace', path, value: to }];
  const ops: JSONPatchOperation[] = [];
  for (const key of Object.keys(from)) {
    if (!(key in to)) ops.push({ op: 'remove', path: pointer(path, key) });
  }
  for (const [key, value] of Object.entries(to)) {
    if (!(key in from)) ops.push({ op: 'add', path: pointer(path, key), value });
    else ops.push(...jsonPatchDiff(from[key], value, pointer(path, key)));
  }
  return ops;
}

class BadReview extends Error {}

interface ReviewRequest {
  uid: string;
  operation: string;
  object?: KubeObject;
  oldObject?: KubeObject;
}

function readBody(req: Request): unknown {
  const body: unknown = req.body;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined;
  if (text === undefined) {
    if (isObj(body)) return body;
    throw new BadReview('the request body must be an AdmissionReview in JSON');
  }
  if (text.trim() === '') throw new BadReview('the request body is empty; expected an AdmissionReview in JSON');
  // A deeply nested body overflowed the stack further on and reached express's HTML 500.
  if (scanJSONText(text).tooDeep) throw new BadReview(`the request body nests deeper than ${maxNestingDepth} levels`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadReview(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

function checkObject(v: unknown, field: string, def: ResourceDefinition): KubeObject {
  if (!isObj(v)) throw new BadReview(`request.${field} must be a ${def.kind} object`);
  const want = apiVersionOf(def);
  if (v.apiVersion !== want || v.kind !== def.kind) {
    throw new BadReview(
      `request.${field} is ${JSON.stringify(v.apiVersion)} ${JSON.stringify(v.kind)}, but this endpoint serves ${want} ${def.kind}`,
    );
  }
  if (!isObj(v.metadata)) throw new BadReview(`request.${field}.metadata must be an object`);
  return v as KubeObject;
}

function parseReview(body: unknown, def: ResourceDefinition): { apiVersion: string; request: ReviewRequest } {
  if (!isObj(body)) throw new BadReview('the request body must be a JSON object: an AdmissionReview');
  if (body.kind !== 'AdmissionReview') throw new BadReview(`expected kind "AdmissionReview", got ${JSON.stringify(body.kind)}`);
  if (typeof body.apiVersion !== 'string' || !reviewVersions.includes(body.apiVersion)) {
    throw new BadReview(`unsupported AdmissionReview apiVersion ${JSON.stringify(body.apiVersion)}; expected admission.k8s.io/v1`);
  }
  const r = body.request;
  if (!isObj(r)) throw new BadReview('the AdmissionReview has no request');
  if (typeof r.uid !== 'string' || r.uid === '') throw new BadReview('request.uid is required');
  if (typeof r.operation !== 'string' || !operations.includes(r.operation)) {
    throw new BadReview(`request.operation must be one of ${operations.join(', ')}, got ${JSON.stringify(r.operation)}`);
  }
  const request: ReviewRequest = { uid: r.uid, operation: r.operation };
  if (r.operation === 'CREATE' || r.operation === 'UPDATE') request.object = checkObject(r.object, 'object', def);
  if (r.operation === 'UPDATE') request.oldObject = checkObject(r.oldObject, 'oldObject', def);
  return { apiVersion: body.apiVersion, request };
}

/** As field.ErrorList.ToAggregate renders causes: one, or all of them in brackets. */
function denialMessage(def: ResourceDefinition, obj: KubeObject, causes: FieldCause[]): string {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const summary = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return `${def.kind}.${def.group} "${obj.metadata.name ?? obj.metadata.generateName ?? ''}" is invalid: ${summary}`;
}

/** kube's warning for a field the schema does not know (it is pruned, not rejected). */
const unknownFieldWarnings = (def: ResourceDefinition, obj: KubeObject) =>
  compileSchema(def).unknownFields(obj).map((f) => `unknown field "${f}"`);

type ReviewResponse = Record<string, unknown>;

function validate(def: ResourceDefinition, strategy: BuiltinStrategy, r: ReviewRequest): ReviewResponse {
  if (!r.object) return { uid: r.uid, allowed: true, status: { code: 200 } };
  const obj = r.object;
  const causes = [
    ...compileSchema(def).validate(obj),
    ...(strategy.validate?.(obj) ?? []),
    ...(r.oldObject ? (strategy.validateUpdate?.(obj, r.oldObject) ?? []) : []),
  ];
  const warnings = unknownFieldWarnings(def, obj);
  const response: ReviewResponse = { uid: r.uid, allowed: causes.length === 0 };
  // controller-runtime's denial: 403 Forbidden with the aggregated message; the causes ride along in details.
  response.status =
    causes.length === 0
      ? { code: 200 }
      : {
          code: 403,
          reason: 'Forbidden',
          message: denialMessage(def, obj, causes),
          details: { name: obj.metadata.name, group: def.group, kind: def.plural, causes },
        };
  if (warnings.length) response.warnings = warnings;
  return response;
}

function mutate(def: ResourceDefinition, strategy: BuiltinStrategy, r: ReviewRequest): ReviewResponse {
  const response: ReviewResponse = { uid: r.uid, allowed: true, status: { code: 200 } };
  if (!r.object) return response;
  const defaulted = structuredClone(r.object);
  compileSchema(def).applyDefaults(defaulted);
  strategy.default?.(defaulted);
  const patch = jsonPatchDiff(r.object, defaulted);
  if (patch.length) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  return response;
}

function sendBadRequest(res: Response, message: string): void {
  res.status(400).type('application/json').send(JSON.stringify(badRequest(message).toStatus()));
}

/** POST /validate-metal3-io-v1alpha1-<kind> and /mutate-metal3-io-v1alpha1-<kind> for every metal3.io kind. */
export function admissionReviewRouter(opts: BuiltinOptions): express.Router {
  const router = express.Router();
  const strategies = builtinStrategies(opts);
  const raw = express.raw({ type: () => true, limit: '3mb' });

  for (const def of metal3Kinds) {
    const strategy = strategies[def.plural] ?? {};
    const suffix = `${def.group.replace(/\./g, '-')}-${def.version}-${def.kind.toLowerCase()}`;
    const serve = (review: typeof validate) => (req: Request, res: Response) => {
      let parsed: ReturnType<typeof parseReview>;
      try {
        parsed = parseReview(readBody(req), def);
      } catch (e) {
        if (e instanceof BadReview) return sendBadRequest(res, e.message);
        throw e;
      }
      const response = review(def, strategy, parsed.request);
      res.status(200).json({ apiVersion: parsed.apiVersion, kind: 'AdmissionReview', response });
    };
    router.post(`/validate-${suffix}`, raw, serve(validate));
    router.post(`/mutate-${suffix}`, raw, serve(mutate));
  }

  // Body-parser failures (too large, bad encoding) become a 400 here rather than the app's error page.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = isObj(err) && typeof err.status === 'number' ? err.status : 500;
    const message = err instanceof Error ? err.message : String(err);
    if (status >= 400 && status < 500) {
      const reason = status === 413 ? 'RequestEntityTooLarge' : 'BadRequest';
      res.status(status).type('application/json').send(JSON.stringify(new StatusError(status, reason, message).toStatus()));
      return;
    }
    next(err);
  });
  return router;
}
