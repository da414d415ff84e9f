// Strategies for the core/v1 kinds the standalone server serves itself (Namespaces, Secrets, Events),
// with the behaviour kubectl users rely on: stringData folded into data, a namespace's phase, and the
// computed table cells kubectl prints.
import type { KubeObject } from '../../api/types.ts';
import type { Strategy } from '../registry/strategy.ts';
import { badRequest, fieldErrors, type StatusCause } from '../status.ts';
import { goType, isPlainObject } from '../registry/objects.ts';

// kubectl's DATA column counts keys; a JSONPath cannot.
const countKeys = (...maps: unknown[]) => maps.reduce<number>((n, m) => n + (isPlainObject(m) ? Object.keys(m).length : 0), 0);

const secretKeyPattern = /^[-._a-zA-Z0-9]+$/;

function foldStringData(obj: KubeObject): void {
  const stringData = obj.stringData;
  if (isPlainObject(stringData)) {
    const data = isPlainObject(obj.data) ? obj.data : {};
    for (const [k, v] of Object.entries(stringData)) {
      if (typeof v !== 'string') throw badRequest(`Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal ${goType(v)} into Go struct field Secret.stringData of type string`);
      data[k] = Buffer.from(v, 'utf8').toString('base64');
    }
    obj.data = data;
  }
  delete obj.stringData;
  if (obj.type === undefined || obj.type === '') obj.type = 'Opaque';
}

export const secretStrategy: Strategy = {
  prepareForCreate: foldStringData,
  prepareForUpdate: foldStringData,
  validate(obj) {
    const causes: StatusCause[] = [];
    const data = isPlainObject(obj.data) ? obj.data : {};
    for (const k of Object.keys(data)) {
      if (!secretKeyPattern.test(k)) causes.push(fieldErrors.invalid(`data[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
    }
    return causes;
  },
  validateUpdate(obj, old) {
    if (old.immutable === true && (JSON.stringify(obj.data ?? {}) !== JSON.stringify(old.data ?? {}) || obj.immutable !== true)) {
      return [fieldErrors.forbidden('data', 'field is immutable when `immutable` is set')];
    }
    if (obj.type !== old.type) return [fieldErrors.invalid('type', obj.type, 'field is immutable')];
    return [];
  },
  tableCells: (obj) => ({ Data: countKeys(obj.data) }),
};

// kube labels every namespace with its own name, so namespaceSelectors can pick namespaces by name.
const nameLabel = (obj: KubeObject) => {
  obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
};

export const namespaceStrategy: Strategy = {
  prepareForCreate(obj) {
    obj.status = { phase: 'Active' };
    nameLabel(obj);
  },
  prepareForUpdate: nameLabel,
};

export const eventStrategy: Strategy = {
  tableCells(obj) {
    const io = isPlainObject(obj.involvedObject) ? obj.involvedObject : {};
    return { Object: `${String(io.kind ?? '').toLowerCase()}/${String(io.name ?? '')}` };
  },
};

export const configMapStrategy: Strategy = {
  validateUpdate(obj, old) {
    if (old.immutable === true && (JSON.stringify([obj.data, obj.binaryData]) !== JSON.stringify([old.data, old.binaryData]) || obj.immutable !== true)) {
      return [fieldErrors.forbidden('data', 'field is immutable when `immutable` is set')];
    }
    return [];
  },
  tableCells: (obj) => ({ Data: countKeys(obj.data, obj.binaryData) }),
};

export const webhookConfigurationStrategy: Strategy = {
  tableCells: (obj) => ({ Webhooks: Array.isArray(obj.webhooks) ? obj.webhooks.length : 0 }),
};
