// The BareMetalHost actions as API subresources: POST baremetalhosts/NAME/inspect and .../provision.
// BMO only offers annotations for these; as subresources RBAC can grant them apart from update, and
// admission and the audit log see them for what they are.
import type { KubeObject, ResourceDefinition } from '../../api/types.ts';
import { compileSchema } from '../../api/schema.ts';
import {
  inspectionRequestSchema,
  provisionRequestSchema,
  type InspectionRequest,
  type ProvisionRequest,
} from '../../api/kinds/requests.ts';
import type { ObjectReference } from '../../api/kinds/common.ts';
import { badRequest, conflict, fieldErrors, invalid } from '../status.ts';
import { clone, isPlainObject, shown } from '../registry/objects.ts';
import type { ActionHandler } from '../handlers/resource.ts';

const group = 'metal3.io';
const apiVersion = 'metal3.io/v1alpha1';
const hosts = { group, plural: 'baremetalhosts' };

/** A request kind's schema, compiled like a served kind's (only the schema is read). */
const requestDefinition = (kind: string, schema: ResourceDefinition['schema']): ResourceDefinition => ({
  group,
  version: 'v1alpha1',
  kind,
  listKind: `${kind}List`,
  plural: '',
  singular: '',
  shortNames: [],
  categories: [],
  namespaced: true,
  schema,
  printerColumns: [],
  subresources: { status: false },
  selectableFields: [],
});

const inspectionDef = requestDefinition('InspectionRequest', inspectionRequestSchema);
const provisionDef = requestDefinition('ProvisionRequest', provisionRequestSchema);

/** Check a request body's type, fields and schema, as a create of that kind would be checked. */
function decodeRequest<T>(body: unknown, def: ResourceDefinition, name: string, warnings: string[], fieldValidation: string): T {
  if (!isPlainObject(body)) throw badRequest(`the body must be a ${def.kind} object`);
  if (body.apiVersion !== apiVersion || body.kind !== def.kind) {
    throw badRequest(`the body must have apiVersion ${apiVersion} and kind ${def.kind}, not ${shown(body.apiVersion)} ${shown(body.kind)}`);
  }
  const schema = compileSchema(def);
  const unknown = schema.unknownFields(body).map((f) => `unknown field "${f}"`);
  if (unknown.length && fieldValidation === 'Strict') throw badRequest(`strict decoding error: ${unknown.join(', ')}`);
  if (unknown.length && fieldValidation !== 'Ignore') warnings.push(...unknown);
  schema.prune(body);
  const causes = schema.validate(body);
  if (causes.length) throw invalid(def.kind, group, name, causes);
  return body as T;
}

const sameConsumer = (a: ObjectReference, b: ObjectReference | undefined) =>
  !!b && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '') && (a.kind ?? '') === (b.kind ?? '') && (a.apiVersion ?? '') === (b.apiVersion ?? '');

const spec = (host: KubeObject): Record<string, unknown> => (isPlainObject(host.spec) ? host.spec : (host.spec = {}));

const provision: ActionHandler = async ({ resource, namespace, name, body, ctx }) => {
  const req = decodeRequest<ProvisionRequest>(body, provisionDef, name, ctx.warnings, ctx.fieldValidation);
  if (!req.image && !req.customDeploy) {
    throw invalid('ProvisionRequest', group, name, [fieldErrors.required('image', 'one of image or customDeploy is required')]);
  }
  const { obj } = await resource.store.patch(namespace, name, 'merge', req, ctx, {
    force: false,
    subresource: 'provision',
    operation: 'CREATE',
    applyPatch: (doc) => {
      const host = clone(doc as KubeObject);
      const s = spec(host);
      const consumer = s.consumerRef as ObjectReference | undefined;
      if (consumer && !sameConsumer(consumer, req.consumerRef)) {
        const who = `${consumer.kind ?? 'object'} ${consumer.namespace ? `${consumer.namespace}/` : ''}${consumer.name}`;
        throw conflict(hosts, name, `the host is consumed by ${who}; a provision request must name the same consumerRef`);
      }
      // One request states the whole intent: fields it leaves out are cleared, so nothing stale is deployed.
      for (const f of ['image', 'customDeploy', 'userData', 'networkData', 'metaData'] as const) {
        if (req[f] === undefined) delete s[f];
        else s[f] = req[f];
      }
      if (req.consumerRef) s.consumerRef = req.consumerRef;
      s.online = req.online ?? true;
      return host;
    },
  });
  return { code: 201, body: obj };
};

const inspectableStates = new Set(['available', 'ready']);

const inspect: ActionHandler = async ({ resource, namespace, name, body, ctx }) => {
  const req = decodeRequest<InspectionRequest>(body, inspectionDef, name, ctx.warnings, ctx.fieldValidation);
  let hostState = '';
  await resource.store.patch(namespace, name, 'merge', req, ctx, {
    force: false,
    subresource: 'inspect',
    operation: 'CREATE',
    applyPatch: (doc) => {
      const host = clone(doc as KubeObject);
      const status = isPlainObject(host.status) ? host.status : {};
      const provisioning = isPlainObject(status.provisioning) ? status.provisioning : {};
      hostState = typeof provisioning.state === 'string' ? provisioning.state : '';
      const annotations = { ...host.metadata.annotations };
      if (spec(host).inspectionMode === 'disabled' || annotations['inspect.metal3.io'] === 'disabled') {
        throw conflict(hosts, name, 'inspection is disabled for this host (inspectionMode or the inspect.metal3.io annotation)');
      }
      const pending = annotations['inspect.metal3.io'] === '' || hostState === 'inspecting';
      if (pending && !req.force) {
        throw conflict(hosts, name, `an inspection is already ${hostState === 'inspecting' ? 'in progress' : 'requested'}; set force to request another`);
      }
      if (!inspectableStates.has(hostState) && !(req.force && hostState === 'inspecting')) {
        throw conflict(hosts, name, `a host in state "${hostState || 'none'}" cannot be inspected; only available hosts can`);
      }
      // The reconciler acts on BMO's annotation, so the annotation API and this one stay one mechanism.
      annotations['inspect.metal3.io'] = '';
      host.metadata.annotations = annotations;
      return host;
    },
  });
  const answer: InspectionRequest = {
    apiVersion,
    kind: 'InspectionRequest',
    metadata: { name, namespace },
    ...(req.force !== undefined ? { force: req.force } : {}),
    status: { accepted: true, hostState },
  };
  return { code: 201, body: answer };
};

export function bareMetalHostActions(): Map<string, ActionHandler> {
  return new Map([
    ['baremetalhosts/inspect', inspect],
    ['baremetalhosts/provision', provision],
  ]);
}

export const actionSchemas = { InspectionRequest: inspectionRequestSchema, ProvisionRequest: provisionRequestSchema };
