// The CEL syntax that kube policies use and @bufbuild/cel 0.6.1 cannot parse, rewritten before parsing
// into calls of functions we register (optional.ts):
//   a.?b          → __opt_field(a, 'b')       and qualifiers after it stay optional, as in cel-go:
//   a.?b.c        → __opt_field(__opt_field(a, 'b'), 'c')
//   a[?k]         → __opt_index(a, k)
//   optional.of(x), optional.ofNonZeroValue(x), optional.none() → __opt_of(x), __opt_of_non_zero(x), __opt_none()
//   cel.bind(n, v, e) → [v].map(n, e)[0]      (one evaluation of v, bound to n within e only)
//   // comments        → blanks
// The rewrite works on tokens, so string literals and comments are never touched.
import { OPTIONAL_FIELD, OPTIONAL_INDEX, OPTIONAL_NONE_FUNC, OPTIONAL_OF, OPTIONAL_OF_NON_ZERO } from './optional.ts';

type Kind = 'ident' | 'number' | 'string' | 'punct';

interface Token {
  kind: Kind;
  text: string;
  start: number;
  end: number;
}

const IDENT = /[_a-zA-Z][_a-zA-Z0-9]*/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?))[uU]?/y;
const PUNCT = /==|!=|<=|>=|&&|\|\||[-+*/%!<>?:.,()[\]{}]/y;

/** The end of a string literal starting at i (after any r/b prefix), or -1 if it is unterminated. */
function stringEnd(src: string, i: number, raw: boolean): number {
  const q = src[i];
  const triple = src.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < src.length) {
    if (!raw && src[j] === '\\') {
      j += 2;
      continue;
    }
    if (src.startsWith(close, j)) return j + close.length;
    if (!triple && src[j] === '\n') return -1;
    j++;
  }
  return -1;
}

/**
 * Tokens of a CEL expression; undefined when it does not even lex (the parser then reports it).
 * Comments are skipped, and their ranges reported to `comments` if given.
 */
export function tokenize(src: string, comments?: [number, number][]): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (src.startsWith('//', i)) {
      const nl = src.indexOf('\n', i);
      const end = nl < 0 ? src.length : nl;
      comments?.push([i, end]);
      i = end;
      continue;
    }
    // String and bytes literals, with their r/b/rb/br prefixes.
    const prefix = /^(?:[rR][bB]?|[bB][rR]?)?(?=['"])/.exec(src.slice(i, i + 3));
    if (c === '"' || c === "'" || (prefix && prefix[0] !== '')) {
      const p = prefix ? prefix[0] : '';
      const end = stringEnd(src, i + p.length, /r/i.test(p));
      if (end < 0) return undefined;
      out.push({ kind: 'string', text: src.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    let matched = false;
    for (const [kind, re] of [['ident', IDENT], ['number', NUMBER], ['punct', PUNCT]] as const) {
      re.lastIndex = i;
      const m = re.exec(src);
      if (m) {
        out.push({ kind, text: m[0], start: i, end: i + m[0].length });
        i += m[0].length;
        matched = true;
        break;
      }
    }
    if (!matched) return undefined;
  }
  return out;
}

const OPENERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Whether a token can end an operand, so that a following `[` or `(` applies to it. */
const endsOperand = (t: Token | undefined) =>
  t !== undefined && (t.kind !== 'punct' || t.text === ')' || t.text === ']' || t.text === '}');

function matchBackward(tokens: Token[], close: number): number {
  const want = OPENERS[tokens[close].text];
  const self = tokens[close].text;
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    if (tokens[i].text === self && tokens[i].kind === 'punct') depth++;
    else if (tokens[i].text === want && tokens[i].kind === 'punct') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function matchForward(tokens: Token[], open: number): number {
  const want = CLOSERS[tokens[open].text];
  const self = tokens[open].text;
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i].kind !== 'punct') continue;
    if (tokens[i].text === self) depth++;
    else if (tokens[i].text === want) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * The first token of the member chain (primary plus selections, calls and indexes) that ends at `end`.
 * Member access binds tighter than any operator, so the chain stops at the first operator token.
 */
function chainStart(tokens: Token[], end: number): number {
  let i = end;
  for (;;) {
    const t = tokens[i];
    if (t.kind === 'punct' && OPENERS[t.text]) {
      const open = matchBackward(tokens, i);
      if (open < 0) return -1;
      i = open;
      const before = tokens[i - 1];
      if (t.text === ']') {
        // An index applies to the operand before it; otherwise this was a list literal.
        if (endsOperand(before)) {
          i--;
          continue;
        }
      } else if ((t.text === ')' || t.text === '}') && before?.kind === 'ident') {
        // A call `f(...)` / method `.f(...)`, or a message literal `T{...}`.
        i--;
      }
    }
    // A selected or called name continues the chain through its dot.
    const dot = tokens[i - 1];
    if (tokens[i].kind === 'ident' && dot?.kind === 'punct' && dot.text === '.') {
      if (endsOperand(tokens[i - 2])) {
        i -= 2;
        continue;
      }
      // A leading dot: `.name` is an absolute name.
      return i - 1;
    }
    return i;
  }
}

const isPunct = (t: Token | undefined, text: string) => t !== undefined && t.kind === 'punct' && t.text === text;

/** The top-level comma-separated arguments between tokens open and close (exclusive), as source ranges. */
function splitArguments(tokens: Token[], open: number, close: number): [number, number][] | undefined {
  const args: [number, number][] = [];
  let from = open + 1;
  for (let i = open + 1; i < close; i++) {
    const t = tokens[i];
    if (t.kind === 'punct' && CLOSERS[t.text]) {
      i = matchForward(tokens, i);
      if (i < 0) return undefined;
    } else if (isPunct(t, ',')) {
      args.push([from, i - 1]);
      from = i + 1;
    }
  }
  if (from <= close - 1) args.push([from, close - 1]);
  return args;
}

const OPTIONAL_CONSTRUCTORS: Record<string, string> = {
  of: OPTIONAL_OF,
  ofNonZeroValue: OPTIONAL_OF_NON_ZERO,
  none: OPTIONAL_NONE_FUNC,
};

/** One rewrite step on the leftmost construct, or undefined when nothing is left to rewrite. */
function rewriteOnce(src: string, tokens: Token[]): string | undefined {
  const text = (from: number, to: number) => src.slice(tokens[from].start, tokens[to].end);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = tokens[i + 1];
    const afterDot = isPunct(tokens[i - 1], '.');

    // optional.of(x) and friends; cel.bind(n, v, e).
    if (t.kind === 'ident' && !afterDot && isPunct(next, '.') && tokens[i + 2]?.kind === 'ident' && isPunct(tokens[i + 3], '(')) {
      const fn = tokens[i + 2].text;
      if (t.text === 'optional' && OPTIONAL_CONSTRUCTORS[fn]) {
        return src.slice(0, t.start) + OPTIONAL_CONSTRUCTORS[fn] + src.slice(tokens[i + 2].end);
      }
      if (t.text === 'cel' && fn === 'bind') {
        const close = matchForward(tokens, i + 3);
        if (close < 0) return undefined;
        const args = splitArguments(tokens, i + 3, close);
        if (!args || args.length !== 3) return undefined;
        const [name, value, body] = args.map(([a, b]) => text(a, b));
        return `${src.slice(0, t.start)}[${value}].map(${name}, ${body})[0]${src.slice(tokens[close].end)}`;
      }
    }

    // a.?b and a[?k].
    const optionalSelect = isPunct(t, '.') && isPunct(next, '?') && tokens[i + 2]?.kind === 'ident';
    const optionalIndex = isPunct(t, '[') && isPunct(next, '?') && endsOperand(tokens[i - 1]);
    if (!optionalSelect && !optionalIndex) continue;
    if (i === 0) return undefined;
    const start = chainStart(tokens, i - 1);
    if (start < 0) return undefined;
    const operand = text(start, i - 1);
    let replacement: string;
    let last: number;
    if (optionalSelect) {
      last = i + 2;
      replacement = `${OPTIONAL_FIELD}(${operand}, '${tokens[last].text}')`;
    } else {
      last = matchForward(tokens, i);
      if (last < 0 || last === i + 2) return undefined;
      replacement = `${OPTIONAL_INDEX}(${operand}, ${src.slice(tokens[i + 2].start, tokens[last - 1].end)})`;
    }
    // Qualifiers right after an optional one are optional too; a method call ends the chain.
    let rest = src.slice(tokens[last].end);
    const following = tokens[last + 1];
    if (isPunct(following, '.') && tokens[last + 2]?.kind === 'ident' && !isPunct(tokens[last + 3], '(')) {
      rest = `.?${src.slice(tokens[last + 1].end)}`;
    } else if (isPunct(following, '[') && !isPunct(tokens[last + 2], '?')) {
      rest = `[?${src.slice(following.end)}`;
    }
    return src.slice(0, tokens[start].start) + replacement + rest;
  }
  return undefined;
}

/** The expression in the syntax @bufbuild/cel parses; unchanged when it uses none of the constructs above. */
export function rewriteExtendedSyntax(expression: string): string {
  // Cheap test first: almost every expression has nothing to rewrite.
  if (!/\.\s*\?|\[\s*\?|\boptional\s*\.|\bcel\s*\.\s*bind\b|\/\//.test(expression)) return expression;
  let src = expression;
  // The parser knows no comments; blanking them keeps every other character where it was.
  const comments: [number, number][] = [];
  if (tokenize(src, comments) && comments.length) {
    for (const [from, to] of comments) src = src.slice(0, from) + ' '.repeat(to - from) + src.slice(to);
  }
  // Each step removes one construct, so the number of steps is bounded by the expression's length.
  for (let steps = 0; steps < expression.length; steps++) {
    const tokens = tokenize(src);
    if (!tokens) return src;
    const next = rewriteOnce(src, tokens);
    if (next === undefined) return src;
    src = next;
  }
  return src;
}
