// AdmissionReview v1 as kube-apiserver sends it to a webhook and checks what comes back
// (k8s.io/apiserver/pkg/admission/plugin/webhook/request/admissionreview.go).
import type { AdmissionAttributes } from '../types.ts';

type JSONObject = Record<string, unknown>;

const isRecord = (v: unknown): v is JSONObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const optionsKind = { CREATE: 'CreateOptions', UPDATE: 'UpdateOptions', DELETE: 'DeleteOptions' } as const;

/**
 * The operation's options object: the one the server passed, else the empty options kube would have
 * decoded for this verb, so a webhook can always read `options.kind`.
 */
function requestOptions(attrs: AdmissionAttributes): JSONObject | null {
  if (attrs.operation === 'CONNECT') return attrs.options ? { ...attrs.options } : null;
  const kind = optionsKind[attrs.operation];
  const options: JSONObject = { kind, apiVersion: 'meta.k8s.io/v1', ...(attrs.options ?? {}) };
  if (attrs.dryRun && options.dryRun === undefined) options.dryRun = ['All'];
  return options;
}

function userInfo(attrs: AdmissionAttributes): JSONObject {
  const u: JSONObject = {};
  if (attrs.user.name) u.username = attrs.user.name;
  if (attrs.user.uid) u.uid = attrs.user.uid;
  if (attrs.user.groups?.length) u.groups = [...attrs.user.groups];
  if (attrs.user.extra && Object.keys(attrs.user.extra).length) u.extra = attrs.user.extra;
  return u;
}

/** The `request` of an AdmissionReview; also what CEL matchConditions see as `request`. */
export function admissionRequest(attrs: AdmissionAttributes, uid: string): JSONObject {
  const kind = { group: attrs.group, version: attrs.version, kind: attrs.kind };
  const resource = { group: attrs.group, version: attrs.version, resource: attrs.resource };
  // We serve one version and convert nothing, so the request's own kind and resource are the ones sent.
  const req: JSONObject = { uid, kind, resource };
  if (attrs.subresource) req.subResource = attrs.subresource;
  req.requestKind = { ...kind };
  req.requestResource = { ...resource };
  if (attrs.subresource) req.requestSubResource = attrs.subresource;
  if (attrs.name) req.name = attrs.name;
  if (attrs.namespace) req.namespace = attrs.namespace;
  req.operation = attrs.operation;
  req.userInfo = userInfo(attrs);
  req.object = attrs.object ?? null;
  req.oldObject = attrs.oldObject ?? null;
  req.dryRun = attrs.dryRun;
  req.options = requestOptions(attrs);
  return req;
}

export const admissionReview = (request: JSONObject) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request,
});

export interface AdmissionResponse {
  allowed: boolean;
  /** The webhook's Status, when it denies. */
  result?: unknown;
  /** Decoded JSONPatch bytes; mutating webhooks only. */
  patch?: Buffer;
  warnings: string[];
  auditAnnotations: Record<string, string>;
}

/**
 * A response kube would not accept. `decode` errors are the ones Go's JSON decoder raises while reading
 * the body (kube reports them as "failed to call webhook"), the rest fail VerifyAdmissionResponse.
 */
export class InvalidResponseError extends Error {
  readonly decode: boolean;
  constructor(message: string, decode = false) {
    super(message);
    this.decode = decode;
  }
}

/** Go's GroupVersionKind.String(): `group/version, Kind=kind`, with an empty group for core. */
function gvkString(apiVersion: unknown, kind: unknown): string {
  const av = typeof apiVersion === 'string' ? apiVersion : '';
  const slash = av.indexOf('/');
  const [group, version] = slash >= 0 ? [av.slice(0, slash), av.slice(slash + 1)] : ['', av];
  return `${group}/${version}, Kind=${typeof kind === 'string' ? kind : ''}`;
}

const base64Alphabet = /[A-Za-z0-9+/=]/;

/** Go's encoding/json decodes []byte as padded standard base64 and names the first bad byte. */
function decodeBase64(text: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (!base64Alphabet.test(text[i])) throw new InvalidResponseError(`illegal base64 data at input byte ${i}`, true);
  }
  const pad = text.indexOf('=');
  if (text.length % 4 !== 0 || (pad >= 0 && (pad < text.length - 2 || /[^=]/.test(text.slice(pad))))) {
    throw new InvalidResponseError(`illegal base64 data at input byte ${pad >= 0 ? pad : text.length}`, true);
  }
  return Buffer.from(text, 'base64');
}

function stringList(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((w) => typeof w !== 'string')) {
    throw new InvalidResponseError(`json: cannot unmarshal ${field} into Go struct field AdmissionResponse.response.${field} of type []string`, true);
  }
  return v as string[];
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v) || Object.values(v).some((w) => typeof w !== 'string')) {
    throw new InvalidResponseError(
      `json: cannot unmarshal ${field} into Go struct field AdmissionResponse.response.${field} of type map[string]string`,
      true,
    );
  }
  return v as Record<string, string>;
}

/** What kube checks before it believes a webhook: same uid, the v1 kind, and a patch only where allowed. */
export function verifyAdmissionResponse(uid: string, mutating: boolean, review: unknown): AdmissionResponse {
  if (!isRecord(review)) throw new InvalidResponseError('webhook response was absent');
  const response = review.response;
  if (!isRecord(response)) throw new InvalidResponseError('webhook response was absent');
  const gotUID = typeof response.uid === 'string' ? response.uid : '';
  if (gotUID !== uid) throw new InvalidResponseError(`expected response.uid="${uid}", got "${gotUID}"`);
  if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') {
    throw new InvalidResponseError(
      `expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${gvkString(review.apiVersion, review.kind)}`,
    );
  }
  const patchText = typeof response.patch === 'string' ? response.patch : '';
  const patchType = typeof response.patchType === 'string' ? response.patchType : '';
  const patch = patchText ? decodeBase64(patchText) : undefined;
  if (patch?.length || patchType) {
    if (!patch?.length) throw new InvalidResponseError(`webhook returned patchType=${JSON.stringify(patchType)} without patch`);
    if (!patchType) throw new InvalidResponseError('webhook returned patch without patchType');
    if (!mutating) throw new InvalidResponseError('validating webhook may not return a patch');
    if (patchType !== 'JSONPatch') throw new InvalidResponseError(`webhook returned invalid patchType=${JSON.stringify(patchType)}`);
  }
  return {
    allowed: response.allowed === true,
    result: response.status,
    patch: patch?.length ? patch : undefined,
    warnings: stringList(response.warnings, 'warnings'),
    auditAnnotations: stringMap(response.auditAnnotations, 'auditAnnotations'),
  };
}
