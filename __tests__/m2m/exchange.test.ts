/**
 * RFC 8693 token exchange against node oidc-provider with a token exchange grant registered
 * through provider.registerGrantType (fixtures/token-exchange.ts): exchange(), its cache (per subject
 * token and target, single flight, bounded by the subject's exp, never in the store), local refusal
 * of expired and foreign subject tokens, RFC 8693 §2.2.2 errors, and onBehalfOf() end to end:
 * front API (requireAuth) → req.m2m.fetchAsUser → downstream (requireAuth) sees sub = the user, act = the API.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { jest } from '@jest/globals';
import express from 'express';
import { decodeJwt, exportJWK } from 'jose';
import request from 'supertest';
import { ConfigError, createM2MClient, InvalidTokenError, MemoryTokenStore, oauthErrorHandler, requireAuth, type M2MClient } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { getAuthorizationCode } from '../../fixtures/oidc-refresh.js';
import { startOidcProvider, TOKEN_EXCHANGE, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { listen, startScriptedIdp, type Listening } from '../support/m2m.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let op: RunningOidcProvider;
let grants = 0;
const servers: Listening[] = [];

/** A JWT-shaped token that no IdP signed: enough for the checks made before any IdP call. */
const unsigned = (claims: Record<string, unknown>): string =>
  `${Buffer.from('{"alg":"RS256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

/** A real user access token from oidc-provider (authorization_code, JWT for the resource). */
async function userToken(accountId: string): Promise<string> {
  const { code, codeVerifier } = await getAuthorizationCode(op, { clientId: 'web', redirectUri: REDIRECT_URI, accountId, scope: 'openid api:read api:write' });
  const res = await fetch(op.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('web:web-secret').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: REDIRECT_URI, resource: op.resource }),
  });
  const body = (await res.json()) as { access_token: string };
  expect(decodeJwt(body.access_token).sub).toBe(accountId);
  return body.access_token;
}

beforeAll(async () => {
  clearDiscoveryCache();
  op = await startOidcProvider({
    tokenExchange: true,
    clients: [
      { client_id: 'api-svc', client_secret: 'api-svc-secret', grant_types: ['client_credentials', TOKEN_EXCHANGE] },
      { client_id: 'api-pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK(key.publicKey)), kid: 'k1' }] }, grant_types: [TOKEN_EXCHANGE] },
      {
        client_id: 'web',
        client_secret: 'web-secret',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
      },
    ],
  });
  (op.provider.on as (e: string, f: (ctx: { oidc: { params: { grant_type?: string } } }) => void) => void)('grant.success', (ctx) => {
    if (ctx.oidc.params.grant_type === TOKEN_EXCHANGE) grants += 1;
  });
  (op.provider.on as (e: string, f: (ctx: { oidc: { params: { grant_type?: string } } }) => void) => void)('grant.error', (ctx) => {
    if (ctx.oidc.params.grant_type === TOKEN_EXCHANGE) grants += 1;
  });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await op.close();
  jest.restoreAllMocks();
});

const svc = (extra: object = {}): M2MClient => createM2MClient({ issuer: op.issuer, clientId: 'api-svc', clientSecret: 'api-svc-secret', ...extra });

describe('exchange()', () => {
  test('a token for the target with sub = the user and act = this client; cached per (subject, target, scope), single flight', async () => {
    const alice = await userToken('alice');
    const m2m = svc();
    const before = grants;
    const all = await Promise.all(Array.from({ length: 20 }, () => m2m.exchange(alice, { audience: op.resource, scope: 'api:read' })));
    expect(new Set(all)).toEqual(new Set([all[0]]));
    const t = all[0]!;
    const claims = decodeJwt(t.accessToken);
    expect(claims).toMatchObject({ sub: 'alice', act: { sub: 'api-svc' }, aud: op.resource, iss: op.issuer, scope: 'api:read' });
    expect(t).toMatchObject({ tokenType: 'Bearer', issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token', scope: 'api:read' });
    expect(t.expiresAt).toBeLessThanOrEqual(decodeJwt(alice).exp! * 1000);
    expect(await m2m.exchange(alice, { audience: op.resource, scope: ['api:read'] })).toBe(t);
    expect(grants - before).toBe(1);
    // Another scope, another user: their own exchanges.
    const write = await m2m.exchange(alice, { audience: op.resource, scope: 'api:write' });
    expect(decodeJwt(write.accessToken).scope).toBe('api:write');
    const bob = await m2m.exchange(await userToken('bob'), { resource: op.resource, scope: 'api:read' });
    expect(decodeJwt(bob.accessToken)).toMatchObject({ sub: 'bob', act: { sub: 'api-svc' } });
    expect(grants - before).toBe(3);
  });

  test('with private_key_jwt client authentication', async () => {
    const m2m = createM2MClient({ issuer: op.issuer, clientId: 'api-pkjwt', privateKey: key.privateKey, kid: 'k1' });
    const t = await m2m.exchange(await userToken('carol'), { audience: op.resource });
    expect(decodeJwt(t.accessToken)).toMatchObject({ sub: 'carol', act: { sub: 'api-pkjwt' } });
  });

  test('expired, foreign or opaque-with-expectedIssuer subject tokens are refused before any IdP call', async () => {
    const m2m = svc();
    const before = grants;
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, object, RegExp][] = [
      [unsigned({ iss: op.issuer, sub: 'x', exp: now - 1 }), {}, /has expired/],
      [unsigned({ iss: 'https://evil.example', sub: 'x', exp: now + 60 }), { expectedIssuer: op.issuer }, /not from the expected issuer/],
      ['opaque-token-value', { expectedIssuer: op.issuer }, /not a JWT/],
      ['not a token\n', {}, /not a token/],
    ];
    for (const [subject, extra, message] of cases) {
      const err = await m2m.exchange(subject, { audience: op.resource, ...extra }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidTokenError);
      expect((err as Error).message).toMatch(message);
    }
    expect(grants).toBe(before);
  });

  test('RFC 8693 §2.2.2 errors: invalid_target and invalid_request as IdpError, not retried, the subject token not in the message', async () => {
    const m2m = svc();
    const alice = await userToken('alice');
    let before = grants;
    const target = await m2m.exchange(alice, { audience: 'https://not-registered.example' }).catch((e: unknown) => e);
    expect(target).toMatchObject({ code: 'idp_error', idpStatus: 400, idpError: 'invalid_target', status: 502 });
    expect(grants - before).toBe(1);
    before = grants;
    // Signed by nobody the IdP knows: the IdP's invalid_request (our pre-checks cannot tell).
    const forged = unsigned({ iss: op.issuer, sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 60 });
    const req = await m2m.exchange(forged, { audience: op.resource }).catch((e: unknown) => e);
    expect(req).toMatchObject({ code: 'idp_error', idpError: 'invalid_request' });
    expect(grants - before).toBe(1);
    for (const e of [target, req] as Error[]) {
      expect(`${e.message} ${e.stack}`).not.toContain(alice.split('.')[2]!);
      expect(`${e.message} ${e.stack}`).not.toContain(forged);
    }
  });

  test('an IdP that echoes the subject token: redacted; a token outliving the subject is cut to its exp; nothing in the store', async () => {
    const written: string[] = [];
    const store = new (class extends MemoryTokenStore {
      override set(k: string, v: string, ttl: number): void {
        written.push(k);
        super.set(k, v, ttl);
      }
    })();
    const exp = Math.floor(Date.now() / 1000) + 2;
    const subject = unsigned({ iss: 'https://idp.example', sub: 'dave', exp });
    const idp = await startScriptedIdp([{ status: 400, body: { error: 'invalid_request', error_description: `bad subject_token ${subject}` } }]);
    servers.push(idp);
    const m2m = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'c', clientSecret: 'c-secret', store, retry: false });
    const err = (await m2m.exchange(subject, { audience: 'inventory' }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('bad subject_token [redacted]');
    expect(err.message).not.toContain(subject.split('.')[1]!);
    idp.answers = [{ body: { access_token: 'exchanged-1', token_type: 'Bearer', expires_in: 3600, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' } }];
    const t = await m2m.exchange(subject, { audience: 'inventory' });
    expect(t.expiresAt).toBe(exp * 1000);
    expect(await m2m.exchange(subject, { audience: 'inventory' })).toBe(t);
    const sent = idp.requests.at(-1)!.body;
    expect(Object.fromEntries(sent)).toMatchObject({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subject,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: 'inventory',
    });
    expect(idp.requests).toHaveLength(2);
    // Once the subject has expired, the cached exchange is not served either.
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 20));
    await expect(m2m.exchange(subject, { audience: 'inventory' })).rejects.toThrow(/has expired/);
    expect(written).toEqual([]);
    // An answer without issued_token_type is not an RFC 8693 answer.
    idp.answers = [{ body: { access_token: 'x', token_type: 'Bearer', expires_in: 60 } }];
    const fresh = unsigned({ sub: 'erin', exp: Math.floor(Date.now() / 1000) + 60 });
    await expect(m2m.exchange(fresh, { audience: 'inventory' })).rejects.toMatchObject({ code: 'idp_bad_response' });
  });

  test('bad per-call options are 400 invalid_request (found while serving); bad mount options are ConfigErrors', async () => {
    const m2m = svc();
    await expect(m2m.exchange('abc', { actorToken: 'def' })).rejects.toMatchObject({ code: 'invalid_request', status: 400, message: expect.stringMatching(/actorTokenType is required/) });
    await expect(m2m.exchange('abc', { resource: 'not a uri' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/absolute URI/) });
    expect(() => m2m.onBehalfOf({ scope: 'a\nb' })).toThrow(ConfigError);
    expect(() => m2m.onBehalfOf({ scope: 'a\nb' })).toThrow(/control characters/);
  });
});

describe('onBehalfOf()', () => {
  test('the downstream sees the user as sub and the API as act; one exchange per user token', async () => {
    const downstream = express();
    downstream.get('/inventory', requireAuth({ issuer: op.issuer, audience: op.resource, jwksUri: op.jwksUri }), (req, res) => {
      const { sub, act } = req.auth!.payload as { sub: string; act: unknown };
      res.json({ sub, act });
    });
    downstream.use(oauthErrorHandler());
    const inventory = await listen(createServer(downstream));
    servers.push(inventory);

    const m2m = svc();
    const api = express();
    const auth = requireAuth({ issuer: op.issuer, audience: op.resource, jwksUri: op.jwksUri });
    api.get('/report', auth, m2m.onBehalfOf({ audience: op.resource, scope: 'api:read' }), async (req, res) => {
      const answer = await req.m2m!.fetchAsUser!(`${inventory.url}/inventory`);
      res.status(answer.status).json(await answer.json());
    });
    api.get('/unguarded', m2m.onBehalfOf({ audience: op.resource }), (_req, res) => res.json({ reached: true }));
    api.use(oauthErrorHandler());

    const alice = await userToken('alice');
    const before = grants;
    const r1 = await request(api).get('/report').set('Authorization', `Bearer ${alice}`).expect(200);
    expect(r1.body).toEqual({ sub: 'alice', act: { sub: 'api-svc' } });
    await request(api).get('/report').set('Authorization', `Bearer ${alice}`).expect(200);
    expect(grants - before).toBe(1);
    await request(api).get('/report').expect(401);
    const wired = await request(api).get('/unguarded').expect(500);
    expect(wired.body.error).toBe('server_error');
  });
});
