// admissionregistration.k8s.io/v1, served by the standalone server so that platform teams can apply
// their webhook configurations and ValidatingAdmissionPolicies to bare-metal resources with kubectl.
// In a cluster these come from the cluster instead. The schemas type the fields admission reads and
// preserve the rest, as kube's own types would accept them.
import type { JSONSchemaProps, ResourceDefinition } from '../../api/types.ts';
import { ageColumn, arr, enumOf, int, kindSchema, obj, str } from '../../api/openapi.ts';

const open = (description: string): JSONSchemaProps => ({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true });

const labelSelector = open('A label query over a set of resources (matchLabels and matchExpressions).');

const strings = (description: string) => arr(description, str('An entry.'));

const rule = obj('RuleWithOperations names the operations and resources a rule matches.', {
  operations: strings('Operations the rule matches: CREATE, UPDATE, DELETE, CONNECT or *.'),
  apiGroups: strings('API groups the rule matches; * is all groups.'),
  apiVersions: strings('API versions the rule matches; * is all versions.'),
  resources: strings("Resources the rule matches, such as 'baremetalhosts', 'baremetalhosts/provision', '*/status' or '*'."),
  resourceNames: strings('Resource names the rule matches (policies only); empty is all.'),
  scope: enumOf('Scope: Cluster, Namespaced or *.', ['Cluster', 'Namespaced', '*']),
});

const matchCondition = obj(
  'MatchCondition is a CEL expression that must be true for the request to be sent to the webhook or policy.',
  { name: str('Name of the condition.'), expression: str('CEL expression evaluating to a bool.') },
  { required: ['name', 'expression'] },
);

const clientConfig = obj('How to reach the webhook.', {
  url: str('The webhook URL, https://host:port/path.'),
  service: obj('A Service in front of the webhook.', {
    namespace: str('Namespace of the service.'),
    name: str('Name of the service.'),
    path: str('URL path sent to the service.'),
    port: int('Port of the service; default 443.'),
  }),
  caBundle: str('PEM CA bundle, base64 encoded, to verify the webhook server.', { format: 'byte' }),
});

const webhook = (mutating: boolean) =>
  obj(
    `${mutating ? 'Mutating' : 'Validating'}Webhook describes an admission webhook and the resources and operations it applies to.`,
    {
      name: str('Fully qualified name of the webhook, e.g. deny-unknown.example.com.'),
      clientConfig,
      rules: arr('Operations and resources the webhook cares about.', rule),
      failurePolicy: enumOf('What to do when the call fails: Ignore or Fail (default).', ['Ignore', 'Fail']),
      matchPolicy: enumOf('Exact or Equivalent (default).', ['Exact', 'Equivalent']),
      namespaceSelector: labelSelector,
      objectSelector: labelSelector,
      sideEffects: enumOf('None or NoneOnDryRun for webhooks that may be called on dry-run requests.', ['None', 'NoneOnDryRun', 'Some', 'Unknown']),
      timeoutSeconds: int('Call timeout, 1 to 30 seconds; default 10.', { minimum: 1, maximum: 30 }),
      admissionReviewVersions: strings('AdmissionReview versions the webhook accepts; must include v1.'),
      matchConditions: arr('Conditions that must all be true for the webhook to be called.', matchCondition, { maxItems: 64 }),
      ...(mutating ? { reinvocationPolicy: enumOf('Never (default) or IfNeeded.', ['Never', 'IfNeeded']) } : {}),
    },
    { required: ['name', 'clientConfig', 'sideEffects', 'admissionReviewVersions'] },
  );

const webhookConfiguration = (mutating: boolean): ResourceDefinition => {
  const kind = `${mutating ? 'Mutating' : 'Validating'}WebhookConfiguration`;
  return {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind,
    listKind: `${kind}List`,
    plural: kind.toLowerCase() + 's',
    singular: kind.toLowerCase(),
    shortNames: [],
    categories: ['api-extensions'],
    namespaced: false,
    schema: kindSchema(`${kind} describes admission webhooks that ${mutating ? 'may change' : 'accept or reject'} objects.`, {
      webhooks: arr('The webhooks and the resources and operations they apply to.', webhook(mutating)),
    }),
    printerColumns: [{ name: 'Webhooks', type: 'integer', jsonPath: '.webhooks', description: 'Number of webhooks' }, ageColumn(kind)],
    subresources: { status: false },
    selectableFields: [],
  };
};

const matchResources = obj('Which resources a policy or binding applies to.', {
  namespaceSelector: labelSelector,
  objectSelector: labelSelector,
  resourceRules: arr('Resources and operations matched.', rule),
  excludeResourceRules: arr('Resources and operations excluded.', rule),
  matchPolicy: enumOf('Exact or Equivalent (default).', ['Exact', 'Equivalent']),
});

const policy: ResourceDefinition = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingAdmissionPolicy',
  listKind: 'ValidatingAdmissionPolicyList',
  plural: 'validatingadmissionpolicies',
  singular: 'validatingadmissionpolicy',
  shortNames: [],
  categories: ['api-extensions'],
  namespaced: false,
  schema: kindSchema('ValidatingAdmissionPolicy describes CEL validations applied to requests, without a webhook.', {
    spec: obj('The policy.', {
      paramKind: obj('The kind of the parameter resource, if any.', { apiVersion: str('apiVersion of the param kind.'), kind: str('Kind of the param resource.') }),
      matchConstraints: matchResources,
      validations: arr(
        'CEL validations; all must pass.',
        obj(
          'A CEL validation.',
          {
            expression: str('CEL expression; true means the request is valid.'),
            message: str('Message returned when the expression is false.'),
            messageExpression: str('CEL expression producing the message.'),
            reason: enumOf('HTTP reason: Unauthorized, Forbidden, Invalid or RequestEntityTooLarge.', ['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge']),
            fieldPath: str('Field the failure is reported against.'),
          },
          { required: ['expression'] },
        ),
      ),
      auditAnnotations: arr('Audit annotations.', obj('An audit annotation.', { key: str('Key.'), valueExpression: str('CEL expression for the value.') }, { required: ['key', 'valueExpression'] })),
      matchConditions: arr('Conditions that must all be true for the policy to apply.', matchCondition, { maxItems: 64 }),
      variables: arr('Named CEL expressions usable in other expressions as variables.NAME.', obj('A variable.', { name: str('Name.'), expression: str('CEL expression.') }, { required: ['name', 'expression'] })),
      failurePolicy: enumOf('What to do when an expression fails to evaluate or params are missing: Ignore or Fail (default).', ['Ignore', 'Fail']),
    }),
    status: open('Status of the policy: type checking results and conditions.'),
  }),
  printerColumns: [ageColumn('ValidatingAdmissionPolicy')],
  subresources: { status: true },
  selectableFields: [],
};

const binding: ResourceDefinition = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  listKind: 'ValidatingAdmissionPolicyBindingList',
  plural: 'validatingadmissionpolicybindings',
  singular: 'validatingadmissionpolicybinding',
  shortNames: [],
  categories: ['api-extensions'],
  namespaced: false,
  schema: kindSchema('ValidatingAdmissionPolicyBinding binds a ValidatingAdmissionPolicy to resources and parameters.', {
    spec: obj('The binding.', {
      policyName: str('Name of the ValidatingAdmissionPolicy bound.'),
      paramRef: obj('The parameter resource.', {
        name: str('Name of the param object.'),
        namespace: str('Namespace of the param object.'),
        selector: labelSelector,
        parameterNotFoundAction: enumOf('Deny or Allow when no param object is found.', ['Deny', 'Allow']),
      }),
      matchResources,
      validationActions: arr('What a failed validation does: Deny, Warn and/or Audit.', enumOf('An action.', ['Deny', 'Warn', 'Audit']), { 'x-kubernetes-list-type': 'set' }),
    }),
  }),
  printerColumns: [ageColumn('ValidatingAdmissionPolicyBinding')],
  subresources: { status: false },
  selectableFields: [],
};

export const admissionRegistrationKinds: ResourceDefinition[] = [
  webhookConfiguration(true),
  webhookConfiguration(false),
  policy,
  binding,
];
