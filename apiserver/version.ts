// The /version document (version.Info of k8s.io/apimachinery), describing this server rather than kube.

import { readFileSync } from 'node:fs';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

let cached: VersionInfo | undefined;

const packageVersion = (): string => {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const v = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  return typeof v === 'string' ? v : '0.0.0';
};

// Node reports x64/arm64; Go's GOARCH spells them amd64/arm64, which is what clients expect here.
const goArch = (arch: string) => (arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch);

/**
 * Build details come from the environment a release build sets (GIT_COMMIT, GIT_TREE_STATE,
 * BUILD_DATE); unset, they take the placeholders an unstamped kube build reports.
 */
export function versionInfo(): VersionInfo {
  if (cached) return cached;
  const version = packageVersion();
  const [major = '0', minor = '0'] = version.split('.');
  cached = {
    major,
    minor,
    gitVersion: `v${version}`,
    gitCommit: process.env.GIT_COMMIT ?? '$Format:%H$',
    gitTreeState: process.env.GIT_TREE_STATE ?? '',
    buildDate: process.env.BUILD_DATE ?? '1970-01-01T00:00:00Z',
    goVersion: process.version,
    compiler: 'node',
    platform: `${process.platform}/${goArch(process.arch)}`,
  };
  return cached;
}
