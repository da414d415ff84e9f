export { PolicyEngine, VALIDATION_FAILURE_ANNOTATION } from './engine.ts';
export type { Authorizer, PolicyResult } from './engine.ts';
export { POLICY_VARIABLES, validatePolicyObject } from './compile.ts';
