// OpenAPI documents built from the kinds' schemas: /openapi/v3 (root and one document per group-version,
// addressed by content hash) and /openapi/v2. kubectl explain finds schemas through
// x-kubernetes-group-version-kind, and trusts server-side field validation when the PATCH operation
// lists a fieldValidation parameter.
import { createHash } from 'node:crypto';
import type { JSONSchemaProps, ResourceDefinition } from '../api/types.ts';
import type { GroupVersion } from './discovery.ts';
import { objectMetaSchemas } from './openapi-meta.ts';

type Schema = Record<string, unknown>;

const reverseDNS = (group: string) => group.split('.').reverse().join('.');

export function schemaName(group: string, version: string, kind: string): string {
  if (group === '') return `io.k8s.api.core.v1.${kind}`;
  return `${reverseDNS(group)}.${version}.${kind}`;
}

const metaRef = (name: string, prefix: string) => ({ $ref: `${prefix}io.k8s.apimachinery.pkg.apis.meta.v1.${name}` });

function kindSchema(def: ResourceDefinition, prefix: string): Schema {
  const s = structuredClone(def.schema) as Schema & { properties?: Record<string, Schema> };
  const props = { ...(s.properties ?? {}) };
  props.apiVersion = {
    type: 'string',
    description:
      'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
  };
  props.kind = {
    type: 'string',
    description: 'Kind is a string value representing the REST resource this object represents. In CamelCase.',
  };
  props.metadata = {
    allOf: [metaRef('ObjectMeta', prefix)],
    default: {},
    description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
  };
  s.properties = props;
  s['x-kubernetes-group-version-kind'] = [{ group: def.group, version: def.version, kind: def.kind }];
  return s;
}

function listSchema(def: ResourceDefinition, prefix: string): Schema {
  return {
    description: `${def.kind}List is a list of ${def.kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      items: { type: 'array', items: { $ref: `${prefix}${schemaName(def.group, def.version, def.kind)}` } },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { allOf: [metaRef('ListMeta', prefix)], default: {} },
    },
    'x-kubernetes-group-version-kind': [{ group: def.group, version: def.version, kind: def.listKind }],
  };
}

const queryParam = (name: string, description: string, type = 'string') => ({
  name,
  in: 'query',
  description,
  schema: { type, uniqueItems: true },
});

const writeParams = [
  queryParam('dryRun', 'When present, indicates that modifications should not be persisted. The only valid value is All.'),
  queryParam('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  queryParam(
    'fieldValidation',
    'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict.',
  ),
];

const listParams = [
  queryParam('allowWatchBookmarks', 'allowWatchBookmarks requests watch events with type "BOOKMARK".', 'boolean'),
  queryParam('continue', 'The continue option should be set when retrieving more results from the server.'),
  queryParam('fieldSelector', 'A selector to restrict the list of returned objects by their fields. Defaults to everything.'),
  queryParam('labelSelector', 'A selector to restrict the list of returned objects by their labels. Defaults to everything.'),
  queryParam('limit', 'limit is a maximum number of responses to return for a list call.', 'integer'),
  queryParam('resourceVersion', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  queryParam('resourceVersionMatch', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
  queryParam('sendInitialEvents', 'sendInitialEvents=true may be set together with watch=true.', 'boolean'),
  queryParam('timeoutSeconds', 'Timeout for the list/watch call.', 'integer'),
  queryParam('watch', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.', 'boolean'),
];

const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string', uniqueItems: true } });

function op(
  def: ResourceDefinition,
  action: string,
  verb: string,
  opts: { responseRef: string; bodyRef?: string; patch?: boolean; params?: unknown[]; kind?: string; sub?: string },
): Schema {
  const ns = def.namespaced ? 'Namespaced' : '';
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  const groupTag = (def.group || 'core').split('.')[0] + (def.group ? def.version.charAt(0).toUpperCase() + def.version.slice(1) : 'V1');
  const o: Schema = {
    tags: [groupTag],
    description: `${action} ${opts.sub ? `${opts.sub} of ` : ''}the specified ${def.kind}`,
    operationId: `${verb}${groupTag.charAt(0).toUpperCase()}${groupTag.slice(1)}${ns}${def.kind}${opts.sub ? cap(opts.sub) : ''}`,
    parameters: opts.params ?? [],
    responses: {
      '200': { description: 'OK', content: { 'application/json': { schema: { $ref: opts.responseRef } }, 'application/yaml': { schema: { $ref: opts.responseRef } } } },
      '401': { description: 'Unauthorized' },
    },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: def.group, version: def.version, kind: opts.kind ?? def.kind },
  };
  if (opts.bodyRef) {
    const types = opts.patch
      ? [
          'application/apply-patch+yaml',
          'application/json-patch+json',
          'application/merge-patch+json',
          ...(def.strategicMergePatch ? ['application/strategic-merge-patch+json'] : []),
        ]
      : ['*/*'];
    o.requestBody = { content: Object.fromEntries(types.map((t) => [t, { schema: { $ref: opts.bodyRef } }])), required: true };
  }
  if (action === 'post' || (action === 'put' && !opts.sub)) {
    (o.responses as Schema)['201'] = { description: 'Created', content: { 'application/json': { schema: { $ref: opts.responseRef } } } };
  }
  return o;
}

function pathsFor(def: ResourceDefinition, prefix: string): Record<string, Schema> {
  const base = def.group ? `/apis/${def.group}/${def.version}` : `/api/${def.version}`;
  const kindRef = `${prefix}${schemaName(def.group, def.version, def.kind)}`;
  const listRef = `${prefix}${schemaName(def.group, def.version, def.listKind)}`;
  const statusRef = `${prefix}io.k8s.apimachinery.pkg.apis.meta.v1.Status`;
  const patchRef = `${prefix}io.k8s.apimachinery.pkg.apis.meta.v1.Patch`;
  const deleteRef = `${prefix}io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions`;
  const nsParam = pathParam('namespace', 'object name and auth scope, such as for teams and projects');
  const nameParam = pathParam('name', `name of the ${def.kind}`);
  const pretty = queryParam('pretty', "If 'true', then the output is pretty printed.");
  const collection = def.namespaced ? `${base}/namespaces/{namespace}/${def.plural}` : `${base}/${def.plural}`;
  const scopeParams = def.namespaced ? [nsParam, pretty] : [pretty];
  const paths: Record<string, Schema> = {};
  paths[collection] = {
    get: op(def, 'list', 'list', { responseRef: listRef, params: listParams }),
    post: op(def, 'post', 'create', { responseRef: kindRef, bodyRef: kindRef, params: writeParams }),
    delete: op(def, 'deletecollection', 'deleteCollection', { responseRef: statusRef, bodyRef: deleteRef, params: listParams }),
    parameters: scopeParams,
  };
  paths[`${collection}/{name}`] = {
    get: op(def, 'get', 'read', { responseRef: kindRef }),
    put: op(def, 'put', 'replace', { responseRef: kindRef, bodyRef: kindRef, params: writeParams }),
    patch: op(def, 'patch', 'patch', {
      responseRef: kindRef,
      bodyRef: patchRef,
      patch: true,
      params: [...writeParams, queryParam('force', 'Force is going to "force" Apply requests.', 'boolean')],
    }),
    delete: op(def, 'delete', 'delete', {
      responseRef: statusRef,
      bodyRef: deleteRef,
      params: [
        queryParam('dryRun', 'When present, indicates that modifications should not be persisted.'),
        queryParam('gracePeriodSeconds', 'The duration in seconds before the object should be deleted.', 'integer'),
        queryParam('propagationPolicy', 'Whether and how garbage collection will be performed.'),
      ],
    }),
    parameters: [...scopeParams, nameParam],
  };
  if (def.subresources.status) {
    paths[`${collection}/{name}/status`] = {
      get: op(def, 'get', 'read', { responseRef: kindRef, sub: 'status' }),
      put: op(def, 'put', 'replace', { responseRef: kindRef, bodyRef: kindRef, params: writeParams, sub: 'status' }),
      patch: op(def, 'patch', 'patch', {
        responseRef: kindRef,
        bodyRef: patchRef,
        patch: true,
        params: [...writeParams, queryParam('force', 'Force is going to "force" Apply requests.', 'boolean')],
        sub: 'status',
      }),
      parameters: [...scopeParams, nameParam],
    };
  }
  for (const a of def.subresources.actions ?? []) {
    const bodyRef = `${prefix}${schemaName(def.group, def.version, a.kind)}`;
    paths[`${collection}/{name}/${a.name}`] = {
      post: op(def, 'post', 'create', { responseRef: bodyRef, bodyRef, params: writeParams, kind: a.kind, sub: a.name }),
      parameters: [...scopeParams, nameParam],
    };
  }
  if (def.namespaced) {
    paths[`${base}/${def.plural}`] = {
      get: op(def, 'list', 'list', { responseRef: listRef, params: listParams, sub: 'all namespaces' }),
      parameters: [pretty],
    };
  }
  return paths;
}

/** Extra component schemas a group-version needs (action request kinds), keyed by kind. */
export type ExtraSchemas = Record<string, JSONSchemaProps>;

export function groupVersionDocument(gv: GroupVersion, extra: ExtraSchemas = {}): Schema {
  const prefix = '#/components/schemas/';
  const schemas: Record<string, unknown> = { ...objectMetaSchemas(prefix) };
  let paths: Record<string, Schema> = {};
  for (const def of gv.defs) {
    schemas[schemaName(def.group, def.version, def.kind)] = kindSchema(def, prefix);
    schemas[schemaName(def.group, def.version, def.listKind)] = listSchema(def, prefix);
    paths = { ...paths, ...pathsFor(def, prefix) };
  }
  for (const [kind, schema] of Object.entries(extra)) {
    schemas[schemaName(gv.group, gv.version, kind)] = {
      ...structuredClone(schema),
      'x-kubernetes-group-version-kind': [{ group: gv.group, version: gv.version, kind }],
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'metal3-apiserver', version: 'v0.1.0' },
    paths,
    components: { schemas },
  };
}

/** Swagger 2.0: the same content with definitions, body parameters and no v3-only keywords. */
export function swaggerDocument(gvs: GroupVersion[], extra: Record<string, ExtraSchemas> = {}): Schema {
  const definitions: Record<string, unknown> = {};
  const paths: Record<string, unknown> = {};
  for (const gv of gvs) {
    const v3 = groupVersionDocument(gv, extra[`${gv.group}/${gv.version}`]);
    Object.assign(definitions, toV2((v3.components as Schema).schemas as Schema));
    for (const [p, item] of Object.entries(v3.paths as Record<string, Schema>)) paths[p] = toV2Path(item);
  }
  return { swagger: '2.0', info: { title: 'metal3-apiserver', version: 'v0.1.0' }, paths, definitions };
}

function toV2(node: unknown): Schema {
  return JSON.parse(
    JSON.stringify(node, (k, v) => (k === 'nullable' || k === 'anyOf' || k === 'oneOf' ? undefined : v)).replaceAll('#/components/schemas/', '#/definitions/'),
  ) as Schema;
}

function toV2Path(item: Schema): Schema {
  const out: Schema = {};
  for (const [method, o] of Object.entries(toV2(item))) {
    if (method === 'parameters') {
      out.parameters = (o as Schema[]).map(v2Param);
      continue;
    }
    const operation = { ...(o as Schema) };
    const params = ((operation.parameters as Schema[]) ?? []).map(v2Param);
    const body = operation.requestBody as { content: Record<string, { schema: unknown }> } | undefined;
    if (body) {
      params.unshift({ name: 'body', in: 'body', required: true, schema: Object.values(body.content)[0].schema });
      operation.consumes = Object.keys(body.content);
      delete operation.requestBody;
    }
    operation.parameters = params;
    operation.produces = ['application/json', 'application/yaml'];
    operation.schemes = ['https'];
    const responses: Schema = {};
    for (const [code, r] of Object.entries(operation.responses as Record<string, Schema>)) {
      const content = r.content as Record<string, { schema: unknown }> | undefined;
      responses[code] = content ? { description: r.description, schema: Object.values(content)[0].schema } : { description: r.description };
    }
    operation.responses = responses;
    out[method] = operation;
  }
  return out;
}

function v2Param(p: Schema): Schema {
  const { schema, ...rest } = p as { schema?: Schema };
  return { ...rest, ...(schema ?? {}) };
}

export const openAPIHash = (body: string) => createHash('sha512').update(body).digest('hex').toUpperCase();
