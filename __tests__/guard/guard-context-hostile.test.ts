/**
 * The guard's challenge context (realm, DPoP algs, resource_metadata, clock tolerance) is found
 * from `req.auth.payload`, the verification's own object (lib/bearer/challenge.ts guardContext).
 * These tests are an application, careless or hostile, that replaces `req.auth.extra`,
 * `req.auth.payload` or `req.auth` itself between requireAuth() and the helpers after it, and two
 * guards on one app: the helpers must never answer a 500 because of what it put there, never
 * challenge with a context no guard made, and never with another guard's.
 */
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { acrCheck, claimCheck, createGuard, oauthErrorHandler, requireAcr, requireAuth, requireIssuer, requireScopes, webAuth } from '../../lib/index.js';
import { createTestIssuer, type TestIssuer } from 'express-oauth-kit/testing';

let idp: TestIssuer;
let app: express.Express;

/** Middleware that swaps `req.auth.extra` for what `make` returns, as an application might. */
const replaceExtra =
  (make: (extra: object) => unknown): RequestHandler =>
  (req, _res, next) => {
    (req.auth as unknown as { extra: unknown }).extra = make(req.auth!.extra);
    next();
  };

/** The same for `req.auth.payload` (a copy of `req.auth` with another payload: the guard's is frozen in place). */
const replacePayload =
  (make: (payload: object) => unknown): RequestHandler =>
  (req, _res, next) => {
    (req as { auth?: unknown }).auth = { ...req.auth!, payload: make(req.auth!.payload) };
    next();
  };

/** An application's own req.auth, with the members the helpers read and an extra of its own. */
const ownAuth: RequestHandler = (req, _res, next) => {
  (req as { auth?: unknown }).auth = { token: 'session', payload: { iss: 'https://app.example', scope: 'orders:read', acr: 'pwd' }, scopes: ['orders:read'], extra: { tenant: 'acme' } };
  next();
};

const revokedProxy = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const throwing = (): never => {
  throw new Error('boom');
};

/** What an application (or hostile code) may put in req.auth.extra, and whether it forwards to the guard's own. */
const extras: Array<[string, (extra: object) => unknown]> = [
  ['a plain copy (spread)', (e) => ({ ...e })],
  ['null', () => null],
  ['a string', () => 'extra'],
  ['a number', () => 42],
  ['a frozen object', () => Object.freeze({ issuer: 'x' })],
  ['a revoked Proxy', revokedProxy],
  ['a Proxy whose every read throws', () => new Proxy({}, { get: throwing, getPrototypeOf: throwing, has: throwing })],
  ['an object inheriting from a revoked Proxy', () => Object.create(revokedProxy()) as object],
  ['an object with a throwing getter for every symbol', () => new Proxy({}, { get: (_t, k) => (typeof k === 'symbol' ? throwing() : undefined) })],
  [
    'a Proxy answering a forged context whose fields throw',
    (e) => new Proxy(e, { get: (t, k) => (typeof k === 'symbol' ? { get realm() { return throwing(); }, get algs() { return throwing(); }, get clockTolerance() { return throwing(); } } : Reflect.get(t, k)) }),
  ],
  ['a Proxy answering a forged context', (e) => new Proxy(e, { get: (t, k) => (typeof k === 'symbol' ? { realm: 'forged', algs: 'none', clockTolerance: 1e9, resourceMetadata: 'https://evil.example' } : Reflect.get(t, k)) })],
];

const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  idp = await createTestIssuer();
  const alpha = requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false, realm: 'alpha', resourceMetadata: {} });
  const beta = requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false, realm: 'beta' });
  const helpers: Record<string, RequestHandler> = {
    scopes: requireScopes('orders:write'),
    check: claimCheck(() => 'No', { status: 401 }),
    check403: claimCheck(() => false),
    issuer: requireIssuer('https://someone-else.example'),
    acr: requireAcr(['urn:acr:hwk']),
    // acr matches, auth_time too old: the tolerance is read from the context before the challenge.
    maxAge: requireAcr(['urn:acr:mfa'], { maxAgeSeconds: 60 }),
  };
  const ok: RequestHandler = (_req, res) => void res.json({ ok: true });
  app = express();
  for (const [name, helper] of Object.entries(helpers)) {
    app.get(`/a/${name}`, alpha, helper, ok);
    app.get(`/b/${name}`, beta, helper, ok);
    // Both guards in turn: the second one's verification is the one req.auth holds.
    app.get(`/ab/${name}`, alpha, beta, helper, ok);
    extras.forEach(([, make], i) => app.get(`/x${i}/${name}`, alpha, replaceExtra(make), helper, ok));
    app.get(`/proxy/${name}`, alpha, replaceExtra((e) => new Proxy(e, {})), helper, ok);
    // An application that sets req.auth itself (its own sign-in), after a guard or instead of one.
    app.get(`/own/${name}`, alpha, ownAuth, helper, ok);
    app.get(`/ownOnly/${name}`, ownAuth, helper, ok);
    // A copy of extra with more fields for MCP tools (extra is frozen, so a copy is how).
    app.get(`/enriched/${name}`, alpha, replaceExtra((e) => ({ ...e, tenant: 'acme' })), helper, ok);
    extras.forEach(([, make], i) => app.get(`/p${i}/${name}`, alpha, replacePayload(make), helper, ok));
  }
  app.use(oauthErrorHandler());
});
afterAll(() => idp.close());

/** A token that every helper above refuses. */
const refusedToken = () => idp.sign({ scope: 'orders:read', acr: 'urn:acr:mfa', auth_time: now() - 3_600 });
const expected: Record<string, { status: number; error: string }> = {
  scopes: { status: 403, error: 'insufficient_scope' },
  check: { status: 401, error: 'invalid_token' },
  check403: { status: 403, error: 'insufficient_scope' },
  issuer: { status: 401, error: 'invalid_token' },
  acr: { status: 401, error: 'insufficient_user_authentication' },
  maxAge: { status: 401, error: 'insufficient_user_authentication' },
};
const names = Object.keys(expected);

describe('an application replaces req.auth.extra, req.auth.payload or req.auth before the helpers', () => {
  test.each(extras.map(([label], i) => [label, i] as const))('extra replaced with %s: every helper answers its refusal in the guard’s realm, never a 500, never a made-up context', async (_label, i) => {
    const token = await refusedToken();
    for (const name of names) {
      const res = await request(app).get(`/x${i}/${name}`).set('Authorization', `Bearer ${token}`);
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, ...expected[name] });
      const challenge = res.headers['www-authenticate']!;
      // extra is not where the context is found: the verification's payload is still req.auth's.
      expect(challenge).toMatch(new RegExp(`^Bearer realm="alpha", error="${expected[name]!.error}".*, resource_metadata="https://`));
      expect(challenge).not.toMatch(/forged|evil/);
    }
  });

  test.each(extras.map(([label], i) => [label, i] as const))('payload replaced with %s: requireScopes and claimCheck answer their refusal with the plain challenge, never a 500', async (_label, i) => {
    const token = await refusedToken();
    // requireAcr and requireIssuer read the payload themselves; these two do not.
    for (const name of ['scopes', 'check', 'check403']) {
      const res = await request(app).get(`/p${i}/${name}`).set('Authorization', `Bearer ${token}`);
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, ...expected[name] });
      const challenge = res.headers['www-authenticate']!;
      // Not the verification's payload: no guard context to be had, so no realm.
      expect(challenge).toMatch(new RegExp(`^Bearer error="${expected[name]!.error}"`));
      expect(challenge).not.toMatch(/realm=|forged|evil|algs=|resource_metadata=/);
    }
  });

  test.each(['own', 'ownOnly'])('an application’s own req.auth (%s): every helper answers its refusal with the plain challenge, never a 500', async (route) => {
    const token = await refusedToken();
    for (const name of names) {
      const res = await request(app).get(`/${route}/${name}`).set('Authorization', `Bearer ${token}`);
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, ...expected[name] });
      expect(res.headers['www-authenticate']).toMatch(new RegExp(`^Bearer error="${expected[name]!.error}"`));
    }
  });

  test.each(['proxy', 'enriched'])('%s: the guard’s own extra behind a transparent Proxy, or a copy with more fields: the guard’s realm', async (route) => {
    const token = await refusedToken();
    for (const name of names) {
      const res = await request(app).get(`/${route}/${name}`).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(expected[name]!.status);
      expect(res.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="alpha", error="${expected[name]!.error}".*, resource_metadata="https://`));
    }
  });
});

describe('two guards with different realms on one app', () => {
  test('each helper challenges with the realm (and resource_metadata) of the guard whose verification req.auth holds, fresh or from the cache', async () => {
    const token = await refusedToken();
    // Four rounds: a token enters a guard's cache on its second verification, so the later rounds are cache hits.
    for (let round = 0; round < 4; round++) {
      for (const name of names) {
        const a = await request(app).get(`/a/${name}`).set('Authorization', `Bearer ${token}`);
        expect(a.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="alpha", error="${expected[name]!.error}".*, resource_metadata="https://`));
        const b = await request(app).get(`/b/${name}`).set('Authorization', `Bearer ${token}`);
        expect(b.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="beta", error="${expected[name]!.error}"`));
        expect(b.headers['www-authenticate']).not.toContain('resource_metadata');
        const ab = await request(app).get(`/ab/${name}`).set('Authorization', `Bearer ${token}`);
        expect(ab.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="beta", error="${expected[name]!.error}"`));
      }
    }
  });

  test('a DPoP presentation is challenged in the DPoP scheme, with the realm of its guard, on every round (fresh and cached)', async () => {
    const token = await idp.sign({ scope: 'orders:read', acr: 'urn:acr:mfa', auth_time: now() - 3_600 }, { dpop: true });
    const dpop = async (path: string) =>
      request(app)
        .get(path)
        .set('Host', 'api.example.test')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await idp.dpopProof({ htm: 'GET', htu: `http://api.example.test${path}`, accessToken: token }));
    for (let round = 0; round < 4; round++) {
      for (const name of names) {
        const a = await dpop(`/a/${name}`);
        expect(a.status).toBe(expected[name]!.status);
        expect(a.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="alpha", error="${expected[name]!.error}".*, algs="[^"]+", resource_metadata="https://`));
        const b = await dpop(`/b/${name}`);
        expect(b.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="beta", error="${expected[name]!.error}".*, algs="[^"]+"$`));
      }
    }
  });
});

describe('several issuers in one guard: each token is judged with its own issuer’s clock tolerance, in the guard’s realm', () => {
  let strict: TestIssuer;
  let lenient: TestIssuer;
  beforeAll(async () => {
    [strict, lenient] = await Promise.all([createTestIssuer(), createTestIssuer()]);
  });
  afterAll(() => Promise.all([strict.close(), lenient.close()]));

  const list = () => [
    { issuer: strict.issuer, audience: strict.audience, clockToleranceSeconds: 0 },
    { issuer: lenient.issuer, audience: lenient.audience, clockToleranceSeconds: 120 },
  ];
  test.each([
    ['a list', 'listed', () => list()],
    ['a resolver', 'resolved', () => async (iss: string) => list().find((i) => i.issuer === iss)],
  ])('issuers as %s', async (_label, realm, issuers) => {
    const auth = requireAuth({ issuers: issuers(), logger: false, realm } as Parameters<typeof requireAuth>[0]);
    const a = express();
    a.get('/acr', auth, requireAcr(['urn:acr:mfa'], { maxAgeSeconds: 60 }), (_q, res) => void res.json({ ok: true }));
    a.get('/scopes', auth, requireScopes('orders:write'), (_q, res) => void res.json({ ok: true }));
    a.use(oauthErrorHandler());
    // Signed in 120 s ago: too old for maxAgeSeconds 60, unless the issuer's 120 s of tolerance apply.
    const claims = () => ({ scope: 'orders:read', acr: 'urn:acr:mfa', auth_time: now() - 120 });
    const [fromStrict, fromLenient] = await Promise.all([strict.sign(claims()), lenient.sign(claims())]);
    for (let round = 0; round < 3; round++) {
      const s = await request(a).get('/acr').set('Authorization', `Bearer ${fromStrict}`);
      expect(s.status).toBe(401);
      expect(s.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="${realm}", error="insufficient_user_authentication"`));
      expect((await request(a).get('/acr').set('Authorization', `Bearer ${fromLenient}`)).status).toBe(200);
      for (const token of [fromStrict, fromLenient]) {
        const scoped = await request(a).get('/scopes').set('Authorization', `Bearer ${token}`);
        expect(scoped.status).toBe(403);
        expect(scoped.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="${realm}", error="insufficient_scope"`));
      }
    }
  });
});

describe('webAuth() and acrCheck()', () => {
  test('acrCheck answers in the guard’s realm; on an AuthResult copied with a hostile extra, still in it, never throwing', async () => {
    const auth = webAuth(createGuard({ issuer: idp.issuer, audience: idp.audience, logger: false, realm: 'web' }));
    const mfa = acrCheck(['urn:acr:mfa'], { maxAgeSeconds: 60 });
    const token = await refusedToken();
    for (let round = 0; round < 3; round++) {
      const result = await auth(new Request('https://api.example.test/x', { headers: { authorization: `Bearer ${token}` } }));
      if (result === null || result instanceof Response) throw new Error('expected a verified token');
      expect(mfa(result)?.headers['WWW-Authenticate']).toMatch(/^Bearer realm="web", error="insufficient_user_authentication"/);
      for (const [, make] of extras) {
        const copy: typeof result = { ...result, extra: make(result.extra) as typeof result.extra };
        const refusal = mfa(copy);
        expect(refusal?.status).toBe(401);
        expect(refusal?.headers['WWW-Authenticate']).toMatch(/^Bearer realm="web", error="insufficient_user_authentication"/);
      }
    }
  });
});

describe('nothing of the context shows on req.auth or req.auth.extra', () => {
  test('own keys, symbols, for-in, JSON, spread and structuredClone see only issuer, sub and payload', async () => {
    const web = webAuth(createGuard({ issuer: idp.issuer, audience: idp.audience, logger: false, realm: 'hidden' }));
    const token = await idp.sign({ sub: 'u1', scope: 's' });
    for (let round = 0; round < 3; round++) {
      const auth = await web(new Request('https://api.example.test/x', { headers: { authorization: `Bearer ${token}` } }));
      if (auth === null || auth instanceof Response) throw new Error('expected a verified token');
      const { extra } = auth;
      const plain = { issuer: idp.issuer, sub: 'u1', payload: auth.payload };
      expect(Reflect.ownKeys(extra)).toEqual(['issuer', 'sub', 'payload']);
      expect(Object.getOwnPropertySymbols(extra)).toEqual([]);
      const forIn: string[] = [];
      for (const k in extra) forIn.push(k);
      expect(forIn).toEqual(['issuer', 'sub', 'payload']);
      expect(JSON.parse(JSON.stringify(extra))).toEqual(JSON.parse(JSON.stringify(plain)));
      expect(Reflect.ownKeys({ ...extra })).toEqual(['issuer', 'sub', 'payload']);
      expect(Object.getPrototypeOf(extra)).toBe(Object.prototype);
      expect(Reflect.ownKeys(structuredClone(extra))).toEqual(['issuer', 'sub', 'payload']);
      expect(Object.getOwnPropertySymbols(auth.payload)).toEqual([]);
      expect(JSON.stringify(extra)).not.toContain('hidden');
      expect(Object.getOwnPropertySymbols(auth)).toEqual([]);
      expect(JSON.stringify({ ...auth, resource: undefined })).not.toContain('hidden');
    }
  });
});
