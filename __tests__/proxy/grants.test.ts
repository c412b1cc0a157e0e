/**
 * Every grant of the seeds end to end through the proxies, against the mock IdP, for both
 * client-authentication methods and both parameter placements (EIAM query string, CIAM form body).
 */
import express from 'express';
import request from 'supertest';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { mfaChallengeProxy, revocationProxy, tokenProxy, type TokenProxyOptions } from '../../lib/index.js';

let idp: MockIdp;
beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(() => idp.close());

type Variant = { name: string; profile: 'eiam' | 'ciam'; clientAuth: 'client_secret_basic' | 'client_secret_post' };
const VARIANTS: Variant[] = [
  { name: 'EIAM query + client_secret_basic', profile: 'eiam', clientAuth: 'client_secret_basic' },
  { name: 'EIAM query + client_secret_post', profile: 'eiam', clientAuth: 'client_secret_post' },
  { name: 'CIAM body + client_secret_basic', profile: 'ciam', clientAuth: 'client_secret_basic' },
  { name: 'CIAM body + client_secret_post', profile: 'ciam', clientAuth: 'client_secret_post' },
];

describe.each(VARIANTS)('$name', ({ profile, clientAuth }) => {
  let url: string;
  let server: Listening;
  beforeAll(async () => {
    const options: TokenProxyOptions = {
      profile,
      tokenEndpoint: profile === 'eiam' ? idp.eiamTokenEndpoint : idp.ciamTokenEndpoint,
      mfaChallengeEndpoint: idp.mfaChallengeEndpoint,
      revocationEndpoint: idp.revocationEndpoint,
      clientId: 'web-app',
      clientSecret: 'web-secret',
      clientAuth,
      logger: false,
    };
    const app = express();
    app.post('/auth/token', tokenProxy(options));
    app.post('/auth/mfa/challenge', mfaChallengeProxy(options));
    app.post('/auth/revoke', revocationProxy(options));
    server = await listen(app);
    url = server.url;
  });
  afterAll(() => server.close());

  /** Where the IdP saw the parameters: EIAM keeps them in the query, CIAM in the body. */
  const seen = (): Record<string, string> => (profile === 'eiam' ? idp.stats.lastRequest!.query : idp.stats.lastRequest!.body);

  function expectClientAuth(): void {
    const req = idp.stats.lastRequest!;
    if (clientAuth === 'client_secret_basic') {
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from('web-app:web-secret').toString('base64')}`);
      expect(seen().client_secret).toBeUndefined();
    } else {
      expect(req.headers.authorization).toBeUndefined();
      expect(seen()).toMatchObject({ client_id: 'web-app', client_secret: 'web-secret' });
    }
    if (profile === 'eiam') expect(req.body).toEqual({});
    else expect(req.query).toEqual({});
  }

  test('password grant (alice, no MFA) → tokens, no-store, EIAM empty refresh_token passed through', async () => {
    const res = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', username: 'alice', password: 'alice-password' })
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, refresh_token: '' });
    expect(res.body.access_token).toMatch(/^ey/);
    expect(res.body.id_token).toMatch(/^ey/);
    expect(seen()).toMatchObject({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expectClientAuth();
  });

  test('wrong password → the IdP\'s 400 invalid_grant unchanged', async () => {
    const res = await request(url)
      .post('/auth/token')
      .send({ grant_type: 'password', username: 'alice', password: 'nope' })
      .expect(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'invalid username or password' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  test('MFA: password → mfa_required + mfa_token, challenge → oob_code, mfa_oob → tokens; refresh rotates; revoke', async () => {
    const first = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', username: 'bob', password: 'bob-password' })
      .expect(400);
    expect(first.body).toEqual({ error: 'mfa_required', error_description: 'mfa required', mfa_token: expect.any(String) });
    const mfaToken = first.body.mfa_token as string;

    const challenge = await request(url)
      .post('/auth/mfa/challenge')
      .type('form')
      .send({ mfa_token: mfaToken, challenge_type: 'oob', oob_channel: 'sms', client_id: 'evil', client_secret: 'x' })
      .expect(200);
    expect(challenge.body).toEqual({ challenge_type: 'oob', oob_code: expect.any(String), binding_method: 'prompt' });
    expect(challenge.headers['cache-control']).toBe('no-store');
    expect(idp.stats.lastRequest!.path).toBe('/auth/mfa/challenge');
    expectClientAuth();

    const done = await request(url)
      .post('/auth/token')
      .send({ grant_type: 'mfa_oob', mfa_token: mfaToken, code: challenge.body.oob_code, binding_code: idp.lastSmsCode('bob') })
      .expect(200);
    expect(done.body).toMatchObject({ token_type: 'Bearer', refresh_token: expect.any(String), access_token: expect.any(String) });
    expect(done.body.refresh_token).not.toBe('');
    expect(seen()).toMatchObject({ grant_type: 'mfa_oob', mfa_token: mfaToken, code: challenge.body.oob_code });
    expectClientAuth();

    const refreshed = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: done.body.refresh_token })
      .expect(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));
    expect(refreshed.body.refresh_token).not.toBe(done.body.refresh_token);
    expect(seen()).toMatchObject({ grant_type: 'refresh_token', refresh_token: done.body.refresh_token });
    expectClientAuth();
    // Rotation: the old access token is dead, the old refresh token too (and reusing it kills the family).
    expect(await idp.isAccessTokenActive(done.body.access_token)).toBe(false);
    expect(await idp.isAccessTokenActive(refreshed.body.access_token)).toBe(true);
    const reuse = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: done.body.refresh_token })
      .expect(400);
    expect(reuse.body.error).toBe('invalid_grant');
  });

  test('revocation: RFC 7009 token + hint; the access token stops working', async () => {
    const login = await request(url).post('/auth/token').send({ grant_type: 'password', username: 'carol', password: 'carol-password' }).expect(200);
    expect(await idp.isAccessTokenActive(login.body.access_token)).toBe(true);
    const res = await request(url)
      .post('/auth/revoke')
      .type('form')
      .send({ token: login.body.access_token, token_type_hint: 'access_token', client_id: 'evil' })
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(idp.stats.lastRequest!.path).toBe('/oauth2/revoke');
    expectClientAuth();
    expect(seen()).toMatchObject({ token: login.body.access_token, token_type_hint: 'access_token' });
    expect(await idp.isAccessTokenActive(login.body.access_token)).toBe(false);
  });
});

describe('discovery and profile defaults', () => {
  test('issuer only (rfc6749): token and revocation endpoints come from discovery', async () => {
    const options = { issuer: idp.issuer, clientId: 'web-app', clientSecret: 'web-secret', logger: false as const };
    const app = express();
    app.post('/token', tokenProxy(options));
    app.post('/revoke', revocationProxy(options));
    app.post('/challenge', mfaChallengeProxy(options));
    const { url, close } = await listen(app);
    try {
      const res = await request(url).post('/token').send({ grant_type: 'password', username: 'alice', password: 'alice-password' }).expect(200);
      expect(idp.stats.lastRequest!.path).toBe('/oauth2/token');
      await request(url).post('/revoke').send({ token: res.body.access_token }).expect(200);
      expect(idp.stats.lastRequest!.path).toBe('/oauth2/revoke');
      const mfa = await request(url).post('/token').send({ grant_type: 'password', username: 'bob', password: 'bob-password' }).expect(400);
      await request(url).post('/challenge').send({ mfa_token: mfa.body.mfa_token, challenge_type: 'oob' }).expect(200);
      expect(idp.stats.lastRequest!.path).toBe('/auth/mfa/challenge');
    } finally {
      await close();
    }
  });

  test("profile 'eiam' with issuer: EIAM paths, query placement, Basic auth", async () => {
    const app = express();
    const options = { profile: 'eiam' as const, issuer: idp.issuer, clientId: 'web-app', clientSecret: 'web-secret', logger: false as const };
    app.post('/token', tokenProxy(options));
    app.post('/challenge', mfaChallengeProxy(options));
    const { url, close } = await listen(app);
    try {
      const mfa = await request(url).post('/token').send({ grant_type: 'password', username: 'bob', password: 'bob-password' }).expect(400);
      expect(idp.stats.lastRequest).toMatchObject({ path: '/auth/oauth2/token', query: { grant_type: 'password', username: 'bob' }, body: {} });
      expect(idp.stats.lastRequest!.headers.authorization).toMatch(/^Basic /);
      await request(url).post('/challenge').send({ mfa_token: mfa.body.mfa_token, challenge_type: 'oob', oob_channel: 'sms' }).expect(200);
      expect(idp.stats.lastRequest).toMatchObject({ path: '/auth/mfa/challenge', query: { mfa_token: mfa.body.mfa_token } });
    } finally {
      await close();
    }
  });
});
