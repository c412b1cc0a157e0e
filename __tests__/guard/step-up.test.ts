/**
 * RFC 9470 step-up: requireAcr() after requireAuth(), and acrCheck() for createGuard() users.
 * Real HTTP on 127.0.0.1; time passes through the library clock (setClock), never by sleeping.
 */
import { createHash, randomUUID } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import { SignJWT } from 'jose';
import {
  acrCheck,
  ConfigError,
  createGuard,
  InsufficientUserAuthenticationError,
  isOAuthError,
  oauthErrorHandler,
  requireAcr,
  requireAuth,
  webAuth,
  type AuthResult,
} from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { useTestClock } from '../support/clock.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';

const MFA = 'urn:example:acr:mfa';
const HWK = 'urn:example:acr:hwk';
const PWD = 'urn:example:acr:pwd';

let idp: JwksServer;
let api: Listening;
let holder: DpopHolder;
const clock = useTestClock();

beforeAll(async () => {
  idp = await startJwksServer({ algs: ['ES256'] });
  holder = await dpopHolder();
  const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, realm: 'bank' });
  const lenient = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, clockToleranceSeconds: 60 });
  const ok: RequestHandler = (req, res) => {
    res.json({ ok: true, acr: req.auth!.payload.acr });
  };
  const app = express();
  app.get('/mfa', auth, requireAcr([MFA, HWK]), ok);
  app.get('/recent', auth, requireAcr(MFA, { maxAgeSeconds: 300 }), ok);
  app.get('/recent-lenient', lenient, requireAcr(MFA, { maxAgeSeconds: 300 }), ok);
  app.get('/no-auth', requireAcr(MFA), ok);
  app.use(oauthErrorHandler());
  api = await listen(app);
});
afterAll(async () => {
  await api.close();
  await idp.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** A token valid for an hour, so advancing the clock past max_age does not expire it. */
const token = (claims: Record<string, unknown>) => idp.sign(claims, { expiresIn: 3600 });

async function get(path: string, claims: Record<string, unknown>) {
  const res = await fetch(`${api.url}${path}`, { headers: { Authorization: `Bearer ${await token(claims)}` } });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, unknown> };
}

/** RFC 9110 §11.2 challenge: scheme, then name="quoted-string" pairs (every attribute here is quoted). */
function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const [, scheme, rest] = /^(\S+) (.*)$/.exec(header)!;
  const params: Record<string, string> = {};
  for (const m of rest!.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"(?:, |$)/g)) params[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  return { scheme: scheme!, params };
}

describe('requireAcr: acr', () => {
  test('an accepted acr passes, whichever of the list it is', async () => {
    expect(await get('/mfa', { acr: MFA })).toMatchObject({ status: 200, body: { ok: true, acr: MFA } });
    expect(await get('/mfa', { acr: HWK })).toMatchObject({ status: 200 });
  });

  test('a password-level token → 401 insufficient_user_authentication with acr_values, in the guard realm, and the same in the body', async () => {
    const res = await get('/mfa', { acr: PWD });
    expect(res.status).toBe(401);
    expect(res.challenge).toBe(
      `Bearer realm="bank", error="insufficient_user_authentication", error_description="A stronger authentication is required: the token's acr claim is not one this route accepts", acr_values="${MFA} ${HWK}"`,
    );
    expect(res.body).toEqual({
      error: 'insufficient_user_authentication',
      error_description: "A stronger authentication is required: the token's acr claim is not one this route accepts",
      acr_values: `${MFA} ${HWK}`,
    });
  });

  test.each([
    ['absent', undefined],
    ['null', null],
    ['a number', 2],
    ['an array holding an accepted value', [MFA]],
    ['an object', { value: MFA }],
    ['true', true],
    ['the accepted value with a trailing space', `${MFA} `],
    ['the accepted value in other case', MFA.toUpperCase()],
    ['both accepted values, space-separated', `${MFA} ${HWK}`],
    ['a huge string', 'x'.repeat(8000)],
    ['a string with quotes, backslashes and CR LF', 'a"b\\c\r\nWWW-Authenticate: x'],
  ])('acr %s → 401 with the challenge, never a 500, the value never echoed', async (_name, acr) => {
    const res = await get('/mfa', acr === undefined ? {} : { acr });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('insufficient_user_authentication');
    expect(parseChallenge(res.challenge!)).toEqual({
      scheme: 'Bearer',
      params: { realm: 'bank', error: 'insufficient_user_authentication', error_description: res.body.error_description, acr_values: `${MFA} ${HWK}` },
    });
    expect(res.challenge!.length).toBeLessThan(300);
    expect(JSON.stringify(res.body).length).toBeLessThan(300);
  });

  test('a token answered from the verified-token cache is challenged in the same realm', async () => {
    const t = await token({ acr: PWD });
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${api.url}/mfa`, { headers: { Authorization: `Bearer ${t}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="bank", error="insufficient_user_authentication"/);
    }
  });

  test('mounted without requireAuth → 500 that names the mistake, not a pass', async () => {
    const res = await fetch(`${api.url}/no-auth`);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error_description: string }).error_description).toMatch(/requireAcr\(\) found no req\.auth: mount requireAuth\(\) before it/);
  });
});

describe('requireAcr: maxAgeSeconds against auth_time', () => {
  test('a fresh MFA sign-in passes; once max_age has passed (library clock) → 401 with max_age and acr_values', async () => {
    const t = await token({ acr: MFA, auth_time: nowSeconds() });
    const call = async () => {
      const res = await fetch(`${api.url}/recent`, { headers: { Authorization: `Bearer ${t}` } });
      return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, unknown> };
    };
    expect((await call()).status).toBe(200);
    clock.advance(290_000);
    expect((await call()).status).toBe(200);
    clock.advance(20_000);
    const res = await call();
    expect(res.status).toBe(401);
    expect(parseChallenge(res.challenge!).params).toEqual({
      realm: 'bank',
      error: 'insufficient_user_authentication',
      error_description: 'A more recent authentication is required',
      acr_values: MFA,
      max_age: '300',
    });
    expect(res.challenge).toMatch(/, acr_values="urn:example:acr:mfa", max_age="300"$/);
    expect(res.body).toEqual({ error: 'insufficient_user_authentication', error_description: 'A more recent authentication is required', acr_values: MFA, max_age: 300 });
  });

  test('both requirements failing: the challenge names both', async () => {
    const res = await get('/recent', { acr: PWD, auth_time: nowSeconds() - 3600 });
    expect(res.status).toBe(401);
    expect(parseChallenge(res.challenge!).params).toMatchObject({ acr_values: MFA, max_age: '300' });
    expect(res.body).toMatchObject({ acr_values: MFA, max_age: 300 });
  });

  test.each([
    ['absent', undefined],
    ['a numeric string', String(nowSeconds())],
    ['null', null],
    ['an array', [nowSeconds()]],
    ['an object', { t: nowSeconds() }],
    ['far in the future', nowSeconds() + 3600],
    ['1e308', 1e308],
    ['-1e308', -1e308],
  ])('auth_time %s → 401 with max_age, never a 500', async (_name, authTime) => {
    const res = await get('/recent', authTime === undefined ? { acr: MFA } : { acr: MFA, auth_time: authTime });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'insufficient_user_authentication', max_age: 300 });
    expect(parseChallenge(res.challenge!).params.max_age).toBe('300');
  });

  test("the issuer's clock tolerance applies: default 5 s, 60 s where configured", async () => {
    expect((await get('/recent', { acr: MFA, auth_time: nowSeconds() + 3 })).status).toBe(200);
    expect((await get('/recent', { acr: MFA, auth_time: nowSeconds() + 30 })).status).toBe(401);
    expect((await get('/recent-lenient', { acr: MFA, auth_time: nowSeconds() + 30 })).status).toBe(200);
    expect((await get('/recent', { acr: MFA, auth_time: nowSeconds() - 330 })).status).toBe(401);
    expect((await get('/recent-lenient', { acr: MFA, auth_time: nowSeconds() - 330 })).status).toBe(200);
    expect((await get('/recent-lenient', { acr: MFA, auth_time: nowSeconds() - 400 })).status).toBe(401);
  });

  test('without maxAgeSeconds auth_time is not read', async () => {
    expect((await get('/mfa', { acr: MFA, auth_time: 'yesterday' })).status).toBe(200);
  });
});

describe('DPoP presentation', () => {
  const b64sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
  test('a DPoP-bound token is challenged in the DPoP scheme, with algs', async () => {
    const t = await token({ acr: PWD, auth_time: nowSeconds(), cnf: { jkt: holder.jkt } });
    const url = `${api.url}/recent`;
    const proof = await new SignJWT({ htm: 'GET', htu: url, ath: b64sha256(t), jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
      .setIssuedAt()
      .sign(holder.privateKey);
    const res = await fetch(url, { headers: { Authorization: `DPoP ${t}`, DPoP: proof } });
    expect(res.status).toBe(401);
    const { scheme, params } = parseChallenge(res.headers.get('www-authenticate')!);
    expect(scheme).toBe('DPoP');
    expect(params).toEqual({
      realm: 'bank',
      error: 'insufficient_user_authentication',
      error_description: expect.stringMatching(/stronger authentication/),
      acr_values: MFA,
      max_age: '300',
      algs: expect.stringMatching(/ES256/),
    });
  });
});

describe('acrCheck: the same check for createGuard() users', () => {
  test('with webAuth over real HTTP: the refusal is the whole answer', async () => {
    const auth = webAuth(createGuard<Request>({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, realm: 'web' }));
    const mfa = acrCheck([MFA], { maxAgeSeconds: 60 });
    const server = await listen(async (req, res) => {
      const request = new Request(`http://127.0.0.1${req.url}`, { headers: req.headers as Record<string, string> });
      const result = await auth(request);
      const answer = result instanceof Response ? result : (() => {
        const refused = mfa(result!);
        return refused ? Response.json(refused.toJSON(), { status: refused.status, headers: refused.headers }) : Response.json({ ok: true });
      })();
      const headers: Record<string, string> = {};
      answer.headers.forEach((value, name) => (headers[name] = value));
      res.writeHead(answer.status, headers).end(await answer.text());
    });
    try {
      const call = async (claims: Record<string, unknown>) => {
        const res = await fetch(server.url, { headers: { Authorization: `Bearer ${await token(claims)}` } });
        return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.json() };
      };
      expect((await call({ acr: MFA, auth_time: nowSeconds() })).status).toBe(200);
      const res = await call({ acr: PWD, auth_time: nowSeconds() });
      expect(res.status).toBe(401);
      expect(res.challenge).toMatch(/^Bearer realm="web", error="insufficient_user_authentication", error_description="[^"]+", acr_values="urn:example:acr:mfa", max_age="60"$/);
      expect(res.body).toMatchObject({ error: 'insufficient_user_authentication', acr_values: MFA, max_age: 60 });
    } finally {
      await server.close();
    }
  });

  test('an AuthResult no guard made (built by hand) gets a plain Bearer challenge and no tolerance', () => {
    const auth = { payload: { acr: PWD }, dpop: undefined } satisfies Pick<AuthResult, 'payload' | 'dpop'>;
    const err = acrCheck(MFA)(auth);
    expect(err).toBeInstanceOf(InsufficientUserAuthenticationError);
    expect(isOAuthError(err) && err.code).toBe('insufficient_user_authentication');
    expect([err!.status, err!.acrValues, err!.maxAgeSeconds]).toEqual([401, [MFA], undefined]);
    expect(err!.headers['WWW-Authenticate']).toBe(`Bearer error="insufficient_user_authentication", error_description="A stronger authentication is required: the token's acr claim is not one this route accepts", acr_values="${MFA}"`);
    expect(acrCheck(MFA)({ payload: { acr: MFA }, dpop: undefined })).toBeUndefined();
  });
});

describe('arguments are checked at start-up', () => {
  const configError = (run: () => unknown) => {
    try {
      run();
    } catch (err) {
      return err instanceof ConfigError ? [err.code, err.message] : ['not a ConfigError', String(err)];
    }
    return ['no error', ''];
  };
  test.each([
    ['no values', () => requireAcr([]), 'config_options', /one or more acr values/],
    ['an empty string', () => requireAcr(''), 'config_options', /one or more acr values/],
    ['a value with a space', () => requireAcr(['a b']), 'config_options', /no spaces/],
    ['a value with a quote', () => requireAcr(['a"b']), 'config_options', /quotes/],
    ['a non-ASCII value', () => requireAcr(['mfa-ü']), 'config_options', /printable ASCII/],
    ['a number', () => requireAcr([2 as never]), 'config_options', /one or more acr values/],
    ['not a list', () => requireAcr({ acr: MFA } as never), 'config_options', /one or more acr values/],
    ['a negative maxAgeSeconds', () => requireAcr(MFA, { maxAgeSeconds: -1 }), 'config_number', /maxAgeSeconds must be a non-negative integer/],
    ['a fractional maxAgeSeconds', () => requireAcr(MFA, { maxAgeSeconds: 1.5 }), 'config_number', /maxAgeSeconds/],
    ['a string maxAgeSeconds', () => requireAcr(MFA, { maxAgeSeconds: '300' as never }), 'config_number', /got the string "300"/],
    ['NaN', () => requireAcr(MFA, { maxAgeSeconds: NaN }), 'config_number', /maxAgeSeconds/],
    ['Infinity', () => acrCheck(MFA, { maxAgeSeconds: Infinity }), 'config_number', /^acrCheck\(\): maxAgeSeconds/],
    ['maxAge (the wire name)', () => requireAcr(MFA, { maxAge: 300 } as never), 'config_options', /unknown option "maxAge"; did you mean maxAgeSeconds\?/],
    ['null options', () => requireAcr(MFA, null as never), 'config_options', /needs an options object/],
  ])('%s → ConfigError', (_name, run, code, message) => {
    const [got, text] = configError(run);
    expect(got).toBe(code);
    expect(text).toMatch(message);
    expect(text).toMatch(/require-auth\.md#requireacr-step-up/);
  });
  test('valid forms', () => {
    expect(typeof requireAcr(MFA)).toBe('function');
    expect(typeof requireAcr([MFA, HWK], { maxAgeSeconds: 0 })).toBe('function');
    expect(typeof acrCheck(['0'], {})).toBe('function');
  });
});
