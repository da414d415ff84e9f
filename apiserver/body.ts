// Request bodies: read raw (kubectl sends chunked bodies and vendor media types), bounded like
// kube-apiserver's 3 MiB limit, and decoded as JSON or YAML according to Content-Type.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { decodeProtobufObject, protobufMediaType } from './protobuf.ts';
import { maxNestingDepth, scanJSONText, valueTooDeep, yamlFlowTooDeep } from '../api/nesting.ts';
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

const tooDeep = () => badRequest(`the object provided is unrecognized (exceeded max depth of ${maxNestingDepth})`);

export function decodeJSON(buf: Buffer): unknown {
  return decodeJSONText(buf.toString('utf8')).value;
}

function decodeJSONText(text: string): { value: unknown; keys: number } {
  const shape = scanJSONText(text);
  if (shape.tooDeep) throw tooDeep();
  try {
    return { value: JSON.parse(text), keys: shape.keys };
  } catch (e) {
    throw badRequest(`the object provided is unrecognized (${(e as Error).message})`);
  }
}

/**
 * A create or update body, decoded, with the duplicate keys strict field validation reports (JSON only:
 * YAML and protobuf decoding already refuse or cannot carry them). The text is scanned once for both the
 * depth guard and the key count.
 */
export function decodeWriteBody(buf: Buffer, contentType: string, strict: boolean): { body: unknown; duplicates: string[] } {
  if ((contentType || 'application/json') !== 'application/json') return { body: decodeObjectBody(buf, contentType), duplicates: [] };
  const text = buf.toString('utf8');
  const { value, keys } = decodeJSONText(text);
  return { body: value, duplicates: strict && keys !== decodedKeyCount(value) ? duplicateJSONFields(text) : [] };
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

/** Keys in a decoded value: JSON.parse keeps one of each duplicated key. */
function decodedKeyCount(root: unknown): number {
  let n = 0;
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const e of v) stack.push(e);
      continue;
    }
    for (const k in v) {
      n++;
      stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return n;
}

/**
 * Duplicate keys in a JSON text, as strict decoding reports them (`spec.online`). JSON.parse keeps the last,
 * dropping exactly one key per duplicate, so decodeWriteBody calls this only when the counts differ.
 */
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
