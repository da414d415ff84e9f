// Compiling CEL once per expression text and evaluating it against an activation of CEL values.
// There is no type-checker (@bufbuild/cel plans dynamically), so compilation catches syntax errors,
// references to undeclared variables and unknown functions; type errors surface at evaluation.
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { CelEnv } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { kubernetesLibrary } from './library.ts';

/** A compile or evaluation failure; the message is what kube reports for it. */
export class CELError extends Error {}

export interface CompiledExpression {
  readonly expression: string;
  /** Why it did not compile; evaluate() then throws it. */
  readonly error?: string;
  /** Evaluates with CEL values (see toCelValue) bound to the declared names; throws CELError on failure. */
  evaluate(activation: Record<string, unknown>): unknown;
}

export interface CompileOptions {
  /** Top-level names the expression may use: object, oldObject, request, params, namespaceObject, authorizer, variables. */
  variables: readonly string[];
}

let env: CelEnv | undefined;
const environment = () => (env ??= celEnv({ funcs: kubernetesLibrary }));

// Names CEL resolves without a binding: type denotations usable in `type(x) == map`.
const BUILTIN_IDENTS = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

const STANDARD_FUNCTIONS = new Set([
  'size', 'int', 'uint', 'double', 'string', 'bytes', 'bool', 'type', 'dyn', 'has', 'matches', 'contains',
  'startsWith', 'endsWith', 'timestamp', 'duration', 'getFullYear', 'getMonth', 'getDayOfYear', 'getDayOfMonth',
  'getDate', 'getDayOfWeek', 'getHours', 'getMinutes', 'getSeconds', 'getMilliseconds', 'exists', 'all',
  'exists_one', 'map', 'filter',
]);

let knownFunctions: Set<string> | undefined;
const isKnownFunction = (name: string) => {
  knownFunctions ??= new Set([...STANDARD_FUNCTIONS, ...kubernetesLibrary.map((f) => f.name)]);
  // Operators are spelled `_op_` (`_&&_`, `_[_]`, `!_`, `@in`, `@not_strictly_false`).
  return knownFunctions.has(name) || name.startsWith('_') || name.startsWith('!') || name.startsWith('@') || name.endsWith('_');
};

/** Undeclared references and unknown functions, as the type-checker would report them. */
function checkReferences(expr: Expr, scope: ReadonlySet<string>, problems: string[]): void {
  const k = expr.exprKind;
  switch (k.case) {
    case 'identExpr':
      if (!scope.has(k.value.name) && !BUILTIN_IDENTS.has(k.value.name)) {
        problems.push(`undeclared reference to '${k.value.name}'`);
      }
      return;
    case 'selectExpr':
      if (k.value.operand) checkReferences(k.value.operand, scope, problems);
      return;
    case 'callExpr':
      if (!isKnownFunction(k.value.function)) problems.push(`undeclared reference to '${k.value.function}'`);
      if (k.value.target) checkReferences(k.value.target, scope, problems);
      for (const a of k.value.args) checkReferences(a, scope, problems);
      return;
    case 'listExpr':
      for (const e of k.value.elements) checkReferences(e, scope, problems);
      return;
    case 'structExpr':
      for (const e of k.value.entries) {
        if (e.keyKind.case === 'mapKey') checkReferences(e.keyKind.value, scope, problems);
        if (e.value) checkReferences(e.value, scope, problems);
      }
      return;
    case 'comprehensionExpr': {
      const c = k.value;
      if (c.iterRange) checkReferences(c.iterRange, scope, problems);
      if (c.accuInit) checkReferences(c.accuInit, scope, problems);
      const inner = new Set(scope);
      inner.add(c.accuVar);
      inner.add(c.iterVar);
      if (c.iterVar2) inner.add(c.iterVar2);
      if (c.loopCondition) checkReferences(c.loopCondition, inner, problems);
      if (c.loopStep) checkReferences(c.loopStep, inner, problems);
      if (c.result) checkReferences(c.result, new Set([...scope, c.accuVar]), problems);
      return;
    }
    default:
      return;
  }
}

function compileUncached(expression: string, variables: readonly string[]): CompiledExpression {
  const fail = (why: string): CompiledExpression => ({
    expression,
    error: why,
    evaluate: () => {
      throw new CELError(why);
    },
  });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (err) {
    return fail(`compilation failed: ERROR: <input>: Syntax error: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  checkReferences(parsed.expr, new Set(variables), problems);
  if (problems.length) return fail(`compilation failed: ${[...new Set(problems)].map((p) => `ERROR: <input>: ${p}`).join('\n')}`);
  let program: ReturnType<typeof plan>;
  try {
    program = plan(environment(), parsed);
  } catch (err) {
    return fail(`compilation failed: ${(err as Error).message}`);
  }
  return {
    expression,
    evaluate(activation) {
      let result: unknown;
      try {
        result = program(activation as Parameters<typeof program>[0]);
      } catch (err) {
        throw new CELError((err as Error).message);
      }
      if (isCelError(result)) throw new CELError(result.message);
      return result;
    },
  };
}

// Policies are few and change rarely; the bound only protects against churn in generated expressions.
const CACHE_LIMIT = 4096;
const cache = new Map<string, CompiledExpression>();

/** Compiles once per (expression, declared names); later calls return the cached program. */
export function compileCEL(expression: string, opts: CompileOptions): CompiledExpression {
  const key = `${opts.variables.join(',')}\n${expression}`;
  const hit = cache.get(key);
  if (hit) {
    // Re-insert so the least recently used entry is the first to go.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const compiled = compileUncached(expression, opts.variables);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, compiled);
  return compiled;
}
