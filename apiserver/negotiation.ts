// Content negotiation on the Accept header, as kube-apiserver does it: the first acceptable entry wins,
// and plain JSON is always acceptable when listed (or when nothing is listed).

export type Rendering =
  | { as: 'object' }
  | { as: 'Table' }
  | { as: 'PartialObjectMetadata' }
  | { as: 'PartialObjectMetadataList' };

export type DiscoveryRendering = 'v2' | 'v2beta1' | 'legacy';

export interface MediaRange {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header.split(',').flatMap((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (!type) return [];
    const p: Record<string, string> = {};
    for (const kv of params) {
      const eq = kv.indexOf('=');
      if (eq > 0) p[kv.slice(0, eq).trim().toLowerCase()] = kv.slice(eq + 1).trim();
    }
    return [{ type: type.toLowerCase(), params: p }];
  });
}

const jsonLike = (t: string) => t === 'application/json' || t === '*/*' || t === 'application/*';

/** How to render an object or list response; undefined when nothing acceptable was offered (406). */
export function negotiateRendering(accept: string | undefined, isList: boolean): Rendering | undefined {
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return { as: 'object' };
  for (const r of ranges) {
    if (r.type === 'application/yaml' || r.type === 'application/vnd.kubernetes.protobuf') continue;
    if (!jsonLike(r.type)) continue;
    const as = r.params.as;
    if (!as) return { as: 'object' };
    if (r.params.g !== 'meta.k8s.io') continue;
    if (as === 'Table' && (r.params.v === 'v1' || r.params.v === 'v1beta1')) return { as: 'Table' };
    if (r.params.v !== 'v1') continue;
    if (as === 'PartialObjectMetadata' && !isList) return { as: 'PartialObjectMetadata' };
    if (as === 'PartialObjectMetadataList' && isList) return { as: 'PartialObjectMetadataList' };
  }
  return undefined;
}

/** Discovery is never answered 406: plain JSON is the fallback whatever was asked. */
export function negotiateDiscovery(accept: string | undefined): DiscoveryRendering {
  for (const r of parseAccept(accept)) {
    if (r.params.g === 'apidiscovery.k8s.io' && r.params.as === 'APIGroupDiscoveryList') {
      if (r.params.v === 'v2') return 'v2';
      if (r.params.v === 'v2beta1') return 'v2beta1';
    }
    if (jsonLike(r.type) && !r.params.as) return 'legacy';
  }
  return 'legacy';
}

export const discoveryContentType = (v: 'v2' | 'v2beta1') =>
  `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;
