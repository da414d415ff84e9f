import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { StatusError } from '../../api/status.ts';
import type { KubeObject } from '../../api/types.ts';
import { labelSelectorFromObject } from '../../api/labels.ts';
import type { LabelSelector } from '../../api/labels.ts';
import type { AdmissionConfigSource, ParamKind, ParamLookup } from '../../webhooks/config.ts';
import { PolicyEngine, VALIDATION_FAILURE_ANNOTATION, validatePolicyObject } from '../../webhooks/policy/index.ts';
import type { AdmissionAttributes } from '../../webhooks/types.ts';

class FakeSource implements AdmissionConfigSource {
  objects: KubeObject[] = [];
  gen = 1;
  compiledCalls = 0;
  constructor(yamlText: string) {
    this.add(yamlText);
  }
  add(yamlText: string) {
    for (const d of parseAllDocuments(yamlText)) this.objects.push(d.toJS() as KubeObject);
    this.gen++;
  }
  private ofKind = (kind: string) => this.objects.filter((o) => o.kind === kind);
  validatingAdmissionPolicies() {
    this.compiledCalls++;
    return this.ofKind('ValidatingAdmissionPolicy');
  }
  validatingAdmissionPolicyBindings = () => this.ofKind('ValidatingAdmissionPolicyBinding');
  mutatingWebhookConfigurations = () => [];
  validatingWebhookConfigurations = () => [];
  namespace = (name: string) => this.ofKind('Namespace').find((n) => n.metadata.name === name);
  params(kind: ParamKind, ref: ParamLookup) {
    if (kind.kind !== 'ConfigMap' || kind.apiVersion !== 'v1') return undefined;
    const sel = ref.selector === undefined ? undefined : labelSelectorFromObject(ref.selector as LabelSelector);
    return this.ofKind('ConfigMap').filter(
      (c) =>
        (ref.namespace === undefined || c.metadata.namespace === ref.namespace) &&
        (ref.name === undefined || c.metadata.name === ref.name) &&
        (sel === undefined || sel(c.metadata.labels)),
    );
  }
  generation = () => this.gen;
}

const NAMESPACES = `
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
`;

const BMH_RULE = `
      - apiGroups: [metal3.io]
        apiVersions: [v1alpha1]
        operations: [CREATE, UPDATE]
        resources: [baremetalhosts]`;

const binding = (name: string, policy: string, actions: string, extra = '') => `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${name}}
spec:
  policyName: ${policy}
  validationActions: ${actions}${extra}
`;

// The five policies of the issue, as a platform team would write them.
const VIRTUAL_MEDIA = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: prod-virtual-media}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:${BMH_RULE}
  variables:
    - name: scheme
      expression: "object.spec.bmc.address.split('://')[0]"
  validations:
    - expression: "namespaceObject.metadata.name != 'prod' || variables.scheme.endsWith('-virtualmedia')"
      messageExpression: "'host ' + object.metadata.name + ' uses BMC scheme ' + variables.scheme + '; namespace prod requires virtual media'"
      reason: Forbidden
---${binding('prod-virtual-media', 'prod-virtual-media', '[Deny]')}`;

const IMAGE_PREFIX = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: image-registry}
spec:
  matchConstraints:
    resourceRules:${BMH_RULE}
  validations:
    - expression: "!has(object.spec.image) || object.spec.image.url.startsWith('https://images.example.com/')"
      message: images must come from https://images.example.com/
      fieldPath: spec.image.url
---${binding('image-registry', 'image-registry', '[Warn, Audit]')}`;

const ONLINE_NEEDS_IMAGE = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: online-needs-image}
spec:
  matchConstraints:
    resourceRules:${BMH_RULE}
  validations:
    - expression: "!(has(object.spec.online) && object.spec.online) || has(object.spec.image) || has(object.spec.consumerRef)"
---${binding('online-needs-image', 'online-needs-image', '[Deny]')}`;

const PROVISION_LABEL = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: provision-label}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [metal3.io]
        apiVersions: ['*']
        operations: [CREATE, UPDATE]
        resources: [baremetalhosts/provision]
  validations:
    - expression: "has(object.metadata.labels) && object.metadata.labels[?'provisioning.example.com/allowed'] == 'true'"
      message: provisioning needs the label provisioning.example.com/allowed=true
      reason: Forbidden
---${binding('provision-label', 'provision-label', '[Deny]')}`;

const BMC_SCHEMES = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bmc-schemes}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:${BMH_RULE}
  validations:
    - expression: "params.data.schemes.split(',').exists(s, s == object.spec.bmc.address.split('://')[0])"
      messageExpression: "'BMC scheme ' + object.spec.bmc.address.split('://')[0] + ' is not one of ' + params.data.schemes"
---${binding('bmc-schemes', 'bmc-schemes', '[Deny]', `
  paramRef: {name: bmc-schemes, namespace: metal3-policy, parameterNotFoundAction: Deny}`)}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bmc-schemes, namespace: metal3-policy}
data: {schemes: "redfish-virtualmedia,idrac-virtualmedia,redfish"}
`;

// The `?` index above compares an optional with a string, which cel-go's checker rejects (it needs
// `.orValue('')`); the policy below uses `in`.
const PROVISION_LABEL_PLAIN = PROVISION_LABEL.replace(
  "object.metadata.labels[?'provisioning.example.com/allowed'] == 'true'",
  "'provisioning.example.com/allowed' in object.metadata.labels && object.metadata.labels['provisioning.example.com/allowed'] == 'true'",
);

function bmh(spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'metal3.io/v1alpha1',
    kind: 'BareMetalHost',
    metadata: { name: 'worker-0', namespace: 'prod', ...meta },
    spec: { bmc: { address: 'redfish-virtualmedia://10.0.0.1/redfish/v1/Systems/1', credentialsName: 'bmc' }, ...spec },
  };
}

function attrs(object: KubeObject, over: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: 'CREATE',
    group: 'metal3.io',
    version: 'v1alpha1',
    kind: 'BareMetalHost',
    resource: 'baremetalhosts',
    subresource: '',
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name ?? '',
    object,
    dryRun: false,
    user: { name: 'alice', groups: ['system:authenticated'] },
    ...over,
  };
}

async function denial(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    return err;
  }
  assert.fail('expected a denial');
}

describe('ValidatingAdmissionPolicy: the five policies', () => {
  it('virtual media only in prod: Deny with messageExpression and variables', async () => {
    const engine = new PolicyEngine(new FakeSource(NAMESPACES + '---' + VIRTUAL_MEDIA));
    const w: string[] = [];
    await engine.validate(attrs(bmh({})), w);
    const ipmi = bmh({ bmc: { address: 'ipmi://10.0.0.1', credentialsName: 'bmc' } });
    await engine.validate(attrs(ipmi, { namespace: 'dev' }), w);
    const err = await denial(engine.validate(attrs(ipmi), w));
    assert.equal(err.code, 403);
    assert.equal(err.reason, 'Forbidden');
    assert.equal(
      err.message,
      `baremetalhosts.metal3.io "worker-0" is forbidden: ValidatingAdmissionPolicy 'prod-virtual-media' with binding 'prod-virtual-media' denied request: host worker-0 uses BMC scheme ipmi; namespace prod requires virtual media`,
    );
    assert.deepEqual(w, []);
  });

  it('image prefix: Warn adds a warning and Audit records the failure, without denying', async () => {
    const engine = new PolicyEngine(new FakeSource(IMAGE_PREFIX));
    const ok: string[] = [];
    const good = await engine.validate(attrs(bmh({ image: { url: 'https://images.example.com/a.qcow2' } })), ok);
    assert.deepEqual(ok, []);
    assert.deepEqual(good.auditAnnotations, {});
    const w: string[] = [];
    const res = await engine.validate(attrs(bmh({ image: { url: 'http://evil.example.org/a.qcow2' } })), w);
    assert.deepEqual(w, [
      "Validation failed for ValidatingAdmissionPolicy 'image-registry' with binding 'image-registry': images must come from https://images.example.com/",
    ]);
    const audit = JSON.parse(res.auditAnnotations[VALIDATION_FAILURE_ANNOTATION]);
    assert.deepEqual(audit, [
      {
        message: 'images must come from https://images.example.com/',
        policy: 'image-registry',
        binding: 'image-registry',
        expressionIndex: 0,
        validationActions: ['Warn', 'Audit'],
      },
    ]);
    assert.equal(res.auditEvents.length, 1);
  });

  it('online needs an image or consumerRef: the default message and reason Invalid (422)', async () => {
    const engine = new PolicyEngine(new FakeSource(ONLINE_NEEDS_IMAGE));
    await engine.validate(attrs(bmh({ online: false })), []);
    await engine.validate(attrs(bmh({ online: true, image: { url: 'http://x/i' } })), []);
    await engine.validate(attrs(bmh({ online: true, consumerRef: { name: 'm' } })), []);
    const err = await denial(engine.validate(attrs(bmh({ online: true })), []));
    assert.equal(err.code, 422);
    assert.equal(err.reason, 'Invalid');
    const expected =
      "ValidatingAdmissionPolicy 'online-needs-image' with binding 'online-needs-image' denied request: failed expression: !(has(object.spec.online) && object.spec.online) || has(object.spec.image) || has(object.spec.consumerRef)";
    assert.ok(err.message.endsWith(expected), err.message);
    assert.deepEqual(err.details?.causes, [{ message: expected }]);
  });

  it('provision subresource limited to a label; the main resource is not matched', async () => {
    const engine = new PolicyEngine(new FakeSource(PROVISION_LABEL_PLAIN));
    const plain = bmh({});
    await engine.validate(attrs(plain), []);
    const err = await denial(engine.validate(attrs(plain, { subresource: 'provision' }), []));
    assert.match(err.message, /denied request: provisioning needs the label provisioning.example.com\/allowed=true$/);
    const labelled = bmh({}, { labels: { 'provisioning.example.com/allowed': 'true' } });
    await engine.validate(attrs(labelled, { subresource: 'provision' }), []);
  });

  it('param-driven allowed BMC schemes from a ConfigMap', async () => {
    const source = new FakeSource(BMC_SCHEMES);
    const engine = new PolicyEngine(source);
    await engine.validate(attrs(bmh({})), []);
    const err = await denial(engine.validate(attrs(bmh({ bmc: { address: 'ipmi://10.0.0.1' } })), []));
    assert.match(err.message, /denied request: BMC scheme ipmi is not one of redfish-virtualmedia,idrac-virtualmedia,redfish$/);
    // Without the ConfigMap, parameterNotFoundAction Deny refuses every request.
    source.objects = source.objects.filter((o) => o.kind !== 'ConfigMap');
    source.gen++;
    const missing = await denial(engine.validate(attrs(bmh({})), []));
    assert.match(missing.message, /no params found for policy binding with `Deny` parameterNotFoundAction/);
  });
});

describe('ValidatingAdmissionPolicy: semantics', () => {
  const policy = (name: string, spec: string) => `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${name}}
spec:
  matchConstraints:
    resourceRules:${BMH_RULE}
${spec}
---${binding(name, name, '[Deny]')}`;

  it('matchConditions: a false condition skips the policy', async () => {
    const engine = new PolicyEngine(
      new FakeSource(
        policy(
          'only-alice',
          `  matchConditions:
    - name: is-alice
      expression: "request.userInfo.username == 'alice'"
  validations:
    - expression: "false"`,
        ),
      ),
    );
    await engine.validate(attrs(bmh({}), { user: { name: 'bob', groups: [] } }), []);
    await denial(engine.validate(attrs(bmh({})), []));
  });

  it('failurePolicy Fail denies on an expression error, Ignore lets it pass', async () => {
    const broken = (fp: string) =>
      policy(
        `broken-${fp.toLowerCase()}`,
        `  failurePolicy: ${fp}
  validations:
    - expression: "object.spec.missing.field == 1"`,
      );
    const fail = await denial(new PolicyEngine(new FakeSource(broken('Fail'))).validate(attrs(bmh({})), []));
    assert.equal(fail.code, 403);
    assert.match(fail.message, /expression 'object.spec.missing.field == 1' resulted in error: /);
    await new PolicyEngine(new FakeSource(broken('Ignore'))).validate(attrs(bmh({})), []);
  });

  it('failurePolicy also governs a failing matchCondition and a missing param', async () => {
    const cond = (fp: string) =>
      policy(
        `cond-${fp.toLowerCase()}`,
        `  failurePolicy: ${fp}
  matchConditions:
    - name: broken
      expression: "object.nope == 1"
  validations:
    - expression: "true"`,
      );
    await denial(new PolicyEngine(new FakeSource(cond('Fail'))).validate(attrs(bmh({})), []));
    await new PolicyEngine(new FakeSource(cond('Ignore'))).validate(attrs(bmh({})), []);
    const noParams = BMC_SCHEMES.split('---\napiVersion: v1\nkind: ConfigMap')[0].replace('paramKind:', 'failurePolicy: Ignore\n  paramKind:');
    await new PolicyEngine(new FakeSource(noParams)).validate(attrs(bmh({ bmc: { address: 'ipmi://x' } })), []);
  });

  it('parameterNotFoundAction Allow admits when no param exists', async () => {
    const allow = BMC_SCHEMES.split('---\napiVersion: v1\nkind: ConfigMap')[0].replace(
      'parameterNotFoundAction: Deny',
      'parameterNotFoundAction: Allow',
    );
    await new PolicyEngine(new FakeSource(allow)).validate(attrs(bmh({ bmc: { address: 'ipmi://x' } })), []);
  });

  it('a paramRef selector evaluates the policy once per selected param', async () => {
    const text = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: forbidden-names}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:${BMH_RULE}
  validations:
    - expression: "object.metadata.name != params.data.name"
      messageExpression: "'name ' + params.data.name + ' is reserved'"
---${binding('forbidden-names', 'forbidden-names', '[Warn]', `
  paramRef: {selector: {matchLabels: {reserved: "true"}}, parameterNotFoundAction: Deny}`)}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: prod, labels: {reserved: "true"}}
data: {name: worker-0}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: prod, labels: {reserved: "true"}}
data: {name: worker-1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: prod}
data: {name: worker-2}
`;
    const engine = new PolicyEngine(new FakeSource(text));
    const w: string[] = [];
    await engine.validate(attrs(bmh({}, { name: 'worker-1' }), { name: 'worker-1' }), w);
    assert.deepEqual(w, ["Validation failed for ValidatingAdmissionPolicy 'forbidden-names' with binding 'forbidden-names': name worker-1 is reserved"]);
    const none: string[] = [];
    await engine.validate(attrs(bmh({}, { name: 'worker-2' }), { name: 'worker-2' }), none);
    assert.deepEqual(none, []);
  });

  it('auditAnnotations record valueExpression results under policy/key', async () => {
    const engine = new PolicyEngine(
      new FakeSource(
        policy(
          'annotate',
          `  auditAnnotations:
    - key: scheme
      valueExpression: "object.spec.bmc.address.split('://')[0]"
    - key: skipped
      valueExpression: "null"
  validations:
    - expression: "true"`,
        ),
      ),
    );
    const res = await engine.validate(attrs(bmh({})), []);
    assert.deepEqual(res.auditAnnotations, { 'annotate/scheme': 'redfish-virtualmedia' });
  });

  it('reason RequestEntityTooLarge and a fieldPath shape the Status', async () => {
    const engine = new PolicyEngine(
      new FakeSource(
        policy(
          'few-nics',
          `  validations:
    - expression: "!has(object.spec.nics) || size(object.spec.nics) <= 1"
      message: too many NICs
      reason: RequestEntityTooLarge
      fieldPath: spec.nics`,
        ),
      ),
    );
    const err = await denial(engine.validate(attrs(bmh({ nics: [1, 2] })), []));
    assert.equal(err.code, 413);
    assert.equal(err.details?.causes?.[0].field, 'spec.nics');
  });

  it('bindings whose policy does not exist, or whose matchResources exclude the request, do nothing', async () => {
    const text =
      binding('orphan', 'nope', '[Deny]') +
      '---' +
      policy('deny-all', '  validations:\n    - expression: "false"').replace(
        "validationActions: [Deny]",
        `validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {env: dev}}`,
      ) +
      '---' +
      NAMESPACES;
    const engine = new PolicyEngine(new FakeSource(text));
    await engine.validate(attrs(bmh({})), []);
    await denial(engine.validate(attrs(bmh({}, { namespace: 'dev' })), []));
  });

  it('recompiles only when the source generation changes', async () => {
    const source = new FakeSource(ONLINE_NEEDS_IMAGE);
    const engine = new PolicyEngine(source);
    await engine.validate(attrs(bmh({})), []);
    await engine.validate(attrs(bmh({})), []);
    assert.equal(source.compiledCalls, 1);
    source.add(IMAGE_PREFIX);
    const w: string[] = [];
    await engine.validate(attrs(bmh({ image: { url: 'http://x/y' } })), w);
    assert.equal(source.compiledCalls, 2);
    assert.equal(w.length, 1);
  });
});

describe('ValidatingAdmissionPolicy: optional syntax and cel.bind', () => {
  const OPTIONAL_POLICY = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: image-optional}
spec:
  matchConstraints:
    resourceRules:${BMH_RULE}
  variables:
    - name: url
      expression: "object.?spec.?image.?url.orValue('')"
  validations:
    - expression: "variables.url == '' || variables.url.startsWith('https://images.example.com/')"
      messageExpression: "'image ' + variables.url + ' is not from images.example.com'"
    - expression: "object.metadata.?labels[?'provisioning.example.com/allowed'].orValue('true') == 'true'"
      message: provisioning.example.com/allowed must not be false
    - expression: "cel.bind(scheme, object.spec.bmc.address.split('://')[0], scheme == 'ipmi' || scheme.endsWith('-virtualmedia'))"
      messageExpression: "cel.bind(s, object.spec.bmc.address.split('://')[0], 'BMC scheme ' + s + ' is not allowed')"
    - expression: "!object.?spec.?consumerRef.?name.hasValue() || object.spec.consumerRef.name != ''"
---${binding('image-optional', 'image-optional', '[Deny]')}`;

  it('admits hosts whose optional fields are absent or valid', async () => {
    const engine = new PolicyEngine(new FakeSource(OPTIONAL_POLICY));
    await engine.validate(attrs(bmh({})), []);
    await engine.validate(attrs(bmh({ image: { url: 'https://images.example.com/a.qcow2' } })), []);
    await engine.validate(attrs(bmh({}, { labels: { 'provisioning.example.com/allowed': 'true' } })), []);
    await engine.validate(attrs(bmh({ consumerRef: { name: 'm0' } })), []);
  });
  it('denies through a.?b chains, m[?k], cel.bind and hasValue', async () => {
    const engine = new PolicyEngine(new FakeSource(OPTIONAL_POLICY));
    const image = await denial(engine.validate(attrs(bmh({ image: { url: 'http://elsewhere/a.qcow2' } })), []));
    assert.match(image.message, /denied request: image http:\/\/elsewhere\/a.qcow2 is not from images.example.com$/);
    const label = await denial(engine.validate(attrs(bmh({}, { labels: { 'provisioning.example.com/allowed': 'false' } })), []));
    assert.match(label.message, /denied request: provisioning.example.com\/allowed must not be false$/);
    const scheme = await denial(engine.validate(attrs(bmh({ bmc: { address: 'redfish://10.0.0.1', credentialsName: 'b' } })), []));
    assert.match(scheme.message, /denied request: BMC scheme redfish is not allowed$/);
    const ref = await denial(engine.validate(attrs(bmh({ consumerRef: { name: '' } })), []));
    assert.match(ref.message, /failed expression: !object.\?spec/);
  });
});

describe('ValidatingAdmissionPolicy: request-scoped work', () => {
  it('looks the namespace up only for policies that read namespaceObject, once per request', async () => {
    const source = new FakeSource(NAMESPACES + '---' + ONLINE_NEEDS_IMAGE);
    let lookups = 0;
    const lookup = source.namespace;
    source.namespace = (name: string) => {
      lookups++;
      return lookup(name);
    };
    const engine = new PolicyEngine(source);
    await engine.validate(attrs(bmh({ image: { url: 'x' } })), []);
    assert.equal(lookups, 0);
    source.add(VIRTUAL_MEDIA.replace(/prod-virtual-media/g, 'vm1') + '---' + VIRTUAL_MEDIA.replace(/prod-virtual-media/g, 'vm2'));
    await engine.validate(attrs(bmh({ image: { url: 'x' } })), []);
    assert.equal(lookups, 1);
  });
  it('gives each policy its own variables and params while sharing the request', async () => {
    const twin = (name: string, value: string) => `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${name}}
spec:
  matchConstraints:
    resourceRules:${BMH_RULE}
  variables: [{name: v, expression: "'${value}'"}]
  validations:
    - expression: "variables.v == '${value}' && object.metadata.name == 'worker-0'"
      messageExpression: "'${name} saw ' + variables.v"
---${binding(name, name, '[Warn]')}`;
    const engine = new PolicyEngine(new FakeSource(twin('a', 'one') + '---' + twin('b', 'two')));
    const w: string[] = [];
    await engine.validate(attrs(bmh({})), w);
    assert.deepEqual(w, []);
    await engine.validate(attrs(bmh({}, { name: 'worker-1' })), w);
    assert.deepEqual(w, [
      "Validation failed for ValidatingAdmissionPolicy 'a' with binding 'a': a saw one",
      "Validation failed for ValidatingAdmissionPolicy 'b' with binding 'b': b saw two",
    ]);
  });
  it('reuses compiled policies across generations, yet an edit to a policy takes effect', async () => {
    const source = new FakeSource(ONLINE_NEEDS_IMAGE);
    const engine = new PolicyEngine(source);
    await engine.validate(attrs(bmh({ online: false })), []);
    // A generation bump from another object keeps the compiled policy; an edit to it takes effect.
    source.add(NAMESPACES);
    await engine.validate(attrs(bmh({ online: false })), []);
    const policy = source.objects.find((o) => o.kind === 'ValidatingAdmissionPolicy') as KubeObject;
    (policy.spec as { validations: { expression: string }[] }).validations[0].expression = 'object.spec.online';
    source.gen++;
    await denial(engine.validate(attrs(bmh({ online: false })), []));
  });
});

describe('validatePolicyObject', () => {
  it('reports each expression that does not compile, with its field path', () => {
    const [bad] = parseAllDocuments(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bad}
spec:
  variables: [{name: v, expression: "object.spec."}]
  validations:
    - expression: "objekt.spec.online"
    - expression: "true"
      messageExpression: "'ok'"
`).map((d) => d.toJS() as KubeObject);
    const causes = validatePolicyObject(bad);
    assert.deepEqual(
      causes.map((c) => c.field),
      ['spec.validations[0].expression', 'spec.variables[0].expression'],
    );
    assert.match(causes[0].message ?? '', /^Invalid value: "objekt.spec.online": compilation failed: .*undeclared reference to 'objekt'/);
    assert.deepEqual(validatePolicyObject(parseAllDocuments(VIRTUAL_MEDIA)[0].toJS() as KubeObject), []);
  });
});

describe('performance', () => {
  // The target is p99 < 0.5 ms on a quiet machine (bench/admission reports it); a shared CI machine's
  // scheduling noise reaches the tail, so the test holds the median to the target and the tail loosely.
  // Timing belongs to bench/admission (the machines are shared, so a timed assertion would be flaky);
  // this checks that twenty bound policies all run and all admit a host that satisfies them.
  it('20 policies bound to BareMetalHost all evaluate and admit a conforming host', async () => {
    let text = NAMESPACES;
    for (let i = 0; i < 20; i++) {
      text += `---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p${i}}
spec:
  matchConstraints:
    resourceRules:${BMH_RULE}
  variables: [{name: scheme, expression: "object.spec.bmc.address.split('://')[0]"}]
  validations:
    - expression: "!has(object.spec.image) || object.spec.image.url.startsWith('https://images.example.com/')"
    - expression: "variables.scheme.endsWith('-virtualmedia') || namespaceObject.metadata.name != 'prod'"
---${binding(`p${i}`, `p${i}`, '[Deny]')}`;
    }
    const engine = new PolicyEngine(new FakeSource(text));
    const request = attrs(bmh({ online: true, image: { url: 'https://images.example.com/a.qcow2' } }));
    const warnings: string[] = [];
    const result = await engine.validate(request, warnings);
    assert.deepEqual(warnings, []);
    assert.deepEqual(result.auditEvents, []);
    const offending = attrs(bmh({ online: true, image: { url: 'http://elsewhere.example.com/a.qcow2' } }));
    await assert.rejects(engine.validate(offending, []), /ValidatingAdmissionPolicy 'p0' with binding 'p0' denied request/);
  });
});
