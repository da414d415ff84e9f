// The `request` variable of admission CEL: the AdmissionRequest fields kube exposes to policies.
import type { AdmissionAttributes } from '../types.ts';

export function admissionRequest(attrs: AdmissionAttributes): Record<string, unknown> {
  const kind = { group: attrs.group, version: attrs.version, kind: attrs.kind };
  const resource = { group: attrs.group, version: attrs.version, resource: attrs.resource };
  const userInfo: Record<string, unknown> = { username: attrs.user.name, groups: attrs.user.groups };
  if (attrs.user.uid) userInfo.uid = attrs.user.uid;
  if (attrs.user.extra) userInfo.extra = attrs.user.extra;
  const request: Record<string, unknown> = {
    kind,
    resource,
    requestKind: kind,
    requestResource: resource,
    name: attrs.name,
    namespace: attrs.namespace,
    operation: attrs.operation,
    userInfo,
    dryRun: attrs.dryRun,
  };
  if (attrs.subresource) {
    request.subResource = attrs.subresource;
    request.requestSubResource = attrs.subresource;
  }
  if (attrs.options) request.options = attrs.options;
  return request;
}
