import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import type { RequestHandler } from 'express';
import request from 'supertest';
import { attributesFor, delegatedAuthorizer, forbiddenError, pathMatcher } from '../../apiserver/auth/authorizer.ts';
import { subjectAccessReviewAuthorizer } from '../../apiserver/auth/sar.ts';
import type { ClusterClient } from '../../apiserver/auth/kubeapi.ts';
import type { UserInfo } from '../../apiserver/auth/authn.ts';
import { FakeKubeAPIServer, makeCerts, SAR_PATH } from './auth-fixtures.ts';
import type { Certs } from './auth-fixtures.ts';

const ALICE: UserInfo = { name: 'alice', groups: ['dev', 'system:authenticated'] };
const BMH = '/apis/metal3.io/v1alpha1/namespaces/default/baremetalhosts';

interface ReviewSpec {
  user: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
  resourceAttributes?: Record<string, string>;
  nonResourceAttributes?: Record<string, string>;
}

/** A rule set in the spirit of RBAC: alice may get hosts and create their inspect subresource. */
function decide(spec: ReviewSpec): Record<string, unknown> {
  const r = spec.resourceAttributes;
  const n = spec.nonResourceAttributes;
  if (spec.user === 'both') return { allowed: true, denied: true };
  if (spec.user === 'denier') return { allowed: false, denied: true, reason: 'explicitly denied by policy' };
  if (spec.user !== 'alice') return { allowed: false };
  if (r && r.group === 'metal3.io' && r.resource === 'baremetalhosts') {
    if (r.verb === 'get' && !r.subresource) return { allowed: true, reason: 'RBAC: allowed by RoleBinding "view/default"' };
    if (r.verb === 'create' && r.subresource === 'inspect') return { allowed: true };
  }
  if (n && n.path === '/apis' && n.verb === 'get') return { allowed: true };
  return { allowed: false };
}

describe('delegatedAuthorizer', () => {
  let certs: Certs;
  let kube: FakeKubeAPIServer;
  let client: ClusterClient;
  let clock = 5_000_000;
  let sarFails = false;
  let app: express.Express;
  const reviews = () => kube.callsTo('POST', SAR_PATH);

  // Stands in for the authenticator: the user comes from test headers.
  const fakeAuthn: RequestHandler = (req, res, next) => {
    const name = req.get('x-test-user') ?? 'alice';
    const groups = req.get('x-test-groups')?.split(',') ?? ALICE.groups;
    res.locals.user = { name, groups } satisfies UserInfo;
    next();
  };

  function appWith(opts: Partial<Parameters<typeof delegatedAuthorizer>[0]> = {}) {
    const a = express();
    a.use(fakeAuthn);
    a.use(delegatedAuthorizer({ authorize: subjectAccessReviewAuthorizer({ api: client, now: () => clock }), ...opts }));
    a.use((_req, res) => {
      res.json({ ok: true });
    });
    return a;
  }

  before(async () => {
    certs = await makeCerts();
    kube = await new FakeKubeAPIServer().start(certs);
    client = kube.client(certs);
    kube.routes.set(`POST ${SAR_PATH}`, (body) => {
      if (sarFails) return { status: 503, body: { kind: 'Status', message: 'try later' } };
      const sar = body as { spec: ReviewSpec };
      return { status: 201, body: { ...sar, status: decide(sar.spec) } };
    });
    app = appWith();
  });
  beforeEach(() => {
    // Every test starts outside the previous test's cache window.
    clock += 60_000;
  });
  after(async () => {
    client.close();
    await kube.stop();
    certs.cleanup();
  });

  it('allows what the SubjectAccessReview allows, sending the resource attributes kube derives', async () => {
    const before = reviews().length;
    const r = await request(app).get(`${BMH}/h1`);
    assert.equal(r.status, 200);
    const sent = reviews().slice(before);
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].body, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: 'alice',
        groups: ['dev', 'system:authenticated'],
        resourceAttributes: { namespace: 'default', verb: 'get', group: 'metal3.io', version: 'v1alpha1', resource: 'baremetalhosts', name: 'h1' },
      },
    });
    assert.equal(sent[0].caller, 'admin');
  });

  it('answers a denial with 403 and kube-apiserver\'s exact Status', async () => {
    const r = await request(app).get(`${BMH}/h1`).set('x-test-user', 'bob');
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'baremetalhosts.metal3.io "h1" is forbidden: User "bob" cannot get resource "baremetalhosts" in API group "metal3.io" in the namespace "default"',
      reason: 'Forbidden',
      details: { name: 'h1', group: 'metal3.io', kind: 'baremetalhosts' },
      code: 403,
    });
  });

  it('words collection, cluster-scope, watch and non-resource denials as kube does', async () => {
    const msg = async (path: string, method: 'get' | 'delete' = 'get') => (await request(app)[method](path).set('x-test-user', 'bob')).body.message as string;
    assert.equal(await msg(BMH), 'baremetalhosts.metal3.io is forbidden: User "bob" cannot list resource "baremetalhosts" in API group "metal3.io" in the namespace "default"');
    assert.equal(
      await msg('/apis/metal3.io/v1alpha1/baremetalhosts?watch=true'),
      'baremetalhosts.metal3.io is forbidden: User "bob" cannot watch resource "baremetalhosts" in API group "metal3.io" at the cluster scope',
    );
    assert.equal(
      await msg(BMH, 'delete'),
      'baremetalhosts.metal3.io is forbidden: User "bob" cannot deletecollection resource "baremetalhosts" in API group "metal3.io" in the namespace "default"',
    );
    assert.equal(await msg('/api/v1/namespaces/default/secrets/s'), 'secrets "s" is forbidden: User "bob" cannot get resource "secrets" in API group "" in the namespace "default"');
    const metrics = await request(app).get('/metrics').set('x-test-user', 'alice');
    assert.equal(metrics.status, 403);
    assert.equal(metrics.body.message, 'forbidden: User "alice" cannot get path "/metrics"');
    assert.deepEqual(metrics.body.details, {});
    assert.deepEqual(reviews().at(-1)?.body, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'alice', groups: ['dev', 'system:authenticated'], nonResourceAttributes: { path: '/metrics', verb: 'get' } },
    });
    assert.equal((await request(app).get('/apis')).status, 200);
  });

  it('authorizes subresources as their own permissions', async () => {
    const inspect = await request(app).post(`${BMH}/h1/inspect`).send({});
    assert.equal(inspect.status, 200);
    assert.equal(reviews().at(-1)?.body && (reviews().at(-1)?.body as { spec: ReviewSpec }).spec.resourceAttributes?.subresource, 'inspect');
    const provision = await request(app).post(`${BMH}/h1/provision`).send({});
    assert.equal(provision.status, 403);
    assert.equal(
      provision.body.message,
      'baremetalhosts.metal3.io "h1" is forbidden: User "alice" cannot create resource "baremetalhosts/provision" in API group "metal3.io" in the namespace "default"',
    );
    const update = await request(app).put(`${BMH}/h1`).send({});
    assert.equal(update.status, 403);
    assert.match(update.body.message, /cannot update resource "baremetalhosts" in/);
    const status = await request(app).patch(`${BMH}/h1/status`).send({});
    assert.match(status.body.message, /cannot patch resource "baremetalhosts\/status" in/);
    assert.deepEqual(status.body.details, { name: 'h1', group: 'metal3.io', kind: 'baremetalhosts' });
    const getStatus = await request(app).get(`${BMH}/h1/status`);
    assert.equal(getStatus.status, 403, 'get on the host does not grant get on its status');
  });

  it('appends the authorizer\'s reason to a denial, and treats "no opinion" as a denial', async () => {
    const denied = await request(app).get(`${BMH}/h1`).set('x-test-user', 'denier');
    assert.equal(denied.status, 403);
    assert.match(denied.body.message, /in the namespace "default": explicitly denied by policy$/);
    assert.equal((await request(app).get(`${BMH}/h1`).set('x-test-user', 'nobody')).status, 403);
  });

  it('answers 500 when the review is contradictory or kube-apiserver cannot be asked', async () => {
    const both = await request(app).get(`${BMH}/h1`).set('x-test-user', 'both');
    assert.equal(both.status, 500);
    assert.equal(both.body.reason, 'InternalError');
    sarFails = true;
    try {
      const down = await request(app).get(`${BMH}/h2`);
      assert.equal(down.status, 500);
    } finally {
      sarFails = false;
    }
    // The failure was not cached: the same request is decided once kube-apiserver answers.
    assert.equal((await request(app).get(`${BMH}/h2`)).status, 200);
  });

  it('caches allow and deny decisions for 10 s, keyed by the whole review', async () => {
    const start = reviews().length;
    for (let i = 0; i < 3; i++) {
      assert.equal((await request(app).get(`${BMH}/h1`)).status, 200);
      assert.equal((await request(app).get(`${BMH}/h1`).set('x-test-user', 'bob')).status, 403);
    }
    assert.equal(reviews().length, start + 2);
    // Another name, another group set: other reviews.
    await request(app).get(`${BMH}/h9`);
    await request(app).get(`${BMH}/h1`).set('x-test-groups', 'system:authenticated');
    assert.equal(reviews().length, start + 4);
    clock += 9_000;
    await request(app).get(`${BMH}/h1`);
    await request(app).get(`${BMH}/h1`).set('x-test-user', 'bob');
    assert.equal(reviews().length, start + 4);
    clock += 2_000;
    await request(app).get(`${BMH}/h1`);
    await request(app).get(`${BMH}/h1`).set('x-test-user', 'bob');
    assert.equal(reviews().length, start + 6);
  });

  it('always allows the health paths and system:masters without asking', async () => {
    const start = reviews().length;
    for (const p of ['/healthz', '/livez', '/readyz']) {
      assert.equal((await request(app).get(p).set('x-test-user', 'system:anonymous').set('x-test-groups', 'system:unauthenticated')).status, 200, p);
    }
    const masters = await request(app).delete(`${BMH}/h1`).set('x-test-user', 'system:kube-aggregator').set('x-test-groups', 'system:masters');
    assert.equal(masters.status, 200);
    assert.equal(reviews().length, start);
    // Exact entries do not cover per-check paths.
    assert.equal((await request(app).get('/livez/ping').set('x-test-user', 'bob')).status, 403);
    assert.equal(reviews().length, start + 1);
  });

  it('honours configured always-allow paths with a trailing *', async () => {
    const custom = appWith({ alwaysAllowPaths: ['/healthz', '/livez/*'] });
    const start = reviews().length;
    assert.equal((await request(custom).get('/livez/ping').set('x-test-user', 'bob')).status, 200);
    assert.equal((await request(custom).get('/livez/etcd').set('x-test-user', 'bob')).status, 200);
    assert.equal(reviews().length, start);
    assert.equal((await request(custom).get('/readyz').set('x-test-user', 'bob')).status, 403);
  });
});

describe('authorization helpers', () => {
  it('pathMatcher matches exact entries and * prefixes only', () => {
    const m = pathMatcher(['/healthz', 'readyz', '/livez/*']);
    assert.ok(m('/healthz'));
    assert.ok(m('/readyz'));
    assert.ok(m('/livez/ping'));
    assert.ok(!m('/healthz/ping'));
    assert.ok(!m('/livez'));
  });

  it('attributesFor follows request-info rules for namespaces and discovery paths', () => {
    const ns = attributesFor(ALICE, 'GET', '/api/v1/namespaces/default');
    assert.deepEqual([ns.resource, ns.name, ns.namespace, ns.verb], ['namespaces', 'default', '', 'get']);
    const discovery = attributesFor(ALICE, 'GET', '/apis/metal3.io/v1alpha1');
    assert.equal(discovery.isResourceRequest, false);
    assert.equal(discovery.verb, 'get');
    const post = attributesFor(ALICE, 'POST', '/openapi/v3');
    assert.deepEqual([post.isResourceRequest, post.verb, post.path], [false, 'post', '/openapi/v3']);
  });

  it('forbiddenError words a cluster-scoped named resource', () => {
    const e = forbiddenError(attributesFor(ALICE, 'GET', '/apis/metal3.io/v1alpha1/firmwareschemas/fw'));
    assert.equal(e.code, 403);
    assert.equal(e.message, 'firmwareschemas.metal3.io "fw" is forbidden: User "alice" cannot get resource "firmwareschemas" in API group "metal3.io" at the cluster scope');
  });
});
