import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { crdManifests, toCRD } from '../../api/crd.ts';
import { crdDir, staleCRDFiles } from '../../api/gen-crds.ts';
import { metal3Kinds } from '../../api/index.ts';
import { bareMetalHostDefinition } from '../../api/kinds/baremetalhost.ts';
import type { JSONSchemaProps } from '../../api/types.ts';

test('the committed CRDs equal freshly generated ones (run npm run gen:crds when this fails)', () => {
  assert.deepEqual(staleCRDFiles(), []);
  for (const m of crdManifests(metal3Kinds)) {
    assert.equal(readFileSync(crdDir + m.file, 'utf8'), m.content, m.file);
  }
});

test('the kustomization lists every CRD file', () => {
  const k = parse(readFileSync(crdDir + 'kustomization.yaml', 'utf8')) as { resources: string[] };
  assert.deepEqual(
    k.resources,
    metal3Kinds.map((d) => `metal3.io_${d.plural}.yaml`),
  );
});

test('toCRD builds a v1 CRD with names, scope, one storage version, columns, status and selectable fields', () => {
  const crd = toCRD(bareMetalHostDefinition) as {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: {
      group: string;
      scope: string;
      names: Record<string, unknown>;
      versions: Record<string, unknown>[];
    };
  };
  assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
  assert.equal(crd.kind, 'CustomResourceDefinition');
  assert.equal(crd.metadata.name, 'baremetalhosts.metal3.io');
  assert.equal(crd.spec.group, 'metal3.io');
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.deepEqual(crd.spec.names, {
    kind: 'BareMetalHost',
    listKind: 'BareMetalHostList',
    plural: 'baremetalhosts',
    singular: 'baremetalhost',
    shortNames: ['bmh', 'bmhost'],
  });
  assert.equal(crd.spec.versions.length, 1);
  const v = crd.spec.versions[0];
  assert.equal(v.name, 'v1alpha1');
  assert.equal(v.served, true);
  assert.equal(v.storage, true);
  assert.deepEqual(v.subresources, { status: {} });
  assert.deepEqual(v.selectableFields, [{ jsonPath: '.status.provisioning.state' }]);
  assert.equal((v.additionalPrinterColumns as unknown[]).length, 7);
  assert.deepEqual((v.schema as { openAPIV3Schema: JSONSchemaProps }).openAPIV3Schema, bareMetalHostDefinition.schema);
});

test('kinds without a status subresource or selectable fields get none in their CRD', () => {
  const hd = metal3Kinds.find((d) => d.kind === 'HardwareData')!;
  const v = (toCRD(hd) as { spec: { versions: Record<string, unknown>[] } }).spec.versions[0];
  assert.equal('subresources' in v, false);
  assert.equal('selectableFields' in v, false);
});

/** The rules kube-apiserver enforces for a structural schema, as far as our schemas can break them. */
function structuralViolations(s: JSONSchemaProps, path: string, root: boolean): string[] {
  const out: string[] = [];
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (!s.type && !intOrString && !preserve) out.push(`${path}: no type`);
  if (root && s.nullable) out.push(`${path}: nullable at the root`);
  if (s.properties && s.additionalProperties !== undefined) out.push(`${path}: properties and additionalProperties`);
  if (s.type === 'array' && !s.items) out.push(`${path}: array without items`);
  if (s['x-kubernetes-list-map-keys'] && s['x-kubernetes-list-type'] !== 'map') out.push(`${path}: map keys without list-type map`);
  if (s['x-kubernetes-list-type'] === 'map') {
    const keys = s['x-kubernetes-list-map-keys'] ?? [];
    if (!keys.length) out.push(`${path}: list-type map without keys`);
    for (const k of keys) {
      const item = s.items?.properties?.[k];
      if (!item) out.push(`${path}: map key ${k} is not a property of the items`);
      else if (!s.items?.required?.includes(k) && item.default === undefined) out.push(`${path}: map key ${k} neither required nor defaulted`);
    }
  }
  for (const k of ['anyOf', 'allOf', 'oneOf'] as const) {
    for (const branch of s[k] ?? []) {
      // Inside a combinator only value validations are allowed, bar int-or-string's two typed branches.
      const allowedType = intOrString && k === 'anyOf' && (branch.type === 'integer' || branch.type === 'string');
      if (branch.type && !allowedType) out.push(`${path}.${k}: type inside a combinator`);
      if (branch.description || branch.default !== undefined || branch.nullable || branch.additionalProperties) {
        out.push(`${path}.${k}: description/default/nullable/additionalProperties inside a combinator`);
      }
    }
  }
  if (root) {
    const meta = s.properties?.metadata;
    if (!meta || meta.type !== 'object' || Object.keys(meta).some((k) => k !== 'type' && k !== 'description')) {
      out.push(`${path}.metadata: must be only type object`);
    }
  }
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    if (!(root && k === 'metadata')) out.push(...structuralViolations(v, `${path}.${k}`, false));
  }
  if (s.items) out.push(...structuralViolations(s.items, `${path}[]`, false));
  if (typeof s.additionalProperties === 'object') out.push(...structuralViolations(s.additionalProperties, `${path}{}`, false));
  return out;
}

test('every committed CRD has a structural schema', () => {
  for (const d of metal3Kinds) {
    const crd = parse(readFileSync(`${crdDir}metal3.io_${d.plural}.yaml`, 'utf8')) as {
      spec: { versions: { schema: { openAPIV3Schema: JSONSchemaProps } }[] };
    };
    assert.deepEqual(structuralViolations(crd.spec.versions[0].schema.openAPIV3Schema, d.kind, true), [], d.kind);
  }
});

test('the structural check itself catches a missing type', () => {
  const bad: JSONSchemaProps = { type: 'object', properties: { metadata: { type: 'object' }, spec: { properties: {} } } };
  assert.deepEqual(structuralViolations(bad, 'X', true), ['X.spec: no type']);
});
