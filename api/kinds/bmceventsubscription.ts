// BMCEventSubscription: a Redfish event subscription on the BMC of a host.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, describe, kindSchema, obj, str } from '../openapi.ts';
import { secretReferenceSchema, type SecretReference } from './common.ts';

export interface BMCEventSubscriptionSpec {
  hostName?: string;
  destination?: string;
  context?: string;
  httpHeadersRef?: SecretReference;
}

export interface BMCEventSubscriptionStatus {
  subscriptionID?: string;
  error?: string;
}

export interface BMCEventSubscription {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'BMCEventSubscription';
  metadata: ObjectMeta;
  spec?: BMCEventSubscriptionSpec;
  status?: BMCEventSubscriptionStatus;
}

export const bmcEventSubscriptionDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'BMCEventSubscription',
  listKind: 'BMCEventSubscriptionList',
  plural: 'bmceventsubscriptions',
  singular: 'bmceventsubscription',
  shortNames: ['bes', 'bmcevent'],
  categories: [],
  namespaced: true,
  schema: kindSchema('BMCEventSubscription subscribes a webhook to the events of the BMC of a host.', {
    spec: obj('BMCEventSubscriptionSpec describes the subscription. It cannot be changed once created.', {
      context: str('Arbitrary string the BMC sends back with every event.'),
      destination: str('URL of the webhook that receives the events; it must have a path.'),
      hostName: str('Name of the BareMetalHost, in the same namespace, whose BMC sends the events.'),
      httpHeadersRef: describe(
        secretReferenceSchema,
        'Secret, in the same namespace, whose data keys and values are sent as HTTP headers with every event.',
      ),
    }),
    status: obj('BMCEventSubscriptionStatus reports the subscription on the BMC.', {
      error: str('The most recent error, empty when the subscription works.'),
      subscriptionID: str('Identifier of the subscription on the BMC.'),
    }),
  }),
  printerColumns: [
    { name: 'Error', type: 'string', jsonPath: '.status.error', description: 'The most recent error message' },
    ageColumn('BMCEventSubscription'),
  ],
  subresources: { status: true },
  selectableFields: [],
};
