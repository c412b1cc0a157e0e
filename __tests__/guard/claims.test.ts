import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { claimCheck, claimEquals, claimIncludes, oauthErrorHandler, requireAnyScope, requireAuth, requireIssuer, requireScopes } from '../../lib/index.js';
import { createTestIssuer, type TestIssuer } from 'express-oauth-kit/testing';
import { listen, type Listening } from '../../fixtures/listen.js';
import { useTestClock } from '../support/clock.js';

let idp: TestIssuer;
let app: express.Express;

beforeAll(async () => {
  idp = await createTestIssuer();
  const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience });
  app = express();
  const ok: RequestHandler = (_req, res) => {
    res.json({ ok: true });
  };
  app.get('/orders', auth, requireScopes('orders:read'), ok);
  app.get('/orders/admin', auth, requireScopes('orders:read', 'orders:write'), ok);
  app.get('/any', auth, requireAnyScope('a', 'b'), ok);
  app.get('/tenant', auth, claimEquals('tenant', 'acme'), ok);
  app.get('/roles', auth, claimIncludes('roles', 'editor'), ok);
  app.get('/check', auth, claimCheck((p) => (p.age as number) >= 18 || 'Adults only'), ok);
  app.get('/no-auth', requireScopes('x'), ok);
  app.use(oauthErrorHandler());
});
afterAll(() => idp.close());

const get = async (path: string, claims: Record<string, unknown>) =>
  request(app).get(path).set('Authorization', `Bearer ${await idp.sign(claims)}`);

test('requireScopes: all listed scopes are needed (scope string)', async () => {
  expect((await get('/orders', { scope: 'openid orders:read' })).status).toBe(200);
  const res = await get('/orders/admin', { scope: 'orders:read' });
  expect(res.status).toBe(403);
  expect(res.body).toEqual({ error: 'insufficient_scope', error_description: 'The token lacks the scope orders:write', scope: 'orders:read orders:write' });
  expect(res.headers['www-authenticate']).toBe(
    'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the scope orders:write", scope="orders:read orders:write"',
  );
});

test('requireScopes reads scp arrays and CIAM scope arrays', async () => {
  expect((await get('/orders', { scope: undefined, scp: ['orders:read'] })).status).toBe(200);
  expect((await get('/orders', { scope: ['orders:read'] })).status).toBe(200);
  expect((await get('/orders', { scope: 'orders:readx' })).status).toBe(403);
});

test('requireAnyScope', async () => {
  expect((await get('/any', { scope: 'b' })).status).toBe(200);
  expect((await get('/any', { scope: 'c' })).status).toBe(403);
});

test('claimEquals / claimIncludes / claimCheck', async () => {
  expect((await get('/tenant', { tenant: 'acme' })).status).toBe(200);
  expect((await get('/tenant', { tenant: 'evil' })).status).toBe(403);
  expect((await get('/roles', { roles: ['viewer', 'editor'] })).status).toBe(200);
  expect((await get('/roles', { roles: 'viewer editor' })).status).toBe(200);
  expect((await get('/roles', { roles: ['viewer'] })).status).toBe(403);
  expect((await get('/check', { age: 30 })).status).toBe(200);
  const res = await get('/check', { age: 12 });
  expect(res.status).toBe(403);
  expect(res.body.error_description).toBe('Adults only');
});

test('used without requireAuth → 500 that names the mistake, not a crash or a pass', async () => {
  const res = await request(app).get('/no-auth');
  expect(res.status).toBe(500);
  expect(res.body.error).toBe('server_error');
  expect(res.body.error_description).toMatch(/mount requireAuth\(\) before it/);
});

test('misuse at construction', () => {
  expect(() => requireScopes()).toThrow(/one or more scope names/);
  expect(() => requireScopes('a b')).toThrow(/without spaces/);
  expect(() => claimIncludes('roles')).toThrow(/at least one value/);
});

/**
 * RFC 9110 §11.2 challenge parser, strict: `scheme auth-param *(", " auth-param)` with every value a
 * §5.6.4 quoted-string. Throws on anything else, so a header that only looks right fails the test.
 */
function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
  const scheme = TOKEN.exec(header)?.[0];
  if (scheme === undefined || header[scheme.length] !== ' ') throw new Error(`no scheme in ${header}`);
  const params: Record<string, string> = {};
  let i = scheme.length + 1;
  for (;;) {
    const name = TOKEN.exec(header.slice(i))?.[0];
    if (name === undefined || header[i + name.length] !== '=' || header[i + name.length + 1] !== '"') throw new Error(`bad auth-param at ${i} in ${header}`);
    i += name.length + 2;
    let value = '';
    for (;;) {
      const c = header[i++];
      if (c === undefined) throw new Error(`unterminated quoted-string in ${header}`);
      if (c === '"') break;
      if (c === '\\') {
        const escaped = header[i++];
        if (escaped === undefined || !/^[\t\x20-\x7E\x80-\xFF]$/.test(escaped)) throw new Error(`bad quoted-pair in ${header}`);
        value += escaped;
      } else if (/^[\t\x20\x21\x23-\x5B\x5D-\x7E\x80-\xFF]$/.test(c)) {
        value += c;
      } else {
        throw new Error(`character ${JSON.stringify(c)} not allowed in a quoted-string: ${header}`);
      }
    }
    params[name] = value;
    if (i === header.length) return { scheme, params };
    if (header.slice(i, i + 2) !== ', ') throw new Error(`expected ", " at ${i} in ${header}`);
    i += 2;
  }
}

describe('claimCheck({ cacheFor }): an answer is reused for the same token and request, never the token alone', () => {
  const clock = useTestClock();
  // alice is a member of acme only; only admins may DELETE.
  const memberships: Record<string, string[]> = { alice: ['acme'] };
  let calls = 0;
  // One listening server: the default key includes the Host, which a per-request server would change.
  let cached: Listening;
  beforeAll(async () => {
    const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false });
    const ok: RequestHandler = (req, res) => {
      res.json({ org: req.params.org });
    };
    // One middleware instance for every route, as an app would write it once and reuse it.
    const member = claimCheck(
      async (claims, req) => {
        calls += 1;
        if (!(memberships[claims.sub!] ?? []).includes(req.params.org as string)) return `Not a member of ${String(req.params.org)}`;
        return req.method === 'GET' || (claims.roles as string[] | undefined)?.includes('admin') === true || 'Only admins delete';
      },
      { cacheFor: 60 },
    );
    // What a check that depends on the org alone says: answers shared across the org's routes.
    const byOrg = claimCheck(
      (claims, req) => {
        calls += 1;
        return (memberships[claims.sub!] ?? []).includes(req.params.org as string);
      },
      { cacheFor: 60, cacheKey: (req) => String(req.params.org) },
    );
    const a = express();
    a.get('/orgs/:org/invoices', auth, member, ok);
    a.delete('/orgs/:org/invoices', auth, member, ok);
    a.get(['/orgs/:org/reports', '/orgs/:org/reports/:id'], auth, byOrg, ok);
    a.use(oauthErrorHandler());
    cached = await listen(a);
  });
  afterAll(() => cached.close());
  beforeEach(() => {
    calls = 0;
  });

  test('alice (acme only): acme allowed, then globex refused; a cached GET does not let her DELETE', async () => {
    const alice = await idp.sign({ sub: 'alice' });
    const as = (method: 'get' | 'delete', path: string) => request(cached.url)[method](path).set('Authorization', `Bearer ${alice}`);

    expect((await as('get', '/orgs/acme/invoices')).status).toBe(200);
    const globex = await as('get', '/orgs/globex/invoices');
    expect(globex.status).toBe(403);
    expect(globex.body).toEqual({ error: 'insufficient_scope', error_description: 'Not a member of globex' });
    const del = await as('delete', '/orgs/acme/invoices');
    expect(del.status).toBe(403);
    expect(del.body.error_description).toBe('Only admins delete');
    expect(calls).toBe(3);

    // Each answer is reused for its own request, refusals included, for cacheFor seconds.
    expect((await as('get', '/orgs/acme/invoices')).status).toBe(200);
    expect((await as('get', '/orgs/globex/invoices')).status).toBe(403);
    expect((await as('delete', '/orgs/acme/invoices')).status).toBe(403);
    expect(calls).toBe(3);
    clock.advance(61_000);
    expect((await as('get', '/orgs/acme/invoices')).status).toBe(200);
    expect(calls).toBe(4);

    // Another token of an admin is asked afresh, and may DELETE.
    const admin = await idp.sign({ sub: 'alice', roles: ['admin'] });
    expect((await request(cached.url).delete('/orgs/acme/invoices').set('Authorization', `Bearer ${admin}`)).status).toBe(200);
    expect(calls).toBe(5);
  });

  test('a cacheKey shares answers across the requests it names alike, and only those', async () => {
    const alice = await idp.sign({ sub: 'alice' });
    const get = (path: string) => request(cached.url).get(path).set('Authorization', `Bearer ${alice}`);
    expect((await get('/orgs/acme/reports')).status).toBe(200);
    expect((await get('/orgs/acme/reports/7?page=2')).status).toBe(200);
    expect(calls).toBe(1);
    expect((await get('/orgs/globex/reports/7')).status).toBe(403);
    expect(calls).toBe(2);
  });

  test('a cacheKey that is not a function is refused at start-up', () => {
    expect(() => claimCheck(() => true, { cacheFor: 5, cacheKey: 'org' as never })).toThrow(/cacheKey must be a function/);
  });
});

describe("the helpers' challenges: the guard's realm and scheme", () => {
  let api: express.Express;
  beforeAll(async () => {
    const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false, realm: 'billing' });
    const ok: RequestHandler = (_req, res) => {
      res.json({ ok: true });
    };
    api = express();
    api.get('/scoped', auth, requireScopes('invoices:write'), ok);
    api.get('/checked', auth, claimCheck(() => 'The token was revoked', { status: 401 }), ok);
    api.get('/staff', auth, requireIssuer('https://staff.example.com'), ok);
    api.use(oauthErrorHandler());
  });

  const withProof = async (path: string) => {
    const token = await idp.sign({ scope: 'invoices:read' }, { dpop: true });
    const proof = await idp.dpopProof({ htm: 'GET', htu: `http://api.example.test${path}`, accessToken: token });
    return request(api).get(path).set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', proof);
  };

  test('DPoP presentation: requireScopes answers 403 with a DPoP challenge naming the realm, scope and algs', async () => {
    const res = await withProof('/scoped');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    const { scheme, params } = parseChallenge(res.headers['www-authenticate']!);
    expect(scheme).toBe('DPoP');
    expect(params).toEqual({
      realm: 'billing',
      error: 'insufficient_scope',
      error_description: 'The token lacks the scope invoices:write',
      scope: 'invoices:write',
      algs: expect.stringMatching(/^ES256( |$)/),
    });
    expect(res.headers['www-authenticate']).toMatch(/^DPoP realm="billing", error="insufficient_scope", error_description="[^"]+", scope="invoices:write", algs="/);
  });

  test.each(['/checked', '/staff'])('DPoP presentation: %s answers 401 invalid_token with a DPoP challenge and the realm', async (path) => {
    const res = await withProof(path);
    expect(res.status).toBe(401);
    const { scheme, params } = parseChallenge(res.headers['www-authenticate']!);
    expect(scheme).toBe('DPoP');
    expect(params).toMatchObject({ realm: 'billing', error: 'invalid_token', error_description: res.body.error_description });
  });

  test.each([
    ['/scoped', 403, 'insufficient_scope'],
    ['/checked', 401, 'invalid_token'],
    ['/staff', 401, 'invalid_token'],
  ])('Bearer presentation: %s keeps the realm', async (path, status, error) => {
    const res = await request(api).get(path).set('Authorization', `Bearer ${await idp.sign({ scope: 'invoices:read' })}`);
    expect(res.status).toBe(status);
    const { scheme, params } = parseChallenge(res.headers['www-authenticate']!);
    expect(scheme).toBe('Bearer');
    expect(params).toMatchObject({ realm: 'billing', error, error_description: res.body.error_description });
  });
});

describe('challenge attribute values are RFC 9110 quoted-strings', () => {
  test('a description with quotes, from the guard and from a claim helper, parses back to itself; so does a realm with a backslash', async () => {
    const a = express();
    a.get('/tenant', requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false, realm: 'acme "EU" \\ api' }), claimEquals('tenant', 'acme'), (_req, res) => {
      res.json({ ok: true });
    });
    a.use(oauthErrorHandler());

    const helper = await request(a).get('/tenant').set('Authorization', `Bearer ${await idp.sign({ tenant: 'globex' })}`);
    expect(helper.status).toBe(403);
    expect(helper.body.error_description).toBe('The token\'s "tenant" claim does not have the required value');
    expect(parseChallenge(helper.headers['www-authenticate']!).params).toEqual({
      realm: 'acme "EU" \\ api',
      error: 'insufficient_scope',
      error_description: helper.body.error_description,
    });

    const guard = await request(a).get('/tenant').set('Authorization', `Bearer ${await idp.sign({ tenant: 'acme', iat: 'yesterday' as never })}`);
    expect(guard.status).toBe(401);
    expect(guard.body.error_description).toContain('"iat"');
    expect(parseChallenge(guard.headers['www-authenticate']!).params).toMatchObject({ error: 'invalid_token', error_description: guard.body.error_description });
  });
});

describe('claimCheck({ timeoutMs }): a check that does not settle is answered 503, never a pass', () => {
  let served = 0;
  const ok: RequestHandler = (_req, res) => {
    served += 1;
    res.json({ ok: true });
  };
  const guarded = (check: Parameters<typeof claimCheck>[0], options: Parameters<typeof claimCheck>[1]) => {
    const a = express();
    a.get('/x', requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false }), claimCheck(check, options), ok);
    a.use(oauthErrorHandler());
    return a;
  };
  beforeEach(() => {
    served = 0;
  });

  test('a check that never settles: 503 temporarily_unavailable with Retry-After, the same answer as a check that throws', async () => {
    const token = await idp.sign({});
    // 200 ms: the bound under test; jest's own budget is far larger, so only the status is asserted.
    const hung = await request(guarded(() => new Promise<boolean>(() => {}), { timeoutMs: 200 }))
      .get('/x')
      .set('Authorization', `Bearer ${token}`);
    const threw = await request(
      guarded(() => {
        throw new Error('revocation db down');
      }, {}),
    )
      .get('/x')
      .set('Authorization', `Bearer ${token}`);
    expect(threw.status).toBe(503);
    expect(hung.status).toBe(503);
    expect(hung.body).toEqual(threw.body);
    expect(hung.body.error).toBe('temporarily_unavailable');
    expect(hung.headers['retry-after']).toBe(threw.headers['retry-after']);
    expect(hung.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(served).toBe(0);
  });

  test('an answer that comes after the 503 does not run the route, and is remembered for the next request when caching', async () => {
    const token = await idp.sign({});
    let calls = 0;
    let answer: (value: boolean) => void = () => {};
    const app = guarded(
      () => {
        calls += 1;
        return new Promise<boolean>((resolve) => {
          answer = resolve;
        });
      },
      { timeoutMs: 200, cacheFor: 60, cacheKey: () => '' },
    );
    expect((await request(app).get('/x').set('Authorization', `Bearer ${token}`)).status).toBe(503);
    answer(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(served).toBe(0);
    expect((await request(app).get('/x').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(calls).toBe(1);
    expect(served).toBe(1);
  });

  test('timeoutMs is checked at start-up', () => {
    for (const bad of [0, -1, Number.NaN, Infinity, 2 ** 31, '5000']) {
      expect(() => claimCheck(() => true, { timeoutMs: bad as never })).toThrow(/timeoutMs must be a number of milliseconds/);
    }
    expect(() => claimCheck(async () => true, { timeoutMs: 50 })).not.toThrow();
  });
});
