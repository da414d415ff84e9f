// DataImage: an image attached as virtual media to the provisioned host of the same name.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, int, kindSchema, obj, str, time } from '../openapi.ts';

export interface DataImageSpec {
  url: string;
}

export interface DataImageStatus {
  lastReconciled?: string;
  attachedImage?: { url: string };
  error?: { count: number; message: string };
}

export interface DataImage {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'DataImage';
  metadata: ObjectMeta;
  spec?: DataImageSpec;
  status?: DataImageStatus;
}

export const dataImageDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'DataImage',
  listKind: 'DataImageList',
  plural: 'dataimages',
  singular: 'dataimage',
  shortNames: [],
  categories: [],
  namespaced: true,
  schema: kindSchema('DataImage attaches an image as virtual media to the BareMetalHost of the same name.', {
    spec: obj(
      'DataImageSpec names the image to attach.',
      { url: str('URL of the image to attach.') },
      { required: ['url'] },
    ),
    status: obj('DataImageStatus reports what is attached.', {
      attachedImage: obj(
        'The image currently attached.',
        { url: str('URL of the attached image.') },
        { required: ['url'] },
      ),
      error: obj(
        'The last error attaching or detaching the image.',
        {
          count: int('Number of consecutive errors.'),
          message: str('Message of the last error.'),
        },
        { required: ['count', 'message'] },
      ),
      lastReconciled: time('When the DataImage was last reconciled.'),
    }),
  }),
  printerColumns: [ageColumn('DataImage')],
  subresources: { status: true },
  selectableFields: [],
};
