// The bodies of the BareMetalHost action subresources: what `inspect` and `provision` take. They are not
// stored kinds, but they are API types with schemas, so they validate like any object and appear in OpenAPI.

import type { JSONSchemaProps, ObjectMeta } from '../types.ts';
import { bool, kindSchema, obj } from '../openapi.ts';
import type { CustomDeploy } from './baremetalhost.ts';
import { bareMetalHostDefinition } from './baremetalhost.ts';
import type { Image, ObjectReference, SecretReference } from './common.ts';

export interface InspectionRequest {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'InspectionRequest';
  metadata?: ObjectMeta;
  /** Re-inspect even while an inspection is already requested or running. */
  force?: boolean;
  status?: { accepted: boolean; hostState: string };
}

export interface ProvisionRequest {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'ProvisionRequest';
  metadata?: ObjectMeta;
  image?: Image;
  customDeploy?: CustomDeploy;
  userData?: SecretReference;
  networkData?: SecretReference;
  metaData?: SecretReference;
  consumerRef?: ObjectReference;
  online?: boolean;
}

/** The host's own field schemas, so a request is validated exactly as the spec it writes. */
const specField = (name: string): JSONSchemaProps => {
  const spec = bareMetalHostDefinition.schema.properties?.spec;
  const field = spec?.properties?.[name];
  if (!field) throw new Error(`BareMetalHost spec has no field ${name}`);
  return field;
};

export const inspectionRequestSchema: JSONSchemaProps = kindSchema(
  'InspectionRequest asks for a (re-)inspection of an available host: POST it to baremetalhosts/NAME/inspect.',
  {
    force: bool('Request the inspection even while one is already requested or in progress.'),
    status: obj('Filled in by the server in its answer.', {
      accepted: bool('The inspection was requested.'),
      hostState: { type: 'string', description: 'The provisioning state of the host when the request was accepted.' },
    }),
  },
);

export const provisionRequestSchema: JSONSchemaProps = kindSchema(
  'ProvisionRequest sets what a host runs, in one atomic write: POST it to baremetalhosts/NAME/provision.',
  {
    image: specField('image'),
    customDeploy: specField('customDeploy'),
    userData: specField('userData'),
    networkData: specField('networkData'),
    metaData: specField('metaData'),
    consumerRef: specField('consumerRef'),
    online: bool('Power state wanted once provisioned; default true.'),
  },
);
