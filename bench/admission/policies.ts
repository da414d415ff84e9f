// Twenty ValidatingAdmissionPolicies a platform team might bind to BareMetalHost, each with its binding,
// plus the namespace and the ConfigMap param they read. Every policy passes for bench/api's fixture host
// (a create that is denied measures the error path, not admission), yet each must evaluate its
// expressions fully: the bench measures the cost of policies that run, not of policies skipped.
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../api/types.ts';

export const policyNamespace = 'metal3-policy';
export const benchNamespace = 'bench';

const rules = `
    resourceRules:
      - apiGroups: [metal3.io]
        apiVersions: [v1alpha1]
        operations: [CREATE, UPDATE]
        resources: [baremetalhosts]`;

interface PolicySpec {
  name: string;
  /** YAML lines under spec, after matchConstraints (indented two spaces). */
  body: string;
  actions?: string;
  /** Extra YAML lines under the binding's spec. */
  binding?: string;
}

const policies: PolicySpec[] = [
  {
    name: 'bmc-address-required',
    body: `
  validations:
    - expression: "has(object.spec.bmc) && has(object.spec.bmc.address) && object.spec.bmc.address != ''"
      message: every host needs a BMC address`,
  },
  {
    name: 'boot-mac-required',
    body: `
  validations:
    - expression: "has(object.spec.bootMACAddress) && object.spec.bootMACAddress.matches('^([0-9a-f]{2}:){5}[0-9a-f]{2}$')"
      messageExpression: "'bootMACAddress must be a lower-case MAC, got ' + (has(object.spec.bootMACAddress) ? object.spec.bootMACAddress : 'nothing')"`,
  },
  {
    name: 'images-from-registry',
    body: `
  validations:
    - expression: "!has(object.spec.image) || object.spec.image.url.startsWith('https://images.example.com/')"
      messageExpression: "'image ' + object.spec.image.url + ' is not under https://images.example.com/'"
      reason: Forbidden`,
  },
  {
    name: 'checksum-over-https',
    body: `
  validations:
    - expression: "!has(object.spec.image) || !has(object.spec.image.checksum) || url(object.spec.image.checksum).getScheme() == 'https'"
      message: image checksums must be fetched over https`,
  },
  {
    name: 'online-needs-image-or-consumer',
    body: `
  validations:
    - expression: "!object.spec.online || has(object.spec.image) || has(object.spec.consumerRef)"
      message: "online: true needs an image or a consumerRef"`,
  },
  {
    name: 'prod-virtual-media',
    body: `
  variables:
    - name: scheme
      expression: "object.spec.bmc.address.split('://')[0].split('+')[0]"
  validations:
    - expression: "!has(namespaceObject.metadata.labels) || !('env' in namespaceObject.metadata.labels) || namespaceObject.metadata.labels.env != 'prod' || variables.scheme.contains('virtualmedia')"
      messageExpression: "'hosts in prod must use virtual media, not ' + variables.scheme"`,
  },
  {
    name: 'allowed-bmc-schemes',
    body: `
  paramKind: {apiVersion: v1, kind: ConfigMap}
  variables:
    - name: scheme
      expression: "object.spec.bmc.address.split('://')[0].split('+')[0]"
    - name: allowed
      expression: "params.data.schemes.split(',')"
  validations:
    - expression: "variables.allowed.exists(s, s == variables.scheme)"
      messageExpression: "'BMC scheme ' + variables.scheme + ' is not one of ' + params.data.schemes"`,
    binding: `
  paramRef: {name: bmc-schemes, namespace: ${policyNamespace}, parameterNotFoundAction: Deny}`,
  },
  {
    name: 'cluster-label-required',
    body: `
  validations:
    - expression: "has(object.metadata.labels) && 'cluster.x-k8s.io/cluster-name' in object.metadata.labels"
      message: hosts must carry cluster.x-k8s.io/cluster-name`,
  },
  {
    name: 'label-values-short',
    actions: '[Warn]',
    body: `
  validations:
    - expression: "!has(object.metadata.labels) || object.metadata.labels.all(k, object.metadata.labels[k].size() <= 32)"
      message: label values over 32 characters are truncated by the inventory`,
  },
  {
    name: 'owner-annotation-email',
    body: `
  validations:
    - expression: "has(object.metadata.annotations) && 'bench.metal3.io/owner' in object.metadata.annotations && object.metadata.annotations['bench.metal3.io/owner'].matches('^[a-z0-9._-]+@example\\\\.com$')"
      message: hosts need an owner annotation with an @example.com address`,
  },
  {
    name: 'root-device-big-enough',
    body: `
  validations:
    - expression: "!has(object.spec.rootDeviceHints) || !has(object.spec.rootDeviceHints.minSizeGigabytes) || object.spec.rootDeviceHints.minSizeGigabytes >= 100"
      message: root devices under 100 GB cannot hold the OS image`,
  },
  {
    name: 'prod-uefi-only',
    body: `
  matchConditions:
    - name: prod-only
      expression: "has(namespaceObject.metadata.labels) && 'env' in namespaceObject.metadata.labels && namespaceObject.metadata.labels.env == 'prod'"
  validations:
    - expression: "!has(object.spec.bootMode) || object.spec.bootMode in ['UEFI', 'UEFISecureBoot']"
      message: hosts in prod boot UEFI`,
  },
  {
    name: 'host-name-pattern',
    body: `
  validations:
    - expression: "object.metadata.name.matches('^[a-z][a-z0-9-]*[0-9]$') && object.metadata.name.size() <= 40"
      messageExpression: "'host name ' + object.metadata.name + ' does not follow <role>-<number>'"`,
  },
  {
    name: 'bmc-secret-naming',
    actions: '[Warn, Audit]',
    body: `
  validations:
    - expression: "object.spec.bmc.credentialsName == object.metadata.name + '-bmc-secret'"
      messageExpression: "'BMC secret ' + object.spec.bmc.credentialsName + ' should be ' + object.metadata.name + '-bmc-secret'"`,
  },
  {
    name: 'description-length',
    body: `
  validations:
    - expression: "!has(object.spec.description) || object.spec.description.size() <= 256"
      message: descriptions are limited to 256 characters`,
  },
  {
    name: 'data-secrets-same-namespace',
    body: `
  variables:
    - name: refs
      expression: "['userData', 'networkData', 'metaData'].filter(f, f in object.spec).map(f, object.spec[f])"
  validations:
    - expression: "variables.refs.all(r, !has(r.namespace) || r.namespace == object.metadata.namespace)"
      message: userData, networkData and metaData secrets must live in the host's namespace`,
  },
  {
    name: 'image-format-known',
    body: `
  validations:
    - expression: "!has(object.spec.image) || !has(object.spec.image.format) || object.spec.image.format in ['raw', 'qcow2', 'vdi', 'vmdk', 'live-iso']"
      message: unknown image format`,
  },
  {
    name: 'architecture-supported',
    body: `
  matchConditions:
    - name: has-architecture
      expression: "has(object.spec.architecture)"
  validations:
    - expression: "object.spec.architecture in ['x86_64', 'aarch64']"
      messageExpression: "'architecture ' + object.spec.architecture + ' is not supported'"`,
  },
  {
    name: 'hardware-class-known',
    body: `
  validations:
    - expression: "has(object.metadata.labels) && ['storage', 'compute', 'gpu'].exists(c, 'hardware.metal3.io/class' in object.metadata.labels && object.metadata.labels['hardware.metal3.io/class'] == c)"
      message: hardware.metal3.io/class must be storage, compute or gpu`,
  },
  {
    name: 'bmc-host-in-oob-network',
    actions: '[Audit]',
    body: `
  variables:
    - name: bmcURL
      expression: "url(object.spec.bmc.address.substring(object.spec.bmc.address.indexOf('+') + 1))"
  validations:
    - expression: "variables.bmcURL.getHostname().startsWith('10.') && request.userInfo.username != ''"
      messageExpression: "'BMC ' + variables.bmcURL.getHostname() + ' is outside the out-of-band network 10.0.0.0/8'"`,
  },
];

const yamlOf = (p: PolicySpec) => `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${p.name}}
spec:
  failurePolicy: Fail
  matchConstraints:${rules}${p.body}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${p.name}}
spec:
  policyName: ${p.name}
  validationActions: ${p.actions ?? '[Deny]'}${p.binding ?? ''}
`;

const docs = (text: string): KubeObject[] => parseAllDocuments(text).map((d) => d.toJS() as KubeObject);

export const policyCount = policies.length;

/** The objects to create, in order: namespaces and the param first, then each policy and its binding. */
export function admissionObjects(): KubeObject[] {
  return docs(`
apiVersion: v1
kind: Namespace
metadata: {name: ${policyNamespace}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bmc-schemes, namespace: ${policyNamespace}}
data:
  schemes: redfish,redfish-virtualmedia,idrac-virtualmedia,ilo5-virtualmedia
---${policies.map(yamlOf).join('---')}`);
}

/** The namespace the hosts go into, labelled so namespace-dependent policies evaluate their full path. */
export const benchNamespaceObject = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: benchNamespace, labels: { env: 'prod' } },
});
