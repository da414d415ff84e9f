// The parts of a URL as Go's url.ParseRequestURI splits them, which is what kube's CEL `url()` exposes:
// the host keeps its port and IPv6 brackets, the path stays escaped, and a default port is not dropped.

export interface ParsedURL {
  scheme: string;
  host: string;
  escapedPath: string;
  rawQuery: string;
}

const ABSOLUTE = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;
const PATH_ONLY = /^(\/[^?#]*)(?:\?([^#]*))?$/;

/** url.ParseRequestURI: an absolute URL or an absolute path; undefined when it is neither. */
export function parseRequestURI(s: string): ParsedURL | undefined {
  // Go rejects ASCII control characters and spaces anywhere in a request URI.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return undefined;
  }
  const p = PATH_ONLY.exec(s);
  if (p) return { scheme: '', host: '', escapedPath: p[1], rawQuery: p[2] ?? '' };
  const m = ABSOLUTE.exec(s);
  if (!m) return undefined;
  const [, scheme, authority, path, query] = m;
  // An opaque URL such as `mailto:x` has no authority; its path must not start without a slash then.
  if (authority === undefined && path !== '' && !path.startsWith('/')) {
    return { scheme, host: '', escapedPath: '', rawQuery: query ?? '' };
  }
  const host = authority === undefined ? '' : authority.slice(authority.lastIndexOf('@') + 1);
  if (host.startsWith('[') && !/^\[[0-9a-fA-F:.%a-zA-Z]+\](:[0-9]*)?$/.test(host)) return undefined;
  if (!host.startsWith('[') && !/^[^[\]]*$/.test(host)) return undefined;
  const port = portOf(host);
  if (port !== '' && !/^[0-9]+$/.test(port)) return undefined;
  return { scheme, host, escapedPath: path, rawQuery: query ?? '' };
}

function splitHostPort(host: string): [string, string] {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    const rest = host.slice(end + 1);
    return [host.slice(1, end), rest.startsWith(':') ? rest.slice(1) : ''];
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 ? [host, ''] : [host.slice(0, colon), host.slice(colon + 1)];
}

export const hostnameOf = (host: string): string => splitHostPort(host)[0];
export const portOf = (host: string): string => splitHostPort(host)[1];

/** url.ParseQuery: values in order of appearance, keys and values unescaped. */
export function parseQuery(raw: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const [k, v] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    const key = unescape(k);
    const value = unescape(v);
    if (key === undefined || value === undefined) continue;
    const list = out.get(key) ?? [];
    list.push(value);
    out.set(key, list);
  }
  return out;
}

function unescape(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
