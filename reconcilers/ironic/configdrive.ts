// The config drive Ironic writes to the host (bmo.md §3.8): Ironic accepts it as a JSON object and builds
// the ISO itself, so we never assemble one. It carries user data, so it is only ever sent, never logged.

export interface ConfigDrive {
  user_data?: string;
  network_data?: unknown;
  meta_data: Record<string, unknown>;
}

export interface ConfigDriveHost {
  namespace: string;
  name: string;
  uid: string;
}

/** BMO's meta data defaults, overlaid by the host's metaData secret. */
export function defaultMetaData(host: ConfigDriveHost): Record<string, unknown> {
  return {
    uuid: host.uid,
    'metal3-namespace': host.namespace,
    'metal3-name': host.name,
    'local-hostname': host.name,
    local_hostname: host.name,
    name: host.name,
  };
}

export function buildConfigDrive(
  host: ConfigDriveHost,
  data: { userData?: string; networkData?: unknown; metaData?: Record<string, unknown> },
): ConfigDrive {
  const drive: ConfigDrive = { meta_data: { ...defaultMetaData(host), ...data.metaData } };
  if (data.userData !== undefined && data.userData !== '') drive.user_data = data.userData;
  if (data.networkData !== undefined && data.networkData !== null) drive.network_data = data.networkData;
  return drive;
}
