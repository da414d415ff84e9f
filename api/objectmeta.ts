// ObjectMeta validation as k8s.io/apimachinery's ValidateObjectMetaAccessor(Update) applies it to a
// custom resource, plus the name validators (util/validation) that label selectors reuse.
// Messages are kube's, word for word, because clients and tests match on them.

import type { ManagedFieldsEntry, ObjectMeta, OwnerReference } from './types.ts';
import { badRequest, fieldErrors, type StatusCause } from './status.ts';

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_MAX = 63;
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX = 253;
const QNAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QNAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QNAME_MAX = 63;
const LABEL_VALUE_FMT = `(${QNAME_FMT})?`;
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX = 63;

/** kube's TotalAnnotationSizeLimitB: keys plus values, in bytes. */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

const whole = (fmt: string) => new RegExp(`^(?:${fmt})$`);
const dns1123Label = whole(DNS1123_LABEL_FMT);
const dns1123Subdomain = whole(DNS1123_SUBDOMAIN_FMT);
const qualifiedNamePart = whole(QNAME_FMT);
const labelValue = whole(LABEL_VALUE_FMT);

// Go measures strings in bytes; so must we, or multi-byte input slips past the limits.
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

const maxLenError = (n: number) => `must be no more than ${n} characters`;
const EMPTY_ERROR = 'must be non-empty';

/** validation.RegexError: `msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')`, double space included. */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  const eg = examples.map((e) => `'${e}', `).join(' or ');
  return `${msg} (e.g. ${eg}regex used for validation is '${fmt}')`;
}

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > DNS1123_LABEL_MAX) errs.push(maxLenError(DNS1123_LABEL_MAX));
  if (!dns1123Label.test(value)) {
    // A valid subdomain that is not a valid label can only be failing on its dots.
    if (dns1123Subdomain.test(value)) errs.push('must not contain dots');
    else errs.push(regexError(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, 'my-name', '123-abc'));
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX));
  if (!dns1123Subdomain.test(value)) errs.push(regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, 'example.com'));
  return errs;
}

/** Label keys, annotation keys and finalizers: `[prefix/]name`. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push(`prefix part ${EMPTY_ERROR}`);
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${regexError(QNAME_MSG, QNAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push(`name part ${EMPTY_ERROR}`);
  else if (byteLength(name) > QNAME_MAX) errs.push(`name part ${maxLenError(QNAME_MAX)}`);
  if (!qualifiedNamePart.test(name)) {
    errs.push(`name part ${regexError(QNAME_MSG, QNAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  }
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > LABEL_VALUE_MAX) errs.push(maxLenError(LABEL_VALUE_MAX));
  if (!labelValue.test(value)) errs.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return errs;
}

/** NameIsDNSSubdomain: a generateName prefix may end in '-', since random characters follow it. */
function nameIsDNSSubdomain(name: string, prefix: boolean): string[] {
  const masked = prefix && name.length > 1 && name.endsWith('-') ? `${name.slice(0, -1)}a` : name;
  return isDNS1123Subdomain(masked);
}

/** Whether `name` may name a custom resource (as a URL path segment too). */
export function isValidName(name: string): boolean {
  return name.length > 0 && nameIsDNSSubdomain(name, false).length === 0;
}

/** Messages for a namespace name that is not a DNS-1123 label; empty when valid. */
export function validateNamespaceName(ns: string): string[] {
  return isDNS1123Label(ns);
}

export function validateLabels(labels: Record<string, string> | undefined, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const m of isQualifiedName(k)) causes.push(fieldErrors.invalid(field, k, m));
    for (const m of isValidLabelValue(String(v))) causes.push(fieldErrors.invalid(field, v, m));
  }
  return causes;
}

export function validateAnnotations(annotations: Record<string, string> | undefined, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    // Annotation keys are case-insensitive qualified names.
    for (const m of isQualifiedName(k.toLowerCase())) causes.push(fieldErrors.invalid(field, k, m));
    size += byteLength(k) + byteLength(String(v));
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) causes.push(fieldErrors.tooLong(field, '', TOTAL_ANNOTATION_SIZE_LIMIT));
  return causes;
}

export function validateFinalizers(finalizers: string[] | undefined, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const list = finalizers ?? [];
  for (const f of list) {
    for (const m of isQualifiedName(f)) causes.push(fieldErrors.invalid(field, f, m));
  }
  if (list.includes('orphan') && list.includes('foregroundDeletion')) {
    causes.push(fieldErrors.invalid(field, list, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return causes;
}

/** schema.FromAPIVersionAndKind's version: empty when apiVersion does not parse as `[group/]version`. */
function versionOf(apiVersion: string): string {
  const parts = apiVersion.split('/');
  if (parts.length === 1) return parts[0];
  if (parts.length === 2) return parts[1];
  return '';
}

export function validateOwnerReferences(refs: OwnerReference[] | undefined, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  let firstController = '';
  for (const ref of refs ?? []) {
    const apiVersion = ref.apiVersion ?? '';
    const kind = ref.kind ?? '';
    if (versionOf(apiVersion) === '') {
      causes.push(fieldErrors.invalid(`${field}.apiVersion`, apiVersion, 'version must not be empty'));
    }
    if (kind === '') causes.push(fieldErrors.invalid(`${field}.kind`, kind, 'must not be empty'));
    if (!ref.name) causes.push(fieldErrors.invalid(`${field}.name`, ref.name ?? '', 'must not be empty'));
    if (!ref.uid) causes.push(fieldErrors.invalid(`${field}.uid`, ref.uid ?? '', 'must not be empty'));
    // Events are the one kind kube bans as an owner (BannedOwners).
    if (apiVersion === 'v1' && kind === 'Event') {
      causes.push(fieldErrors.invalid(field, ref, '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (ref.controller === true) {
      const current = `${kind}/${ref.name ?? ''}`;
      if (firstController !== '') {
        causes.push(
          fieldErrors.invalid(
            field,
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`,
          ),
        );
      } else {
        firstController = current;
      }
    }
  }
  return causes;
}

function validateManagedFields(entries: ManagedFieldsEntry[] | undefined, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  (entries ?? []).forEach((e, i) => {
    if (e.operation !== 'Apply' && e.operation !== 'Update') {
      causes.push(fieldErrors.invalid(`${field}[${i}].operation`, e.operation ?? '', 'must be `Apply` or `Update`'));
    }
    if (e.fieldsType && e.fieldsType !== 'FieldsV1') {
      causes.push(fieldErrors.invalid(`${field}[${i}].fieldsType`, e.fieldsType, 'must be `FieldsV1`'));
    }
  });
  return causes;
}

/**
 * Validates the metadata of an object being created. `requestNamespace` is the namespace from the URL:
 * it stands in for an empty `metadata.namespace`, and a different one in the body is kube's
 * 400 BadRequest (thrown, not returned, because kube answers it before validation).
 * Like kube, a namespace on a cluster-scoped object is reported (`Forbidden`); kube's create path
 * clears it first, so callers that want kube's observable behaviour should clear it before calling.
 */
export function validateObjectMeta(meta: ObjectMeta, opts: { namespaced: boolean; requestNamespace?: string }): StatusCause[] {
  const causes: StatusCause[] = [];
  const generateName = meta.generateName ?? '';
  const name = meta.name ?? '';

  if (generateName !== '') {
    for (const m of nameIsDNSSubdomain(generateName, true)) {
      causes.push(fieldErrors.invalid('metadata.generateName', generateName, m));
    }
  }
  if (name === '') {
    if (generateName === '') causes.push(fieldErrors.required('metadata.name', 'name or generateName is required'));
  } else {
    for (const m of nameIsDNSSubdomain(name, false)) causes.push(fieldErrors.invalid('metadata.name', name, m));
  }

  const bodyNamespace = meta.namespace ?? '';
  if (opts.namespaced) {
    const requestNamespace = opts.requestNamespace ?? '';
    if (bodyNamespace !== '' && requestNamespace !== '' && bodyNamespace !== requestNamespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const namespace = bodyNamespace || requestNamespace;
    if (namespace === '') causes.push(fieldErrors.required('metadata.namespace'));
    else for (const m of validateNamespaceName(namespace)) causes.push(fieldErrors.invalid('metadata.namespace', namespace, m));
  } else if (bodyNamespace !== '') {
    causes.push(fieldErrors.forbidden('metadata.namespace', 'not allowed on this type'));
  }

  if (typeof meta.generation === 'number' && meta.generation < 0) {
    causes.push(fieldErrors.invalid('metadata.generation', meta.generation, 'must be greater than or equal to 0'));
  }
  causes.push(...validateMetaContents(meta));
  return causes;
}

/** What create and update check alike: the content of labels, annotations, owner references, finalizers, managed fields. */
function validateMetaContents(meta: ObjectMeta): StatusCause[] {
  return [
    ...validateLabels(meta.labels, 'metadata.labels'),
    ...validateAnnotations(meta.annotations, 'metadata.annotations'),
    ...validateOwnerReferences(meta.ownerReferences, 'metadata.ownerReferences'),
    ...validateFinalizers(meta.finalizers, 'metadata.finalizers'),
    ...validateManagedFields(meta.managedFields, 'metadata.managedFields'),
  ];
}

/** `[]string{"a", "b"}`: how Go's %#v prints the finalizers in kube's message. */
const goStringSlice = (items: string[]) => `[]string{${items.map((s) => JSON.stringify(s)).join(', ')}}`;

/**
 * Validates metadata on update (PUT, PATCH, apply, status writes) against the stored object's.
 * Server-owned fields left empty in `newMeta` (uid, creationTimestamp, deletionTimestamp,
 * deletionGracePeriodSeconds) count as unchanged, since kube copies them from the old object.
 * generateName is not looked at: it only matters on create.
 */
export function validateObjectMetaUpdate(newMeta: ObjectMeta, oldMeta: ObjectMeta): StatusCause[] {
  const causes: StatusCause[] = [];

  if (oldMeta.deletionTimestamp) {
    const old = new Set(oldMeta.finalizers ?? []);
    const added = [...new Set(newMeta.finalizers ?? [])].filter((f) => !old.has(f)).sort();
    if (added.length > 0) {
      causes.push(
        fieldErrors.forbidden(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers ${goStringSlice(added)}`,
        ),
      );
    }
  }

  const immutable = (field: string, next: unknown, prev: unknown) => {
    if (next !== prev) causes.push(fieldErrors.invalid(`metadata.${field}`, next, 'field is immutable'));
  };
  immutable('name', newMeta.name ?? '', oldMeta.name ?? '');
  immutable('namespace', newMeta.namespace ?? '', oldMeta.namespace ?? '');
  if (newMeta.uid) immutable('uid', newMeta.uid, oldMeta.uid ?? '');
  if (newMeta.creationTimestamp) immutable('creationTimestamp', newMeta.creationTimestamp, oldMeta.creationTimestamp ?? '');
  if (newMeta.deletionTimestamp) immutable('deletionTimestamp', newMeta.deletionTimestamp, oldMeta.deletionTimestamp);
  if (newMeta.deletionGracePeriodSeconds !== undefined) {
    immutable('deletionGracePeriodSeconds', newMeta.deletionGracePeriodSeconds, oldMeta.deletionGracePeriodSeconds);
  }

  causes.push(...validateMetaContents(newMeta));
  return causes;
}
