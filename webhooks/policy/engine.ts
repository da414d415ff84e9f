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
import { compileBinding, compilePolicy } from './compile.ts';
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

export class PolicyEngine {
  readonly source: AdmissionConfigSource;
  readonly authorizer?: Authorizer;
  private compiledAt = -1;
  private pairs: Pair[] = [];

  constructor(source: AdmissionConfigSource, authorizer?: Authorizer) {
    this.source = source;
    this.authorizer = authorizer;
  }

  /** Bindings paired with their compiled policies; rebuilt only when the source's generation moves. */
  private current(): Pair[] {
    const generation = this.source.generation();
    if (generation === this.compiledAt) return this.pairs;
    const policies = new Map<string, CompiledPolicy>();
    for (const p of this.source.validatingAdmissionPolicies()) {
      const compiled = compilePolicy(p);
      policies.set(compiled.name, compiled);
    }
    const pairs: Pair[] = [];
    for (const b of this.source.validatingAdmissionPolicyBindings()) {
      const binding = compileBinding(b);
      const policy = policies.get(binding.policyName);
      if (policy) pairs.push({ binding, policy });
    }
    this.pairs = pairs;
    this.compiledAt = generation;
    return pairs;
  }

  async validate(attrs: AdmissionAttributes, warnings: string[]): Promise<PolicyResult> {
    const result: PolicyResult = { auditAnnotations: {}, auditEvents: [] };
    const pairs = this.current();
    if (pairs.length === 0) return result;
    const denials: Denial[] = [];
    let base: Record<string, unknown> | undefined;
    // The request's CEL values are built once, and only when some binding applies.
    const activation = () =>
      (base ??= {
        object: toCelValue(attrs.operation === 'DELETE' ? null : attrs.object),
        oldObject: toCelValue(attrs.oldObject),
        request: toCelValue(admissionRequest(attrs)),
        namespaceObject: toCelValue(attrs.namespace ? this.source.namespace(attrs.namespace) : null),
        authorizer: null,
      });

    for (const { binding, policy } of pairs) {
      const onError = (message: string) => {
        if (policy.failurePolicy === 'Fail') denials.push({ policy: policy.name, binding: binding.name, message });
      };
      let paramSets: unknown[];
      try {
        if (!matchesMatchResources(policy.matchConstraints, attrs, this.source)) continue;
        if (!matchesMatchResources(binding.matchResources, attrs, this.source)) continue;
        paramSets = this.params(policy, binding, attrs);
      } catch (err) {
        onError(errorMessage(err));
        continue;
      }
      for (const params of paramSets) {
        try {
          this.evaluate(policy, binding, { ...activation(), params: toCelValue(params) }, denials, warnings, result);
        } catch (err) {
          onError(errorMessage(err));
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
    base: Record<string, unknown>,
    denials: Denial[],
    warnings: string[],
    result: PolicyResult,
  ): void {
    const pending = new Set<string>();
    const byName = new Map(policy.variables.map((v) => [v.name, v.expression]));
    const activation: Record<string, unknown> = { ...base };
    activation.variables = new LazyMap(byName.keys(), (name) => {
      if (pending.has(name)) throw new CELError(`variable '${name}' refers to itself`);
      pending.add(name);
      try {
        return (byName.get(name) as CompiledExpression).evaluate(activation);
      } finally {
        pending.delete(name);
      }
    });

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

    const failures: Denial[] = [];
    policy.validations.forEach((v, index) => {
      let ok: unknown;
      try {
        ok = v.expression.evaluate(activation);
      } catch (err) {
        if (policy.failurePolicy === 'Fail') {
          failures.push({
            policy: policy.name,
            binding: binding.name,
            message: `expression '${v.expression.expression}' resulted in error: ${errorMessage(err)}`,
            expressionIndex: index,
          });
        }
        return;
      }
      if (ok === true) return;
      failures.push({
        policy: policy.name,
        binding: binding.name,
        message: failureMessage(v, activation),
        reason: v.reason ?? 'Invalid',
        fieldPath: v.fieldPath,
        expressionIndex: index,
      });
    });

    for (const f of failures) this.act(binding, f, denials, warnings, result);

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
