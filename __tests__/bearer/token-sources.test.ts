/**
 * Where credentials may come from and go to: a token in the query or a form body obeys the same
 * b64token rule as one in a header or cookie (RFC 6750 §2), and the proxies and the M2M client
 * refuse at start-up to put this server's client secret in a URL, except for the IdP that demands
 * it (Tencent EIAM).
 */
import express from 'express';
import request from 'supertest';
import { ConfigError, createM2MClient, mfaChallengeProxy, oauthErrorHandler, requireAuth, revocationProxy, tokenProxy, type TokenProxyOptions } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

describe('a token from the query or the form body is checked like one from the header', () => {
  let idp: JwksServer;
  let app: express.Express;
  beforeAll(async () => {
    idp = await startJwksServer();
    app = express();
    app.use(express.urlencoded({ extended: false }));
    app.all('/me', requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, tokenLocations: ['query', 'body'] }), (req, res) => {
      res.json({ sub: req.auth!.payload.sub });
    });
    app.use(oauthErrorHandler());
  });
  afterAll(() => idp.close());

  test.each(['not a token', 'abc"def', 'a,b', '=abc'])('%j → 400 invalid_request from the header, the query and the body alike', async (bad) => {
    const header = await request(app).get('/me').set('Authorization', `Bearer ${bad}`);
    const query = await request(app).get('/me').query({ access_token: bad });
    const body = await request(app).post('/me').type('form').send({ access_token: bad });
    for (const res of [header, query, body]) {
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_request"/);
    }
    expect(query.body.error_description).toBe('The token in the query has characters a bearer token cannot have (RFC 6750 §2.1)');
    expect(body.body.error_description).toBe('The token in the body has characters a bearer token cannot have (RFC 6750 §2.1)');
  });

  test('control: a valid token passes from either place', async () => {
    const token = await idp.sign({ sub: 'alice' });
    expect((await request(app).get('/me').query({ access_token: token })).body).toEqual({ sub: 'alice' });
    expect((await request(app).post('/me').type('form').send({ access_token: token })).body).toEqual({ sub: 'alice' });
  });
});

describe('tokenProxy: the client secret never goes in a URL unless the IdP demands it', () => {
  const BASE: TokenProxyOptions = { tokenEndpoint: 'https://idp.example.com/oauth2/token', clientId: 'web-app', clientSecret: 's3cret-value' };
  const factories = [
    ['tokenProxy', tokenProxy],
    ['mfaChallengeProxy', (o: TokenProxyOptions) => mfaChallengeProxy({ ...o, mfaChallengeEndpoint: 'https://idp.example.com/mfa' })],
    ['revocationProxy', (o: TokenProxyOptions) => revocationProxy({ ...o, revocationEndpoint: 'https://idp.example.com/revoke' })],
  ] as const;

  test.each(factories)("%s: paramsIn 'query' + client_secret_post → ConfigError config_client saying what to do", (_name, make) => {
    for (const profile of [undefined, 'rfc6749', 'ciam'] as const) {
      let caught: unknown;
      try {
        make({ ...BASE, profile, paramsIn: 'query', clientAuth: 'client_secret_post' });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).code).toBe('config_client');
      expect((caught as ConfigError).message).toMatch(/would put the client secret in the URL.*use clientAuth: 'client_secret_basic'.*or paramsIn: 'body'/);
      expect((caught as ConfigError).message).not.toContain('s3cret-value');
    }
  });

  test.each(factories)('%s: allowed where it is safe or demanded', (_name, make) => {
    // EIAM applications set to client_secret_post take the secret in the query string only.
    expect(typeof make({ ...BASE, profile: 'eiam', clientAuth: 'client_secret_post' })).toBe('function');
    expect(typeof make({ ...BASE, paramsIn: 'query', clientAuth: 'client_secret_basic' })).toBe('function');
    expect(typeof make({ ...BASE, paramsIn: 'body', clientAuth: 'client_secret_post' })).toBe('function');
    expect(typeof make({ ...BASE, profile: 'ciam' })).toBe('function');
  });
});

describe('createM2MClient: the client secret never goes in a URL unless the IdP demands it', () => {
  const BASE = { tokenEndpoint: 'https://idp.example.com/oauth2/token', clientId: 'svc', clientSecret: 's3cret-value' };

  test("paramsIn 'query' + client_secret_post → ConfigError config_client pointing at the M2M options", () => {
    for (const profile of [undefined, 'rfc6749', 'ciam'] as const) {
      let caught: unknown;
      try {
        createM2MClient({ ...BASE, profile, paramsIn: 'query', clientAuth: 'client_secret_post' });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).code).toBe('config_client');
      expect((caught as ConfigError).message).toMatch(/^createM2MClient\(\): .*would put the client secret in the URL.*use clientAuth: 'client_secret_basic'.*or paramsIn: 'body'/);
      expect((caught as ConfigError).message).not.toContain('s3cret-value');
      expect((caught as ConfigError).docs).toMatch(/m2m\.md#options$/);
    }
  });

  test('allowed where it is safe or demanded', () => {
    for (const safe of [
      { profile: 'eiam', clientAuth: 'client_secret_post' },
      { paramsIn: 'query', clientAuth: 'client_secret_basic' },
      { paramsIn: 'body', clientAuth: 'client_secret_post' },
      { profile: 'eiam' },
      { profile: 'ciam' },
    ] as const) {
      expect(typeof createM2MClient({ ...BASE, ...safe }).getToken).toBe('function');
    }
  });
});
