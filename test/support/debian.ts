// Installing a component's Debian packages on demand, shared by the harnesses of the real components
// (Ironic, etcd): only as root, and once more after `apt-get update` since a stale index is the usual cause.
import { spawnSync } from 'node:child_process';

export function aptInstall(component: string, packages: string[]): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${component} is not installed and we are not root: run \`sudo apt-get install -y ${packages.join(' ')}\``);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', ...packages], { env, encoding: 'utf8' });
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    r = install();
  }
  if (r.status !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed:\n${(r.stderr || r.stdout).slice(-2000)}`);
}
