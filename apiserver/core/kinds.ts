// The core/v1 kinds the standalone server serves itself (Namespace, Secret, Event), described the same way
// as the metal3.io kinds so the generic registry serves them unchanged.

import type { ResourceDefinition } from '../../api/types.ts';
import { arr, bool, describe, enumOf, int, kindSchema, mapOf, obj, str, time } from '../../api/openapi.ts';
import { objectReferenceSchema } from '../../api/kinds/common.ts';

const ageColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
} as const;

export const namespaceDefinition: ResourceDefinition = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  listKind: 'NamespaceList',
  plural: 'namespaces',
  singular: 'namespace',
  shortNames: ['ns'],
  categories: [],
  namespaced: false,
  schema: kindSchema('Namespace provides a scope for Names. Use of multiple namespaces is optional.', {
    spec: obj('Spec defines the behavior of the Namespace.', {
      finalizers: arr(
        'Finalizers is an opaque list of values that must be empty to permanently remove the object from storage.',
        str('A finalizer name.'),
        { 'x-kubernetes-list-type': 'atomic' },
      ),
    }),
    status: obj('Status describes the current status of a Namespace.', {
      conditions: arr(
        'Represents the latest available observations of a namespace\'s current state.',
        obj(
          'NamespaceCondition contains details about the state of a namespace.',
          {
            lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
            message: str('Human-readable message indicating details about the last transition.'),
            reason: str('Unique, one-word, CamelCase reason for the condition\'s last transition.'),
            status: str('Status of the condition, one of True, False, Unknown.'),
            type: str('Type of namespace controller condition.'),
          },
          { required: ['status', 'type'] },
        ),
        { 'x-kubernetes-list-map-keys': ['type'], 'x-kubernetes-list-type': 'map' },
      ),
      phase: enumOf('Phase is the current lifecycle phase of the namespace.', ['Active', 'Terminating']),
    }),
  }),
  printerColumns: [
    {
      name: 'Status',
      type: 'string',
      jsonPath: '.status.phase',
      description: 'The status of the namespace',
    },
    ageColumn,
  ],
  subresources: { status: true },
  selectableFields: ['status.phase'],
};

export const secretDefinition: ResourceDefinition = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  listKind: 'SecretList',
  plural: 'secrets',
  singular: 'secret',
  shortNames: [],
  categories: [],
  namespaced: true,
  schema: kindSchema('Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.', {
    data: mapOf(
      'Data contains the secret data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. ' +
        'The serialized form of the secret data is a base64 encoded string.',
      str('Base64-encoded value.', { format: 'byte' }),
    ),
    immutable: bool(
      'Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object ' +
        'metadata can be modified).',
    ),
    stringData: mapOf(
      'stringData allows specifying non-binary secret data in string form. It is provided as a write-only ' +
        'input field for convenience: all keys and values are merged into the data field on write, ' +
        'overwriting any existing values. The stringData field is never output when reading from the API.',
      str('Plain-text value.'),
    ),
    type: str(
      'Used to facilitate programmatic handling of secret data, e.g. kubernetes.io/basic-auth or ' +
        'kubernetes.io/dockerconfigjson. Defaults to Opaque.',
    ),
  }),
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'The type of the secret' },
    // `.data` is a map, not a count: the Secret strategy must supply this cell (the number of data keys)
    // as a computed cell, as kubectl shows DATA.
    { name: 'Data', type: 'integer', jsonPath: '.data', description: 'The number of data entries in the secret' },
    ageColumn,
  ],
  subresources: { status: false },
  selectableFields: ['type'],
};

const eventSourceSchema = obj('EventSource contains information for an event.', {
  component: str('Component from which the event is generated.'),
  host: str('Node name on which the event is generated.'),
});

export const eventDefinition: ResourceDefinition = {
  group: '',
  version: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  categories: [],
  namespaced: true,
  schema: kindSchema('Event is a report of an event somewhere in the cluster.', {
    action: str('What action was taken/failed regarding to the Regarding object.'),
    count: int('The number of times this event has occurred.', { format: 'int32' }),
    eventTime: time('Time when this Event was first observed (MicroTime).'),
    firstTimestamp: time('The time at which the event was first recorded.'),
    involvedObject: describe(objectReferenceSchema, 'The object that this event is about.'),
    lastTimestamp: time('The time at which the most recent occurrence of this event was recorded.'),
    message: str('A human-readable description of the status of this operation.'),
    reason: str('This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
    related: describe(objectReferenceSchema, 'Optional secondary object for more complex actions.'),
    reportingComponent: str('Name of the controller that emitted this Event, e.g. `kubernetes.io/kubelet`.'),
    reportingInstance: str('ID of the controller instance, e.g. `kubelet-xyzf`.'),
    series: obj('Data about the Event series this event represents or nil if it\'s a singleton Event.', {
      count: int('Number of occurrences in this series up to the last heartbeat time.', { format: 'int32' }),
      lastObservedTime: time('Time of the last occurrence observed (MicroTime).'),
    }),
    source: describe(eventSourceSchema, 'The component reporting this event.'),
    type: str('Type of this event (Normal, Warning); new types could be added in the future.'),
  }),
  printerColumns: [
    { name: 'Last Seen', type: 'date', jsonPath: '.lastTimestamp', description: 'Time of the most recent occurrence' },
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'Type of this event (Normal, Warning)' },
    { name: 'Reason', type: 'string', jsonPath: '.reason', description: 'Short reason for the event' },
    { name: 'Object', type: 'string', jsonPath: '.involvedObject.name', description: 'The object this event is about' },
    { name: 'Subobject', type: 'string', jsonPath: '.involvedObject.fieldPath', description: 'Part of the object', priority: 1 },
    { name: 'Source', type: 'string', jsonPath: '.source.component', description: 'Component reporting the event', priority: 1 },
    { name: 'Message', type: 'string', jsonPath: '.message', description: 'Human-readable description' },
    { name: 'First Seen', type: 'date', jsonPath: '.firstTimestamp', description: 'Time of the first occurrence', priority: 1 },
    { name: 'Count', type: 'integer', jsonPath: '.count', description: 'Number of occurrences', priority: 1 },
    { name: 'Name', type: 'string', jsonPath: '.metadata.name', description: 'Name of the event', priority: 1 },
  ],
  subresources: { status: false },
  // What kube's event field selectors offer (kubectl describe filters events by involvedObject.*).
  selectableFields: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'type',
  ],
};

export const configMapDefinition: ResourceDefinition = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  listKind: 'ConfigMapList',
  plural: 'configmaps',
  singular: 'configmap',
  shortNames: ['cm'],
  categories: [],
  namespaced: true,
  schema: kindSchema('ConfigMap holds configuration data for pods to consume, and parameters for admission policies.', {
    data: mapOf('Data contains the configuration data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'.', str('A value.')),
    binaryData: mapOf('BinaryData contains the binary data.', str('Base64-encoded value.', { format: 'byte' })),
    immutable: bool('Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated.'),
  }),
  printerColumns: [
    // A count, supplied by the ConfigMap strategy's computed cells, as kubectl shows DATA.
    { name: 'Data', type: 'integer', jsonPath: '.data', description: 'The number of data entries' },
    ageColumn,
  ],
  subresources: { status: false },
  selectableFields: [],
};

// kubectl sends strategic merge patches for built-in kinds (apply, label, annotate on Secrets...).
export const coreKinds: ResourceDefinition[] = [namespaceDefinition, secretDefinition, configMapDefinition, eventDefinition].map((d) => ({
  ...d,
  strategicMergePatch: true,
}));
