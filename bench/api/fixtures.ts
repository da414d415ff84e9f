// Request bodies shaped like what metal3 users and Cluster API actually send.

export const group = 'metal3.io';
export const version = 'v1alpha1';
export const annotationSent = 'bench.metal3.io/sent';

export const hostsPath = (ns: string) => `/apis/${group}/${version}/namespaces/${ns}/baremetalhosts`;
export const hostPath = (ns: string, name: string) => `${hostsPath(ns)}/${name}`;

const hex2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
const mac = (i: number) => `52:54:00:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}`;

export const hostName = (i: number) => `worker-${String(i).padStart(5, '0')}`;

/** A BareMetalHost of about 1.5 KB of JSON: Redfish BMC, image, hints, labels and the usual annotations. */
export function bareMetalHost(ns: string, i: number, extraLabels: Record<string, string> = {}): string {
  const name = hostName(i);
  const rack = `r${String(Math.floor(i / 40) % 100).padStart(2, '0')}`;
  return JSON.stringify({
    apiVersion: `${group}/${version}`,
    kind: 'BareMetalHost',
    metadata: {
      name,
      namespace: ns,
      labels: {
        'app.kubernetes.io/part-of': 'metal3',
        'cluster.x-k8s.io/cluster-name': 'bench',
        'infrastructure.cluster.x-k8s.io/rack': rack,
        'hardware.metal3.io/class': i % 3 === 0 ? 'storage' : 'compute',
        ...extraLabels,
      },
      annotations: {
        'inspect.metal3.io': 'disabled',
        'bench.metal3.io/owner': 'platform-team@example.com',
        'bench.metal3.io/asset-tag': `ASSET-${String(100000 + i)}-${rack.toUpperCase()}`,
      },
    },
    spec: {
      online: true,
      bootMode: 'UEFI',
      bootMACAddress: mac(i),
      automatedCleaningMode: 'metadata',
      description: `Dell PowerEdge R650 in ${rack}, slot ${i % 40}; 2x Xeon Gold 6338, 512 GiB RAM, 2x 1.92 TB NVMe`,
      architecture: 'x86_64',
      hardwareProfile: 'unknown',
      bmc: {
        address: `redfish-virtualmedia+https://10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}/redfish/v1/Systems/System.Embedded.1`,
        credentialsName: `${name}-bmc-secret`,
        disableCertificateVerification: true,
      },
      rootDeviceHints: { deviceName: '/dev/disk/by-path/pci-0000:65:00.0-nvme-1', minSizeGigabytes: 200 },
      image: {
        url: 'https://images.example.com/ubuntu/22.04/ubuntu-22.04-server-cloudimg-amd64.qcow2',
        checksum: 'https://images.example.com/ubuntu/22.04/ubuntu-22.04-server-cloudimg-amd64.qcow2.sha256sum',
        checksumType: 'sha256',
        format: 'qcow2',
      },
      userData: { name: `${name}-user-data`, namespace: ns },
      networkData: { name: `${name}-network-data`, namespace: ns },
      metaData: { name: `${name}-meta-data`, namespace: ns },
    },
  });
}

/** A merge patch that changes one annotation, carrying the sender's clock (performance.now()). */
export const sentAnnotationPatch = (sentMs: number) => JSON.stringify({ metadata: { annotations: { [annotationSent]: sentMs.toFixed(3) } } });

export const namespaceBody = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
