/**
 * Local validation (answered before any IdP call), request reading, and the guarantee that the
 * outbound request is built fresh from the server's own credentials.
 */
import express from 'express';
import request from 'supertest';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { mfaChallengeProxy, revocationProxy, tokenProxy, type ProxyResultEvent, type TokenProxyBaseOptions } from '../../lib/index.js';
import { ServerPool } from '../../fixtures/listen.js';

const WEIRD_SECRET = 'p:a+s/s%w&o rd=ü密';

let idp: MockIdp;
const pool = new ServerPool();
beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(async () => {
  await pool.closeAll();
  await idp.close();
});

async function proxyApp(options: Partial<TokenProxyBaseOptions> & { clientSecret?: string } = {}, setup?: (app: express.Express) => void): Promise<string> {
  const app = express();
  setup?.(app);
  app.use(
    '/auth/token',
    tokenProxy({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger: false, ...options }),
  );
  return pool.serve(app);
}

let url: string;
beforeAll(async () => {
  url = await proxyApp();
});

const ALICE = { grant_type: 'password', username: 'alice', password: 'alice-password' };

/** Sends a raw body and checks the answer is a local OAuth error that never reached the IdP. */
async function expectLocal(
  send: (r: request.Test) => request.Test,
  status: number,
  error: string,
  description?: RegExp,
  base = url,
): Promise<request.Response> {
  const before = idp.stats.tokenRequests;
  const res = await send(request(base).post('/auth/token'));
  expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
  if (description) expect(res.body.error_description).toMatch(description);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers.pragma).toBe('no-cache');
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(idp.stats.tokenRequests).toBe(before);
  return res;
}

describe('local validation: 400s without calling the IdP', () => {
  test('missing grant_type → invalid_request', () =>
    expectLocal((r) => r.type('form').send({ username: 'alice' }), 400, 'invalid_request', /grant_type/));
  test('empty body → invalid_request naming grant_type', () => expectLocal((r) => r, 400, 'invalid_request', /grant_type/));
  test('unknown grant_type → unsupported_grant_type', () =>
    expectLocal((r) => r.type('form').send({ grant_type: 'magic' }), 400, 'unsupported_grant_type'));
  test('implicit-era and device grants are not enabled → unsupported_grant_type', () =>
    expectLocal(
      (r) => r.type('form').send({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' }),
      400,
      'unsupported_grant_type',
    ));
  test('authorization_code when not enabled → unsupported_grant_type', () =>
    expectLocal((r) => r.type('form').send({ grant_type: 'authorization_code', code: 'c', code_verifier: 'v' }), 400, 'unsupported_grant_type'));
  test('client_credentials from a front end → unauthorized_client', () =>
    expectLocal((r) => r.type('form').send({ grant_type: 'client_credentials', scope: 'inventory:read' }), 400, 'unauthorized_client'));
  test.each([
    ['password', { username: 'alice' }, 'password'],
    ['password', { password: 'x' }, 'username'],
    ['password', { username: 'alice', password: '' }, 'password'],
    ['mfa_oob', { code: 'c', binding_code: '1' }, 'mfa_token'],
    ['mfa_oob', { mfa_token: 'm', binding_code: '1' }, 'code'],
    ['mfa_oob', { mfa_token: 'm', code: 'c' }, 'binding_code'],
    ['refresh_token', {}, 'refresh_token'],
  ])('%s without %j → invalid_request naming %s', (grant, params, missing) =>
    expectLocal((r) => r.type('form').send({ grant_type: grant, ...params }), 400, 'invalid_request', new RegExp(`: ${missing}$`)));
  test('a repeated parameter → invalid_request naming it', () =>
    expectLocal((r) => r.type('form').send('grant_type=password&username=alice&username=bob&password=x'), 400, 'invalid_request', /username was sent more than once/));
  test('a repeated grant_type → invalid_request', () =>
    expectLocal((r) => r.type('form').send('grant_type=password&grant_type=refresh_token&username=a&password=b'), 400, 'invalid_request', /grant_type/));
  test('unsupported Content-Type → 415 invalid_request', () =>
    expectLocal((r) => r.set('content-type', 'text/plain').send('grant_type=password'), 415, 'invalid_request', /Content-Type/));
  test('malformed JSON → invalid_request', () =>
    expectLocal((r) => r.set('content-type', 'application/json').send('{"grant_type":'), 400, 'invalid_request', /JSON/));
  test('JSON with a nested object → invalid_request', () =>
    expectLocal((r) => r.send({ grant_type: 'password', username: { $ne: '' }, password: 'x' }), 400, 'invalid_request', /username must be a string/));
  test('invalid UTF-8 → invalid_request', async () => {
    // supertest would JSON-serialise a Buffer, so the raw bytes go through fetch.
    const res = await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new Uint8Array([0x67, 0x72, 0x61, 0x6e, 0x74, 0x5f, 0x74, 0x79, 0x70, 0x65, 0x3d, 0xff, 0xfe]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'The request body is not valid UTF-8' });
  });
  test('a body over bodyLimit → 413 invalid_request', () =>
    expectLocal((r) => r.type('form').send({ ...ALICE, pad: 'x'.repeat(20_000) }), 413, 'invalid_request', /larger than 16384/));
  test('GET → 405 with Allow: POST', async () => {
    const res = await request(url).get('/auth/token').expect(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.body.error).toBe('invalid_request');
  });
  test('OAuth parameters in the query string are refused unless allowQueryParams', () =>
    expectLocal((r) => r.query({ grant_type: 'password', username: 'alice', password: 'alice-password' }), 400, 'invalid_request', /request body/));
  test('unrelated query parameters (cache busters) are ignored', async () => {
    await request(url).post('/auth/token?_=123').type('form').send(ALICE).expect(200);
  });
});

describe('reading parameters', () => {
  test('JSON body works like a form body (numbers become strings)', async () => {
    const res = await request(url).post('/auth/token').send({ grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'openid' }).expect(200);
    expect(res.body.scope).toBe('openid');
  });

  test('a body the app already parsed (express.urlencoded / express.json) is used', async () => {
    const parsed = await proxyApp({}, (app) => {
      app.use(express.urlencoded({ extended: false }), express.json());
    });
    await request(parsed).post('/auth/token').type('form').send(ALICE).expect(200);
    await request(parsed).post('/auth/token').send(ALICE).expect(200);
    // body-parser turns a repeated field into an array: still refused by name.
    await expectLocal(
      (r) => r.type('form').send('grant_type=password&username=alice&password=a&password=b'),
      400,
      'invalid_request',
      /password was sent more than once/,
      parsed,
    );
  });

  test('qs "extended" nested syntax from an app parser is refused', async () => {
    const parsed = await proxyApp({}, (app) => app.use(express.urlencoded({ extended: true })));
    await expectLocal((r) => r.type('form').send('grant_type=password&username[a]=b&password=x'), 400, 'invalid_request', /username/, parsed);
  });

  test('allowQueryParams: query accepted, and a parameter in both query and body is refused', async () => {
    const q = await proxyApp({ allowQueryParams: true });
    await request(q).post('/auth/token').query(ALICE).expect(200);
    await expectLocal((r) => r.query({ grant_type: 'password', username: 'alice' }).type('form').send({ username: 'alice', password: 'x' }), 400, 'invalid_request', /username/, q);
  });

  test('JSON numbers are accepted as strings (binding_code: 123456)', async () => {
    await expectLocal((r) => r.send({ grant_type: 'mfa_oob', mfa_token: 'm', binding_code: 123456 }), 400, 'invalid_request', /: code$/);
  });
});

describe('the outbound request is built fresh', () => {
  test('caller client_id/client_secret/Authorization/cookies/headers and unknown parameters are not forwarded', async () => {
    const res = await request(url)
      .post('/auth/token')
      .set('Authorization', `Basic ${Buffer.from('evil:evil').toString('base64')}`)
      .set('Cookie', 'session=browser-session; other=1')
      .set('Origin', 'https://app.example.test')
      .set('Referer', 'https://app.example.test/login')
      .set('X-Forwarded-For', '203.0.113.7')
      .set('User-Agent', 'Mozilla/5.0 browser')
      .set('X-Custom', 'x')
      .type('form')
      .send({ ...ALICE, client_id: 'evil', client_secret: 'evil', client_assertion: 'jwt', foo: 'bar', audience: 'https://other' })
      .expect(200);
    expect(res.body.access_token).toBeDefined();
    const seen = idp.stats.lastRequest!;
    expect(seen.headers.authorization).toBe(`Basic ${Buffer.from('web-app:web-secret').toString('base64')}`);
    expect(seen.body).toEqual({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(seen.query).toEqual({});
    for (const h of ['cookie', 'origin', 'referer', 'x-forwarded-for', 'x-custom']) expect(seen.headers[h]).toBeUndefined();
    expect(seen.headers['user-agent']).not.toMatch(/Mozilla/);
  });

  test('client_secret_post: the server\'s own id and secret replace the caller\'s', async () => {
    const post = await proxyApp({ clientAuth: 'client_secret_post' });
    await request(post).post('/auth/token').type('form').send({ ...ALICE, client_id: 'evil', client_secret: 'evil' }).expect(200);
    const seen = idp.stats.lastRequest!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.body).toEqual({ grant_type: 'password', username: 'alice', password: 'alice-password', client_id: 'web-app', client_secret: 'web-secret' });
  });

  test('allowParams lets chosen parameters through; extraParams are added and win over the caller', async () => {
    const p = await proxyApp({ allowParams: { password: ['audience', 'auth_source_id'] }, extraParams: { auth_source_id: 'server-source' } });
    await request(p)
      .post('/auth/token')
      .type('form')
      .send({ ...ALICE, audience: 'https://api.example.test', auth_source_id: 'caller-source' })
      .expect(200);
    expect(idp.stats.lastRequest!.body).toMatchObject({ audience: 'https://api.example.test', auth_source_id: 'server-source' });
  });

  test('extraParams as a function of the grant', async () => {
    const p = await proxyApp({ extraParams: (g) => (g === 'password' ? { auth_source_id: 'pw' } : undefined) });
    await request(p).post('/auth/token').type('form').send(ALICE).expect(200);
    expect(idp.stats.lastRequest!.body.auth_source_id).toBe('pw');
  });

  test('authorization_code (opt-in) requires code_verifier and forwards code, verifier, redirect_uri', async () => {
    const p = await proxyApp({ grants: ['authorization_code'] });
    await expectLocal((r) => r.type('form').send({ grant_type: 'authorization_code', code: 'abc' }), 400, 'invalid_request', /code_verifier/, p);
    await expectLocal((r) => r.type('form').send(ALICE), 400, 'unsupported_grant_type', undefined, p);
    const res = await request(p)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'authorization_code', code: 'abc', code_verifier: 'v'.repeat(43), redirect_uri: 'https://app.example.test/cb' })
      .expect(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(idp.stats.lastRequest!.body).toMatchObject({ grant_type: 'authorization_code', code: 'abc', redirect_uri: 'https://app.example.test/cb' });
  });
});

describe('special-character client secret (RFC 6749 §2.3.1) against the mock IdP', () => {
  test.each([
    ['CIAM body + Basic', 'ciam', 'client_secret_basic'],
    ['EIAM query + Basic', 'eiam', 'client_secret_basic'],
    ['EIAM query + post', 'eiam', 'client_secret_post'],
    ['CIAM body + post', 'ciam', 'client_secret_post'],
  ] as const)('%s', async (_name, profile, clientAuth) => {
    const p = await proxyApp({
      profile,
      tokenEndpoint: profile === 'eiam' ? idp.eiamTokenEndpoint : idp.ciamTokenEndpoint,
      clientId: 'weird-client',
      clientSecret: WEIRD_SECRET,
      clientAuth,
    });
    const res = await request(p).post('/auth/token').type('form').send(ALICE).expect(200);
    expect(res.body.access_token).toBeDefined();
    const seen = idp.stats.lastRequest!;
    if (clientAuth === 'client_secret_basic') {
      const decoded = Buffer.from(seen.headers.authorization!.slice(6), 'base64').toString('utf8');
      expect(decoded).toBe('weird-client:p%3Aa%2Bs%2Fs%25w%26o+rd%3D%C3%BC%E5%AF%86');
    } else {
      expect((profile === 'eiam' ? seen.query : seen.body).client_secret).toBe(WEIRD_SECRET);
    }
  });
});

describe('onResult audit hook', () => {
  test('gets grant, status, source, latency and username — never passwords or tokens', async () => {
    const events: ProxyResultEvent[] = [];
    const p = await proxyApp({ onResult: (e) => events.push(e) });
    const ok = await request(p).post('/auth/token').type('form').send(ALICE).expect(200);
    await request(p).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'wrong' }).expect(400);
    await request(p).post('/auth/token').type('form').send({ grant_type: 'client_credentials' }).expect(400);
    expect(events).toEqual([
      { endpoint: 'token', grantType: 'password', status: 200, source: 'idp', idpStatus: 200, latencyMs: expect.any(Number), username: 'alice', ip: '127.0.0.1' },
      {
        endpoint: 'token', grantType: 'password', status: 400, error: 'invalid_grant', source: 'idp', idpStatus: 400,
        latencyMs: expect.any(Number), username: 'alice', ip: '127.0.0.1',
      },
      { endpoint: 'token', grantType: 'client_credentials', status: 400, error: 'unauthorized_client', source: 'local', latencyMs: expect.any(Number), ip: '127.0.0.1' },
    ]);
    const text = JSON.stringify(events);
    for (const secret of ['alice-password', 'wrong', 'web-secret', ok.body.access_token, ok.body.id_token]) expect(text).not.toContain(secret);
  });

  test('a throwing hook does not break the answer', async () => {
    const warnings: string[] = [];
    const p = await proxyApp({
      onResult: () => {
        throw new Error('audit store down');
      },
      logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
    await request(p).post('/auth/token').type('form').send(ALICE).expect(200);
    expect(warnings.join()).toMatch(/onResult threw: audit store down/);
  });

  test('an async hook is not waited on; its rejection is logged, never left unhandled (which ends a Node process)', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const p = await proxyApp({
      onResult: async () => {
        calls += 1;
        throw new Error('audit store down\nforged line');
      },
      logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
    await request(p).post('/auth/token').type('form').send(ALICE).expect(200);
    // Jest fails a test that leaves a rejection unhandled; let it settle before the test ends.
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/onResult rejected: audit store down forged line$/)]);
  });
});

describe('mfaChallengeProxy and revocationProxy follow the same rules', () => {
  let base: string;
  beforeAll(async () => {
    const options = { profile: 'eiam' as const, tokenEndpoint: idp.eiamTokenEndpoint, revocationEndpoint: idp.revocationEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger: false as const };
    const app = express();
    app.post('/challenge', mfaChallengeProxy(options));
    app.post('/revoke', revocationProxy(options));
    base = await pool.serve(app);
  });

  test.each([
    ['/challenge', { challenge_type: 'oob' }, /: mfa_token$/],
    ['/revoke', { token_type_hint: 'refresh_token' }, /: token$/],
    ['/revoke', 'token=a&token=b', /token was sent more than once/],
  ])('%s %j → 400 invalid_request without an IdP call', async (path, body, description) => {
    const before = idp.stats.requestsByPath[path === '/challenge' ? '/auth/mfa/challenge' : '/oauth2/revoke'] ?? 0;
    const res = await request(base).post(path).type('form').send(body).expect(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(description) });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(idp.stats.requestsByPath[path === '/challenge' ? '/auth/mfa/challenge' : '/oauth2/revoke'] ?? 0).toBe(before);
  });

  test('the challenge forwards only its allow-list, with the server\'s credentials', async () => {
    const mfa = await request(url).post('/auth/token').type('form').send({ grant_type: 'password', username: 'bob', password: 'bob-password' }).expect(400);
    await request(base)
      .post('/challenge')
      .set('Cookie', 'sid=1')
      .send({ mfa_token: mfa.body.mfa_token, challenge_type: 'oob', oob_channel: 'sms', client_id: 'evil', username: 'bob', password: 'bob-password' })
      .expect(200);
    const seen = idp.stats.lastRequest!;
    expect(seen.query).toEqual({ mfa_token: mfa.body.mfa_token, challenge_type: 'oob', oob_channel: 'sms' });
    expect(seen.headers.authorization).toBe(`Basic ${Buffer.from('web-app:web-secret').toString('base64')}`);
    expect(seen.headers.cookie).toBeUndefined();
  });

  test('an unknown challenge type is the IdP\'s error, passed through', async () => {
    const res = await request(base).post('/challenge').send({ mfa_token: 'nope', challenge_type: 'otp' }).expect(400);
    expect(res.body.error).toBe('unsupported_challenge_type');
  });

  test('revoking an unknown token is 200 (RFC 7009 §2.2)', async () => {
    const res = await request(base).post('/revoke').type('form').send({ token: 'not-a-token' }).expect(200);
    expect(res.body).toEqual({});
  });
});
