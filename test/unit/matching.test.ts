import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/types.ts';
import {
  matchesMatchResources,
  matchesNamespaceSelector,
  matchesObjectSelector,
  matchesResourceRules,
  ruleMatches,
} from '../../webhooks/matching.ts';
import type { AdmissionAttributes } from '../../webhooks/types.ts';

const host = (labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'metal3.io/v1alpha1',
  kind: 'BareMetalHost',
  metadata: { name: 'h1', namespace: 'prod', labels },
});

const attrs = (over: Partial<AdmissionAttributes> = {}): AdmissionAttributes => ({
  operation: 'CREATE',
  group: 'metal3.io',
  version: 'v1alpha1',
  kind: 'BareMetalHost',
  resource: 'baremetalhosts',
  subresource: '',
  namespace: 'prod',
  name: 'h1',
  object: host(),
  dryRun: false,
  user: { name: 'alice', groups: ['system:authenticated'] },
  ...over,
});

const namespaces: Record<string, KubeObject> = {
  prod: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { env: 'prod' } } },
  dev: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev', labels: { env: 'dev' } } },
};
const source = { namespace: (n: string) => namespaces[n] };

const bmhRule = { operations: ['CREATE', 'UPDATE'], apiGroups: ['metal3.io'], apiVersions: ['v1alpha1'], resources: ['baremetalhosts'] };

describe('ruleMatches', () => {
  it('matches operation, group, version and resource, each with * wildcards', () => {
    assert.equal(ruleMatches(bmhRule, attrs()), true);
    assert.equal(ruleMatches(bmhRule, attrs({ operation: 'DELETE' })), false);
    assert.equal(ruleMatches({ ...bmhRule, apiGroups: ['other.io'] }, attrs()), false);
    assert.equal(ruleMatches({ ...bmhRule, apiVersions: ['v1'] }, attrs()), false);
    assert.equal(ruleMatches({ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }, attrs({ operation: 'DELETE' })), true);
    assert.equal(ruleMatches({ ...bmhRule, operations: undefined }, attrs()), false);
  });
  it('matches subresources only when named: res/sub, */sub, */*', () => {
    const provision = attrs({ subresource: 'provision', operation: 'CREATE' });
    assert.equal(ruleMatches(bmhRule, provision), false);
    assert.equal(ruleMatches({ ...bmhRule, resources: ['*'] }, provision), false);
    assert.equal(ruleMatches({ ...bmhRule, resources: ['baremetalhosts/provision'] }, provision), true);
    assert.equal(ruleMatches({ ...bmhRule, resources: ['baremetalhosts/provision'] }, attrs()), false);
    assert.equal(ruleMatches({ ...bmhRule, resources: ['*/provision'] }, provision), true);
    assert.equal(ruleMatches({ ...bmhRule, resources: ['*/status'] }, provision), false);
    assert.equal(ruleMatches({ ...bmhRule, resources: ['baremetalhosts/*'] }, provision), true);
    assert.equal(ruleMatches({ ...bmhRule, resources: ['*/*'] }, provision), true);
  });
  it('honours scope: Namespaced, Cluster, *', () => {
    assert.equal(ruleMatches({ ...bmhRule, scope: 'Namespaced' }, attrs()), true);
    assert.equal(ruleMatches({ ...bmhRule, scope: 'Cluster' }, attrs()), false);
    assert.equal(ruleMatches({ ...bmhRule, scope: '*' }, attrs()), true);
    const ns = attrs({ group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespace: 'prod', name: 'prod' });
    const nsRule = { operations: ['*'], apiGroups: [''], apiVersions: ['v1'], resources: ['namespaces'] };
    assert.equal(ruleMatches({ ...nsRule, scope: 'Cluster' }, ns), true);
    assert.equal(ruleMatches({ ...nsRule, scope: 'Namespaced' }, ns), false);
  });
  it('limits by resourceNames when given', () => {
    assert.equal(ruleMatches({ ...bmhRule, resourceNames: ['h1', 'h2'] }, attrs()), true);
    assert.equal(ruleMatches({ ...bmhRule, resourceNames: ['h2'] }, attrs()), false);
    assert.equal(matchesResourceRules([{ ...bmhRule, resourceNames: ['h2'] }, bmhRule], attrs()), true);
    assert.equal(matchesResourceRules([], attrs()), false);
  });
});

describe('namespaceSelector', () => {
  const prodOnly = { matchLabels: { env: 'prod' } };
  it("uses the request namespace's labels", () => {
    assert.equal(matchesNamespaceSelector(prodOnly, attrs(), source), true);
    assert.equal(matchesNamespaceSelector(prodOnly, attrs({ namespace: 'dev' }), source), false);
    assert.equal(
      matchesNamespaceSelector({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, attrs({ namespace: 'dev' }), source),
      true,
    );
  });
  it('matches cluster-scoped objects always, and an empty selector everything', () => {
    assert.equal(matchesNamespaceSelector(prodOnly, attrs({ namespace: '', resource: 'hardwaredata' }), source), true);
    assert.equal(matchesNamespaceSelector({}, attrs({ namespace: 'dev' }), source), true);
  });
  it("judges a Namespace by its own labels, from the request on create", () => {
    const created = attrs({
      group: '', version: 'v1', kind: 'Namespace', resource: 'namespaces', namespace: '', name: 'new',
      object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'new', labels: { env: 'prod' } } },
    });
    assert.equal(matchesNamespaceSelector(prodOnly, created, source), true);
    const deleted = attrs({ group: '', version: 'v1', kind: 'Namespace', resource: 'namespaces', operation: 'DELETE', namespace: '', name: 'dev', object: undefined });
    assert.equal(matchesNamespaceSelector(prodOnly, deleted, source), false);
  });
  it('rejects an invalid selector with a 400', () => {
    assert.throws(() => matchesNamespaceSelector({ matchExpressions: [{ key: 'env', operator: 'Bogus' }] }, attrs(), source), /not a valid label selector operator/);
  });
});

describe('objectSelector', () => {
  const sel = { matchLabels: { tier: 'gold' } };
  it('matches the new or the old object labels', () => {
    assert.equal(matchesObjectSelector(sel, attrs({ object: host({ tier: 'gold' }) })), true);
    assert.equal(matchesObjectSelector(sel, attrs({ object: host(), oldObject: host({ tier: 'gold' }) })), true);
    assert.equal(matchesObjectSelector(sel, attrs({ object: host({ tier: 'bronze' }) })), false);
    assert.equal(matchesObjectSelector(sel, attrs({ object: undefined })), false);
    assert.equal(matchesObjectSelector(undefined, attrs({ object: undefined })), true);
  });
});

describe('matchesMatchResources', () => {
  it('combines selectors, resourceRules and excludeResourceRules', () => {
    const m = { namespaceSelector: { matchLabels: { env: 'prod' } }, resourceRules: [bmhRule] };
    assert.equal(matchesMatchResources(m, attrs(), source), true);
    assert.equal(matchesMatchResources(m, attrs({ namespace: 'dev' }), source), false);
    assert.equal(matchesMatchResources({ ...m, excludeResourceRules: [{ ...bmhRule, resourceNames: ['h1'] }] }, attrs(), source), false);
    assert.equal(matchesMatchResources({ ...m, objectSelector: { matchLabels: { a: 'b' } } }, attrs(), source), false);
    assert.equal(matchesMatchResources({ ...m, resourceRules: [{ ...bmhRule, resources: ['hostfirmwaresettings'] }] }, attrs(), source), false);
  });
  it('matches every resource when a binding names no rules', () => {
    assert.equal(matchesMatchResources({}, attrs({ resource: 'anything' }), source), true);
    assert.equal(matchesMatchResources(undefined, attrs(), source), true);
  });
});
