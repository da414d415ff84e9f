// Which requests an admission webhook or policy applies to, as kube-apiserver decides it
// (k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/{rules,namespace,object} and
// plugin/policy/generic/policy_matcher.go). Shared by ValidatingAdmissionPolicy and the webhook plugins.
import { labelSelectorFromObject } from '../api/labels.ts';
import type { LabelSelector } from '../api/labels.ts';
import type { AdmissionAttributes } from './types.ts';
import type { AdmissionConfigSource } from './config.ts';

/** admissionregistration RuleWithOperations, plus VAP's resourceNames. */
export interface Rule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
  resourceNames?: string[];
}

export interface MatchResources {
  namespaceSelector?: LabelSelector | null;
  objectSelector?: LabelSelector | null;
  resourceRules?: Rule[];
  excludeResourceRules?: Rule[];
  /** Exact or Equivalent; we serve a single version per resource, so both decide alike. */
  matchPolicy?: string;
}

const listMatches = (list: string[] | undefined, value: string) =>
  list !== undefined && (list.includes('*') || list.includes(value));

/** `res/sub`: `*` stands for any main resource only, `*\/*` for anything, `*\/status` for any status. */
function resourceMatches(resources: string[] | undefined, attrs: AdmissionAttributes): boolean {
  for (const entry of resources ?? []) {
    const slash = entry.indexOf('/');
    const res = slash < 0 ? entry : entry.slice(0, slash);
    const sub = slash < 0 ? '' : entry.slice(slash + 1);
    if ((res === '*' || res === attrs.resource) && (sub === '*' || sub === attrs.subresource)) return true;
  }
  return false;
}

const isNamespace = (attrs: AdmissionAttributes) => attrs.group === '' && attrs.resource === 'namespaces';

function scopeMatches(scope: string | undefined, attrs: AdmissionAttributes): boolean {
  switch (scope ?? '*') {
    case '*':
      return true;
    case 'Cluster':
      // A Namespace is cluster-scoped even though its requests carry its own name as namespace.
      return attrs.namespace === '' || isNamespace(attrs);
    case 'Namespaced':
      return attrs.namespace !== '' && !isNamespace(attrs);
    default:
      return false;
  }
}

/** rules.Matcher.Matches, plus resourceNames (an empty list matches every name). */
export function ruleMatches(rule: Rule, attrs: AdmissionAttributes): boolean {
  if (!scopeMatches(rule.scope, attrs)) return false;
  if (!listMatches(rule.operations, attrs.operation)) return false;
  if (!listMatches(rule.apiGroups, attrs.group)) return false;
  if (!listMatches(rule.apiVersions, attrs.version)) return false;
  if (!resourceMatches(rule.resources, attrs)) return false;
  return !rule.resourceNames?.length || rule.resourceNames.includes(attrs.name);
}

export const matchesResourceRules = (rules: Rule[] | undefined, attrs: AdmissionAttributes): boolean =>
  (rules ?? []).some((r) => ruleMatches(r, attrs));

const isEmptySelector = (s: LabelSelector | null | undefined) =>
  !s || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);

/**
 * Cluster-scoped objects always match; a Namespace is judged by its own labels (from the request for
 * create and update, since it may not exist yet). An unknown namespace is treated as unlabelled.
 * Throws a 400 StatusError for an invalid selector.
 */
export function matchesNamespaceSelector(
  selector: LabelSelector | null | undefined,
  attrs: AdmissionAttributes,
  source: Pick<AdmissionConfigSource, 'namespace'>,
): boolean {
  if (attrs.namespace === '' && !isNamespace(attrs)) return true;
  if (isEmptySelector(selector)) return true;
  const matches = labelSelectorFromObject(selector);
  if (isNamespace(attrs) && attrs.subresource === '' && (attrs.operation === 'CREATE' || attrs.operation === 'UPDATE')) {
    return matches(attrs.object?.metadata.labels ?? {});
  }
  const name = isNamespace(attrs) ? attrs.name : attrs.namespace;
  return matches(source.namespace(name)?.metadata.labels ?? {});
}

/** The new object's labels or the old object's: either matching is enough. */
export function matchesObjectSelector(selector: LabelSelector | null | undefined, attrs: AdmissionAttributes): boolean {
  if (isEmptySelector(selector)) return true;
  const matches = labelSelectorFromObject(selector);
  const test = (o: AdmissionAttributes['object']) => o !== undefined && o !== null && matches(o.metadata?.labels ?? {});
  return test(attrs.object) || test(attrs.oldObject);
}

/** A policy's matchConstraints or a binding's matchResources; no resourceRules means every resource. */
export function matchesMatchResources(
  m: MatchResources | undefined,
  attrs: AdmissionAttributes,
  source: Pick<AdmissionConfigSource, 'namespace'>,
): boolean {
  if (!m) return true;
  if (!matchesNamespaceSelector(m.namespaceSelector, attrs, source)) return false;
  if (!matchesObjectSelector(m.objectSelector, attrs)) return false;
  if (matchesResourceRules(m.excludeResourceRules, attrs)) return false;
  return !m.resourceRules?.length || matchesResourceRules(m.resourceRules, attrs);
}
