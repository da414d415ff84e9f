// A ValidatingAdmissionPolicy and its bindings, read from their JSON and compiled once per generation
// of the configuration source. Fields follow admissionregistration.k8s.io/v1.
import { fieldErrors } from '../../api/status.ts';
import type { StatusCause } from '../../api/status.ts';
import type { KubeObject } from '../../api/types.ts';
import { compileCEL } from '../cel/index.ts';
import type { CompiledExpression } from '../cel/index.ts';
import type { MatchResources } from '../matching.ts';
import type { ParamKind } from '../config.ts';

/** What every ValidatingAdmissionPolicy expression may refer to (kube declares all of them). */
export const POLICY_VARIABLES = ['object', 'oldObject', 'request', 'params', 'namespaceObject', 'authorizer', 'variables'];

export type FailurePolicy = 'Fail' | 'Ignore';

export interface CompiledValidation {
  expression: CompiledExpression;
  message?: string;
  messageExpression?: CompiledExpression;
  reason?: string;
  fieldPath?: string;
}

export interface CompiledPolicy {
  name: string;
  /** The object's uid and resourceVersion (or its spec, when it has none): what recompiling depends on. */
  version: string;
  /** The top-level names some expression of the policy refers to (object, request, params, ...). */
  references: ReadonlySet<string>;
  /** spec.variables by name, shared by every evaluation's `variables` map. */
  variableNames: ReadonlySet<string>;
  variableExpressions: ReadonlyMap<string, CompiledExpression>;
  failurePolicy: FailurePolicy;
  paramKind?: ParamKind;
  matchConstraints?: MatchResources;
  matchConditions: { name: string; expression: CompiledExpression }[];
  variables: { name: string; expression: CompiledExpression }[];
  validations: CompiledValidation[];
  auditAnnotations: { key: string; valueExpression: CompiledExpression }[];
}

export interface ParamRef {
  name?: string;
  namespace?: string;
  selector?: unknown;
  parameterNotFoundAction?: string;
}

export interface CompiledBinding {
  name: string;
  policyName: string;
  paramRef?: ParamRef;
  matchResources?: MatchResources;
  validationActions: string[];
}

const record = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const array = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(record) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const compile = (expression: unknown) => compileCEL(str(expression) ?? '', { variables: POLICY_VARIABLES });

/** Changes whenever the policy may have: a new object (uid) or a new write (resourceVersion). */
export function policyVersion(policy: KubeObject): string {
  const { uid, resourceVersion } = policy.metadata;
  return resourceVersion ? `${uid ?? ''}/${resourceVersion}` : JSON.stringify(policy.spec ?? null);
}

export function compilePolicy(policy: KubeObject): CompiledPolicy {
  const spec = record(policy.spec);
  const paramKind = record(spec.paramKind);
  const compiled: Omit<CompiledPolicy, 'references' | 'variableNames' | 'variableExpressions'> = {
    name: policy.metadata.name ?? '',
    version: policyVersion(policy),
    failurePolicy: spec.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail',
    paramKind:
      typeof paramKind.kind === 'string' ? { apiVersion: str(paramKind.apiVersion) ?? '', kind: paramKind.kind } : undefined,
    matchConstraints: spec.matchConstraints ? (record(spec.matchConstraints) as MatchResources) : undefined,
    matchConditions: array(spec.matchConditions).map((c) => ({ name: str(c.name) ?? '', expression: compile(c.expression) })),
    variables: array(spec.variables).map((v) => ({ name: str(v.name) ?? '', expression: compile(v.expression) })),
    validations: array(spec.validations).map((v) => ({
      expression: compile(v.expression),
      message: str(v.message),
      messageExpression: typeof v.messageExpression === 'string' ? compile(v.messageExpression) : undefined,
      reason: str(v.reason),
      fieldPath: str(v.fieldPath),
    })),
    auditAnnotations: array(spec.auditAnnotations).map((a) => ({
      key: str(a.key) ?? '',
      valueExpression: compile(a.valueExpression),
    })),
  };
  const expressions: CompiledExpression[] = [
    ...compiled.matchConditions.map((c) => c.expression),
    ...compiled.variables.map((v) => v.expression),
    ...compiled.validations.flatMap((v) => (v.messageExpression ? [v.expression, v.messageExpression] : [v.expression])),
    ...compiled.auditAnnotations.map((a) => a.valueExpression),
  ];
  const variableExpressions = new Map(compiled.variables.map((v) => [v.name, v.expression]));
  return {
    ...compiled,
    references: new Set(expressions.flatMap((e) => [...e.references])),
    variableNames: new Set(variableExpressions.keys()),
    variableExpressions,
  };
}

export function compileBinding(binding: KubeObject): CompiledBinding {
  const spec = record(binding.spec);
  return {
    name: binding.metadata.name ?? '',
    policyName: str(spec.policyName) ?? '',
    paramRef: spec.paramRef ? (record(spec.paramRef) as ParamRef) : undefined,
    matchResources: spec.matchResources ? (record(spec.matchResources) as MatchResources) : undefined,
    validationActions: Array.isArray(spec.validationActions) ? spec.validationActions.filter((a) => typeof a === 'string') : [],
  };
}

/**
 * Compiles every expression of a policy and reports those that do not compile, as field causes for a 422,
 * so that a policy with a broken expression is refused at create time as kube refuses it.
 */
export function validatePolicyObject(policy: KubeObject): StatusCause[] {
  const spec = record(policy.spec);
  const causes: StatusCause[] = [];
  const check = (path: string, expression: unknown) => {
    if (typeof expression !== 'string') return;
    const compiled = compile(expression);
    if (compiled.error) causes.push(fieldErrors.invalid(path, expression, compiled.error));
  };
  array(spec.validations).forEach((v, i) => {
    check(`spec.validations[${i}].expression`, v.expression);
    check(`spec.validations[${i}].messageExpression`, v.messageExpression);
  });
  array(spec.matchConditions).forEach((c, i) => check(`spec.matchConditions[${i}].expression`, c.expression));
  array(spec.variables).forEach((v, i) => check(`spec.variables[${i}].expression`, v.expression));
  array(spec.auditAnnotations).forEach((a, i) => check(`spec.auditAnnotations[${i}].valueExpression`, a.valueExpression));
  return causes;
}
