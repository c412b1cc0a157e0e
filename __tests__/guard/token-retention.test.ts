/**
 * What a cached token keeps alive, and what guard.verify() lets through. A token taken from a
 * Cookie header (or a URL, or a body) is, to V8, a slice of that whole string: kept in the
 * verified-token cache as is, every entry would hold its request's whole Cookie header, while the
 * cache's maxBytes counts only the token. An attacker who can make tokens be cached (two
 * requests each) pads the cookie to the header limit and multiplies the memory the operator sized.
 * And guard.verify() (a token from a WebSocket query, say) refuses what no request may carry.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import express from 'express';
import request from 'supertest';
import { createGuard, oauthErrorHandler, requireAuth, type RequireAuthOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes each newly cached token added, measured after a full GC. */
async function bytesPerEntry(entries: () => number, send: (token: string, n: number) => Promise<{ status: number }>, count: number): Promise<number> {
  const tokens = await Promise.all(Array.from({ length: count }, (_, n) => idp.sign({ sub: `user-${n}` })));
  gc();
  const before = process.memoryUsage().heapUsed;
  const entriesBefore = entries();
  // Twice each, one right after the other: a token is admitted to the cache once it has verified
  // twice lately (a small table of sightings, where a token seen once can be pushed out).
  for (let n = 0; n < count; n++) {
    for (let time = 0; time < 2; time++) expect((await send(tokens[n]!, n)).status).toBe(200);
  }
  expect(entries() - entriesBefore).toBe(count);
  gc();
  return (process.memoryUsage().heapUsed - before) / count;
}

let idp: JwksServer;
beforeAll(async () => {
  idp = await startJwksServer({ algs: ['ES256'] });
  clearDiscoveryCache();
});
afterAll(() => idp.close());

const PADDING = 12 * 1024;

describe('a cached token does not keep its request alive', () => {
  let api: Listening;
  let guard: ReturnType<typeof requireAuth>;
  beforeAll(async () => {
    guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, tokenCookie: 'at', tokenLocations: ['query'], logger: false });
    const app = express();
    app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub }));
    app.use(oauthErrorHandler());
    api = await listen(app);
  });
  afterAll(() => api.close());

  const bytesPerCachedToken = (send: (token: string, n: number) => Promise<{ status: number }>, count: number) => bytesPerEntry(() => guard.cacheStats.entries, send, count);

  // Each cached entry costs some kilobytes in any case (its claims, its frozen result, the test
  // process's own allocations): what matters is what the padding adds.
  test('from a Cookie header padded with 12 KiB of other cookies', async () => {
    const send = (pad: string) => (token: string, n: number) => fetch(`${api.url}/me`, { headers: { cookie: `${pad}${n}; at=${token}; lang=en` } });
    // The first requests of the process also pay for what stays (compiled code, the key, fetch's
    // own state): ~5 KiB per token over 300, which would hide most of what the padding adds.
    await bytesPerCachedToken(send('warm=up'), 100);
    const small = await bytesPerCachedToken(send('theme=d'), 300);
    const padded = await bytesPerCachedToken(send(`theme=${'d'.repeat(PADDING)}`), 300);
    // Without the copy each entry also held its 12 KiB header.
    expect(padded - small).toBeLessThan(PADDING / 2);
  });

  test('from a query string padded with 12 KiB of other parameters', async () => {
    const send = (pad: string) => (token: string, n: number) => fetch(`${api.url}/me?${pad}${n}&access_token=${token}`);
    await bytesPerCachedToken(send('warm=up'), 100);
    const small = await bytesPerCachedToken(send('q=x'), 300);
    const padded = await bytesPerCachedToken(send(`q=${'x'.repeat(PADDING)}`), 300);
    expect(padded - small).toBeLessThan(PADDING / 2);
  });

  // RFC 6750 §2.1 allows any number of spaces after "Bearer": the token is then a slice of a
  // header that is mostly padding.
  test('from an Authorization header padded with 12 KiB of spaces after the scheme', async () => {
    const send = (pad: string) => (token: string) => fetch(`${api.url}/me`, { headers: { authorization: `Bearer ${pad}${token}` } });
    await bytesPerCachedToken(send(''), 100);
    const small = await bytesPerCachedToken(send(''), 300);
    const padded = await bytesPerCachedToken(send(' '.repeat(PADDING)), 300);
    expect(padded - small).toBeLessThan(PADDING / 2);
  });

  test('the token a route reads is the one sent', async () => {
    const token = await idp.sign({ sub: 'reader' });
    const app = express();
    app.get('/token', guard, (req, res) => res.json({ same: req.auth!.token === token }));
    const res = await request(app).get('/token').set('Cookie', `a=1; at=${token}`);
    expect(res.body).toEqual({ same: true });
  });
});

// guard.verify() fills the same cache. A WebSocket upgrade, say, whose handler takes the token
// from the Cookie header itself (cookie.parse slices it) hands over a slice of that header.
describe('a token verified with guard.verify() does not keep the string it was cut from alive', () => {
  let server: Listening;
  let guard: ReturnType<typeof createGuard>;
  beforeAll(async () => {
    guard = createGuard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false });
    server = await listen((req, res) => {
      const cookie = req.headers.cookie ?? '';
      const start = cookie.indexOf('at=') + 3;
      const end = cookie.indexOf(';', start);
      guard.verify(cookie.slice(start, end === -1 ? undefined : end)).then(
        () => res.end('ok'),
        () => {
          res.statusCode = 401;
          res.end();
        },
      );
    });
  });
  afterAll(() => server.close());

  test('a token the application cut from a Cookie header padded with 12 KiB', async () => {
    const send = (pad: string) => (token: string, n: number) => fetch(server.url, { headers: { cookie: `${pad}${n}; at=${token}; lang=en` } });
    const entries = () => guard.cacheStats.entries;
    await bytesPerEntry(entries, send('warm=up'), 100);
    const small = await bytesPerEntry(entries, send('theme=d'), 300);
    const padded = await bytesPerEntry(entries, send(`theme=${'d'.repeat(PADDING)}`), 300);
    expect(padded - small).toBeLessThan(PADDING / 2);
  });
});

describe('guard.verify() refuses what no request may carry', () => {
  let introspection: Listening;
  let calls = 0;
  beforeAll(async () => {
    introspection = await listen((req, res) => {
      calls += 1;
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ active: true, iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 600, sub: 'someone' }));
    });
  });
  afterAll(() => introspection.close());

  const options = (): RequireAuthOptions => ({
    issuer: idp.issuer,
    audience: idp.audience,
    jwksUri: idp.jwksUri,
    introspection: { endpoint: `${introspection.url}/introspect`, clientId: 'api', clientSecret: 'api-secret' },
    logger: false,
  });

  test.each([
    ['a lone high surrogate', 'opaque-token-\uD800'],
    ['a lone low surrogate', 'opaque-token-\uDC00'],
    ['a NUL', 'opaque-token-\u0000x'],
    ['a space', 'opaque token'],
    ['a non-ASCII letter', 'opaque-tökén'],
    ['a line break', 'opaque-token\r\nx-injected: 1'],
  ])('%s: 401 invalid_token, never sent to introspection', async (_what, token) => {
    const guard = createGuard(options());
    const before = calls;
    await expect(guard.verify(token)).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
    expect(calls).toBe(before);
  });

  test('two tokens that differ only in their lone surrogates are not one cache entry', async () => {
    const guard = createGuard(options());
    await expect(guard.verify('opaque-\uD800')).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(guard.verify('opaque-\uD801')).rejects.toMatchObject({ code: 'invalid_token' });
    expect(guard.cacheStats.entries).toBe(0);
  });

  test('a b64token of every allowed character is still introspected', async () => {
    const guard = createGuard(options());
    const before = calls;
    const v = await guard.verify('Az09-._~+/opaque==');
    expect(v.payload.sub).toBe('someone');
    expect(calls).toBe(before + 1);
  });
});
