/**
 * The `fetch` option: every request the package makes to an IdP (discovery, JWKS, token,
 * revocation, MFA challenge) goes through the application's fetch, for all three jobs, and the
 * package's own timeout, size cap and no-redirect policy still hold whatever that fetch does.
 * The fetch used here records each call and passes it to Node's real fetch; the IdP is the
 * package's mock IdP on a loopback port, and the mock's own request counters prove that nothing
 * reached it by another path.
 */
import express from 'express';
import request from 'supertest';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import {
  ConfigError,
  createM2MClient,
  mfaChallengeProxy,
  oauthErrorHandler,
  requireAuth,
  revocationProxy,
  tokenProxy,
  type IdpFetch,
  type ProxyOptions,
} from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { listen, ServerPool } from '../../fixtures/listen.js';

let idp: MockIdp;
const pool = new ServerPool();

beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(async () => {
  await pool.closeAll();
  await idp.close();
});
beforeEach(() => {
  clearDiscoveryCache();
  idp.faults = { mode: 'none' };
  idp.resetStats();
});

interface Recorder {
  fetch: IdpFetch;
  /** "METHOD /path" of every call, in order. */
  calls: string[];
  /** The inits the package passed, to check what it asks of the fetch. */
  inits: RequestInit[];
}

/** A fetch that records and then does the real thing: what an app's proxy wrapper looks like. */
function recorder(transform: (init: RequestInit) => RequestInit = (i) => i): Recorder {
  const calls: string[] = [];
  const inits: RequestInit[] = [];
  return {
    calls,
    inits,
    fetch: (input, init) => {
      calls.push(`${init.method ?? 'GET'} ${new URL(input).pathname}`);
      inits.push(init);
      return fetch(input, transform(init));
    },
  };
}

/** The mock's own count of what it received, as "path" → n, to compare with what the recorder saw. */
function received(): Record<string, number> {
  return { ...idp.stats.requestsByPath };
}
function counted(calls: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) {
    const path = c.split(' ')[1]!;
    out[path] = (out[path] ?? 0) + 1;
  }
  return out;
}

const WEB = { clientId: 'web-app', clientSecret: 'web-secret' };
function proxyOptions(rec: Recorder, extra: Partial<ProxyOptions> = {}): ProxyOptions {
  // No profile and no endpoints: every endpoint comes from discovery, which must use the fetch too.
  return { ...WEB, issuer: idp.issuer, fetch: rec.fetch, timeoutMs: 2_000, logger: false, ...extra } as ProxyOptions;
}

describe('every IdP call of every job goes through the fetch option', () => {
  test('requireAuth: discovery and JWKS', async () => {
    const rec = recorder();
    const app = express();
    app.get('/me', requireAuth({ issuer: idp.issuer, audience: 'https://api.example.test', fetch: rec.fetch }), (req, res) => {
      res.json({ sub: req.auth!.payload.sub });
    });
    app.use(oauthErrorHandler());
    const token = await idp.signToken({ sub: 'alice' });
    const res = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: 'alice' });
    expect(rec.calls).toEqual(['GET /.well-known/openid-configuration', 'GET /.well-known/jwks.json']);
    expect(received()).toEqual(counted(rec.calls));
    // The package asks the fetch not to follow redirects and hands it the abort signal.
    for (const init of rec.inits) {
      expect(init.redirect).toBe('manual');
      expect(init.signal).toBeInstanceOf(AbortSignal);
    }
  });

  test('tokenProxy, mfaChallengeProxy, revocationProxy: discovery, token, MFA challenge, revocation', async () => {
    const rec = recorder();
    const app = express();
    app.post('/auth/token', tokenProxy({ ...proxyOptions(rec), grants: ['password', 'mfa_oob'] }));
    app.post('/auth/mfa/challenge', mfaChallengeProxy(proxyOptions(rec)));
    app.post('/auth/revoke', revocationProxy(proxyOptions(rec)));
    const url = await pool.serve(app);

    const first = await request(url).post('/auth/token').type('form').send({ grant_type: 'password', username: 'bob', password: 'bob-password' });
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('mfa_required');
    const challenge = await request(url).post('/auth/mfa/challenge').type('form').send({ mfa_token: first.body.mfa_token, challenge_type: 'oob', oob_channel: 'sms' });
    expect(challenge.status).toBe(200);
    const tokens = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'mfa_oob', mfa_token: first.body.mfa_token, code: challenge.body.oob_code, binding_code: idp.lastSmsCode('bob') });
    expect(tokens.status).toBe(200);
    const revoked = await request(url).post('/auth/revoke').type('form').send({ token: tokens.body.access_token, token_type_hint: 'access_token' });
    expect(revoked.status).toBe(200);
    expect(await idp.isAccessTokenActive(tokens.body.access_token)).toBe(false);

    // One discovery for the three proxies: they share the fetch function, so they share its cache entry.
    expect(rec.calls).toEqual([
      'GET /.well-known/openid-configuration',
      'POST /oauth2/token',
      'POST /auth/mfa/challenge',
      'POST /oauth2/token',
      'POST /oauth2/revoke',
    ]);
    expect(received()).toEqual(counted(rec.calls));
  });

  test('createM2MClient: discovery and the client_credentials token', async () => {
    const rec = recorder();
    const m2m = createM2MClient({ issuer: idp.issuer, clientId: 'svc-report', clientSecret: 'svc-secret', scope: 'inventory:read', fetch: rec.fetch });
    const token = (await m2m.getToken()).accessToken;
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ iss: idp.issuer, client_id: 'svc-report' });
    expect(rec.calls).toEqual(['GET /.well-known/openid-configuration', 'POST /oauth2/token']);
    expect(received()).toEqual(counted(rec.calls));
  });

  test('a fetch that adds a header (an egress gateway credential, say) is what the IdP sees', async () => {
    const rec = recorder((init) => ({ ...init, headers: { ...(init.headers as Record<string, string>), 'x-egress': 'gateway-1' } }));
    const m2m = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'svc-secret', scope: 'inventory:read', fetch: rec.fetch });
    await m2m.getToken();
    expect(idp.stats.lastRequest!.headers['x-egress']).toBe('gateway-1');
  });
});

describe('discovery results are shared per issuer and fetch', () => {
  test('a failure through one fetch does not fail a job configured with another', async () => {
    // A job without the egress route: its fetch cannot reach anything.
    const broken: IdpFetch = () => Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    const app = express();
    app.get('/a', requireAuth({ issuer: idp.issuer, audience: 'https://api.example.test', fetch: broken, logger: false }), (_req, res) => res.json({ ok: true }));
    const rec = recorder();
    app.get('/b', requireAuth({ issuer: idp.issuer, audience: 'https://api.example.test', fetch: rec.fetch }), (_req, res) => res.json({ ok: true }));
    app.use(oauthErrorHandler());
    const token = await idp.signToken({ sub: 'alice' });
    expect((await request(app).get('/a').set('Authorization', `Bearer ${token}`)).status).toBe(503);
    expect((await request(app).get('/b').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(rec.calls[0]).toBe('GET /.well-known/openid-configuration');
  });
});

describe('the package policy holds whatever the custom fetch does', () => {
  /** A loopback server that answers every request with a redirect to the mock IdP's same path. */
  async function redirector(status: number): Promise<string> {
    return pool.serve((req, res) => {
      res.writeHead(status, { location: idp.url + req.url }).end();
    });
  }

  test('a fetch that follows redirects: the token answer is refused (502), not passed to the browser', async () => {
    const rec = recorder((init) => ({ ...init, redirect: 'follow' }));
    const elsewhere = await redirector(307);
    const app = express();
    app.post('/auth/token', tokenProxy({ ...WEB, tokenEndpoint: `${elsewhere}/oauth2/token`, fetch: rec.fetch, logger: false }));
    const res = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'server_error', error_description: 'The identity provider sent an invalid answer' });
    // The redirect target did answer with tokens: only the policy check kept them out.
    expect(idp.stats.tokenRequests).toBe(1);
  });

  test('a fetch that follows redirects: a redirected JWKS is not used (503)', async () => {
    const rec = recorder((init) => ({ ...init, redirect: 'follow' }));
    const elsewhere = await redirector(302);
    const app = express();
    app.get('/me', requireAuth({ issuer: idp.issuer, audience: 'https://api.example.test', jwksUri: `${elsewhere}/.well-known/jwks.json`, fetch: rec.fetch, logger: false }), (_req, res) => res.json({ ok: true }));
    app.use(oauthErrorHandler());
    const res = await request(app).get('/me').set('Authorization', `Bearer ${await idp.signToken({ sub: 'alice' })}`);
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(idp.stats.requestsByPath['/.well-known/jwks.json']).toBe(1);
  });

  test('a huge answer is refused through a custom fetch (502)', async () => {
    const rec = recorder();
    idp.faults = { mode: 'huge' };
    const app = express();
    app.post('/auth/token', tokenProxy({ ...WEB, tokenEndpoint: idp.ciamTokenEndpoint, fetch: rec.fetch, maxResponseBytes: 64 * 1024, logger: false }));
    const res = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(502);
    expect(res.body.access_token).toBeUndefined();
    expect(rec.calls).toEqual(['POST /oauth2/token']);
  });

  test('a huge JWKS through a custom fetch is not read (503)', async () => {
    const big = await pool.serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Streamed without content-length, so only the running byte count can stop it.
      res.write('{"keys":[');
      for (let i = 0; i < 200; i++) res.write(`{"kty":"oct","k":"${'A'.repeat(8 * 1024)}"},`);
      res.end('{}]}');
    });
    const rec = recorder();
    const app = express();
    app.get('/me', requireAuth({ issuer: idp.issuer, audience: 'https://api.example.test', jwksUri: `${big}/jwks`, fetch: rec.fetch, logger: false }), (_req, res) => res.json({ ok: true }));
    app.use(oauthErrorHandler());
    const res = await request(app).get('/me').set('Authorization', `Bearer ${await idp.signToken({ sub: 'alice' })}`);
    expect(res.status).toBe(503);
    expect(rec.calls).toEqual(['GET /jwks']);
  });

  test('a fetch that ignores the abort signal still times out (504 within the timeout)', async () => {
    const rec = recorder((init) => ({ ...init, signal: undefined }));
    idp.faults = { mode: 'slow', delayMs: 3_000 };
    const app = express();
    app.post('/auth/token', tokenProxy({ ...WEB, tokenEndpoint: idp.ciamTokenEndpoint, fetch: rec.fetch, timeoutMs: 300, logger: false }));
    const started = Date.now();
    const res = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('a body that stalls after the headers, read through a fetch that ignores the signal, times out too', async () => {
    const stalls = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"'); // and nothing more
    });
    try {
      const rec = recorder((init) => ({ ...init, signal: undefined }));
      const lines: string[] = [];
      const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
      const m2m = createM2MClient({
        tokenEndpoint: `${stalls.url}/token`,
        clientId: 'svc-report',
        clientSecret: 'svc-secret',
        fetch: rec.fetch,
        timeoutMs: 300,
        retry: false,
        logger,
      });
      const started = Date.now();
      await expect(m2m.getToken()).rejects.toMatchObject({ status: 504 });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(lines.join('\n')).toMatch(/no token \(idp_timeout\): .*within 300 ms/);
    } finally {
      await stalls.close();
    }
  });

  test('a fetch that returns something other than a Response is a 502, not a crash', async () => {
    const notAFetch = (() => Promise.resolve({ ok: true })) as unknown as IdpFetch;
    const app = express();
    app.post('/auth/token', tokenProxy({ ...WEB, tokenEndpoint: idp.ciamTokenEndpoint, fetch: notAFetch, logger: false }));
    const res = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(502);
    expect(JSON.stringify(res.body)).not.toMatch(/alice-password|web-secret|at /);
  });
});

describe('the option is checked at start-up', () => {
  const bad = [
    ['requireAuth', (f: unknown) => requireAuth({ issuer: 'https://idp.example.com', audience: 'api', fetch: f as IdpFetch })],
    ['tokenProxy', (f: unknown) => tokenProxy({ tokenEndpoint: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's', fetch: f as IdpFetch })],
    ['createM2MClient', (f: unknown) => createM2MClient({ tokenEndpoint: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's', fetch: f as IdpFetch })],
  ] as const;
  test.each(bad)('%s: fetch must be a function', (factory, make) => {
    for (const value of ['https://proxy.example.com', { dispatcher: {} }, null]) {
      let caught: unknown;
      try {
        make(value);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).message).toMatch(new RegExp(`^${factory}\\(\\): fetch must be a function`));
    }
  });
  test('Node\'s own fetch is accepted as is', () => {
    expect(() => requireAuth({ issuer: 'https://idp.example.com', audience: 'api', fetch })).not.toThrow();
    expect(() => createM2MClient({ tokenEndpoint: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's', fetch })).not.toThrow();
  });
});
