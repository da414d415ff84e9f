import { createRequire } from 'node:module';
import type { CompiledExpression, CompileOptions } from './compile.ts';

export { CELError } from './error.ts';
export type { CompiledExpression, CompileOptions } from './compile.ts';
export { fromCelValue, LazyMap, toCelValue } from './values.ts';

// @bufbuild/cel and its protobuf runtime are a tenth of the server's module graph, and a server with no
// ValidatingAdmissionPolicy and no webhook matchCondition never compiles an expression: compile.ts loads
// on the first compile, synchronously (require of an ES module), so that callers stay synchronous.
const require = createRequire(import.meta.url);
let compiler: typeof import('./compile.ts') | undefined;

/** Compiles once per (expression, declared names); later calls return the cached program. */
export function compileCEL(expression: string, opts: CompileOptions): CompiledExpression {
  compiler ??= require('./compile.ts') as typeof import('./compile.ts');
  return compiler.compileCEL(expression, opts);
}
