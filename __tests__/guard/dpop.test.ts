/**
 * DPoP (RFC 9449) in requireAuth: tokens from node oidc-provider bound with proofs made by
 * oauth4webapi (two independent implementations), then hostile proofs, each with its exact
 * status and challenge, and replay across two instances sharing a real Redis.
 */
import { createHash, randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { Redis } from 'ioredis';
import * as oauth from 'oauth4webapi';
import { calculateJwkThumbprint, exportJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { oauthErrorHandler, requireAuth, type RequireAuthOptions } from '../../lib/index.js';
import { redisTokenStore } from '../../lib/redis/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { closeClients, describeWithRedis, redisClient, startRedis, type RedisServer } from '../../fixtures/redis-server.js';

const b64sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

describe('interop: oidc-provider issues, oauth4webapi proves, requireAuth accepts', () => {
  let op: RunningOidcProvider;
  let api: Listening;
  let apiUrl: string;
  beforeAll(async () => {
    clearDiscoveryCache();
    op = await startOidcProvider();
    const app = express();
    app.get('/orders', requireAuth({ issuer: op.issuer, audience: op.resource, logger: false }), (req, res) => res.json({ dpop: req.auth!.dpop }));
    app.use(oauthErrorHandler());
    api = await listen(app);
    apiUrl = api.url;
  });
  afterAll(async () => {
    await api.close();
    await op.close();
  });

  test('a DPoP-bound client_credentials token from oidc-provider, used with oauth4webapi proofs', async () => {
    const issuer = new URL(op.issuer);
    const opts = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, opts));
    const client = { client_id: 'oidc-m2m' };
    const keyPair = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP({}, keyPair);
    const grant = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic('oidc-m2m-secret'), { scope: 'api:read', resource: op.resource }, { DPoP, ...opts });
    const tokens = await oauth.processClientCredentialsResponse(as, client, grant);
    expect(tokens.token_type.toLowerCase()).toBe('dpop');

    const res = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${apiUrl}/orders`), undefined, undefined, { DPoP, ...opts });
    expect(res.status).toBe(200);
    const jkt = await calculateJwkThumbprint((await exportJWK(keyPair.publicKey)) as JWK);
    expect(await res.json()).toEqual({ dpop: { jkt } });

    // The same bound token as a plain Bearer token: refused.
    const bearer = await fetch(`${apiUrl}/orders`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token".*DPoP/);
  });
});

describe('hostile proofs', () => {
  let idp: JwksServer;
  let holder: DpopHolder;
  beforeAll(async () => {
    idp = await startJwksServer();
    holder = await dpopHolder();
  });
  afterAll(() => idp.close());

  function app(dpop?: RequireAuthOptions['dpop']) {
    const a = express();
    a.all('/orders', requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, dpop }), (req, res) => res.json({ dpop: req.auth!.dpop ?? null }));
    a.use(oauthErrorHandler());
    return a;
  }

  async function proof(token: string, over: { htm?: string; htu?: string; ath?: string; iat?: number; jti?: string; nonce?: string } = {}, header: Record<string, unknown> = {}, key: CryptoKey | Uint8Array = holder.privateKey) {
    return new SignJWT({
      htm: over.htm ?? 'GET',
      htu: over.htu ?? 'http://127.0.0.1/orders',
      ath: over.ath ?? b64sha256(token),
      jti: over.jti ?? randomUUID(),
      ...(over.nonce ? { nonce: over.nonce } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk, ...header } as never)
      .setIssuedAt(over.iat ?? Math.floor(Date.now() / 1000))
      .sign(key);
  }

  const bound = () => idp.sign({ cnf: { jkt: holder.jkt } });
  // supertest's Host header is 127.0.0.1:<port>; proofs name the URL the server sees.
  const call = (a: express.Express, token: string, proofValue?: string | string[], scheme = 'DPoP') => {
    let r = request(a).get('/orders').set('Authorization', `${scheme} ${token}`);
    // An array sends the header twice.
    if (proofValue !== undefined) r = r.set('DPoP', proofValue as string);
    return r;
  };
  test('a valid proof passes; req.auth.dpop gives the thumbprint', async () => {
    const a = app();
    const token = await bound();
    const res = await request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, { htu: 'http://API.example.test:80/orders' }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ dpop: { jkt: holder.jkt } });
  });

  test.each([
    ['wrong htm', { htm: 'POST' }, /another HTTP method/],
    ['wrong htu', { htu: 'http://api.example.test/other' }, /another URL/],
    ['wrong ath', { ath: b64sha256('another token') }, /not for this access token/],
    ['stale iat', { iat: Math.floor(Date.now() / 1000) - 600 }, /too old/],
    ['future iat', { iat: Math.floor(Date.now() / 1000) + 600 }, /in the future/],
  ])('%s → 401 invalid_dpop_proof with a DPoP challenge', async (_name, over, description) => {
    const a = app();
    const token = await bound();
    const res = await request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, { htu: 'http://api.example.test/orders', ...over }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_dpop_proof');
    expect(res.body.error_description).toMatch(description);
    expect(res.headers['www-authenticate']).toMatch(/^DPoP realm="api", error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 /);
  });

  test('a replayed proof is refused on the same instance', async () => {
    const a = app();
    const token = await bound();
    const p = await proof(token, { htu: 'http://api.example.test/orders' });
    const send = () => request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', p);
    expect((await send()).status).toBe(200);
    const again = await send();
    expect(again.status).toBe(401);
    expect(again.body.error_description).toMatch(/already used/);
  });

  test.each([
    ['a private key in jwk', async (t: string) => proof(t, { htu: 'http://api.example.test/orders' }, { jwk: { ...(await exportJWK(holder.privateKey)) } }), /private key material/],
    ['a symmetric alg', async (t: string) => proof(t, { htu: 'http://api.example.test/orders' }, { alg: 'HS256' }, new Uint8Array(32)), /algorithm/],
    ['alg none', async (t: string) => {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'none', typ: 'dpop+jwt', jwk: holder.jwk })}.${enc({ htm: 'GET', htu: 'http://api.example.test/orders', iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ath: b64sha256(t) })}.`;
    }, /algorithm|not a valid/],
    ['a wrong typ', async (t: string) => proof(t, { htu: 'http://api.example.test/orders' }, { typ: 'JWT' }), /typ/],
  ])('%s → 401 invalid_dpop_proof', async (_name, make, description) => {
    const a = app();
    const token = await bound();
    const res = await request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await make(token));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_dpop_proof');
    expect(res.body.error_description).toMatch(description);
  });

  test("a proof key that is not the token's cnf.jkt → 401", async () => {
    const a = app();
    const token = await idp.sign({ cnf: { jkt: 'A'.repeat(43) } });
    const res = await request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, { htu: 'http://api.example.test/orders' }));
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/cnf\.jkt/);
  });

  test('two DPoP headers, a token without proof, an unbound token with DPoP, a proof without token', async () => {
    const a = app();
    const token = await bound();
    const p = await proof(token, { htu: 'http://api.example.test/orders' });
    const two = await call(a, token, [p, p]);
    expect(two.status).toBe(401);
    expect(two.body.error_description).toMatch(/exactly one DPoP proof/);
    const none = await call(a, token);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'The request has no DPoP proof header' });
    const unbound = await idp.sign();
    const res = await call(a, unbound, await proof(unbound));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(res.headers['www-authenticate']).toMatch(/^DPoP .*error="invalid_token"/);
    const proofOnly = await request(a).get('/orders').set('DPoP', p);
    expect(proofOnly.status).toBe(401);
    expect(proofOnly.body.error).toBeUndefined();
  });

  test('a DPoP-bound token sent as Bearer is refused, cached or not; in required mode every Bearer token is', async () => {
    const a = app();
    const token = await bound();
    for (let i = 0; i < 3; i++) {
      const res = await call(a, token, undefined, 'Bearer');
      expect(res.status).toBe(401);
      expect(res.body.error_description).toMatch(/bound to a key/);
    }
    const required = app({ mode: 'required' });
    const plain = await idp.sign();
    const res = await call(required, plain, undefined, 'Bearer');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^DPoP /);
    expect((await request(required).get('/orders')).headers['www-authenticate']).toBe('DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');
  });

  test('disabled mode: the DPoP scheme is not a credential, and bound tokens are still refused as Bearer', async () => {
    const a = app({ mode: 'disabled' });
    const token = await bound();
    expect((await call(a, token, await proof(token))).status).toBe(401);
    expect((await request(a).get('/orders')).headers['www-authenticate']).toBe('Bearer realm="api"');
    expect((await call(a, token, undefined, 'Bearer')).body.error_description).toMatch(/bound to a key/);
  });

  test('server nonces: use_dpop_nonce with a DPoP-Nonce header, then the proof with the nonce passes', async () => {
    const a = app({ nonce: { secret: 'n'.repeat(32) } });
    const token = await bound();
    const first = await request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, { htu: 'http://api.example.test/orders' }));
    expect(first.status).toBe(401);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers['dpop-nonce'];
    expect(typeof nonce).toBe('string');
    const second = await request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, { htu: 'http://api.example.test/orders', nonce }));
    expect(second.status).toBe(200);
    // Another instance with the same secret accepts the same nonce.
    const other = app({ nonce: { secret: 'n'.repeat(32) } });
    const third = await request(other).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, { htu: 'http://api.example.test/orders', nonce }));
    expect(third.status).toBe(200);
  });

  describeWithRedis('replay across a fleet (real Redis)', () => {
    let redis: RedisServer;
    const clients: Redis[] = [];
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await closeClients(clients);
      await redis.stop();
    });

    test('claim() is SET NX PX: true once, then false until it expires; nothing kept in process', async () => {
      const c = redisClient(redis.url);
      clients.push(c);
      const store = redisTokenStore({ client: c });
      expect(await store.claim('once', 200)).toBe(true);
      expect(await store.claim('once', 200)).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      expect(await store.claim('once', 200)).toBe(true);
    });

    test('a proof accepted by one instance is refused by another; a dead store fails closed (503)', async () => {
      const store = () => {
        const c = redisClient(redis.url);
        clients.push(c);
        return redisTokenStore({ client: c });
      };
      const one = app({ replayStore: store() });
      const two = app({ replayStore: store() });
      const token = await bound();
      const p = await proof(token, { htu: 'http://api.example.test/orders' });
      const send = (a: express.Express) => request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', p);
      expect((await send(one)).status).toBe(200);
      const replayed = await send(two);
      expect(await clients[0]!.keys('*claim:dpop-jti:*')).toHaveLength(1);
      expect(replayed.status).toBe(401);
      expect(replayed.body.error_description).toMatch(/already used/);

      const dead = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
      const closed = app({ replayStore: redisTokenStore({ client: dead }) });
      const fresh = await proof(token, { htu: 'http://api.example.test/orders' });
      const res = await request(closed).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', fresh);
      expect(res.status).toBe(503);
      dead.disconnect();
    });
  });
});
