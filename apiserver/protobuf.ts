// Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded into the JSON form the
// rest of the server works on. kubectl's typed commands (`create namespace`, `create secret …`,
// `create configmap`) and client-go typed clients send them; kube-apiserver accepts them for built-in kinds
// and answers 415 for custom resources, so only the core/v1 kinds we serve (plus DeleteOptions) decode here.
//
// The JSON produced is what Go's encoding/json would print for the object gogo-protobuf unmarshals, so
// protobuf and JSON clients store the same thing: `omitempty` scalars drop their zero value, pointer and
// non-omitempty fields keep what the wire carried, an embedded message the wire carried shows (even `{}`),
// and a zero Time (an empty message) is omitted rather than printed as null.
//
// Field numbers: k8s.io/api/core/v1/generated.proto, k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto,
// k8s.io/apimachinery/pkg/runtime/generated.proto.

import type { KubeObject } from '../api/types.ts';
import { badRequest, StatusError, unsupportedMediaType } from './status.ts';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';

/** `k8s\0`, the prefix kube's protobuf serializer writes before the runtime.Unknown envelope. */
const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

// ---- wire format ----------------------------------------------------------------------------------------

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

interface WireField {
  num: number;
  wire: number;
  /** varint and fixed values */
  int?: bigint;
  /** length-delimited payload */
  bytes?: Buffer;
}

class MalformedProtobuf extends Error {}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  // Ten bytes carry 64 bits; more means a corrupt or hostile body.
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new MalformedProtobuf('unexpected EOF');
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [BigInt.asUintN(64, v), pos];
  }
  throw new MalformedProtobuf('integer overflow');
}

/** Split one message into its fields, in wire order. Every step advances, so this ends within buf.length. */
export function readFields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    pos = afterKey;
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (num <= 0 || num > 0x1fffffff) throw new MalformedProtobuf(`illegal field number ${num}`);
    switch (wire) {
      case VARINT: {
        const [v, next] = readVarint(buf, pos);
        out.push({ num, wire, int: v });
        pos = next;
        break;
      }
      case FIXED64:
        if (pos + 8 > buf.length) throw new MalformedProtobuf('unexpected EOF');
        out.push({ num, wire, int: buf.readBigUInt64LE(pos) });
        pos += 8;
        break;
      case FIXED32:
        if (pos + 4 > buf.length) throw new MalformedProtobuf('unexpected EOF');
        out.push({ num, wire, int: BigInt(buf.readUInt32LE(pos)) });
        pos += 4;
        break;
      case LEN: {
        const [len, start] = readVarint(buf, pos);
        if (len > BigInt(buf.length - start)) throw new MalformedProtobuf('unexpected EOF');
        const end = start + Number(len);
        out.push({ num, wire, bytes: buf.subarray(start, end) });
        pos = end;
        break;
      }
      default:
        // Groups (3, 4) are proto2 relics no Kubernetes message uses; 6 and 7 do not exist.
        throw new MalformedProtobuf(`illegal wireType ${wire} for field ${num}`);
    }
  }
  return out;
}

// ---- message descriptions -------------------------------------------------------------------------------

type Scalar = 'string' | 'bytes' | 'int64' | 'int32' | 'bool' | 'time' | 'microTime' | 'fieldsV1';

interface FieldSpec {
  name: string;
  type: Scalar | MessageSpec | { map: 'string' | 'bytes' };
  repeated?: boolean;
  /** Pointer or non-omitempty Go field: shown whenever the wire carries it, zero value included. */
  keep?: boolean;
}

type MessageSpec = { [num: number]: FieldSpec };

const s = (name: string, keep = false): FieldSpec => ({ name, type: 'string', keep });
const time = (name: string): FieldSpec => ({ name, type: 'time' });
const microTime = (name: string): FieldSpec => ({ name, type: 'microTime' });
const msg = (name: string, type: MessageSpec, repeated = false): FieldSpec => ({ name, type, repeated });
const strings = (name: string): FieldSpec => ({ name, type: 'string', repeated: true });
const stringMap = (name: string): FieldSpec => ({ name, type: { map: 'string' } });
const bytesMap = (name: string): FieldSpec => ({ name, type: { map: 'bytes' } });

const ownerReference: MessageSpec = {
  5: s('apiVersion', true),
  1: s('kind', true),
  3: s('name', true),
  4: s('uid', true),
  6: { name: 'controller', type: 'bool', keep: true },
  7: { name: 'blockOwnerDeletion', type: 'bool', keep: true },
};

const managedFieldsEntry: MessageSpec = {
  1: s('manager'),
  2: s('operation'),
  3: s('apiVersion'),
  4: time('time'),
  6: s('fieldsType'),
  7: { name: 'fieldsV1', type: 'fieldsV1' },
  8: s('subresource'),
};

const objectMeta: MessageSpec = {
  1: s('name'),
  2: s('generateName'),
  3: s('namespace'),
  4: s('selfLink'),
  5: s('uid'),
  6: s('resourceVersion'),
  7: { name: 'generation', type: 'int64' },
  8: time('creationTimestamp'),
  9: time('deletionTimestamp'),
  10: { name: 'deletionGracePeriodSeconds', type: 'int64', keep: true },
  11: stringMap('labels'),
  12: stringMap('annotations'),
  13: msg('ownerReferences', ownerReference, true),
  14: strings('finalizers'),
  17: msg('managedFields', managedFieldsEntry, true),
};

const namespace: MessageSpec = {
  1: msg('metadata', objectMeta),
  2: msg('spec', { 1: strings('finalizers') }),
  3: msg('status', {
    1: s('phase'),
    2: msg(
      'conditions',
      { 1: s('type', true), 2: s('status', true), 4: time('lastTransitionTime'), 5: s('reason'), 6: s('message') },
      true,
    ),
  }),
};

const secret: MessageSpec = {
  1: msg('metadata', objectMeta),
  5: { name: 'immutable', type: 'bool', keep: true },
  2: bytesMap('data'),
  4: stringMap('stringData'),
  3: s('type'),
};

const configMap: MessageSpec = {
  1: msg('metadata', objectMeta),
  4: { name: 'immutable', type: 'bool', keep: true },
  2: stringMap('data'),
  3: bytesMap('binaryData'),
};

const objectReference: MessageSpec = {
  1: s('kind'),
  2: s('namespace'),
  3: s('name'),
  4: s('uid'),
  5: s('apiVersion'),
  6: s('resourceVersion'),
  7: s('fieldPath'),
};

const event: MessageSpec = {
  1: msg('metadata', objectMeta),
  2: msg('involvedObject', objectReference),
  3: s('reason'),
  4: s('message'),
  5: msg('source', { 1: s('component'), 2: s('host') }),
  6: time('firstTimestamp'),
  7: time('lastTimestamp'),
  8: { name: 'count', type: 'int32' },
  9: s('type'),
  10: microTime('eventTime'),
  11: msg('series', { 1: { name: 'count', type: 'int32' }, 2: microTime('lastObservedTime') }),
  12: s('action'),
  13: msg('related', objectReference),
  14: s('reportingComponent', true),
  15: s('reportingInstance', true),
};

const deleteOptions: MessageSpec = {
  1: { name: 'gracePeriodSeconds', type: 'int64', keep: true },
  2: msg('preconditions', { 1: s('uid', true), 2: s('resourceVersion', true) }),
  3: { name: 'orphanDependents', type: 'bool', keep: true },
  4: s('propagationPolicy', true),
  5: strings('dryRun'),
  6: { name: 'ignoreStoreReadErrorWithClusterBreakingPotential', type: 'bool', keep: true },
};

/**
 * What decodes, by `apiVersion/kind` as the envelope names it. DeleteOptions decodes whatever group version
 * client-go stamped on it (that of the resource being deleted, or meta.k8s.io/v1).
 */
const kinds: Record<string, MessageSpec> = {
  'v1/Namespace': namespace,
  'v1/Secret': secret,
  'v1/ConfigMap': configMap,
  'v1/Event': event,
};

// ---- decoding -------------------------------------------------------------------------------------------

function expectWire(f: WireField, wire: number, spec: FieldSpec): void {
  if (f.wire !== wire) throw new MalformedProtobuf(`wrong wireType ${f.wire} for field ${spec.name}`);
}

/** RFC 3339 in UTC as metav1.Time (seconds) and metav1.MicroTime (microseconds) print it. */
function formatTime(seconds: bigint, nanos: number, micro: boolean): string {
  // Go's JSON encoding of time.Time refuses years outside [0, 9999]; so does the Date range check here.
  const min = -62167219200n; // 0000-01-01T00:00:00Z
  const max = 253402300799n; // 9999-12-31T23:59:59Z
  if (seconds < min || seconds > max) throw new MalformedProtobuf(`timestamp seconds ${seconds} out of range`);
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const base = iso.slice(0, 19);
  if (!micro) return `${base}Z`;
  const us = Math.floor(Math.min(Math.max(nanos, 0), 999_999_999) / 1000);
  return `${base}.${String(us).padStart(6, '0')}Z`;
}

function decodeTime(data: Buffer, micro: boolean): string | undefined {
  // An empty message is the zero time, which Go prints as null: absent for us.
  if (data.length === 0) return undefined;
  let seconds = 0n;
  let nanos = 0;
  for (const f of readFields(data)) {
    if (f.num === 1 && f.wire === VARINT) seconds = BigInt.asIntN(64, f.int!);
    else if (f.num === 2 && f.wire === VARINT) nanos = Number(BigInt.asIntN(32, f.int!));
    else if (f.num === 1 || f.num === 2) throw new MalformedProtobuf(`wrong wireType ${f.wire} for a timestamp`);
  }
  return formatTime(seconds, nanos, micro);
}

function decodeFieldsV1(data: Buffer): unknown {
  let raw: Buffer | undefined;
  for (const f of readFields(data)) {
    if (f.num !== 1) continue;
    if (f.wire !== LEN) throw new MalformedProtobuf(`wrong wireType ${f.wire} for fieldsV1`);
    raw = f.bytes;
  }
  if (!raw || raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new MalformedProtobuf('fieldsV1 is not JSON');
  }
}

function decodeScalar(f: WireField, spec: FieldSpec, type: Scalar): { value: unknown; zero: boolean } | undefined {
  switch (type) {
    case 'string':
    case 'bytes': {
      expectWire(f, LEN, spec);
      const b = f.bytes!;
      return { value: type === 'string' ? b.toString('utf8') : b.toString('base64'), zero: b.length === 0 };
    }
    case 'int64':
    case 'int32': {
      expectWire(f, VARINT, spec);
      const v = type === 'int64' ? BigInt.asIntN(64, f.int!) : BigInt.asIntN(32, f.int!);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new MalformedProtobuf(`${spec.name}: ${v} does not fit a JSON number exactly`);
      }
      return { value: Number(v), zero: v === 0n };
    }
    case 'bool':
      expectWire(f, VARINT, spec);
      return { value: f.int !== 0n, zero: f.int === 0n };
    case 'time':
    case 'microTime': {
      expectWire(f, LEN, spec);
      const t = decodeTime(f.bytes!, type === 'microTime');
      return t === undefined ? undefined : { value: t, zero: false };
    }
    case 'fieldsV1':
      expectWire(f, LEN, spec);
      return { value: decodeFieldsV1(f.bytes!), zero: false };
  }
}

function decodeMapEntry(data: Buffer, valueType: 'string' | 'bytes'): [string, string] {
  let key = '';
  let value = '';
  for (const f of readFields(data)) {
    if (f.num !== 1 && f.num !== 2) continue;
    if (f.wire !== LEN) throw new MalformedProtobuf(`wrong wireType ${f.wire} for a map entry`);
    if (f.num === 1) key = f.bytes!.toString('utf8');
    else value = valueType === 'bytes' ? f.bytes!.toString('base64') : f.bytes!.toString('utf8');
  }
  return [key, value];
}

// Recursion follows the specs, none of which is recursive, so its depth is bounded whatever the bytes nest.
function decodeMessage(data: Buffer, spec: MessageSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // A non-repeated embedded message seen more than once merges, which is decoding the concatenation.
  const embedded = new Map<number, Buffer[]>();
  for (const f of readFields(data)) {
    const field = spec[f.num];
    if (!field) continue; // unknown fields are skipped, as gogo-protobuf does
    const { type } = field;
    if (typeof type === 'object' && 'map' in type) {
      expectWire(f, LEN, field);
      const [k, v] = decodeMapEntry(f.bytes!, type.map);
      ((out[field.name] ??= {}) as Record<string, string>)[k] = v;
    } else if (typeof type === 'object') {
      expectWire(f, LEN, field);
      if (field.repeated) {
        const list = (out[field.name] ??= []) as unknown[];
        list.push(decodeMessage(f.bytes!, type));
      } else {
        embedded.set(f.num, [...(embedded.get(f.num) ?? []), f.bytes!]);
      }
    } else if (field.repeated) {
      const d = decodeScalar(f, field, type);
      if (d) ((out[field.name] ??= []) as unknown[]).push(d.value);
    } else {
      const d = decodeScalar(f, field, type);
      // The last occurrence wins, including a zero value overriding an earlier one.
      if (!d || (d.zero && !field.keep)) delete out[field.name];
      else out[field.name] = d.value;
    }
  }
  for (const [num, parts] of embedded) {
    const field = spec[num];
    out[field.name] = decodeMessage(Buffer.concat(parts), field.type as MessageSpec);
  }
  return orderLike(out, spec);
}

/** Keys in the order the message lists them, which is how kube prints objects. */
function orderLike(obj: Record<string, unknown>, spec: MessageSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of Object.values(spec)) if (field.name in obj) out[field.name] = obj[field.name];
  return out;
}

interface Envelope {
  apiVersion: string;
  kind: string;
  raw: Buffer;
}

function readEnvelope(buf: Buffer): Envelope {
  if (buf.length === 0) throw badRequest('empty data');
  if (buf.length < magic.length || !buf.subarray(0, magic.length).equals(magic)) {
    throw badRequest('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
  }
  if (buf.length === magic.length) throw badRequest('empty body');
  const env: Envelope = { apiVersion: '', kind: '', raw: Buffer.alloc(0) };
  let contentEncoding = '';
  for (const f of readFields(buf.subarray(magic.length))) {
    if (f.num > 4) continue;
    if (f.wire !== LEN) throw new MalformedProtobuf(`wrong wireType ${f.wire} for runtime.Unknown field ${f.num}`);
    const b = f.bytes!;
    if (f.num === 1) {
      for (const t of readFields(b)) {
        if (t.num !== 1 && t.num !== 2) continue;
        if (t.wire !== LEN) throw new MalformedProtobuf(`wrong wireType ${t.wire} for typeMeta`);
        if (t.num === 1) env.apiVersion = t.bytes!.toString('utf8');
        else env.kind = t.bytes!.toString('utf8');
      }
    } else if (f.num === 2) env.raw = b;
    else if (f.num === 3) contentEncoding = b.toString('utf8');
  }
  // kube's serializer ignores contentType; an encoded payload (never written by client-go) it cannot read.
  if (contentEncoding) throw badRequest(`unsupported protobuf content encoding "${contentEncoding}"`);
  return env;
}

/**
 * Decode a `application/vnd.kubernetes.protobuf` body into its JSON object form. Malformed bytes are a
 * 400; a well-formed envelope holding a kind not decoded here is a 415, as kube-apiserver answers for
 * custom resources.
 */
export function decodeProtobufObject(buf: Buffer): KubeObject {
  try {
    const env = readEnvelope(buf);
    if (!env.kind) throw badRequest('Object \'Kind\' is missing in protobuf envelope');
    const spec = env.kind === 'DeleteOptions' ? deleteOptions : kinds[`${env.apiVersion}/${env.kind}`];
    if (!spec) throw unsupportedMediaType(['application/json', 'application/yaml']);
    const { metadata, ...rest } = decodeMessage(env.raw, spec);
    const obj: Record<string, unknown> = { kind: env.kind, apiVersion: env.apiVersion };
    // DeleteOptions carries no ObjectMeta; every object kind prints one, `{}` when empty.
    if (spec !== deleteOptions) obj.metadata = metadata ?? {};
    return Object.assign(obj, rest) as KubeObject;
  } catch (e) {
    if (e instanceof StatusError) throw e;
    if (e instanceof MalformedProtobuf) throw badRequest(`unable to decode protobuf body: ${e.message}`);
    throw e;
  }
}
