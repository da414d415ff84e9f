// Discovery documents: legacy (/api, /apis, /apis/G, /apis/G/V) and aggregated (apidiscovery.k8s.io
// v2 and v2beta1), built once from the served ResourceDefinitions.
import { createHash } from 'node:crypto';
import type { ResourceDefinition } from '../api/types.ts';

export interface GroupVersion {
  group: string;
  version: string;
  defs: ResourceDefinition[];
}

const mainVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const statusVerbs = ['get', 'patch', 'update'];

const storageVersionHash = (def: ResourceDefinition) =>
  createHash('sha256').update(`${def.group}/${def.version}/${def.kind}`).digest().subarray(0, 8).toString('base64');

const gvString = (gv: { group: string; version: string }) => (gv.group ? `${gv.group}/${gv.version}` : gv.version);

export function apiResourceList(gv: GroupVersion) {
  const resources: Record<string, unknown>[] = [];
  for (const def of gv.defs) {
    const main: Record<string, unknown> = {
      name: def.plural,
      singularName: def.singular,
      namespaced: def.namespaced,
      kind: def.kind,
      verbs: mainVerbs,
    };
    if (def.shortNames.length) main.shortNames = def.shortNames;
    if (def.categories.length) main.categories = def.categories;
    main.storageVersionHash = storageVersionHash(def);
    resources.push(main);
    if (def.subresources.status) {
      resources.push({ name: `${def.plural}/status`, singularName: '', namespaced: def.namespaced, kind: def.kind, verbs: statusVerbs });
    }
    for (const a of def.subresources.actions ?? []) {
      resources.push({ name: `${def.plural}/${a.name}`, singularName: '', namespaced: def.namespaced, kind: a.kind, verbs: ['create'] });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gvString(gv), resources };
}

export function apiGroup(group: string, versions: GroupVersion[]) {
  const vs = versions.map((v) => ({ groupVersion: gvString(v), version: v.version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(gvs: GroupVersion[]) {
  const groups = [...new Set(gvs.filter((g) => g.group).map((g) => g.group))].map((g) => {
    const { kind: _k, apiVersion: _a, ...rest } = apiGroup(
      g,
      gvs.filter((x) => x.group === g),
    );
    return rest;
  });
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function aggregatedResource(def: ResourceDefinition) {
  const responseKind = { group: def.group, version: def.version, kind: def.kind };
  const subresources: Record<string, unknown>[] = [];
  if (def.subresources.status) subresources.push({ subresource: 'status', responseKind, verbs: statusVerbs });
  for (const a of def.subresources.actions ?? []) {
    subresources.push({ subresource: a.name, responseKind: { group: def.group, version: def.version, kind: a.kind }, verbs: ['create'] });
  }
  const r: Record<string, unknown> = {
    resource: def.plural,
    responseKind,
    scope: def.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: def.singular,
    verbs: mainVerbs,
  };
  if (def.shortNames.length) r.shortNames = def.shortNames;
  if (def.categories.length) r.categories = def.categories;
  if (subresources.length) r.subresources = subresources;
  return r;
}

/** The aggregated document for /apis (core=false) or /api (core=true). */
export function aggregatedDiscovery(gvs: GroupVersion[], version: 'v2' | 'v2beta1', core: boolean) {
  const selected = gvs.filter((g) => (core ? g.group === '' : g.group !== ''));
  const groups = [...new Set(selected.map((g) => g.group))];
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map((g) => ({
      metadata: g ? { name: g } : {},
      versions: selected
        .filter((x) => x.group === g)
        .map((x) => ({ version: x.version, resources: x.defs.map(aggregatedResource), freshness: 'Current' })),
    })),
  };
}

export const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('hex').slice(0, 32).toUpperCase()}"`;
