export { CELError, compileCEL } from './compile.ts';
export type { CompiledExpression, CompileOptions } from './compile.ts';
export { fromCelValue, LazyMap, toCelValue } from './values.ts';
