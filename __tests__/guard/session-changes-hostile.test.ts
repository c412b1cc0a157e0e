/**
 * Attack review of five changes: tokens copied out of the string they were cut from, guard.verify()
 * refusing anything outside the b64token charset, the Express adapter reading req.headers once
 * (and the Host from it), and DPoP's ath/jkt/nonce comparisons without Buffers. A hostile client,
 * a hostile IdP and a careless operator: each case is answered with the right OAuth error, never a
 * 500, and nothing legitimate is refused.
 */
import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import express, { type Express, type Request } from 'express';
import express4 from 'express4';
import { SignJWT } from 'jose';
import { createGuard, oauthErrorHandler, requireAuth, type RequireAuthOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';

const b64sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

let idp: JwksServer;
let holder: DpopHolder;
let introspection: Listening;
/** Every token the introspection endpoint was asked about, as it arrived. */
const introspected: string[] = [];
beforeAll(async () => {
  idp = await startJwksServer({ algs: ['ES256'] });
  holder = await dpopHolder();
  clearDiscoveryCache();
  introspection = await listen((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      introspected.push(new URLSearchParams(body).get('token') ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ active: true, iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 600, sub: 'opaque-user' }));
    });
  });
});
afterAll(async () => {
  await introspection.close();
  await idp.close();
});

const base = () => ({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false as const });
const withIntrospection = (): RequireAuthOptions => ({
  ...base(),
  introspection: { endpoint: `${introspection.url}/introspect`, clientId: 'api', clientSecret: 'api-secret' },
});

/** An Express app on 127.0.0.1 with the guard on /me, answering the token and subject it saw. */
async function api(options: RequireAuthOptions, setup?: (app: Express) => void): Promise<Listening> {
  const app = express();
  setup?.(app);
  app.all('/me', requireAuth(options), (req, res) => res.json({ token: req.auth!.token, sub: req.auth!.payload.sub ?? null, dpop: req.auth!.dpop ?? null }));
  app.use(oauthErrorHandler());
  return listen(app);
}

/** A raw request with exactly these headers (Host included, or left out), over node:http. */
function send(url: string, path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(`${url}${path}`, { method, headers, setHost: headers.host === undefined ? true : false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('tokens from the cookie, the query, the body and getToken: checked before they are copied', () => {
  let server: Listening;
  let fromApp: unknown;
  beforeAll(async () => {
    server = await api({ ...withIntrospection(), tokenCookie: 'at', tokenLocations: ['query', 'body'], getToken: () => fromApp as string }, (app) => {
      app.use(express.urlencoded({ extended: false }));
    });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    fromApp = undefined;
  });

  // '\u00e9' survives a latin1 round trip, '\u0100' and '\uD800' do not: the charset check must
  // come first on every path, or a copy would alter the token instead of refusing it.
  test.each([
    ['a latin1 letter', 'secret-part-\u00e9'],
    ['a character above latin1 (the copy would turn it into another)', 'secret-part-\u0100'],
    ['a lone surrogate', 'secret-part-\uD800'],
    ['a NUL', 'secret-part-\u0000'],
    ['a space', 'secret-part x'],
  ])('getToken returning a token with %s: 400 invalid_request naming no part of it', async (_what, token) => {
    fromApp = token;
    const res = await send(server.url, '/me', {});
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(JSON.stringify(res.body) + String(res.headers['www-authenticate'])).not.toMatch(/secret-part/);
    expect(introspected).not.toContain(token);
  });

  test.each([
    ['an array', ['a', 'b']],
    ['a number', 42],
    ['an object', { toString: () => 'opaque' }],
  ])('getToken returning %s: 400 invalid_request', async (_what, value) => {
    fromApp = value;
    const res = await send(server.url, '/me', {});
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  test.each([
    ['getToken', (token: string) => {
      fromApp = token;
      return send(server.url, '/me', {});
    }],
    ['the cookie', (token: string) => send(server.url, '/me', { cookie: `theme=dark; at=${token}; lang=en` })],
    ['a quoted cookie', (token: string) => send(server.url, '/me', { cookie: `at="${token}"` })],
    ['the query', (token: string) => send(server.url, `/me?x=1&access_token=${encodeURIComponent(token)}`, {})],
    ['the body', (token: string) => send(server.url, '/me', { 'content-type': 'application/x-www-form-urlencoded' }, 'POST', `x=1&access_token=${encodeURIComponent(token)}`)],
  ])('an opaque token with every b64token character, from %s, reaches introspection and req.auth unchanged', async (_where, call) => {
    const token = `Az09-._~+/${randomUUID()}==`;
    const res = await call(token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token, sub: 'opaque-user' });
    expect(introspected).toContain(token);
  });

  test('an Authorization header with many spaces after the scheme (copied): the route sees the very token sent', async () => {
    const token = await idp.sign({ sub: 'spaced' });
    for (const spaces of [1, 2, 5000]) {
      expect((await send(server.url, '/me', { authorization: `Bearer${' '.repeat(spaces)}${token}` })).body).toMatchObject({ token, sub: 'spaced' });
    }
    const opaque = `Az09-._~+/${randomUUID()}==`;
    expect((await send(server.url, '/me', { authorization: `bearer   ${opaque}` })).body).toMatchObject({ token: opaque, sub: 'opaque-user' });
    expect(introspected.at(-1)).toBe(opaque);
    // DPoP: the proof's ath is the hash of the copy, which is the token.
    const bound = await idp.sign({ sub: 'spaced-dpop', cnf: { jkt: holder.jkt } });
    const proof = await new SignJWT({ htm: 'GET', htu: 'http://api.example.com/me', ath: b64sha256(bound), jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
      .setIssuedAt()
      .sign(holder.privateKey);
    const dpop = await send(server.url, '/me', { host: 'api.example.com', authorization: `DPoP${' '.repeat(3000)}${bound}`, dpop: proof });
    expect(dpop.body).toMatchObject({ token: bound, sub: 'spaced-dpop', dpop: { jkt: holder.jkt } });
  });

  test('a JWT from getToken: the route sees the very token sent', async () => {
    const token = await idp.sign({ sub: 'app-read' });
    fromApp = token;
    expect((await send(server.url, '/me', {})).body).toMatchObject({ token, sub: 'app-read' });
  });

  test.each([
    ['the query given twice', '/me?access_token=a&access_token=b', {}, undefined],
    ['the body given twice', '/me', { 'content-type': 'application/x-www-form-urlencoded' }, 'access_token=a&access_token=b'],
    ['the cookie given twice', '/me', { cookie: 'at=a; at=b' }, undefined],
    ['the query, percent-encoded non-ASCII', '/me?access_token=secret-part-%C4%80', {}, undefined],
    ['the query, a lone surrogate (percent-encoded)', '/me?access_token=secret-part-%ED%A0%80', {}, undefined],
  ])('%s: 400 invalid_request, nothing introspected', async (_what, path, headers, body) => {
    const before = introspected.length;
    const res = await send(server.url, path, headers, body === undefined ? 'GET' : 'POST', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(JSON.stringify(res.body)).not.toMatch(/secret-part/);
    expect(introspected.length).toBe(before);
  });

  test('an extended query parser: access_token[x]=… is an object, refused as one', async () => {
    const extended = await api({ ...base(), tokenLocations: ['query'] }, (app) => app.set('query parser', 'extended'));
    try {
      const res = await send(extended.url, '/me?access_token[x]=abc', {});
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    } finally {
      await extended.close();
    }
  });
});

describe('guard.verify(): unusual but valid tokens pass, bound ones stay refused, nothing of the token in the answer', () => {
  test('a compact JWS passes; the same JWS with a padded segment or a space is 401 invalid_token, as the header path refuses it', async () => {
    const guard = createGuard(base());
    const token = await idp.sign({ sub: 'jws' });
    await expect(guard.verify(token)).resolves.toMatchObject({ payload: { sub: 'jws' } });
    const [h, p, s] = token.split('.');
    for (const odd of [`${h}=.${p}.${s}`, `${h}.${p}.${s}=`, ` ${token}`, `${token} `, `${h}.${p}.${s}\n`]) {
      await expect(guard.verify(odd)).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
    }
  });

  test('opaque tokens with "~", "+", "/", "=" padding and dots are introspected, byte for byte', async () => {
    const guard = createGuard(withIntrospection());
    for (const token of ['~~~', '+/+/', 'a.b', 'a.b.c.d.e', `x${'='.repeat(3)}`, `${randomUUID()}~+/.==`]) {
      await expect(guard.verify(token)).resolves.toMatchObject({ payload: { sub: 'opaque-user' } });
      expect(introspected.at(-1)).toBe(token);
    }
  });

  test('a DPoP-bound token is still refused by verify() (no proof without a request)', async () => {
    const guard = createGuard(base());
    const token = await idp.sign({ cnf: { jkt: holder.jkt } });
    await expect(guard.verify(token)).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
  });

  test('a certificate-bound token is still refused by verify() without the certificate', async () => {
    const guard = createGuard(base());
    const token = await idp.sign({ cnf: { 'x5t#S256': b64sha256('some certificate') } });
    await expect(guard.verify(token)).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
  });

  test('the refusal (description, challenge, log lines) names no part of the token', async () => {
    const lines: string[] = [];
    const logger = { warn: (l: string) => lines.push(l), error: (l: string) => lines.push(l), debug: (l: string) => lines.push(l) };
    const guard = createGuard({ ...base(), logger });
    for (const token of ['SECRETPART\uD800', 'SECRETPART tail', 'SECRETPART\u00e9', 'SECRETPART\r\nx: 1']) {
      const err = await guard.verify(token).then(() => undefined, (e: unknown) => e as { message: string; headers: Record<string, string>; toJSON(): unknown });
      expect(err).toMatchObject({ code: 'invalid_token', status: 401 });
      expect(`${err!.message} ${JSON.stringify(err!.headers)} ${JSON.stringify(err!.toJSON())}`).not.toMatch(/SECRETPART/);
    }
    expect(lines.join('\n')).not.toMatch(/SECRETPART/);
  });
});

describe('the Express adapter reads req.headers once, and the Host from it', () => {
  const bound = () => idp.sign({ sub: 'dpop-user', cnf: { jkt: holder.jkt } });
  function proof(token: string, htu: string, claims: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT({ htm: 'GET', htu, ath: b64sha256(token), jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
      .setIssuedAt()
      .sign(holder.privateKey);
  }

  test('trust proxy with X-Forwarded-Host: the htu is still the Host header, the forwarded host matches no proof', async () => {
    const server = await api(base(), (app) => app.set('trust proxy', true));
    try {
      const token = await bound();
      const headers = (p: string) => ({ host: 'api.internal:8080', 'x-forwarded-host': 'api.example.com', authorization: `DPoP ${token}`, dpop: p });
      const ok = await send(server.url, '/me', headers(await proof(token, 'http://api.internal:8080/me')));
      expect(ok.status).toBe(200);
      expect(ok.body.dpop).toEqual({ jkt: holder.jkt });
      const forwarded = await send(server.url, '/me', headers(await proof(token, 'http://api.example.com/me')));
      expect(forwarded.status).toBe(401);
      expect(forwarded.body.error).toBe('invalid_dpop_proof');
      // X-Forwarded-Proto does count (req.protocol under trust proxy), as before.
      const https = await send(server.url, '/me', { ...headers(await proof(token, 'https://api.internal:8080/me')), 'x-forwarded-proto': 'https' });
      expect(https.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  test('an earlier middleware that replaces req.headers: the guard reads the replacement (token, proof and Host)', async () => {
    const server = await api(base(), (app) =>
      app.use((req, _res, next) => {
        const { 'x-token': token, 'x-proof': proof, ...rest } = req.headers;
        req.headers = { ...rest, host: 'rewritten.example', authorization: `DPoP ${String(token)}`, dpop: String(proof) };
        next();
      }),
    );
    try {
      const token = await bound();
      const res = await send(server.url, '/me', { 'x-token': token, 'x-proof': await proof(token, 'http://rewritten.example/me') });
      expect(res.status).toBe(200);
      expect(res.body.dpop).toEqual({ jkt: holder.jkt });
    } finally {
      await server.close();
    }
  });

  // A behaviour change, on purpose: before, the adapter asked req.get('host'), so an app that
  // overrode `get` moved the htu with it. The htu is the Host header the request carried.
  test('an app that overrides req.get cannot move the htu away from the Host header', async () => {
    const server = await api(base(), (app) => {
      (app.request as unknown as { get: (name: string) => string | undefined }).get = function (this: Request, name: string) {
        return name.toLowerCase() === 'host' ? 'elsewhere.example' : (this.headers[name.toLowerCase()] as string | undefined);
      };
    });
    try {
      const token = await bound();
      const headers = (p: string) => ({ host: 'api.example.com', authorization: `DPoP ${token}`, dpop: p });
      expect((await send(server.url, '/me', headers(await proof(token, 'http://api.example.com/me')))).status).toBe(200);
      const other = await send(server.url, '/me', headers(await proof(token, 'http://elsewhere.example/me')));
      expect(other.status).toBe(401);
      expect(other.body.error).toBe('invalid_dpop_proof');
    } finally {
      await server.close();
    }
  });

  test('HTTP/1.0 without a Host header and a DPoP proof: 401 invalid_dpop_proof, not a 500', async () => {
    const server = await api(base());
    try {
      const token = await bound();
      const p = await proof(token, `http://127.0.0.1:${server.port}/me`);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          socket.write(`GET /me HTTP/1.0\r\nAuthorization: DPoP ${token}\r\nDPoP: ${p}\r\n\r\n`);
        });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (c: string) => (text += c));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.[01] 401 /);
      expect(raw).toMatch(/"error":"invalid_dpop_proof"/);
      expect(raw).toMatch(/another URL \(htu\)/);
    } finally {
      await server.close();
    }
  });

  test('Express 4: DPoP with the Host header, a forwarded host under trust proxy, a replaced req.headers', async () => {
    const app = express4();
    app.set('trust proxy', true);
    app.use((req, _res, next) => {
      if (req.headers['x-replace'] !== undefined) req.headers = { ...req.headers, host: 'replaced.example' };
      next();
    });
    app.get('/me', requireAuth(base()), (req, res) => res.json({ dpop: req.auth!.dpop ?? null }));
    app.use(oauthErrorHandler());
    const server = await listen(app);
    try {
      const token = await bound();
      const headers = (p: string) => ({ host: 'api.internal', 'x-forwarded-host': 'api.example.com', authorization: `DPoP ${token}`, dpop: p });
      expect((await send(server.url, '/me', headers(await proof(token, 'http://api.internal/me')))).body).toEqual({ dpop: { jkt: holder.jkt } });
      expect((await send(server.url, '/me', headers(await proof(token, 'http://api.example.com/me')))).status).toBe(401);
      expect((await send(server.url, '/me', { ...headers(await proof(token, 'http://replaced.example/me')), 'x-replace': '1' })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('DPoP comparisons (ath, jkt, nonce) against hostile values', () => {
  let server: Listening;
  let nonced: Listening;
  beforeAll(async () => {
    server = await api(base());
    nonced = await api({ ...base(), dpop: { nonce: { secret: 'n'.repeat(32) } } });
  });
  afterAll(async () => {
    await server.close();
    await nonced.close();
  });

  function proof(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT({ htm: 'GET', jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
      .setIssuedAt()
      .sign(holder.privateKey);
  }
  const call = (url: string, token: string, p: string) => send(url, '/me', { host: 'api.example.com', authorization: `DPoP ${token}`, dpop: p });
  const htu = 'http://api.example.com/me';

  test.each([
    ['a number', () => 123],
    ['null', () => null],
    ['true', () => true],
    ['an object', () => ({})],
    ['an object with a length', (t: string) => ({ length: b64sha256(t).length })],
    ['an array holding the right hash', (t: string) => [b64sha256(t)]],
    ['an array of the hash\'s characters', (t: string) => [...b64sha256(t)]],
    ['the empty string', () => ''],
    ['the hash one character short', (t: string) => b64sha256(t).slice(0, -1)],
    ['the hash one character longer', (t: string) => `${b64sha256(t)}A`],
    ['the hash with its last character a lone surrogate', (t: string) => `${b64sha256(t).slice(0, -1)}\uD800`],
    ['the hash with its last character 0x100 away (same low byte)', (t: string) => {
      const h = b64sha256(t);
      return `${h.slice(0, -1)}${String.fromCharCode(h.charCodeAt(h.length - 1) + 0x100)}`;
    }],
    ['the hash of the token in standard base64', (t: string) => createHash('sha256').update(t).digest('base64')],
  ])('ath as %s: 401 invalid_dpop_proof', async (_what, ath) => {
    const token = await idp.sign({ cnf: { jkt: holder.jkt } });
    const res = await call(server.url, token, await proof({ htu, ath: ath(token) }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_dpop_proof');
  });

  test.each([
    ['a number', 123],
    ['an array holding the right thumbprint', ['THUMB']],
    ['an object', { toString: () => 'THUMB' }],
    ['the empty string', ''],
    ['the thumbprint one character short', 'THUMB-1'],
    ['the thumbprint with a lone surrogate appended', 'THUMB\uD800'],
    ['the thumbprint with its last character a lone surrogate', 'THUMB-1\uDC00'],
  ])('an IdP whose cnf.jkt is %s: 401, never a 500, never accepted', async (_what, value) => {
    const jkt = JSON.parse(JSON.stringify(value).replaceAll('THUMB-1', holder.jkt.slice(0, -1)).replaceAll('THUMB', holder.jkt)) as unknown;
    const token = await idp.sign({ cnf: { jkt } });
    const res = await call(server.url, token, await proof({ htu, ath: b64sha256(token) }));
    expect(res.status).toBe(401);
    expect(res.body.error).toMatch(/^invalid_(token|dpop_proof)$/);
  });

  test.each([
    ['a number', 1],
    ['an array', ['x']],
    ['an object', {}],
    ['the empty string', ''],
    ['a lone surrogate', '\uD800'],
  ])('a nonce as %s: 401 use_dpop_nonce', async (_what, nonce) => {
    const token = await idp.sign({ cnf: { jkt: holder.jkt } });
    const res = await call(nonced.url, token, await proof({ htu, ath: b64sha256(token), nonce }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('use_dpop_nonce');
  });

  test('the nonce handed out passes (the comparison accepts what it should)', async () => {
    const token = await idp.sign({ cnf: { jkt: holder.jkt } });
    const first = await call(nonced.url, token, await proof({ htu, ath: b64sha256(token) }));
    expect(first.status).toBe(401);
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{32}$/);
    const res = await call(nonced.url, token, await proof({ htu, ath: b64sha256(token), nonce }));
    expect(res.status).toBe(200);
    const tampered = `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`;
    const refused = await call(nonced.url, token, await proof({ htu, ath: b64sha256(token), nonce: tampered }));
    expect(refused.body.error).toBe('use_dpop_nonce');
  });
});
