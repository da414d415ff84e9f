// PreprovisioningImage: the ramdisk or ISO a host boots for inspection and deployment.

import type { ObjectMeta, ResourceDefinition } from '../types.ts';
import { ageColumn, arr, enumOf, kindSchema, obj, str } from '../openapi.ts';
import { conditionsSchema, type Condition } from './common.ts';

export const imageFormatsAccepted = ['iso', 'initrd'] as const;
export type PreprovisioningImageFormat = (typeof imageFormatsAccepted)[number];

export interface PreprovisioningImageSpec {
  networkDataName?: string;
  architecture?: string;
  acceptFormats?: PreprovisioningImageFormat[];
}

export interface PreprovisioningImageStatus {
  imageUrl?: string;
  kernelUrl?: string;
  extraKernelParams?: string;
  format?: PreprovisioningImageFormat;
  networkData?: { name?: string; version?: string };
  architecture?: string;
  conditions?: Condition[];
}

export interface PreprovisioningImage {
  apiVersion: 'metal3.io/v1alpha1';
  kind: 'PreprovisioningImage';
  metadata: ObjectMeta;
  spec?: PreprovisioningImageSpec;
  status?: PreprovisioningImageStatus;
}

export const preprovisioningImageDefinition: ResourceDefinition = {
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'PreprovisioningImage',
  listKind: 'PreprovisioningImageList',
  plural: 'preprovisioningimages',
  singular: 'preprovisioningimage',
  shortNames: ['ppimg'],
  categories: [],
  namespaced: true,
  schema: kindSchema('PreprovisioningImage is the image a BareMetalHost boots before it is provisioned.', {
    spec: obj('PreprovisioningImageSpec describes the image wanted.', {
      acceptFormats: arr(
        'Image formats the host can boot.',
        enumOf('An image format: "iso" or "initrd".', [...imageFormatsAccepted]),
      ),
      architecture: str('CPU architecture the image must be built for.'),
      networkDataName: str('Name of a Secret, in the same namespace, with the network configuration to embed.'),
    }),
    status: obj('PreprovisioningImageStatus reports the image built.', {
      architecture: str('CPU architecture of the image.'),
      conditions: conditionsSchema('Conditions of the image: Ready and Error.'),
      extraKernelParams: str('Extra kernel command line parameters to boot the initrd with.'),
      format: enumOf('Format of the image.', [...imageFormatsAccepted]),
      imageUrl: str('URL of the image.'),
      kernelUrl: str('URL of the kernel, for the initrd format.'),
      networkData: obj('The network data Secret embedded in the image.', {
        name: str('Name of the Secret.'),
        version: str('The resourceVersion of the Secret.'),
      }),
    }),
  }),
  printerColumns: [
    {
      name: 'Ready',
      type: 'string',
      jsonPath: ".status.conditions[?(@.type=='Ready')].status",
      description: 'Whether the image is ready',
    },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: ".status.conditions[?(@.type=='Ready')].reason",
      description: 'The reason for the image readiness status',
    },
    ageColumn('PreprovisioningImage'),
  ],
  subresources: { status: true },
  selectableFields: [],
};
