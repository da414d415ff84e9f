// Request bodies: read raw (kubectl sends chunked bodies and vendor media types), bounded like
// kube-apiserver's 3 MiB limit, and decoded as JSON or YAML according to Content-Type.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { decodeProtobufObject, protobufMediaType } from './protobuf.ts';
import { badRequest, requestEntityTooLarge, StatusError, unsupportedMediaType } from './status.ts';

export const maxRequestBodyBytes = 3 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit = maxRequestBodyBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(requestEntityTooLarge(`Request entity too large: limit is ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(requestEntityTooLarge(`Request entity too large: limit is ${limit}`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(badRequest(`unable to read request body: ${e.message}`));
    });
  });
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

const objectMediaTypes = ['application/json', 'application/yaml'];

/** Decode a full-object body (POST, PUT, DeleteOptions). */
export function decodeObjectBody(buf: Buffer, contentType: string): unknown {
  const ct = contentType || 'application/json';
  if (ct === 'application/json' || ct === 'application/yaml' || ct === 'text/yaml' || ct === 'application/x-yaml') {
    return ct === 'application/json' ? decodeJSON(buf) : decodeYAML(buf);
  }
  if (ct === protobufMediaType) return decodeProtobufObject(buf);
  throw unsupportedMediaType(objectMediaTypes);
}

/**
 * Deepest nesting a body may have. kube's decoder stops at 10,000; every walk over an object here
 * (validation, cloning, field management, JSON.stringify) recurses, and the stack runs out near 5,000,
 * which made a deeply nested body a 500. No Kubernetes object comes near this depth.
 */
export const maxNestingDepth = 1000;

const tooDeep = () => badRequest(`the object provided is unrecognized (exceeded max depth of ${maxNestingDepth})`);

/** Whether JSON text nests deeper than the limit: one pass over the text, before any parse. */
function jsonTooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxNestingDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Flow-collection depth of YAML text, counting brackets inside quotes too (YAML's quoting rules are not
 * worth re-implementing for a guard: over-counting only refuses absurd documents). The yaml parser takes
 * seconds on a megabyte of `[`, blocking every other request, so this runs before it.
 */
function yamlFlowTooDeep(text: string): boolean {
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
function valueTooDeep(root: unknown): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (d > maxNestingDepth) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

export function decodeJSON(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  if (jsonTooDeep(text)) throw tooDeep();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the object provided is unrecognized (${(e as Error).message})`);
  }
}

export function decodeYAML(buf: Buffer): unknown {
  let value: unknown;
  const text = buf.toString('utf8');
  if (yamlFlowTooDeep(text)) throw tooDeep();
  try {
    value = parseYaml(text, { uniqueKeys: false, maxAliasCount: 100 });
  } catch (e) {
    if (e instanceof StatusError) throw e;
    throw badRequest(`error converting YAML to JSON: ${(e as Error).message}`);
  }
  if (valueTooDeep(value)) throw tooDeep();
  return value;
}

/** Duplicate keys in a JSON text, as strict decoding reports them (`spec.online`). JSON.parse keeps the last. */
export function duplicateJSONFields(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const k = str();
        const p = path ? `${path}.${k}` : k;
        if (seen.has(k)) dups.push(p);
        seen.add(k);
        ws();
        i++; // ':'
        value(p);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        i++; // '}'
        return;
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        i++;
        return;
      }
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && !',}] \n\r\t'.includes(text[i])) i++;
    }
  };
  value('');
  return dups;
}
