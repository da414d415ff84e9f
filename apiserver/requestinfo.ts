// Splits a request path into the attributes kube-apiserver's RequestInfoFactory derives
// (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go): authorization, metrics and routing all key on these.

export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  /** get, list, watch, create, update, patch, delete, deletecollection; lower-case HTTP method for non-resource. */
  verb: string;
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  parts: string[];
}

const methodVerbs: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export function requestInfoFor(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
  };
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0 || (segments[0] !== 'api' && segments[0] !== 'apis')) return info;
  info.apiPrefix = segments[0];
  let rest = segments.slice(1);
  if (info.apiPrefix === 'apis') {
    if (rest.length < 3) return info; // /apis, /apis/g, /apis/g/v are discovery
    info.apiGroup = rest[0];
    rest = rest.slice(1);
  } else if (rest.length < 2) {
    return info; // /api, /api/v1
  }
  info.apiVersion = rest[0];
  rest = rest.slice(1);
  info.isResourceRequest = true;
  info.verb = methodVerbs[method] ?? method.toLowerCase();
  // The deprecated /watch/ prefix is still understood by kube; keep routing identical.
  if (rest[0] === 'watch') {
    info.verb = 'watch';
    rest = rest.slice(1);
  }
  if (rest[0] === 'namespaces') {
    if (rest.length > 1) {
      info.namespace = rest[1];
      // /namespaces/NAME (and its subresources) is the namespace object itself.
      if (rest.length > 2) rest = rest.slice(2);
    }
  }
  info.parts = rest;
  if (rest.length >= 3) info.subresource = rest[2];
  if (rest.length >= 2) info.name = rest[1];
  if (rest.length >= 1) info.resource = rest[0];
  if (info.resource === 'namespaces' && info.namespace && rest.length <= 3 && rest[0] === 'namespaces') {
    info.name = info.namespace;
    info.namespace = '';
    info.subresource = rest[2] ?? '';
  }
  const isWatch = query.get('watch') === 'true' || query.get('watch') === '1';
  if (info.name === '' && info.verb === 'get') info.verb = isWatch ? 'watch' : 'list';
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  if (info.verb === 'get' && isWatch) info.verb = 'watch';
  return info;
}
