// MutatingWebhookConfiguration / ValidatingWebhookConfiguration objects read as the webhooks kube calls,
// with the v1 defaults applied and in kube's order: by configuration name, then as listed.
import type { LabelSelector } from '../../api/labels.ts';
import type { KubeObject } from '../../api/types.ts';
import { compileCEL } from '../cel/index.ts';
import type { CompiledExpression } from '../cel/index.ts';
import type { WebhookClientConfig } from './client.ts';

export interface RuleWithOperations {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

export interface MatchCondition {
  name: string;
  expression: string;
  compiled: CompiledExpression;
}

export interface Webhook {
  /** Configuration name and position: what kube's reinvocation bookkeeping keys on. */
  uid: string;
  configurationName: string;
  name: string;
  rules: RuleWithOperations[];
  namespaceSelector: LabelSelector | null;
  objectSelector: LabelSelector | null;
  matchPolicy: string;
  matchConditions: MatchCondition[];
  failurePolicy: 'Fail' | 'Ignore';
  sideEffects?: string;
  timeoutSeconds: number;
  reinvocationPolicy: 'Never' | 'IfNeeded';
  admissionReviewVersions: string[];
  clientConfig: WebhookClientConfig;
}

/** What matchConditions may refer to (kube's webhook matchCondition environment). */
export const matchConditionVariables = ['object', 'oldObject', 'request', 'authorizer'] as const;

export const maxMatchConditions = 64;
const defaultTimeoutSeconds = 10;
const maxTimeoutSeconds = 30;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function rule(v: unknown): RuleWithOperations {
  const r = isRecord(v) ? v : {};
  return {
    operations: strings(r.operations),
    apiGroups: strings(r.apiGroups),
    apiVersions: strings(r.apiVersions),
    resources: strings(r.resources),
    scope: str(r.scope) ?? '*',
  };
}

function clientConfig(v: unknown): WebhookClientConfig {
  const c = isRecord(v) ? v : {};
  const out: WebhookClientConfig = { url: str(c.url), caBundle: str(c.caBundle) };
  if (isRecord(c.service)) {
    const s = c.service;
    out.service = {
      namespace: str(s.namespace) ?? '',
      name: str(s.name) ?? '',
      path: str(s.path),
      port: typeof s.port === 'number' ? s.port : undefined,
    };
  }
  return out;
}

/** timeoutSeconds outside 1..30 is refused by kube's validation; a stored one is held to that range. */
function timeout(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return defaultTimeoutSeconds;
  return Math.min(maxTimeoutSeconds, Math.max(1, Math.floor(v)));
}

function webhook(config: KubeObject, index: number, v: Record<string, unknown>, mutating: boolean): Webhook {
  const configurationName = config.metadata.name ?? '';
  const conditions = Array.isArray(v.matchConditions) ? v.matchConditions.filter(isRecord) : [];
  return {
    uid: `${configurationName}/${index}`,
    configurationName,
    name: str(v.name) ?? '',
    rules: Array.isArray(v.rules) ? v.rules.map(rule) : [],
    // v1 defaults an absent selector to {}, which selects everything.
    namespaceSelector: isRecord(v.namespaceSelector) ? (v.namespaceSelector as LabelSelector) : {},
    objectSelector: isRecord(v.objectSelector) ? (v.objectSelector as LabelSelector) : {},
    matchPolicy: str(v.matchPolicy) ?? 'Equivalent',
    matchConditions: conditions.map((c) => {
      const expression = str(c.expression) ?? '';
      return { name: str(c.name) ?? '', expression, compiled: compileCEL(expression, { variables: matchConditionVariables }) };
    }),
    failurePolicy: v.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail',
    sideEffects: str(v.sideEffects),
    timeoutSeconds: timeout(v.timeoutSeconds),
    reinvocationPolicy: mutating && v.reinvocationPolicy === 'IfNeeded' ? 'IfNeeded' : 'Never',
    admissionReviewVersions: strings(v.admissionReviewVersions) ?? [],
    clientConfig: clientConfig(v.clientConfig),
  };
}

/** Every webhook of the configurations, ordered as kube's webhook source lists them. */
export function webhooksOf(configurations: readonly KubeObject[], mutating: boolean): Webhook[] {
  const sorted = [...configurations].sort((a, b) => {
    const x = a.metadata.name ?? '';
    const y = b.metadata.name ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const out: Webhook[] = [];
  for (const config of sorted) {
    const hooks = Array.isArray(config.webhooks) ? config.webhooks : [];
    hooks.forEach((h, i) => {
      if (isRecord(h)) out.push(webhook(config, i, h, mutating));
    });
  }
  return out;
}
