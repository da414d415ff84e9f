// Label selectors: the string syntax of k8s.io/apimachinery/pkg/labels (selector.go) and the
// structured metav1.LabelSelector, both compiled to a predicate over an object's labels.
// Error messages follow kube's parser so that clients see the same 400s.

import { badRequest } from './status.ts';
import { isQualifiedName, isValidLabelValue } from './objectmeta.ts';

export type Labels = Record<string, string> | undefined;
export type LabelPredicate = (labels: Labels) => boolean;

/** selection.Operator values, spelled as kube spells them. */
type Operator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: Operator;
  /** Sorted and de-duplicated, as kube's sets.String keeps them. */
  values: string[];
}

const BINARY_OPERATORS = 'in, notin, =, ==, !=, gt, lt';

// ---- lexer -------------------------------------------------------------------------------------

type TokenKind =
  | 'end'
  | 'identifier'
  | 'openPar'
  | 'closedPar'
  | 'comma'
  | 'not'
  | 'equals'
  | 'doubleEquals'
  | 'notEquals'
  | 'gt'
  | 'lt'
  | 'in'
  | 'notin';

interface Token {
  kind: TokenKind;
  literal: string;
}

const SYMBOLS = new Map<string, TokenKind>([
  ['(', 'openPar'],
  [')', 'closedPar'],
  [',', 'comma'],
  ['!', 'not'],
  ['!=', 'notEquals'],
  ['=', 'equals'],
  ['==', 'doubleEquals'],
  ['>', 'gt'],
  ['<', 'lt'],
]);
const KEYWORDS = new Map<string, TokenKind>([
  ['in', 'in'],
  ['notin', 'notin'],
]);

const isSpecial = (c: string) => '=!(),><'.includes(c);
const isWhitespace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function lex(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < s.length && isWhitespace(s[i])) i++;
    // Go's lexer reads a NUL byte as the end of input.
    if (i >= s.length || s[i] === '\0') {
      tokens.push({ kind: 'end', literal: '' });
      return tokens;
    }
    if (isSpecial(s[i])) {
      // Longest run of symbols that is still a token: `!=` and `==` but `=` then `!` for `=!`.
      let literal = s[i++];
      while (i < s.length && isSpecial(s[i]) && SYMBOLS.has(literal + s[i])) literal += s[i++];
      tokens.push({ kind: SYMBOLS.get(literal) as TokenKind, literal });
      continue;
    }
    const start = i;
    while (i < s.length && s[i] !== '\0' && !isSpecial(s[i]) && !isWhitespace(s[i])) i++;
    const literal = s.slice(start, i);
    tokens.push({ kind: KEYWORDS.get(literal) ?? 'identifier', literal });
  }
}

// ---- field errors, rendered as field.Error / utilerrors.Aggregate render them -------------------

/** Go's %q / %#v closely enough for the values a selector holds. */
function goValue(v: unknown): string {
  if (Array.isArray(v)) return `[]string{${v.map((s) => JSON.stringify(s)).join(', ')}}`;
  return JSON.stringify(v);
}

const invalid = (path: string, value: unknown, detail: string) => `${path}: Invalid value: ${goValue(value)}: ${detail}`;

function aggregate(messages: string[]): string | undefined {
  const unique = [...new Set(messages)];
  if (unique.length === 0) return undefined;
  return unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`;
}

/** validateLabelKey with the parser's nil field path, which Go prints as `<nil>`. */
function keyError(key: string, path: string): string | undefined {
  const errs = isQualifiedName(key);
  return errs.length ? invalid(path, key, errs.join('; ')) : undefined;
}

class SelectorError extends Error {}

// ---- requirements -------------------------------------------------------------------------------

/** labels.NewRequirement: validates and normalises one requirement; throws with kube's aggregate message. */
export function newRequirement(key: string, operator: Operator, values: string[]): Requirement {
  const sorted = [...new Set(values)].sort();
  const errs: string[] = [];
  const ke = keyError(key, 'key');
  if (ke) errs.push(ke);
  switch (operator) {
    case 'in':
    case 'notin':
      if (sorted.length === 0) errs.push(invalid('values', sorted, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (sorted.length !== 1) errs.push(invalid('values', sorted, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (sorted.length !== 0) errs.push(invalid('values', sorted, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (sorted.length !== 1) errs.push(invalid('values', sorted, "for 'Gt', 'Lt' operators, exactly one value is required"));
      sorted.forEach((v, i) => {
        if (parseInt64(v) === undefined) {
          errs.push(invalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      });
      break;
  }
  sorted.forEach((v, i) => {
    const ve = isValidLabelValue(v);
    if (ve.length) errs.push(invalid(`values[${i}][${key}]`, v, ve.join('; ')));
  });
  const message = aggregate(errs);
  if (message) throw new SelectorError(message);
  return { key, operator, values: sorted };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.ParseInt(s, 10, 64). */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

export function matchesRequirement(r: Requirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(value as string);
    case 'notin':
    case '!=':
      return !has || !r.values.includes(value as string);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || r.values.length !== 1) return false;
      const actual = parseInt64(value as string);
      const bound = parseInt64(r.values[0]);
      if (actual === undefined || bound === undefined) return false;
      return r.operator === 'gt' ? actual > bound : actual < bound;
    }
  }
}

const everything: LabelPredicate = () => true;
const nothing: LabelPredicate = () => false;

function predicate(requirements: Requirement[]): LabelPredicate {
  if (requirements.length === 0) return everything;
  return (labels) => requirements.every((r) => matchesRequirement(r, labels));
}

// ---- parser -------------------------------------------------------------------------------------

type Context = 'keyAndOperator' | 'values';

class Parser {
  tokens: Token[];
  pos = 0;

  constructor(s: string) {
    this.tokens = lex(s);
  }

  /** In a values context `in` and `notin` are plain identifiers: `a=in` selects the value "in". */
  lookahead(context: Context): Token {
    const t = this.tokens[this.pos];
    if (context === 'values' && (t.kind === 'in' || t.kind === 'notin')) return { kind: 'identifier', literal: t.literal };
    return t;
  }

  consume(context: Context): Token {
    const t = this.lookahead(context);
    if (t.kind !== 'end') this.pos++;
    return t;
  }

  parse(): Requirement[] {
    const requirements: Requirement[] = [];
    for (;;) {
      const t = this.lookahead('values');
      if (t.kind === 'end') return requirements;
      if (t.kind !== 'identifier' && t.kind !== 'not') {
        throw new SelectorError(`found '${t.literal}', expected: !, identifier, or 'end of string'`);
      }
      try {
        requirements.push(this.parseRequirement());
      } catch (err) {
        if (err instanceof SelectorError) throw new SelectorError(`unable to parse requirement: ${err.message}`);
        throw err;
      }
      const next = this.consume('values');
      if (next.kind === 'end') return requirements;
      if (next.kind !== 'comma') throw new SelectorError(`found '${next.literal}', expected: ',' or 'end of string'`);
      const after = this.lookahead('values');
      if (after.kind !== 'identifier' && after.kind !== 'not') {
        throw new SelectorError(`found '${after.literal}', expected: identifier after ','`);
      }
    }
  }

  parseRequirement(): Requirement {
    let t = this.consume('values');
    let operator: Operator | undefined;
    if (t.kind === 'not') {
      operator = '!';
      t = this.consume('values');
    }
    if (t.kind !== 'identifier') throw new SelectorError(`found '${t.literal}', expected: identifier`);
    const key = t.literal;
    const ke = keyError(key, '<nil>');
    if (ke) throw new SelectorError(ke);
    const next = this.lookahead('values').kind;
    if (operator === undefined && (next === 'end' || next === 'comma')) operator = 'exists';
    if (operator !== undefined) return newRequirement(key, operator, []);

    const op = this.parseOperator();
    const values = op === 'in' || op === 'notin' ? this.parseValues() : this.parseExactValue();
    return newRequirement(key, op, values);
  }

  parseOperator(): Operator {
    const t = this.consume('keyAndOperator');
    switch (t.kind) {
      case 'in':
        return 'in';
      case 'notin':
        return 'notin';
      case 'equals':
        return '=';
      case 'doubleEquals':
        return '==';
      case 'notEquals':
        return '!=';
      case 'gt':
        return 'gt';
      case 'lt':
        return 'lt';
      default:
        throw new SelectorError(`found '${t.literal}', expected: ${BINARY_OPERATORS}`);
    }
  }

  parseValues(): string[] {
    const open = this.consume('values');
    if (open.kind !== 'openPar') throw new SelectorError(`found '${open.literal}' expected: '('`);
    const t = this.lookahead('values');
    if (t.kind === 'closedPar') {
      // `a in ()` selects the empty value.
      this.consume('values');
      return [''];
    }
    if (t.kind !== 'identifier' && t.kind !== 'comma') {
      throw new SelectorError(`found '${t.literal}', expected: ',', ')' or identifier`);
    }
    const values = this.parseIdentifiersList();
    if (this.consume('values').kind !== 'closedPar') throw new SelectorError(`found '${t.literal}', expected: ')'`);
    return values;
  }

  /** Empty entries, as in `(,a)` or `(a,,b)`, stand for the empty value. */
  parseIdentifiersList(): string[] {
    const values: string[] = [];
    for (;;) {
      const t = this.consume('values');
      if (t.kind === 'identifier') {
        values.push(t.literal);
        const next = this.lookahead('values');
        if (next.kind === 'comma') continue;
        if (next.kind === 'closedPar') return values;
        throw new SelectorError(`found '${next.literal}', expected: ',' or ')'`);
      }
      if (t.kind !== 'comma') throw new SelectorError(`found '${t.literal}', expected: ',', or identifier`);
      if (values.length === 0) values.push('');
      const next = this.lookahead('values');
      if (next.kind === 'closedPar') {
        values.push('');
        return values;
      }
      if (next.kind === 'comma') {
        this.consume('values');
        values.push('');
      }
    }
  }

  parseExactValue(): string[] {
    const next = this.lookahead('values');
    if (next.kind === 'end' || next.kind === 'comma') return [''];
    const t = this.consume('values');
    if (t.kind === 'identifier') return [t.literal];
    throw new SelectorError(`found '${t.literal}', expected: identifier`);
  }
}

/** Parses a `labelSelector` query value into its requirements; throws a 400 BadRequest on bad syntax. */
export function parseLabelRequirements(s: string): Requirement[] {
  try {
    return new Parser(s).parse();
  } catch (err) {
    if (err instanceof SelectorError) throw badRequest(err.message);
    throw err;
  }
}

/** Compiles a `labelSelector` query value; the empty selector matches everything. */
export function parseLabelSelector(s: string): LabelPredicate {
  return predicate(parseLabelRequirements(s));
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

const EXPRESSION_OPERATORS = new Map<string, Operator>([
  ['In', 'in'],
  ['NotIn', 'notin'],
  ['Exists', 'exists'],
  ['DoesNotExist', '!'],
]);

/**
 * metav1.LabelSelectorAsSelector: a null selector matches nothing, an empty one everything.
 * Invalid keys, values or operators throw a 400 BadRequest with kube's message.
 */
export function labelSelectorFromObject(sel: LabelSelector | null | undefined): LabelPredicate {
  if (sel === null || sel === undefined) return nothing;
  const requirements: Requirement[] = [];
  try {
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) requirements.push(newRequirement(k, '=', [v]));
    for (const expr of sel.matchExpressions ?? []) {
      const op = EXPRESSION_OPERATORS.get(expr.operator);
      if (op === undefined) throw new SelectorError(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
      requirements.push(newRequirement(expr.key, op, expr.values ?? []));
    }
  } catch (err) {
    if (err instanceof SelectorError) throw badRequest(err.message);
    throw err;
  }
  return predicate(requirements);
}
