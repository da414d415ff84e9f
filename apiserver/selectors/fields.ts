// Field selectors as k8s.io/apimachinery/pkg/fields parses them: comma-separated terms
// `field=value`, `field==value`, `field!=value`; in values `\,`, `\=` and `\\` escape.

import type { KubeObject } from '../../api/types.ts';
import { badRequest } from '../status.ts';

export interface FieldTerm {
  field: string;
  /** `=` and `==` both mean equality. */
  operator: '=' | '!=';
  value: string;
}

export type FieldValueOf = (obj: KubeObject, field: string) => string | undefined;

/** Splits on commas that are not escaped; the escapes stay in for unescapeValue. */
function splitTerms(s: string): string[] {
  if (s === '') return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** The field name cannot be escaped, so the first operator found splits the term. */
function splitTerm(term: string): [string, string, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '=']) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

function unescapeValue(s: string): string {
  let out = '';
  let escaped = false;
  for (const c of s) {
    if (escaped) {
      if (c !== '\\' && c !== ',' && c !== '=') {
        throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      }
      out += c;
      escaped = false;
    } else if (c === '\\') {
      escaped = true;
    } else if (c === ',' || c === '=') {
      // Go prints the rune with %v, that is as its code point.
      throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    } else {
      out += c;
    }
  }
  if (escaped) throw badRequest('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Parses a `fieldSelector` query value without checking which fields it names; 400 on bad syntax. */
export function parseFieldTerms(s: string): FieldTerm[] {
  // kube sorts the terms, which decides which error a selector with several problems reports.
  const parts = splitTerms(s).sort();
  const terms: FieldTerm[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const split = splitTerm(part);
    if (!split) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const [field, op, raw] = split;
    terms.push({ field, operator: op === '!=' ? '!=' : '=', value: unescapeValue(raw) });
  }
  return terms;
}

/**
 * Compiles a `fieldSelector` query value into a predicate. `supported` lists the fields a kind can be
 * selected on (metadata.name, metadata.namespace and the kind's selectableFields); any other field is
 * kube's 400 `field label not supported: <field>`. A field `valueOf` cannot find reads as "".
 */
export function parseFieldSelector(
  s: string,
  supported: string[],
  valueOf: FieldValueOf,
): (obj: KubeObject) => boolean {
  const terms = parseFieldTerms(s);
  const allowed = new Set(supported);
  for (const t of terms) {
    if (!allowed.has(t.field)) throw badRequest(`field label not supported: ${t.field}`);
  }
  if (terms.length === 0) return () => true;
  return (obj) =>
    terms.every((t) => {
      const actual = valueOf(obj, t.field) ?? '';
      return t.operator === '=' ? actual === t.value : actual !== t.value;
    });
}

/**
 * The name a field selector pins, as kube's RequiresExactMatch("metadata.name") finds it: a
 * `metadata.name=X` (or `==`) term, alone or ANDed with others. kube's request info uses it to make a
 * watch on one object a `get`/`watch` of that name for authorization. Callers still have to apply
 * the whole selector. Undefined when there is no such term or the selector does not parse.
 */
export function exactNameFromFieldSelector(s: string): string | undefined {
  let terms: FieldTerm[];
  try {
    terms = parseFieldTerms(s);
  } catch {
    return undefined;
  }
  return terms.find((t) => t.field === 'metadata.name' && t.operator === '=')?.value;
}

/** A valueOf for the two fields every kind supports, for callers with no selectable fields of their own. */
export function metadataFieldValue(obj: KubeObject, field: string): string | undefined {
  if (field === 'metadata.name') return obj.metadata?.name;
  if (field === 'metadata.namespace') return obj.metadata?.namespace;
  return undefined;
}
