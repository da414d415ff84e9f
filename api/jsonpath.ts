// The JSONPath subset that printer columns and selectable fields use: `.a.b`, `a.b`, `{.a.b}`, `.a[0]`,
// `.a['x.y']`, `.a\.b` (escaped dot), `.a[*]` and `.a[?(@.type=='Ready')].status`.
// Printer columns are evaluated for every object of a LIST, so a path is parsed once and cached.

export type JSONPathStep =
  | { op: 'field'; name: string }
  | { op: 'index'; index: number }
  | { op: 'all' }
  | { op: 'filter'; path: string[]; value: unknown };

const parsed = new Map<string, JSONPathStep[]>();

/**
 * The value at a simple JSONPath, or undefined when any step is absent. Like kube's printer columns, a path
 * that matches several values (a filter or `[*]`) yields the first match.
 */
export function jsonPathValue(obj: unknown, jsonPath: string): unknown {
  let steps = parsed.get(jsonPath);
  if (!steps) {
    steps = parseJSONPath(jsonPath);
    // Paths come from definitions, so the cache stays small; the bound only guards against callers passing input.
    if (parsed.size >= 1024) parsed.clear();
    parsed.set(jsonPath, steps);
  }
  return evaluate(obj, steps, 0);
}

/** A reusable evaluator for one path, for callers that keep their own handle instead of the shared cache. */
export function compileJSONPath(jsonPath: string): (obj: unknown) => unknown {
  const steps = parseJSONPath(jsonPath);
  return (obj) => evaluate(obj, steps, 0);
}

function evaluate(value: unknown, steps: JSONPathStep[], from: number): unknown {
  let current = value;
  for (let i = from; i < steps.length; i++) {
    const step = steps[i];
    if (current === null || typeof current !== 'object') return undefined;
    switch (step.op) {
      case 'field':
        if (Array.isArray(current)) return undefined;
        current = (current as Record<string, unknown>)[step.name];
        if (current === undefined) return undefined;
        break;
      case 'index': {
        if (!Array.isArray(current)) return undefined;
        const index = step.index < 0 ? current.length + step.index : step.index;
        current = current[index];
        if (current === undefined) return undefined;
        break;
      }
      case 'all':
      case 'filter': {
        if (!Array.isArray(current)) return undefined;
        for (const item of current) {
          if (step.op === 'filter' && !filterMatches(item, step)) continue;
          const result = evaluate(item, steps, i + 1);
          if (result !== undefined) return result;
        }
        return undefined;
      }
    }
  }
  return current;
}

function filterMatches(item: unknown, step: { path: string[]; value: unknown }): boolean {
  let v: unknown = item;
  for (const name of step.path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    v = (v as Record<string, unknown>)[name];
  }
  return v === step.value;
}

/** Splits a path into steps; throws on syntax this subset does not support. */
export function parseJSONPath(jsonPath: string): JSONPathStep[] {
  let path = jsonPath.trim();
  if (path.startsWith('{') && path.endsWith('}')) path = path.slice(1, -1).trim();
  if (path.startsWith('$')) path = path.slice(1);
  const steps: JSONPathStep[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`unsupported JSONPath ${JSON.stringify(jsonPath)}: ${why}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
      continue;
    }
    if (c === '[') {
      const end = closingBracket(path, i);
      if (end < 0) fail('unbalanced [');
      steps.push(bracketStep(path.slice(i + 1, end).trim(), fail));
      i = end + 1;
      continue;
    }
    // A bare field name runs to the next unescaped `.` or `[`.
    let name = '';
    while (i < path.length && path[i] !== '.' && path[i] !== '[') {
      if (path[i] === '\\' && i + 1 < path.length) i++;
      name += path[i];
      i++;
    }
    steps.push({ op: 'field', name });
  }
  return steps;
}

function closingBracket(path: string, open: number): number {
  let quote = '';
  for (let i = open + 1; i < path.length; i++) {
    const c = path[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === ']') {
      return i;
    }
  }
  return -1;
}

function bracketStep(inner: string, fail: (why: string) => never): JSONPathStep {
  if (inner === '*') return { op: 'all' };
  if (/^-?\d+$/.test(inner)) return { op: 'index', index: Number(inner) };
  const quoted = /^(['"])(.*)\1$/.exec(inner);
  if (quoted) return { op: 'field', name: quoted[2] };
  const filter = /^\?\(\s*@((?:\.[A-Za-z0-9_-]+)+)\s*==\s*(.+?)\s*\)$/.exec(inner);
  if (filter) return { op: 'filter', path: filter[1].slice(1).split('.'), value: literal(filter[2], fail) };
  return fail(`cannot parse [${inner}]`);
}

function literal(text: string, fail: (why: string) => never): unknown {
  const quoted = /^(['"])(.*)\1$/.exec(text);
  if (quoted) return quoted[2];
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return fail(`cannot parse literal ${text}`);
}
