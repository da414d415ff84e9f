// Which provisioner runs, from flags and BMO's own environment variables, so that BMO users keep their
// configuration: IRONIC_ENDPOINT, IRONIC_CACERT_FILE, IRONIC_INSECURE, METAL3_AUTH_ROOT_DIR, DEPLOY_*_URL,
// PROVISIONING_LIMIT. Without an Ironic endpoint the simulator runs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Provisioner } from './provisioner/types.ts';
import { IronicClient } from './ironic/client.ts';
import { IronicProvisioner } from './ironic/provisioner.ts';
import { SimulatedProvisioner } from './simulator/provisioner.ts';

export interface ProvisionerSettings {
  ironicEndpoint?: string;
  ironicCACertFile?: string;
  ironicClientCertFile?: string;
  ironicClientKeyFile?: string;
  ironicInsecure?: boolean;
  /** BMO's METAL3_AUTH_ROOT_DIR: `<dir>/ironic/{username,password}` selects HTTP basic auth. */
  authRootDir?: string;
  ironicTimeoutMs?: number;
  deployKernelURL?: string;
  deployRamdiskURL?: string;
  deployISOURL?: string;
  provisioningLimit?: number;
  /** How often a host waiting on Ironic is polled (default 3 s short, 10 s long, BMO's); tests shorten it. */
  ironicPollIntervalMs?: number;
  /** Simulator only: multiplies its delays (1 = realistic). */
  simulatorSpeed?: number;
}

const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

export function provisionerSettingsFromEnv(env: NodeJS.ProcessEnv): ProvisionerSettings {
  const limit = nonEmpty(env.PROVISIONING_LIMIT);
  const timeout = nonEmpty(env.IRONIC_CLIENT_TIMEOUT);
  const poll = nonEmpty(env.METAL3_IRONIC_POLL_INTERVAL_MS);
  return {
    ironicEndpoint: nonEmpty(env.IRONIC_ENDPOINT),
    ironicCACertFile: nonEmpty(env.IRONIC_CACERT_FILE) ?? '/opt/metal3/certs/ca/tls.crt',
    ironicClientCertFile: nonEmpty(env.IRONIC_CLIENT_CERT_FILE) ?? '/opt/metal3/certs/client/tls.crt',
    ironicClientKeyFile: nonEmpty(env.IRONIC_CLIENT_PRIVATE_KEY_FILE) ?? '/opt/metal3/certs/client/tls.key',
    ironicInsecure: env.IRONIC_INSECURE === 'true',
    authRootDir: nonEmpty(env.METAL3_AUTH_ROOT_DIR) ?? '/opt/metal3/auth',
    ironicTimeoutMs: timeout && /^\d+s$/.test(timeout) ? Number(timeout.slice(0, -1)) * 1000 : undefined,
    deployKernelURL: nonEmpty(env.DEPLOY_KERNEL_URL),
    deployRamdiskURL: nonEmpty(env.DEPLOY_RAMDISK_URL),
    deployISOURL: nonEmpty(env.DEPLOY_ISO_URL),
    provisioningLimit: limit && /^\d+$/.test(limit) ? Number(limit) : undefined,
    ironicPollIntervalMs: poll && /^\d+$/.test(poll) && Number(poll) > 0 ? Number(poll) : undefined,
  };
}

const readIfExists = (path: string | undefined) => (path && existsSync(path) ? readFileSync(path, 'utf8') : undefined);

export interface ProvisionerChoice {
  provisioner: Provisioner;
  /** For the startup line; never holds credentials. */
  description: string;
  close(): void;
}

export function createProvisioner(s: ProvisionerSettings): ProvisionerChoice {
  if (!s.ironicEndpoint) {
    return {
      provisioner: new SimulatedProvisioner({ speed: s.simulatorSpeed ?? 1, capacity: s.provisioningLimit ?? 20 }),
      description: 'simulated provisioner (no Ironic endpoint configured)',
      close: () => {},
    };
  }
  const authDir = s.authRootDir ? join(s.authRootDir, 'ironic') : undefined;
  const username = readIfExists(authDir && join(authDir, 'username'))?.trim();
  const password = readIfExists(authDir && join(authDir, 'password'))?.trim();
  const clientCertPem = readIfExists(s.ironicClientCertFile);
  const clientKeyPem = readIfExists(s.ironicClientKeyFile);
  const client = new IronicClient({
    endpoint: s.ironicEndpoint,
    basicAuth: username && password ? { username, password } : undefined,
    caPem: readIfExists(s.ironicCACertFile),
    clientCertPem: clientCertPem && clientKeyPem ? clientCertPem : undefined,
    clientKeyPem: clientCertPem && clientKeyPem ? clientKeyPem : undefined,
    insecureSkipVerify: s.ironicInsecure,
    timeoutMs: s.ironicTimeoutMs,
  });
  const provisioner = new IronicProvisioner(client, {
    deployKernelURL: s.deployKernelURL,
    deployRamdiskURL: s.deployRamdiskURL,
    deployISOURL: s.deployISOURL,
    provisioningLimit: s.provisioningLimit,
    ...(s.ironicPollIntervalMs ? { pollIntervalMs: { short: s.ironicPollIntervalMs, long: s.ironicPollIntervalMs } } : {}),
  });
  // The endpoint may carry user:pass@; print only where it points.
  const where = (() => {
    try {
      const u = new URL(s.ironicEndpoint);
      return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      return 'the configured endpoint';
    }
  })();
  return {
    provisioner,
    description: `Ironic at ${where} (${username ? 'HTTP basic auth' : 'noauth'})`,
    close: () => client.close(),
  };
}
