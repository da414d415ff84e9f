import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import { bearerTokenAuthenticator, delegatedAuthenticator } from '../../apiserver/auth/delegated.ts';
import { serviceAccountJWTAuthenticator, serviceAccountUser } from '../../apiserver/auth/jwt.ts';
import type { ClusterClient } from '../../apiserver/auth/kubeapi.ts';
import { FakeKubeAPIServer, makeCerts } from './auth-fixtures.ts';
import type { Certs } from './auth-fixtures.ts';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

// Claims as kube-apiserver's TokenRequest puts them into a pod's projected token.
function podClaims(ns = 'metal3', sa = 'ironic'): JWTPayload {
  return {
    sub: `system:serviceaccount:${ns}:${sa}`,
    jti: 'jti-1',
    'kubernetes.io': {
      namespace: ns,
      serviceaccount: { name: sa, uid: 'sa-uid' },
      pod: { name: 'ironic-0', uid: 'pod-uid' },
      node: { name: 'node-1', uid: 'node-uid' },
    },
  };
}

async function sign(key: SigningKey, claims: JWTPayload, opts: { iss?: string; aud?: string; expiresInS?: number; nowS?: number } = {}) {
  const nowS = opts.nowS ?? Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? ISSUER)
    .setIssuedAt(nowS)
    .setNotBefore(nowS)
    .setExpirationTime(nowS + (opts.expiresInS ?? 3600))
    .sign(key.privateKey);
}

describe('service-account JWT verification', () => {
  let certs: Certs;
  let kube: FakeKubeAPIServer;
  let client: ClusterClient;
  let k1: SigningKey;
  let k2: SigningKey;
  let stranger: SigningKey;
  let published: JWK[];
  let clock = Date.now();
  const jwksFetches = () => kube.callsTo('GET', '/openid/v1/jwks').length;

  before(async () => {
    certs = await makeCerts();
    kube = await new FakeKubeAPIServer().start(certs);
    client = kube.client(certs);
    [k1, k2, stranger] = await Promise.all([signingKey('k1'), signingKey('k2'), signingKey('k1-impostor')]);
    kube.routes.set('GET /.well-known/openid-configuration', () => ({
      status: 200,
      // The jwks_uri names the issuer's external address; only its path is asked of kube-apiserver.
      body: { issuer: ISSUER, jwks_uri: 'https://10.96.0.1:443/openid/v1/jwks', response_types_supported: ['id_token'] },
    }));
    kube.routes.set('GET /openid/v1/jwks', () => ({ status: 200, body: { keys: published } }));
  });
  beforeEach(() => {
    published = [k1.jwk];
  });
  after(async () => {
    client.close();
    await kube.stop();
    certs.cleanup();
  });

  it('accepts a projected token and maps its claims as kube-apiserver does', async () => {
    const auth = serviceAccountJWTAuthenticator({ api: client });
    assert.deepEqual(await auth(await sign(k1, podClaims())), {
      name: 'system:serviceaccount:metal3:ironic',
      uid: 'sa-uid',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:metal3'],
      extra: {
        'authentication.kubernetes.io/pod-name': ['ironic-0'],
        'authentication.kubernetes.io/pod-uid': ['pod-uid'],
        'authentication.kubernetes.io/node-name': ['node-1'],
        'authentication.kubernetes.io/node-uid': ['node-uid'],
        'authentication.kubernetes.io/credential-id': ['JTI=jti-1'],
      },
    });
  });

  it('fetches the key set once for many tokens', async () => {
    const auth = serviceAccountJWTAuthenticator({ api: client });
    const start = jwksFetches();
    for (let i = 0; i < 5; i++) assert.ok(await auth(await sign(k1, podClaims())));
    assert.equal(jwksFetches(), start + 1);
  });

  it('rejects tokens for another audience or issuer, expired ones, and forged signatures', async () => {
    clock = Date.now();
    const auth = serviceAccountJWTAuthenticator({ api: client, now: () => clock });
    // The same token is good at first, so the refusals below are about what each one changes.
    assert.ok(await auth(await sign(k1, podClaims(), { nowS: Math.floor(clock / 1000) })));
    assert.equal(await auth(await sign(k1, podClaims(), { aud: 'vault' })), undefined);
    assert.equal(await auth(await sign(k1, podClaims(), { iss: 'https://evil.example' })), undefined);
    assert.equal(await auth(await sign(k1, podClaims(), { nowS: Math.floor(clock / 1000) - 7200 })), undefined);
    // Signed by another key under the published kid.
    const forged = await sign({ ...stranger, kid: 'k1' }, podClaims());
    assert.equal(await auth(forged), undefined);
    assert.equal(await auth('not-a-jwt'), undefined);
  });

  it('accepts the audiences it is configured with', async () => {
    const auth = serviceAccountJWTAuthenticator({ api: client, audiences: ['metal3-apiserver'] });
    assert.ok(await auth(await sign(k1, podClaims(), { aud: 'metal3-apiserver' })));
    assert.equal(await auth(await sign(k1, podClaims())), undefined);
  });

  it('picks up a rotated signing key, but refetches for unknown keys at most once per interval', async () => {
    clock = Date.now();
    const auth = serviceAccountJWTAuthenticator({ api: client, now: () => clock, minRefetchMs: 10_000 });
    assert.ok(await auth(await sign(k1, podClaims(), { nowS: Math.floor(clock / 1000) })));
    const start = jwksFetches();
    published = [k1.jwk, k2.jwk];
    // Within the interval the stale set is kept: a flood of unknown kids must not hammer kube-apiserver.
    assert.equal(await auth(await sign(k2, podClaims())), undefined);
    assert.equal(jwksFetches(), start);
    clock += 11_000;
    assert.ok(await auth(await sign(k2, podClaims(), { nowS: Math.floor(clock / 1000) })));
    assert.equal(jwksFetches(), start + 1);
  });

  it('rejects subjects that are not service accounts and private claims that disagree with sub', () => {
    assert.equal(serviceAccountUser({ sub: 'alice' }), undefined);
    assert.equal(serviceAccountUser({ sub: 'system:serviceaccount:ns' }), undefined);
    assert.equal(serviceAccountUser({ ...podClaims('a', 'b'), sub: 'system:serviceaccount:kube-system:admin' }), undefined);
    assert.deepEqual(serviceAccountUser({ sub: 'system:serviceaccount:ns:sa' }), {
      name: 'system:serviceaccount:ns:sa',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:ns'],
    });
  });

  it('authenticates requests through the middleware when configuration selects jwt', async () => {
    const start = kube.callsTo('POST', '/apis/authentication.k8s.io/v1/tokenreviews').length;
    const auth = delegatedAuthenticator({
      fetchConfigMap: () => Promise.resolve({}),
      tokens: bearerTokenAuthenticator(client, { mode: 'jwt' }),
      log: () => undefined,
    });
    const app = express();
    app.use(auth);
    app.get('/whoami', (_req, res) => {
      res.json(res.locals.user);
    });
    try {
      const ok = await request(app).get('/whoami').set('Authorization', `Bearer ${await sign(k1, podClaims())}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.name, 'system:serviceaccount:metal3:ironic');
      assert.deepEqual(ok.body.groups, ['system:serviceaccounts', 'system:serviceaccounts:metal3', 'system:authenticated']);
      const bad = await request(app).get('/whoami').set('Authorization', `Bearer ${await sign(stranger, podClaims())}`);
      assert.equal(bad.status, 401);
      assert.equal(kube.callsTo('POST', '/apis/authentication.k8s.io/v1/tokenreviews').length, start);
    } finally {
      auth.close();
    }
  });
});
