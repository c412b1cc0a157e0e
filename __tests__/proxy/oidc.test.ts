/**
 * Interop with node oidc-provider, an IdP this package did not write: authorization_code with
 * PKCE, refresh_token with rotation, RFC 7009 revocation, and RFC 6749 §2.3.1 Basic encoding of a
 * secret full of special ASCII characters (oidc-provider accepts printable ASCII secrets only).
 */
import { jest } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { revocationProxy, tokenProxy, type TokenProxyOptions, type TokenProxyBaseOptions } from '../../lib/index.js';
import { getAuthorizationCode } from '../../fixtures/oidc-refresh.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { ServerPool } from '../../fixtures/listen.js';

const SPECIAL_SECRET = 'p:a+s/s%w&o rd=~"!';
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

let op: RunningOidcProvider;
const pool = new ServerPool();

beforeAll(async () => {
  op = await startOidcProvider({
    clients: [
      {
        client_id: 'spa-backend',
        client_secret: SPECIAL_SECRET,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'spa-backend-post',
        client_secret: SPECIAL_SECRET,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  });
});
afterAll(async () => {
  await pool.closeAll();
  await op.close();
  jest.restoreAllMocks();
});

async function proxy(options: Partial<TokenProxyBaseOptions> & { clientSecret?: string }): Promise<string> {
  const base: TokenProxyOptions = {
    issuer: op.issuer,
    clientId: 'spa-backend',
    clientSecret: SPECIAL_SECRET,
    clientAuth: 'client_secret_basic',
    grants: ['authorization_code', 'refresh_token'],
    logger: false,
    ...options,
  };
  const app = express();
  app.post('/auth/token', tokenProxy(base));
  const { grants: _g, ...revocationOptions } = base;
  app.post('/auth/revoke', revocationProxy(revocationOptions));
  return pool.serve(app);
}

describe.each([
  ['client_secret_basic', 'spa-backend'],
  ['client_secret_post', 'spa-backend-post'],
] as const)('%s with a special-character secret', (clientAuth, clientId) => {
  test('authorization_code (PKCE) → refresh with rotation → revocation', async () => {
    const url = await proxy({ clientId, clientAuth });
    const { code, codeVerifier, redirectUri } = await getAuthorizationCode(op, { clientId, redirectUri: REDIRECT_URI });

    const tokens = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: redirectUri, client_id: 'ignored' })
      .expect(200);
    expect(tokens.headers['cache-control']).toBe('no-store');
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String), id_token: expect.any(String) });

    const first = await request(url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token }).expect(200);
    expect(first.body.refresh_token).toEqual(expect.any(String));
    expect(first.body.refresh_token).not.toBe(tokens.body.refresh_token);
    expect(first.body.access_token).not.toBe(tokens.body.access_token);

    // Rotation: the previous refresh token is spent.
    const reused = await request(url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token }).expect(400);
    expect(reused.body.error).toBe('invalid_grant');

    // oidc-provider revokes the whole grant on reuse (RFC 9700 §4.14.2), so get a fresh chain for revocation.
    const again = await getAuthorizationCode(op, { clientId, redirectUri: REDIRECT_URI });
    const fresh = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'authorization_code', code: again.code, code_verifier: again.codeVerifier, redirect_uri: REDIRECT_URI })
      .expect(200);
    await request(url).post('/auth/revoke').type('form').send({ token: fresh.body.refresh_token, token_type_hint: 'refresh_token' }).expect(200);
    const revoked = await request(url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: fresh.body.refresh_token }).expect(400);
    expect(revoked.body.error).toBe('invalid_grant');
  });
});

test('a wrong secret: oidc-provider\'s invalid_client becomes 502 server_error without WWW-Authenticate', async () => {
  const logs: string[] = [];
  const url = await proxy({ clientSecret: 'not-it', logger: { warn: (m) => logs.push(m), error: (m) => logs.push(m) } });
  const res = await request(url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x' }).expect(502);
  expect(res.body).toEqual({ error: 'server_error', error_description: 'The server could not authenticate to the identity provider' });
  expect(res.headers['www-authenticate']).toBeUndefined();
  expect(logs.join()).toMatch(/rejected this server's client credentials \(401 invalid_client/);
  expect(logs.join()).not.toContain('not-it');
});

test('PKCE is enforced end to end: a wrong code_verifier is the IdP\'s invalid_grant', async () => {
  const url = await proxy({});
  const { code } = await getAuthorizationCode(op, { clientId: 'spa-backend', redirectUri: REDIRECT_URI });
  const res = await request(url)
    .post('/auth/token')
    .type('form')
    .send({ grant_type: 'authorization_code', code, code_verifier: 'x'.repeat(43), redirect_uri: REDIRECT_URI })
    .expect(400);
  expect(res.body.error).toBe('invalid_grant');
});
