// A bound on how deeply a request body nests, checked before anything recursive walks it. Shared by the
// API's decoders and the AdmissionReview endpoints.

/**
 * Deepest nesting a body may have. kube's decoder stops at 10,000; every walk over an object here
 * (validation, cloning, field management, JSON.stringify) recurses, and the stack runs out near 5,000,
 * which made a deeply nested body a 500. No Kubernetes object comes near this depth.
 */
export const maxNestingDepth = 1000;

export interface JSONTextShape {
  /** Nests deeper than maxNestingDepth (the scan stops there). */
  tooDeep: boolean;
  /** Object keys in the text, duplicates included: the `:` outside strings. */
  keys: number;
}

/**
 * One pass over JSON text, before any parse: its nesting depth against the limit, and its key count, which
 * strict decoding compares with the parsed value's to learn, without a second scan, that no key repeats.
 */
export function scanJSONText(text: string): JSONTextShape {
  let depth = 0;
  let keys = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x3a) keys++;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxNestingDepth) return { tooDeep: true, keys };
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return { tooDeep: false, keys };
}

/**
 * Flow-collection depth of YAML text, counting brackets inside quotes too (YAML's quoting rules are not
 * worth re-implementing for a guard: over-counting only refuses absurd documents). The yaml parser takes
 * seconds on a megabyte of `[`, blocking every other request, so this runs before it.
 */
export function yamlFlowTooDeep(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      if (++depth > maxNestingDepth) return true;
    } else if ((c === 0x7d || c === 0x5d) && depth > 0) depth--;
  }
  return false;
}

/** The same limit on a decoded value (YAML), walked without recursion. */
export function valueTooDeep(root: unknown): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (d > maxNestingDepth) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}
