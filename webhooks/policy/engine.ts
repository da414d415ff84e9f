// kube's ValidatingAdmissionPolicy plugin (k8s.io/apiserver/pkg/admission/plugin/policy/validating):
// every binding whose policy matches the request runs the policy's CEL validations, with params, and
// its validationActions decide whether a failure denies, warns or is recorded for audit.
import { StatusError } from '../../api/status.ts';
import type { StatusCause } from '../../api/status.ts';
import { CELError, LazyMap, toCelValue } from '../cel/index.ts';
import type { CompiledExpression } from '../cel/index.ts';
import type { AdmissionConfigSource } from '../config.ts';
import { matchesMatchResources } from '../matching.ts';
import type { AdmissionAttributes, UserInfo } from '../types.ts';
import { compileBinding, compilePolicy, policyVersion } from './compile.ts';
import type { CompiledBinding, CompiledPolicy, CompiledValidation } from './compile.ts';
import { admissionRequest } from './request.ts';

/** Decides `authorizer` checks; accepted for the plugin's shape, not yet exposed to CEL. */
export type Authorizer = (user: UserInfo, attributes: Record<string, string>) => boolean;

export const VALIDATION_FAILURE_ANNOTATION = 'validation.policy.admission.k8s.io/validation_failure';

export interface PolicyResult {
  auditAnnotations: Record<string, string>;
  /** The validation failures recorded by Audit actions, as in the validation_failure annotation. */
  auditEvents: unknown[];
}

interface Denial {
  policy: string;
  binding: string;
  message: string;
  reason?: string;
  fieldPath?: string;
  expressionIndex?: number;
}

interface Pair {
  binding: CompiledBinding;
  policy: CompiledPolicy;
}

const REASON_CODES: Record<string, number> = {
  Unauthorized: 401,
  Forbidden: 403,
  RequestEntityTooLarge: 413,
  Invalid: 422,
};

/** A binding or policy that cannot be applied: failurePolicy decides whether that denies. */
class ConfigurationError extends Error {}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

const UNSET: unique symbol = Symbol('unset');

/**
 * The CEL activation of one request, shared by every policy it meets: `object`, `oldObject`, `request`
 * and `namespaceObject` are converted when an expression first reads them (toCelValue itself converts
 * lazily), and `params` and `variables` are set for each policy and param in turn. Evaluation is
 * synchronous, so one policy's settings never leak into another's.
 */
class RequestActivation {
  readonly attrs: AdmissionAttributes;
  readonly source: AdmissionConfigSource;
  params: unknown = null;
  variables: unknown = null;
  readonly authorizer = null;
  private objectValue: unknown = UNSET;
  private oldObjectValue: unknown = UNSET;
  private requestValue: unknown = UNSET;
  private namespaceValue: unknown = UNSET;

  constructor(attrs: AdmissionAttributes, source: AdmissionConfigSource) {
    this.attrs = attrs;
    this.source = source;
  }

  get object(): unknown {
    if (this.objectValue === UNSET) this.objectValue = toCelValue(this.attrs.operation === 'DELETE' ? null : this.attrs.object);
    return this.objectValue;
  }

  get oldObject(): unknown {
    if (this.oldObjectValue === UNSET) this.oldObjectValue = toCelValue(this.attrs.oldObject);
    return this.oldObjectValue;
  }

  get request(): unknown {
    if (this.requestValue === UNSET) this.requestValue = toCelValue(admissionRequest(this.attrs));
    return this.requestValue;
  }

  get namespaceObject(): unknown {
    if (this.namespaceValue === UNSET) {
      this.namespaceValue = toCelValue(this.attrs.namespace ? this.source.namespace(this.attrs.namespace) : null);
    }
    return this.namespaceValue;
  }

  /** What CompiledExpression.evaluate takes: the getters above are read as its properties. */
  get data(): Record<string, unknown> {
    return this as unknown as Record<string, unknown>;
  }
}

interface CompiledCache {
  version: string;
  policy: CompiledPolicy;
}

export class PolicyEngine {
  readonly source: AdmissionConfigSource;
  readonly authorizer?: Authorizer;
  private compiledAt = -1;
  private pairs: Pair[] = [];
  /** Compiled policies by name, reused across generations while the policy object is unchanged. */
  private compiled = new Map<string, CompiledCache>();

  constructor(source: AdmissionConfigSource, authorizer?: Authorizer) {
    this.source = source;
    this.authorizer = authorizer;
  }

  /** Bindings paired with their compiled policies; rebuilt only when the source's generation moves. */
  private current(): Pair[] {
    const generation = this.source.generation();
    if (generation === this.compiledAt) return this.pairs;
    const policies = new Map<string, CompiledPolicy>();
    const compiled = new Map<string, CompiledCache>();
    for (const p of this.source.validatingAdmissionPolicies()) {
      const name = p.metadata.name ?? '';
      const version = policyVersion(p);
      let entry = this.compiled.get(name);
      if (entry?.version !== version) entry = { version, policy: compilePolicy(p) };
      compiled.set(name, entry);
      policies.set(name, entry.policy);
    }
    const pairs: Pair[] = [];
    for (const b of this.source.validatingAdmissionPolicyBindings()) {
      const binding = compileBinding(b);
      const policy = policies.get(binding.policyName);
      if (policy) pairs.push({ binding, policy });
    }
    this.compiled = compiled;
    this.pairs = pairs;
    this.compiledAt = generation;
    return pairs;
  }

  async validate(attrs: AdmissionAttributes, warnings: string[]): Promise<PolicyResult> {
    const result: PolicyResult = { auditAnnotations: {}, auditEvents: [] };
    const pairs = this.current();
    if (pairs.length === 0) return result;
    const denials: Denial[] = [];
    // Built once, and only when some binding applies.
    let activation: RequestActivation | undefined;

    for (const { binding, policy } of pairs) {
      let paramSets: unknown[];
      try {
        if (!matchesMatchResources(policy.matchConstraints, attrs, this.source)) continue;
        if (!matchesMatchResources(binding.matchResources, attrs, this.source)) continue;
        paramSets = this.params(policy, binding, attrs);
      } catch (err) {
        if (policy.failurePolicy === 'Fail') denials.push({ policy: policy.name, binding: binding.name, message: errorMessage(err) });
        continue;
      }
      activation ??= new RequestActivation(attrs, this.source);
      const usesParams = policy.references.has('params');
      for (const params of paramSets) {
        activation.params = usesParams ? toCelValue(params) : null;
        try {
          this.evaluate(policy, binding, activation, denials, warnings, result);
        } catch (err) {
          if (policy.failurePolicy === 'Fail') denials.push({ policy: policy.name, binding: binding.name, message: errorMessage(err) });
        }
      }
    }

    if (denials.length) throw this.denial(denials[0], attrs);
    return result;
  }

  /** The param objects to evaluate with: [null] without paramKind, one entry per selected object otherwise. */
  private params(policy: CompiledPolicy, binding: CompiledBinding, attrs: AdmissionAttributes): unknown[] {
    if (!policy.paramKind) return [null];
    const ref = binding.paramRef;
    if (!ref) throw new ConfigurationError('failed to configure binding: paramRef is required when paramKind is set');
    const namespace = ref.namespace ?? (attrs.namespace || undefined);
    const found = this.source.params(policy.paramKind, {
      namespace,
      ...(ref.name !== undefined ? { name: ref.name } : { selector: ref.selector ?? {} }),
    });
    if (found === undefined) {
      throw new ConfigurationError(
        `failed to configure binding: failed to find resource referenced by paramKind: '${policy.paramKind.apiVersion}, Kind=${policy.paramKind.kind}'`,
      );
    }
    if (found.length === 0) {
      if (ref.parameterNotFoundAction === 'Allow') return [];
      throw new ConfigurationError('failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction');
    }
    return found;
  }

  /** One policy against one param: matchConditions, validations, audit annotations. */
  private evaluate(
    policy: CompiledPolicy,
    binding: CompiledBinding,
    request: RequestActivation,
    denials: Denial[],
    warnings: string[],
    result: PolicyResult,
  ): void {
    const activation = request.data;
    request.variables = policy.variableNames.size ? policyVariables(policy, activation) : null;

    // Any false condition skips the policy; an error counts only if no condition is false.
    let conditionError: string | undefined;
    for (const c of policy.matchConditions) {
      try {
        if (c.expression.evaluate(activation) !== true) return;
      } catch (err) {
        conditionError ??= `failed to evaluate matchCondition '${c.name}': ${errorMessage(err)}`;
      }
    }
    if (conditionError) throw new ConfigurationError(conditionError);

    // Failures act only once every validation has run, as kube's validator returns them together.
    let failures: Denial[] | undefined;
    for (let index = 0; index < policy.validations.length; index++) {
      const v = policy.validations[index];
      let ok: unknown;
      try {
        ok = v.expression.evaluate(activation);
      } catch (err) {
        if (policy.failurePolicy === 'Fail') {
          (failures ??= []).push({
            policy: policy.name,
            binding: binding.name,
            message: `expression '${v.expression.expression}' resulted in error: ${errorMessage(err)}`,
            expressionIndex: index,
          });
        }
        continue;
      }
      if (ok === true) continue;
      (failures ??= []).push({
        policy: policy.name,
        binding: binding.name,
        message: failureMessage(v, activation),
        reason: v.reason ?? 'Invalid',
        fieldPath: v.fieldPath,
        expressionIndex: index,
      });
    }

    if (failures) for (const f of failures) this.act(binding, f, denials, warnings, result);

    for (const a of policy.auditAnnotations) {
      let value: unknown;
      try {
        value = a.valueExpression.evaluate(activation);
      } catch (err) {
        throw new ConfigurationError(`valueExpression '${a.valueExpression.expression}' resulted in error: ${errorMessage(err)}`);
      }
      if (value === null) continue;
      if (typeof value !== 'string') {
        throw new ConfigurationError(`valueExpression '${a.valueExpression.expression}' resulted in unsupported return type`);
      }
      result.auditAnnotations[`${policy.name}/${a.key}`] = value;
    }
  }

  /** validationActions: Deny collects the failure, Warn adds a warning, Audit records an annotation. */
  private act(binding: CompiledBinding, f: Denial, denials: Denial[], warnings: string[], result: PolicyResult): void {
    for (const action of binding.validationActions) {
      switch (action) {
        case 'Deny':
          denials.push(f);
          break;
        case 'Warn':
          warnings.push(`Validation failed for ValidatingAdmissionPolicy '${f.policy}' with binding '${f.binding}': ${f.message}`);
          break;
        case 'Audit': {
          result.auditEvents.push({
            message: f.message,
            policy: f.policy,
            binding: f.binding,
            expressionIndex: f.expressionIndex ?? 0,
            validationActions: binding.validationActions,
          });
          result.auditAnnotations[VALIDATION_FAILURE_ANNOTATION] = JSON.stringify(result.auditEvents);
          break;
        }
      }
    }
  }

  /** admission.NewForbidden with the decision's reason and code, as the validating dispatcher builds it. */
  private denial(d: Denial, attrs: AdmissionAttributes): StatusError {
    const message = `ValidatingAdmissionPolicy '${d.policy}' with binding '${d.binding}' denied request: ${d.message}`;
    const resource = attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource;
    const name = attrs.name || attrs.object?.metadata.name || '';
    const full = name ? `${resource} "${name}" is forbidden: ${message}` : `${resource} is forbidden: ${message}`;
    const reason = d.reason ?? 'Forbidden';
    const causes: StatusCause[] = [];
    if (d.reason) causes.push(d.fieldPath ? { message, field: d.fieldPath } : { message });
    return new StatusError(REASON_CODES[reason] ?? 400, reason, full, {
      name,
      group: attrs.group,
      kind: attrs.resource,
      ...(causes.length ? { causes } : {}),
    });
  }
}

/** `variables` for one evaluation of a policy: each computed on first read, with the same activation. */
function policyVariables(policy: CompiledPolicy, activation: Record<string, unknown>): LazyMap {
  let pending: Set<string> | undefined;
  return new LazyMap(policy.variableNames, (name) => {
    pending ??= new Set();
    if (pending.has(name)) throw new CELError(`variable '${name}' refers to itself`);
    pending.add(name);
    try {
      return (policy.variableExpressions.get(name) as CompiledExpression).evaluate(activation);
    } finally {
      pending.delete(name);
    }
  });
}

/** messageExpression if it yields a usable string, else message, else kube's `failed expression: …`. */
function failureMessage(v: CompiledValidation, activation: Record<string, unknown>): string {
  if (v.messageExpression) {
    try {
      const m = v.messageExpression.evaluate(activation);
      if (typeof m === 'string' && m.trim() !== '' && !/[\r\n]/.test(m)) return m.trim();
    } catch {
      // kube logs a failing messageExpression and falls back to the static message.
    }
  }
  return v.message ?? `failed expression: ${v.expression.expression.trim()}`;
}
