// Writes manifests/crds/ from the kind definitions. With --check, writes nothing and exits 1 naming the
// files that are stale, so CI catches a schema change committed without its CRDs.

import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdManifests } from './crd.ts';
import { metal3Kinds } from './index.ts';

export const crdDir = fileURLToPath(new URL('../manifests/crds/', import.meta.url));

/** Names of files under manifests/crds/ that differ from, lack, or are not among the generated ones. */
export function staleCRDFiles(dir = crdDir): string[] {
  const wanted = crdManifests(metal3Kinds);
  const stale = wanted
    .filter((m) => !existsSync(dir + m.file) || readFileSync(dir + m.file, 'utf8') !== m.content)
    .map((m) => m.file);
  const names = new Set(wanted.map((m) => m.file));
  const extra = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml') && !names.has(f)) : [];
  return [...stale, ...extra];
}

function main(args: string[]): number {
  if (args.includes('--check')) {
    const stale = staleCRDFiles();
    if (stale.length === 0) return 0;
    console.error(`stale CRD manifests in manifests/crds (run npm run gen:crds): ${stale.join(', ')}`);
    return 1;
  }
  mkdirSync(crdDir, { recursive: true });
  for (const m of crdManifests(metal3Kinds)) writeFileSync(crdDir + m.file, m.content);
  const extra = staleCRDFiles();
  if (extra.length) console.error(`not generated, remove by hand if obsolete: ${extra.join(', ')}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
