// Compiling CEL once per expression text and evaluating it against an activation of CEL values.
// There is no type-checker (@bufbuild/cel plans dynamically), so compilation catches syntax errors,
// references to undeclared variables and unknown functions; type errors surface at evaluation.
// Syntax the parser lacks (optionals, cel.bind) is rewritten first (rewrite.ts).
import { celEnv, celFunc, CelScalar, isCelError, parse, plan } from '@bufbuild/cel';
import type { CelEnv } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { kubernetesLibrary } from './library.ts';
import { optionalLibrary } from './optional.ts';
import { rewriteExtendedSyntax } from './rewrite.ts';
import { CELError } from './error.ts';

export { CELError };

export interface CompiledExpression {
  readonly expression: string;
  /** Why it did not compile; evaluate() then throws it. */
  readonly error?: string;
  /** The declared names (of CompileOptions.variables) the expression refers to. */
  readonly references: ReadonlySet<string>;
  /** Evaluates with CEL values (see toCelValue) bound to the declared names; throws CELError on failure. */
  evaluate(activation: Record<string, unknown>): unknown;
}

export interface CompileOptions {
  /** Top-level names the expression may use: object, oldObject, request, params, namespaceObject, authorizer, variables. */
  variables: readonly string[];
}

// The identity, wrapped around a variable that fields are selected from (see rootSelections).
const VARIABLE = '__v';
const variableFunc = celFunc(VARIABLE, [CelScalar.DYN], CelScalar.DYN, (v) => v);

const library = [...kubernetesLibrary, ...optionalLibrary, variableFunc];

let env: CelEnv | undefined;
const environment = () => (env ??= celEnv({ funcs: library }));

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
  knownFunctions ??= new Set([...STANDARD_FUNCTIONS, ...library.map((f) => f.name)]);
  // Operators are spelled `_op_` (`_&&_`, `_[_]`, `!_`, `@in`, `@not_strictly_false`).
  return knownFunctions.has(name) || name.startsWith('_') || name.startsWith('!') || name.startsWith('@') || name.endsWith('_');
};

/**
 * Undeclared references and unknown functions, as the type-checker would report them; `used` collects
 * the declared names the expression refers to.
 */
function checkReferences(expr: Expr, scope: ReadonlySet<string>, problems: string[], used?: Set<string>): void {
  const k = expr.exprKind;
  switch (k.case) {
    case 'identExpr':
      if (!scope.has(k.value.name) && !BUILTIN_IDENTS.has(k.value.name)) {
        problems.push(`undeclared reference to '${k.value.name}'`);
      } else if (used && scope.has(k.value.name)) used.add(k.value.name);
      return;
    case 'selectExpr':
      if (k.value.operand) checkReferences(k.value.operand, scope, problems, used);
      return;
    case 'callExpr':
      if (!isKnownFunction(k.value.function)) problems.push(`undeclared reference to '${k.value.function}'`);
      if (k.value.target) checkReferences(k.value.target, scope, problems, used);
      for (const a of k.value.args) checkReferences(a, scope, problems, used);
      return;
    case 'listExpr':
      for (const e of k.value.elements) checkReferences(e, scope, problems, used);
      return;
    case 'structExpr':
      for (const e of k.value.entries) {
        if (e.keyKind.case === 'mapKey') checkReferences(e.keyKind.value, scope, problems, used);
        if (e.value) checkReferences(e.value, scope, problems, used);
      }
      return;
    case 'comprehensionExpr': {
      const c = k.value;
      if (c.iterRange) checkReferences(c.iterRange, scope, problems, used);
      if (c.accuInit) checkReferences(c.accuInit, scope, problems, used);
      const inner = new Set(scope);
      inner.add(c.accuVar);
      inner.add(c.iterVar);
      if (c.iterVar2) inner.add(c.iterVar2);
      // Names the comprehension binds are not references to the declared names they shadow.
      const local = used && new Set<string>();
      if (c.loopCondition) checkReferences(c.loopCondition, inner, problems, local);
      if (c.loopStep) checkReferences(c.loopStep, inner, problems, local);
      if (c.result) checkReferences(c.result, new Set([...scope, c.accuVar]), problems, local);
      if (used && local) for (const n of local) if (n !== c.accuVar && n !== c.iterVar && n !== c.iterVar2) used.add(n);
      return;
    }
    default:
      return;
  }
}

const isVariable = (e: Expr | undefined): e is Expr =>
  e !== undefined && e.exprKind.case === 'identExpr' && !BUILTIN_IDENTS.has(e.exprKind.value.name);

function wrapVariable(ident: Expr): Expr {
  const call = { $typeName: 'cel.expr.Expr.Call', function: VARIABLE, args: [ident] };
  return { $typeName: 'cel.expr.Expr', id: ident.id, exprKind: { case: 'callExpr', value: call } } as unknown as Expr;
}

/**
 * Makes every selection from a variable (`object.spec.x`, `variables.y`, `r.namespace`, `labels[k]`)
 * start from `__v(variable)`. @bufbuild/cel otherwise reads `object.spec.x` as a possibly qualified name
 * and, on every evaluation, first looks up `object.spec.x` and `object.spec` as variables, protobuf
 * messages and enums before it finds `object`; from a call's result it selects the fields directly.
 */
function rootSelections(expr: Expr | undefined): void {
  if (expr === undefined) return;
  const k = expr.exprKind;
  switch (k.case) {
    case 'selectExpr':
      if (isVariable(k.value.operand)) k.value.operand = wrapVariable(k.value.operand);
      else rootSelections(k.value.operand);
      return;
    case 'callExpr': {
      const args = k.value.args;
      if (k.value.function === '_[_]' && isVariable(args[0])) args[0] = wrapVariable(args[0]);
      rootSelections(k.value.target);
      for (const a of args) rootSelections(a);
      return;
    }
    case 'listExpr':
      for (const e of k.value.elements) rootSelections(e);
      return;
    case 'structExpr':
      for (const e of k.value.entries) {
        if (e.keyKind.case === 'mapKey') rootSelections(e.keyKind.value);
        rootSelections(e.value);
      }
      return;
    case 'comprehensionExpr': {
      const c = k.value;
      for (const e of [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result]) rootSelections(e);
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
    references: new Set(),
    evaluate: () => {
      throw new CELError(why);
    },
  });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rewriteExtendedSyntax(expression));
  } catch (err) {
    return fail(`compilation failed: ERROR: <input>: Syntax error: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  const declared = new Set(variables);
  const used = new Set<string>();
  checkReferences(parsed.expr, declared, problems, used);
  if (problems.length) return fail(`compilation failed: ${[...new Set(problems)].map((p) => `ERROR: <input>: ${p}`).join('\n')}`);
  const references: ReadonlySet<string> = new Set([...used].filter((n) => declared.has(n)));
  let program: ReturnType<typeof plan>;
  try {
    rootSelections(parsed.expr);
    program = plan(environment(), parsed);
  } catch (err) {
    return fail(`compilation failed: ${(err as Error).message}`);
  }
  return {
    expression,
    references,
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
