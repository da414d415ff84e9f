import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import express from 'express';
import { configMapFetcher, delegatedAuthenticator } from '../../apiserver/auth/delegated.ts';
import type { DelegatedAuthenticator, DelegatedAuthenticatorOptions } from '../../apiserver/auth/delegated.ts';
import { tokenReviewAuthenticator } from '../../apiserver/auth/tokenreview.ts';
import type { ClusterClient } from '../../apiserver/auth/kubeapi.ts';
import {
  authenticationConfigMapData,
  call,
  close,
  CONFIGMAP_PATH,
  FakeKubeAPIServer,
  listen,
  makeCerts,
  portOf,
  TOKENREVIEW_PATH,
} from './auth-fixtures.ts';
import type { Certs } from './auth-fixtures.ts';

const UNAUTHORIZED = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'Unauthorized',
  reason: 'Unauthorized',
  code: 401,
};

interface Seen {
  user: { name: string; groups: string[]; uid?: string; extra?: Record<string, string[]> };
  headers: Record<string, unknown>;
  rawHeaders: string[];
}

describe('delegatedAuthenticator', () => {
  let certs: Certs;
  let kube: FakeKubeAPIServer;
  let client: ClusterClient;
  let configMap: Record<string, string> | undefined;
  let tokenReviewFails = false;
  let clock = 1_000_000;
  const servers: Server[] = [];
  const authenticators: DelegatedAuthenticator[] = [];

  // An https server as cluster mode runs one: client certificates requested, not required, and trusted
  // at the TLS layer for whichever CAs the authenticator currently knows.
  async function serve(opts: Partial<DelegatedAuthenticatorOptions> = {}): Promise<{ port: number; auth: DelegatedAuthenticator }> {
    const auth = delegatedAuthenticator({
      fetchConfigMap: configMapFetcher(client),
      tokens: tokenReviewAuthenticator({ api: client, now: () => clock }),
      log: () => undefined,
      ...opts,
    });
    authenticators.push(auth);
    await auth.ready.catch(() => undefined);
    const app = express();
    app.use(auth);
    app.get('/whoami', (req, res) => {
      res.json({ user: res.locals.user, headers: req.headers, rawHeaders: req.rawHeaders } satisfies Seen);
    });
    const tlsOpts = () => ({ key: certs.cluster.serverKey, cert: certs.cluster.serverCert, ca: auth.clientCAPems() });
    const server = createServer({ ...tlsOpts(), requestCert: true, rejectUnauthorized: false }, app);
    auth.onCAsChanged(() => server.setSecureContext(tlsOpts()));
    servers.push(await listen(server));
    return { port: portOf(server), auth };
  }

  let port: number;
  let anonPort: number;

  before(async () => {
    certs = await makeCerts();
    kube = await new FakeKubeAPIServer().start(certs);
    client = kube.client(certs);
    configMap = authenticationConfigMapData(certs);
    kube.routes.set(`GET ${CONFIGMAP_PATH}`, () =>
      configMap ? { status: 200, body: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' }, data: configMap } } : { status: 404, body: {} },
    );
    kube.routes.set(`POST ${TOKENREVIEW_PATH}`, (body) => {
      if (tokenReviewFails) return { status: 500, body: { kind: 'Status', message: 'etcd is down' } };
      const token = (body as { spec: { token: string } }).spec.token;
      const status =
        token === 'good-token'
          ? { authenticated: true, user: { username: 'carol', uid: 'u-1', groups: ['team-a'], extra: { scopes: ['x'] } } }
          : { authenticated: false, error: 'invalid bearer token' };
      return { status: 201, body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token }, status } };
    });
    ({ port } = await serve());
    ({ port: anonPort } = await serve({ anonymous: true }));
  });

  after(async () => {
    for (const a of authenticators) a.close();
    for (const s of servers) await close(s);
    client.close();
    await kube.stop();
    certs.cleanup();
  });

  const whoami = async (p: number, opts: Omit<Parameters<typeof call>[2], 'ca'>) => {
    const r = await call(p, '/whoami', { ca: certs.cluster.caCert, ...opts });
    return { status: r.status, seen: r.status === 200 ? (r.json() as unknown as Seen) : undefined, body: r.body };
  };

  describe('front-proxy request headers', () => {
    it('trusts the headers on a connection with the allowed proxy certificate', async () => {
      const r = await whoami(port, {
        cert: certs.frontProxy,
        headers: {
          'X-Remote-User': 'bob',
          'X-Remote-Group': ['system:masters-not', 'team b'],
          'X-Remote-Extra-Scopes': ['read', 'write'],
          'X-Remote-Extra-Acme.com%2Fproject': 'p1',
          'X-Other': 'kept',
        },
      });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.seen?.user, {
        name: 'bob',
        groups: ['system:masters-not', 'team b', 'system:authenticated'],
        extra: { scopes: ['read', 'write'], 'acme.com/project': ['p1'] },
      });
    });

    it('keeps a group value containing a comma as one group', async () => {
      const r = await whoami(port, { cert: certs.frontProxy, headers: { 'X-Remote-User': 'bob', 'X-Remote-Group': ['a, b', 'c'] } });
      assert.deepEqual(r.seen?.user.groups, ['a, b', 'c', 'system:authenticated']);
    });

    it('strips the identity headers before handlers see the request', async () => {
      const r = await whoami(port, {
        cert: certs.frontProxy,
        headers: { 'X-Remote-User': 'bob', 'X-Remote-Group': 'g', 'X-Remote-Extra-K': 'v', 'X-Other': 'kept' },
      });
      assert.equal(r.status, 200);
      const names = Object.keys(r.seen?.headers ?? {});
      assert.ok(!names.some((h) => h.startsWith('x-remote-')), names.join(','));
      assert.ok(!(r.seen?.rawHeaders ?? []).some((h) => h.toLowerCase().startsWith('x-remote-')));
      assert.equal(r.seen?.headers['x-other'], 'kept');
    });

    it('refuses headers on a proxy certificate whose CN is not allowed', async () => {
      const r = await whoami(port, { cert: certs.otherProxy, headers: { 'X-Remote-User': 'bob' } });
      assert.equal(r.status, 401);
      assert.deepEqual(JSON.parse(r.body), UNAUTHORIZED);
    });

    it('refuses headers on a certificate with the right CN from another CA', async () => {
      const r = await whoami(port, { cert: certs.forgedProxy, headers: { 'X-Remote-User': 'bob', 'X-Remote-Group': 'system:masters' } });
      assert.equal(r.status, 401);
    });

    it('refuses headers sent without any client certificate', async () => {
      const r = await whoami(port, { headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' } });
      assert.equal(r.status, 401);
      assert.deepEqual(JSON.parse(r.body), UNAUTHORIZED);
    });

    it('does not let a user certificate of the cluster CA vouch for headers', async () => {
      const r = await whoami(port, { cert: certs.alice, headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' } });
      assert.equal(r.status, 200);
      assert.equal(r.seen?.user.name, 'alice');
      assert.ok(!r.seen?.user.groups.includes('system:masters'));
    });

    it('refuses a proxy certificate without a username header (it is no client certificate of the cluster CA)', async () => {
      const r = await whoami(port, { cert: certs.frontProxy });
      assert.equal(r.status, 401);
    });
  });

  describe('client certificates', () => {
    it('takes the user from CN and groups from O for the cluster CA', async () => {
      const r = await whoami(port, { cert: certs.alice });
      assert.equal(r.status, 200);
      assert.deepEqual(r.seen?.user, { name: 'alice', groups: ['dev', 'ops', 'system:authenticated'] });
    });

    it('refuses a certificate of an unknown CA, even with anonymous enabled', async () => {
      const r = await whoami(anonPort, { cert: certs.forgedProxy });
      assert.equal(r.status, 401);
    });
  });

  describe('bearer tokens through TokenReview', () => {
    it('authenticates a valid token, asks kube-apiserver as our own identity, and hides the token from handlers', async () => {
      const before = kube.callsTo('POST', TOKENREVIEW_PATH).length;
      const r = await whoami(port, { headers: { Authorization: 'Bearer good-token' } });
      assert.equal(r.status, 200);
      assert.deepEqual(r.seen?.user, { name: 'carol', uid: 'u-1', groups: ['team-a', 'system:authenticated'], extra: { scopes: ['x'] } });
      assert.equal(r.seen?.headers.authorization, undefined);
      const calls = kube.callsTo('POST', TOKENREVIEW_PATH).slice(before);
      assert.equal(calls.length, 1);
      assert.deepEqual(calls[0].body, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'good-token' } });
      assert.equal(calls[0].caller, 'admin');
    });

    it('asks once per token within the TTL, and again after it', async () => {
      clock += 60_000;
      const count = () => kube.callsTo('POST', TOKENREVIEW_PATH).length;
      const start = count();
      for (let i = 0; i < 3; i++) assert.equal((await whoami(port, { headers: { Authorization: 'Bearer good-token' } })).status, 200);
      assert.equal(count(), start + 1);
      clock += 9_000;
      await whoami(port, { headers: { Authorization: 'Bearer good-token' } });
      assert.equal(count(), start + 1);
      clock += 2_000;
      await whoami(port, { headers: { Authorization: 'Bearer good-token' } });
      assert.equal(count(), start + 2);
    });

    it('answers 401 for an invalid token and caches the failure too', async () => {
      clock += 60_000;
      const count = () => kube.callsTo('POST', TOKENREVIEW_PATH).length;
      const start = count();
      const r1 = await whoami(port, { headers: { Authorization: 'Bearer bad-token' } });
      const r2 = await whoami(port, { headers: { authorization: 'bearer bad-token' } });
      assert.equal(r1.status, 401);
      assert.equal(r2.status, 401);
      assert.deepEqual(JSON.parse(r1.body), UNAUTHORIZED);
      assert.equal(count(), start + 1);
    });

    it('refuses an invalid token even with anonymous enabled', async () => {
      assert.equal((await whoami(anonPort, { headers: { Authorization: 'Bearer bad-token' } })).status, 401);
    });

    it('answers 401 while TokenReview fails, and does not remember the failure', async () => {
      clock += 60_000;
      tokenReviewFails = true;
      try {
        assert.equal((await whoami(port, { headers: { Authorization: 'Bearer good-token' } })).status, 401);
      } finally {
        tokenReviewFails = false;
      }
      assert.equal((await whoami(port, { headers: { Authorization: 'Bearer good-token' } })).status, 200);
    });
  });

  describe('anonymous', () => {
    it('refuses a request without credentials when anonymous is off', async () => {
      const r = await whoami(port, {});
      assert.equal(r.status, 401);
      assert.deepEqual(JSON.parse(r.body), UNAUTHORIZED);
    });

    it('lets a request without credentials in as system:anonymous when enabled', async () => {
      const r = await whoami(anonPort, {});
      assert.deepEqual(r.seen?.user, { name: 'system:anonymous', groups: ['system:unauthenticated'] });
    });

    it('treats forged identity headers as no credentials: anonymous, with the headers removed', async () => {
      const r = await whoami(anonPort, { headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' } });
      assert.equal(r.seen?.user.name, 'system:anonymous');
      assert.equal(r.seen?.headers['x-remote-user'], undefined);
    });
  });

  describe('the extension-apiserver-authentication ConfigMap', () => {
    it('is read again periodically, so CA and allowed-name rotation take effect', async () => {
      const saved = configMap;
      // Start with a ConfigMap naming only the foreign CA for client certificates and another proxy name.
      configMap = { ...authenticationConfigMapData(certs, ['nobody']), 'client-ca-file': certs.foreign.caCert };
      let changes = 0;
      try {
        const { port: p, auth } = await serve({ reloadMs: 50 });
        auth.onCAsChanged(() => changes++);
        assert.equal((await whoami(p, { cert: certs.alice })).status, 401);
        assert.equal((await whoami(p, { cert: certs.otherProxy, headers: { 'X-Remote-User': 'bob' } })).status, 401);
        configMap = { ...authenticationConfigMapData(certs, []) };
        const deadline = Date.now() + 5_000;
        while ((await whoami(p, { cert: certs.alice })).status !== 200) {
          assert.ok(Date.now() < deadline, 'the new client CA was never picked up');
          await new Promise((r) => setTimeout(r, 25));
        }
        assert.ok(changes >= 1);
        // An empty allowed-names list accepts any certificate of the requestheader CA.
        const r = await whoami(p, { cert: certs.otherProxy, headers: { 'X-Remote-User': 'bob' } });
        assert.equal(r.seen?.user.name, 'bob');
      } finally {
        configMap = saved;
      }
    });

    it('when missing, leaves certificates untrusted but tokens working', async () => {
      const saved = configMap;
      configMap = undefined;
      try {
        const { port: p, auth } = await serve();
        await auth.ready;
        assert.equal(auth.clientCAPems().length, 0);
        assert.equal((await whoami(p, { cert: certs.alice })).status, 401);
        assert.equal((await whoami(p, { headers: { Authorization: 'Bearer good-token' } })).status, 200);
      } finally {
        configMap = saved;
      }
    });

    it('can be overridden by local settings, as --client-ca-file does', async () => {
      const { port: p } = await serve({ overrides: { clientCAPem: certs.foreign.caCert } });
      assert.equal((await whoami(p, { cert: certs.alice })).status, 401);
    });
  });
});
