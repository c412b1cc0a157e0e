/**
 * Findings of the adversarial review, M2M side: a downstream that always answers 401, cache-key
 * collisions between per-call options, IdP answers that must not be cached, failures retried by
 * every caller in turn, and tokens or secrets in errors.
 */
import { createServer } from 'node:http';
import { inspect } from 'node:util';
import { jest } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { ConfigError, createM2MClient, IdpBadResponseError, IdpError, oauthErrorHandler, type M2MErrorEvent } from '../lib/index.js';
import { useTestClock } from './support/clock.js';
import { fresh, listen, startDownstream, startScriptedIdp, type Downstream, type Listening, type ScriptedIdp } from './support/m2m.js';

let idp: ScriptedIdp;
let api: Downstream;
let deny: Listening; // answers 401 invalid_token to everyone
let denied = 0;

beforeAll(async () => {
  [idp, api] = await Promise.all([startScriptedIdp(), startDownstream()]);
  deny = await listen(
    createServer((req, res) => {
      denied++;
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="api", error="invalid_token"', 'content-type': 'application/json' });
      res.end('{"error":"invalid_token"}');
    }),
  );
});
afterAll(() => Promise.all([idp.close(), api.close(), deny.close()]));
beforeEach(() => {
  idp.answers = [fresh(3600)];
  idp.requests.length = 0;
  api.seen.length = 0;
  denied = 0;
});

const opts = () => ({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'svc-secret-value' });

describe('a downstream that keeps answering 401', () => {
  test('one forced refresh per token: later 401s with the fresh token go to the caller, without the IdP', async () => {
    const client = createM2MClient(opts());
    for (let i = 0; i < 5; i++) expect((await client.fetch(`${deny.url}/x`)).status).toBe(401);
    expect(idp.requests).toHaveLength(2); // the first token and one replacement, not one per call
    expect(denied).toBe(6); // first call twice (old token, fresh token), then once each
    const res = await Promise.all(Array.from({ length: 20 }, () => client.fetch(`${deny.url}/y`, { method: 'POST', body: 'b' })));
    expect(res.every((r) => r.status === 401)).toBe(true);
    expect(idp.requests).toHaveLength(2);
  });

  test('concurrent first calls share the one replacement', async () => {
    const client = createM2MClient(opts());
    const res = await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${deny.url}/x`)));
    expect(res.map((r) => r.status)).toEqual(Array(10).fill(401));
    expect(idp.requests).toHaveLength(2);
  });

  test('a non-replayable body: the next call’s token is the replacement, and is not replaced again', async () => {
    const client = createM2MClient(opts());
    const stream = () => ({ method: 'POST', body: new Blob(['x']).stream(), duplex: 'half' as const });
    for (let i = 0; i < 4; i++) expect((await client.fetch(`${deny.url}/s`, stream())).status).toBe(401);
    expect(idp.requests).toHaveLength(2);
  });

  test('a token obtained later (refresh, forceRefresh) gets its own one forced refresh', async () => {
    const client = createM2MClient(opts());
    await client.fetch(`${deny.url}/x`);
    expect(idp.requests).toHaveLength(2);
    await client.getToken({ forceRefresh: true });
    await client.fetch(`${deny.url}/x`);
    await client.fetch(`${deny.url}/x`);
    expect(idp.requests).toHaveLength(4);
  });
});

describe('per-call options cannot collide in the cache', () => {
  test("audience ['a\\u0002b'] and ['a', 'b'], or a NUL moving a value to resource: refused, never served another's token", async () => {
    const client = createM2MClient(opts());
    const ab = await client.getToken({ audience: ['a', 'b'] });
    for (const bad of [
      { audience: ['a\u0002b'] },
      { audience: 'a\u0000https://r.example/' },
      { audience: ['a'], resource: 'https://r.example/\u0000x' },
      { scope: 'read\twrite' },
      { scope: ['read\nwrite'] },
      { audience: 'a\u007f' },
      { resource: 'https://r.example/\u0085' },
    ]) {
      const err = (await client.getToken(bad).catch((e: Error) => e)) as ConfigError;
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(/must not contain control characters/);
      await expect(client.fetch(`${api.url}/x`, undefined, bad)).rejects.toThrow(/must not contain control characters/);
    }
    expect(api.seen).toEqual([]);
    expect(idp.requests).toHaveLength(1);
    expect(idp.requests[0]!.body.getAll('audience')).toEqual(['a', 'b']);
    // and valid spellings of one request still share one token
    expect(await client.getToken({ audience: ['b', 'a'] })).toBe(ab);
    expect(await client.getToken({ audience: ['a', 'b', 'a'] })).toBe(ab);
  });

  test('null given is not the same as not given', async () => {
    const client = createM2MClient({ ...opts(), scope: 'dflt' });
    await client.getToken({ scope: null as never, audience: 'x' });
    await client.getToken({ audience: 'x' });
    expect(idp.requests.map((r) => r.body.get('scope'))).toEqual([null, 'dflt']);
  });

  test('control characters in the client’s own options are a ConfigError at construction', () => {
    expect(() => createM2MClient({ ...opts(), audience: 'api\n' })).toThrow(ConfigError);
    expect(() => createM2MClient({ ...opts(), resource: ['https://r.example/\u0000'] })).toThrow(/control characters/);
    expect(() => createM2MClient({ ...opts(), scope: 'a\u0000b' })).toThrow(/control characters/);
    expect(() => createM2MClient(opts()).middleware({ audience: 'x\u0002' })).toThrow(ConfigError);
  });
});

describe('IdP answers that are refused before caching', () => {
  test.each([
    ['negative expires_in', { expires_in: -5 }],
    ['expires_in beyond a year', { expires_in: 400 * 86400 }],
    ['expires_in as garbage text', { expires_in: 'soon' }],
    ['expires_in as an overflowing string', { expires_in: '1e999' }],
    ['expires_in as an object', { expires_in: { s: 60 } }],
    ['expires_in as a boolean', { expires_in: true }],
  ])('%s → IdpBadResponseError, nothing cached, no retries', async (_name, extra) => {
    idp.answers = [{ body: { access_token: 'tok-A1', token_type: 'Bearer', ...extra } }];
    const client = createM2MClient({ ...opts(), idpBackoff: 0 });
    const err = await client.getToken().catch((e: Error) => e);
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect((err as Error).message).toMatch(/expires_in/);
    await expect(client.getToken()).rejects.toBeInstanceOf(IdpBadResponseError);
    expect(idp.requests).toHaveLength(2); // one per call: not cached, not retried
  });

  test.each([
    ['a space', 'abc def'],
    ['a header injection', 'abc\r\nX-Evil: 1'],
    ['non-ASCII', 'tök'],
    ['a quote', 'abc"def'],
    ['padding in the middle', 'ab=cd'],
  ])('an access_token with %s is refused, and not echoed', async (_name, token) => {
    idp.answers = [{ body: { access_token: token, token_type: 'Bearer', expires_in: 60 } }];
    const client = createM2MClient({ ...opts(), idpBackoff: 0 });
    const err = (await client.getToken().catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect(err.message).toMatch(/RFC 6750/);
    expect(err.message).not.toContain(token);
    await expect(client.getToken()).rejects.toBeInstanceOf(IdpBadResponseError);
    expect(idp.requests).toHaveLength(2);
  });

  test('valid edge cases are still accepted: b64token padding, expires_in as a numeric string, no expires_in', async () => {
    idp.answers = [
      { body: { access_token: 'a-b_c.d~e+f/g==', token_type: 'bearer', expires_in: '3600' } },
      { body: { access_token: 'tok2', token_type: 'Bearer', expires_in: null } },
    ];
    const client = createM2MClient(opts());
    const t = await client.getToken();
    expect(t.accessToken).toBe('a-b_c.d~e+f/g==');
    expect(t.expiresAt - Date.now()).toBeGreaterThan(3590_000);
    const t2 = await client.getToken({ scope: 'other' });
    expect(t2.expiresAt - Date.now()).toBeGreaterThan(290_000); // defaultExpiresIn
  });
});

describe('a failed fetch is not repeated by every caller in turn (idpBackoff)', () => {
  const clock = useTestClock();
  test('after a failure (retries included), concurrent and following callers get the same error without the IdP', async () => {
    idp.answers = [{ status: 503, body: { error: 'temporarily_unavailable' } }];
    const errors: [Error, M2MErrorEvent][] = [];
    const client = createM2MClient({ ...opts(), retry: { attempts: 2, baseDelay: 1, maxDelay: 5 }, idpBackoff: 300, onError: (e, ev) => errors.push([e, ev]) });
    const first = await client.getToken().catch((e: Error) => e);
    expect(first).toBeInstanceOf(IdpError);
    expect(idp.requests).toHaveLength(2);
    const again = await Promise.all(Array.from({ length: 50 }, () => client.getToken().catch((e: Error) => e)));
    expect(again.every((e) => e === first)).toBe(true);
    await expect(client.fetch(`${api.url}/x`)).rejects.toBe(first);
    expect(idp.requests).toHaveLength(2);
    expect(errors).toHaveLength(1); // one failure, one report
    // forceRefresh tries at once
    idp.answers = [fresh(3600)];
    const forced = await client.getToken({ forceRefresh: true });
    expect(forced.accessToken).toMatch(/^tok-/);
    expect(idp.requests).toHaveLength(3);
    expect(await client.getToken()).toBe(forced); // and a success ends the window
  });

  test('the window ends by itself; other keys are not affected; invalid_client is held back too', async () => {
    idp.answers = [{ status: 401, body: { error: 'invalid_client' } }];
    const client = createM2MClient({ ...opts(), idpBackoff: 150 });
    await expect(client.getToken()).rejects.toBeInstanceOf(IdpError);
    await expect(client.getToken()).rejects.toBeInstanceOf(IdpError);
    expect(idp.requests).toHaveLength(1);
    await expect(client.getToken({ scope: 'other' })).rejects.toBeInstanceOf(IdpError);
    expect(idp.requests).toHaveLength(2);
    clock.advance(200);
    idp.answers = [fresh(3600)];
    await expect(client.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(idp.requests).toHaveLength(3);
  });

  test('a Retry-After lengthens the window (within 60 s); idpBackoff 0 turns it off', async () => {
    idp.answers = [{ status: 429, body: { error: 'slow_down' }, headers: { 'retry-after': '1' } }];
    const client = createM2MClient({ ...opts(), retry: { maxDelay: 10 }, idpBackoff: 50 });
    // The retry details are fields of the error, the IdP's own answer its cause.
    const first = await client.getToken().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(IdpError);
    expect(first).toMatchObject({ idpStatus: 429, idpError: 'slow_down', retryAfterMs: 1000 });
    expect((first as IdpError).cause).toBeInstanceOf(IdpError);
    clock.advance(300);
    await expect(client.getToken()).rejects.toBeInstanceOf(IdpError);
    expect(idp.requests).toHaveLength(1);
    clock.advance(800);
    idp.answers = [fresh(3600)];
    await client.getToken();
    expect(idp.requests).toHaveLength(2);

    idp.requests.length = 0;
    idp.answers = [{ status: 400, body: { error: 'invalid_scope' } }];
    const off = createM2MClient({ ...opts(), idpBackoff: 0 });
    for (let i = 0; i < 3; i++) await expect(off.getToken()).rejects.toBeInstanceOf(IdpError);
    expect(idp.requests).toHaveLength(3);
  });

  test('idpBackoff is checked', () => {
    expect(() => createM2MClient({ ...opts(), idpBackoff: 5000 })).not.toThrow();
    expect(() => createM2MClient({ ...opts(), idpBackoff: -1 })).toThrow(/idpBackoff/);
    expect(() => createM2MClient({ ...opts(), idpBackoff: Infinity })).toThrow(ConfigError);
  });
});

describe('no token or secret in errors', () => {
  test('client.fetch and req.m2m.fetch to a dead downstream: the error and the 5xx answer hold neither', async () => {
    const dead = await listen(createServer());
    const deadUrl = dead.url;
    await dead.close();
    const client = createM2MClient(opts());
    const { accessToken } = await client.getToken();
    const err = await client.fetch(`${deadUrl}/x`).catch((e: unknown) => e);
    const seen = inspect(err, { depth: 10, showHidden: true });
    expect(seen).not.toContain(accessToken);
    expect(seen).not.toContain('svc-secret-value');

    const logs: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logs.push(args.map((x) => inspect(x)).join(' ')));
    const app = express();
    app.get('/r', client.middleware(), async (req, res, next) => {
      try {
        res.json(await (await req.m2m!.fetch(`${deadUrl}/x`)).json());
      } catch (e) {
        logs.push(inspect(e, { depth: 10, showHidden: true }));
        next(e);
      }
    });
    app.use(oauthErrorHandler());
    const r = await request(app).get('/r');
    spy.mockRestore();
    expect(r.status).toBeGreaterThanOrEqual(500);
    expect(logs.length).toBeGreaterThanOrEqual(2); // the route's own log and the error handler's
    for (const text of [r.text, JSON.stringify(r.headers), ...logs]) {
      expect(text).not.toContain(accessToken);
      expect(text).not.toContain('svc-secret-value');
    }
  });

  test('an IdP token with CR/LF never reaches a header (whose error would print it): refused first', async () => {
    idp.answers = [{ body: { access_token: 'LEAKME\r\nX-Evil: 1', token_type: 'Bearer', expires_in: 60 } }];
    const client = createM2MClient(opts());
    const err = (await client.fetch(`${api.url}/x`).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain('LEAKME');
    expect(api.seen).toEqual([]);
  });

  test('IdP errors (even one that echoes the secret) and hook events hold neither', async () => {
    idp.answers = [{ status: 401, body: { error: 'invalid_client', error_description: 'bad secret svc-secret-value for svc' } }];
    const events: string[] = [];
    const client = createM2MClient({ ...opts(), onError: (e, ev) => events.push(inspect(e, { depth: 10 }), JSON.stringify(ev)) });
    const err = await client.getToken().catch((e: unknown) => e);
    const all = [inspect(err, { depth: 10, showHidden: true }), ...events].join('\n');
    expect(all).toMatch(/invalid_client/);
    expect(all).not.toContain('svc-secret-value');
  });
});
