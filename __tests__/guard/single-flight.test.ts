/**
 * requireAuth's single flight (lib/guard/guard.ts, the core under requireAuth): results kept for one event-loop turn are
 * never handed to a different token or past the moment the clock changes the verdict, and what is
 * kept is bounded.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth, type OAuthError, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { useTestClock } from '../support/clock.js';

/** Options a test puts over a working single-issuer base (the either/or key options are unions: see option-types.test.ts). */
type OptionOverrides = Partial<GuardCommonOptions & IssuerSettings> & { jwksUri?: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer({ algs: ['RS256', 'ES256'] });
  clearDiscoveryCache();
});
afterEach(() => idp.close());

function setup(options: OptionOverrides = {}) {
  const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeout: 500, logger: false, ...options });
  const app = express();
  app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub, kid: req.auth!.header.kid ?? null }));
  app.use(oauthErrorHandler());
  const call = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
  return { guard, app, call };
}

/** The middleware called directly, so several requests can run in one event-loop turn. */
function direct(guard: ReturnType<typeof requireAuth>, token: string): { sync: boolean; error?: OAuthError; done: Promise<OAuthError | undefined> } {
  const req = { headers: { authorization: `Bearer ${token}` }, rawHeaders: ['Authorization', `Bearer ${token}`] } as unknown as express.Request;
  let settled: { error: OAuthError | undefined } | undefined;
  const done = new Promise<OAuthError | undefined>((resolve) =>
    guard(req, {} as express.Response, (err?: unknown) => {
      settled = { error: err as OAuthError | undefined };
      resolve(err as OAuthError | undefined);
    }),
  );
  return { sync: settled !== undefined, error: settled?.error, done };
}

describe('single flight with results kept for the turn', () => {
  const clock = useTestClock();

  async function warm() {
    const s = setup({ clockTolerance: 0 });
    // Keys loaded, then the key memoized (a lookup is kept only when no load happened during it): synchronous from here on.
    for (let i = 0; i < 2; i++) await s.guard.verify(await idp.sign({ warm: i }));
    return s;
  }

  test('a token that expires between two requests of the same turn is refused the second time', async () => {
    const { guard } = await warm();
    const token = await idp.sign({}, { expiresIn: 1 });
    const first = direct(guard, token);
    expect(first).toMatchObject({ sync: true, error: undefined });
    clock.advance(1_100);
    const second = direct(guard, token);
    expect(second.sync).toBe(true);
    expect(second.error).toMatchObject({ status: 401, code: 'invalid_token', message: 'The access token expired' });
  });

  test('an error shared by a burst never reaches a request with a different token, in the same turn or over HTTP', async () => {
    const { guard, call } = await warm();
    const good = await idp.sign({ n: 1 });
    const bad = await idp.sign({ n: 1, aud: 'https://elsewhere.test' });
    // Same payload, another signature: a near twin of the good token.
    const twin = `${good.slice(0, good.lastIndexOf('.'))}.${(await idp.sign({ n: 2 })).split('.')[2]}`;
    const results = [bad, bad, twin, good, bad, twin, good].map((t) => direct(guard, t));
    expect(results.every((r) => r.sync)).toBe(true);
    expect(results.map((r) => r.error?.message ?? 'ok')).toEqual([
      'The token is not meant for this API (aud)',
      'The token is not meant for this API (aud)',
      'The token signature is invalid',
      'ok',
      'The token is not meant for this API (aud)',
      'The token signature is invalid',
      'ok',
    ]);
    const overHttp = await Promise.all([bad, good, twin, good, bad].map((t) => call(t).then((r) => r.status)));
    expect(overHttp).toEqual([401, 200, 401, 200, 401]);
  });

  test('a refusal kept for the burst is not handed out once the clock says otherwise (nbf reached)', async () => {
    const { guard } = await warm();
    const early = await idp.sign({ nbf: Math.floor(Date.now() / 1000) + 30 });
    const first = direct(guard, early);
    expect(first.error).toMatchObject({ code: 'invalid_token', message: 'The token is not valid yet (nbf)' });
    clock.advance(60_000);
    // A full verification now accepts the token; the result kept from a moment ago must not say otherwise.
    const second = direct(guard, early);
    expect(second.error).toBeUndefined();
  });

  test('300+ distinct bad tokens in one turn: every one refused, and what is kept for the turn is bounded and let go', async () => {
    const { guard } = await warm();
    const good = await idp.sign();
    const [h, p] = good.split('.');
    // Each forged signature ends differently, as random bytes would: the maps behind single flight are
    // keyed by a hash that reads a token's end (lib/guard/token-key.ts), and tokens that share a key
    // never join each other's result (__tests__/guard/token-key-hostile.test.ts).
    const bads = Array.from({ length: 400 }, (_, i) => `${h}.${p}.${b64(`forged-signature-${i}`.padStart(256, '*'))}`);
    const before = guard.cacheStats.verifications;
    const first = bads.map((t) => direct(guard, t));
    expect(first.every((r) => r.sync && r.error?.status === 401 && r.error.message === 'The token signature is invalid')).toBe(true);
    expect(guard.cacheStats.verifications - before).toBe(400);
    // The same 400 again in the same turn: at most a bounded number joined a kept result.
    const again = bads.map((t) => direct(guard, t));
    expect(again.every((r) => r.error?.status === 401)).toBe(true);
    const joined = 800 - (guard.cacheStats.verifications - before);
    expect(joined).toBeGreaterThan(0);
    expect(joined).toBeLessThanOrEqual(256);
    // After a timers phase nothing is kept: all 400 verify again.
    await sleep(5);
    const mark = guard.cacheStats.verifications;
    bads.forEach((t) => direct(guard, t));
    expect(guard.cacheStats.verifications - mark).toBe(400);
  });

  test('300+ distinct bad tokens at once over HTTP: all 401 invalid_token, none 500', async () => {
    const { app } = await warm();
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const good = await idp.sign();
      const [h, p] = good.split('.');
      const statuses = await Promise.all(
        Array.from({ length: 320 }, (_, i) =>
          fetch(`http://127.0.0.1:${port}/me`, { headers: { authorization: `Bearer ${h}.${p}.${b64(`x${i}`)}` } }).then(async (r) => `${r.status} ${(await r.json()).error}`),
        ),
      );
      expect(new Set(statuses)).toEqual(new Set(['401 invalid_token']));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('verify() in a tight loop while the clock moves: every answer is what a full verification says at that moment', async () => {
    const { guard } = await warm();
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign({ nbf: now + 2 }, { expiresIn: 5 });
    const answers: Array<Promise<string>> = [];
    const expected: string[] = [];
    for (let step = 0; step < 40; step++) {
      const at = (Date.now() + step * 250) / 1000;
      expected.push(at < now + 2 ? 'nbf' : at < now + 5 ? 'ok' : 'exp');
      answers.push(
        guard.verify(token).then(
          () => 'ok',
          (e: OAuthError) => (e.message.includes('nbf') ? 'nbf' : e.message.includes('expired') ? 'exp' : e.message),
        ),
      );
      clock.advance(250);
    }
    const got = await Promise.all(answers);
    // Steps within a few ms of a boundary may go either way (real time passes during the loop).
    const mismatches = got.flatMap((g, i) => (g === expected[i] ? [] : [`step ${i}: ${g} ≠ ${expected[i]}`]));
    expect(mismatches.length).toBeLessThanOrEqual(2);
    expect(got).toContain('ok');
    expect(got.at(-1)).toBe('exp');
  });
});
