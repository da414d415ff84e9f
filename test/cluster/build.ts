// kube-apiserver for the harness, built from the k8s.io/kubernetes Go module in hack/kube-apiserver with the
// machine's Go toolchain. The binary is cached outside the repository, keyed by version, so the build
// (several minutes on two cores) happens once per machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The release hack/kube-apiserver/go.mod requires; kubectl on the project machines is v1.32 too. */
export const KUBE_VERSION = 'v1.32.13';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const moduleDir = join(repoRoot, 'hack/kube-apiserver');

export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'metal3-apiserver');
}

export function kubeApiserverPath(version = KUBE_VERSION): string {
  return join(cacheDir(), `kube-apiserver-${version}`);
}

/** The Go toolchain: PATH first, then the usual install location. */
export function goBinary(): string {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0) return 'go';
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('the Go toolchain is needed to build kube-apiserver (https://go.dev/dl/); neither `go` on PATH nor /usr/local/go/bin/go exists');
}

// What `make` in kubernetes/kubernetes stamps in, so /version (and kubectl's skew check) report the release
// instead of v0.0.0-master.
function versionLdflags(version: string): string {
  const [major, minor] = version.replace(/^v/, '').split('.');
  return ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((pkg) => [
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ])
    .join(' ');
}

export interface BuildOptions {
  log?: (line: string) => void;
}

/**
 * The path of the cached kube-apiserver binary, building it first when it is missing. The build reads
 * go.mod and go.sum as committed (-mod=mod only fills the module cache; go.sum pins every hash), uses two
 * parallel jobs to fit a two-core machine, and writes to a temporary name so an interrupted build never
 * leaves a truncated binary behind.
 */
export async function ensureKubeApiserver(opts: BuildOptions = {}): Promise<string> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const out = kubeApiserverPath();
  if (existsSync(out)) {
    log(`kube-apiserver ${KUBE_VERSION}: cached at ${out}`);
    return out;
  }
  const go = goBinary();
  mkdirSync(cacheDir(), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  log(`kube-apiserver ${KUBE_VERSION}: building from ${moduleDir} (first time on this machine; several minutes)`);
  const started = Date.now();
  const args = ['build', '-p', '2', '-trimpath', '-ldflags', `-s -w ${versionLdflags(KUBE_VERSION)}`, '-o', tmp, '.'];
  const stderr: string[] = [];
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    const child = spawn(go, args, {
      cwd: moduleDir,
      env: { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false' },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk.toString());
      process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('exit', resolvePromise);
  });
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build of kube-apiserver failed (exit ${code}):\n${stderr.join('').slice(-3000)}`);
  }
  renameSync(tmp, out);
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  const mb = (statSync(out).size / 1024 / 1024).toFixed(0);
  log(`kube-apiserver ${KUBE_VERSION}: built in ${secs}s (${mb} MiB) at ${out}`);
  return out;
}

// `node test/cluster/build.ts` builds (or reports the cached binary) on its own, for CI's warm-up step.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureKubeApiserver().then(
    (p) => console.log(p),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
