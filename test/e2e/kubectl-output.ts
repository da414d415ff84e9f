// Parsers for what kubectl prints, so the suites assert on fields rather than on raw text.

/**
 * Rows of a `kubectl get` table keyed by column header. Columns are sliced at the header words' offsets
 * because kubectl pads with spaces and leaves empty cells blank, which a whitespace split would shift.
 */
export function parseTable(text: string): { headers: string[]; rows: Record<string, string>[] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return { headers: [], rows: [] };
  const header = lines[0];
  const starts: { name: string; at: number }[] = [];
  for (const m of header.matchAll(/\S+/g)) starts.push({ name: m[0], at: m.index });
  const rows = lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    starts.forEach((col, i) => {
      const end = i + 1 < starts.length ? starts[i + 1].at : undefined;
      row[col.name] = line.slice(col.at, end).trim();
    });
    return row;
  });
  return { headers: starts.map((s) => s.name), rows };
}

/** Split a stream of concatenated (pretty-printed) JSON documents, as `kubectl get -w -o json` prints. */
export function parseJSONStream(text: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) docs.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return docs;
}

/** A BareMetalHost manifest as JSON text, which `kubectl create/apply -f -` accepts like YAML. */
export function bmhManifest(
  name: string,
  opts: { namespace?: string; labels?: Record<string, string>; finalizers?: string[]; spec?: Record<string, unknown> } = {},
): string {
  return JSON.stringify({
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: {
      name,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.finalizers ? { finalizers: opts.finalizers } : {}),
    },
    spec: {
      online: true,
      bmc: { address: `redfish+https://10.20.0.${(hashOf(name) % 250) + 1}/redfish/v1/Systems/1`, credentialsName: `${name}-bmc-secret` },
      ...opts.spec,
    },
  });
}

function hashOf(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}
