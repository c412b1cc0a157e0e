/** createM2MClient(): caching, cache keys, skew, single flight and refresh-ahead against the real test IdP. */
import { SignJWT } from 'jose';
import { createM2MClient, type M2MTokenFetchedEvent } from '../../lib/index.js';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { useTestClock } from '../support/clock.js';
import { fresh, sleep, startScriptedIdp, until, type ScriptedIdp } from '../support/m2m.js';

// Failures are asserted through hooks and results; the default console logger would only add noise here.
const svc = { clientId: 'svc-report', clientSecret: 'svc-secret', logger: false as const };
let idp: MockIdp;

beforeAll(async () => {
  idp = await startMockIdp({ accessTokenTtl: 3600 });
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.resetStats();
  idp.faults = { mode: 'none' };
});

describe('caching and keys', () => {
  test('a token is fetched once and then served from the cache', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const a = await client.getToken();
    const b = await client.getToken();
    expect(idp.stats.tokenRequests).toBe(1);
    expect(b).toBe(a);
    expect(a.tokenType).toBe('Bearer');
    expect(a.accessToken.split('.')).toHaveLength(3);
    expect(a.expiresAt).toBeGreaterThan(Date.now() + 3590_000);
    expect(a.expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000);
    expect(a.scope).toBe('inventory:read inventory:write');
    expect(Object.isFrozen(a)).toBe(true);
    // client_secret_basic by default, grant parameters in the form body
    expect(idp.stats.lastRequest!.headers.authorization).toMatch(/^Basic /);
    expect(idp.stats.lastRequest!.body).toEqual({ grant_type: 'client_credentials' });
  });

  test('different scopes never share a token; equal scope sets do, in any order or form', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const read = await client.getToken({ scope: 'inventory:read' });
    const write = await client.getToken({ scope: 'inventory:write' });
    expect(read.accessToken).not.toBe(write.accessToken);
    expect(read.scope).toBe('inventory:read');
    expect(write.scope).toBe('inventory:write');
    const both1 = await client.getToken({ scope: 'inventory:write inventory:read' });
    expect(idp.stats.lastRequest!.body.scope).toBe('inventory:read inventory:write');
    const both2 = await client.getToken({ scope: ['inventory:read', 'inventory:write', 'inventory:read'] });
    const both3 = await client.getToken({ scope: '  inventory:read   inventory:write ' });
    expect(both2).toBe(both1);
    expect(both3).toBe(both1);
    expect(idp.stats.tokenRequests).toBe(3);
    // the cached read token is still the same
    expect(await client.getToken({ scope: ['inventory:read'] })).toBe(read);
    expect(idp.stats.tokenRequests).toBe(3);
  });

  test('audience and resource are part of the key and are sent to the IdP', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, scope: 'inventory:read' });
    const a = await client.getToken({ audience: 'https://a.example.test' });
    expect(idp.stats.lastRequest!.body).toMatchObject({ audience: 'https://a.example.test', scope: 'inventory:read' });
    const b = await client.getToken({ resource: 'https://b.example.test/' });
    expect(idp.stats.lastRequest!.body).toMatchObject({ resource: 'https://b.example.test/' });
    const plain = await client.getToken();
    expect(new Set([a.accessToken, b.accessToken, plain.accessToken]).size).toBe(3);
    const { decodeJwt } = await import('jose');
    expect(decodeJwt(a.accessToken).aud).toBe('https://a.example.test');
    expect(decodeJwt(b.accessToken).aud).toBe('https://b.example.test/');
    expect(await client.getToken({ audience: ['https://a.example.test'] })).toBe(a);
    expect(idp.stats.tokenRequests).toBe(3);
  });

  test('clients of different client ids or endpoints do not share tokens even with one store', async () => {
    const { MemoryTokenStore } = await import('../../lib/index.js');
    const store = new MemoryTokenStore();
    const ciam = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store });
    const eiam = createM2MClient({ tokenEndpoint: idp.eiamTokenEndpoint, paramsIn: 'query', ...svc, store });
    const t1 = await ciam.getToken();
    const t2 = await eiam.getToken();
    expect(t1.accessToken).not.toBe(t2.accessToken);
    expect(idp.stats.tokenRequests).toBe(2);
    expect(store.size).toBe(2);
  });

  test('forceRefresh fetches a new token and caches it; invalidate() drops tokens', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const a = await client.getToken();
    const b = await client.getToken({ forceRefresh: true });
    expect(b.accessToken).not.toBe(a.accessToken);
    expect(await client.getToken()).toBe(b);
    await client.invalidate({ accessToken: a.accessToken }); // not the cached one: no effect
    expect(await client.getToken()).toBe(b);
    await client.invalidate();
    const c = await client.getToken();
    expect(c.accessToken).not.toBe(b.accessToken);
    expect(idp.stats.tokenRequests).toBe(3);
  });
});

describe('expiry skew', () => {
  const clock = useTestClock();
  test('a 10 s token is still cached (the 60 s skew is capped at half the lifetime)', async () => {
    const short = await startMockIdp({ accessTokenTtl: 10 });
    try {
      const client = createM2MClient({ tokenEndpoint: short.ciamTokenEndpoint, ...svc });
      const a = await client.getToken();
      await sleep(50);
      const b = await client.getToken();
      expect(b).toBe(a);
      expect(short.stats.tokenRequests).toBe(1);
      expect(a.expiresAt - Date.now()).toBeGreaterThan(9_000);
    } finally {
      await short.close();
    }
  });

  test('a token is replaced once lifetime minus skew has passed, not before', async () => {
    const short = await startMockIdp({ accessTokenTtl: 2 });
    try {
      // skew min(60 s, 2 s / 2) = 1 s: served for about 1 s
      const client = createM2MClient({ tokenEndpoint: short.ciamTokenEndpoint, ...svc, refreshAhead: false });
      const a = await client.getToken();
      clock.advance(700);
      expect(await client.getToken()).toBe(a);
      clock.advance(450);
      const b = await client.getToken();
      expect(b.accessToken).not.toBe(a.accessToken);
      expect(short.stats.tokenRequests).toBe(2);
    } finally {
      await short.close();
    }
  });

  test('an explicit expirySkew applies when smaller than half the lifetime', async () => {
    const scripted = await startScriptedIdp([fresh(4)]);
    try {
      const client = createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, ...svc, expirySkewSeconds: 3.5, refreshAhead: false });
      // min(3.5 s, 2 s) = 2 s skew: 4 s token served 2 s
      const a = await client.getToken();
      clock.advance(1500);
      expect(await client.getToken()).toBe(a);
      const zero = createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, ...svc, expirySkewSeconds: 0, refreshAhead: false });
      const z = await zero.getToken();
      expect(z.expiresAt - Date.now()).toBeGreaterThan(3_800);
    } finally {
      await scripted.close();
    }
  });
});

describe('single flight', () => {
  test('1,000 concurrent getToken() calls cause exactly one IdP request', async () => {
    idp.faults = { mode: 'slow', delayMs: 100, count: 1 };
    const fetched: M2MTokenFetchedEvent[] = [];
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, onTokenFetched: (e) => fetched.push(e) });
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => client.getToken()));
    expect(idp.stats.tokenRequests).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(fetched).toHaveLength(1);
    expect(fetched[0]).toMatchObject({ source: 'idp', waiters: 1000, background: false, attempts: 1, clientId: 'svc-report' });
    expect(fetched[0]!.latencyMs).toBeGreaterThanOrEqual(90);
  });

  test('concurrent callers with different scopes get one request per scope', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const scopes = ['inventory:read', 'inventory:write', 'inventory:read inventory:write'];
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.getToken({ scope: scopes[i % 3] })));
    expect(idp.stats.tokenRequests).toBe(3);
  });

  test('a failed request fails every waiting caller with the same error and is not cached', async () => {
    idp.faults = { mode: 'error500', count: 1 };
    // idpBackoff 0: by default the callers of the next 2 s would get the same error (m2m-hardening.test.ts)
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: false, idpBackoffMs: 0 });
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => client.getToken()));
    expect(idp.stats.tokenRequests).toBe(1);
    const reasons = new Set(results.map((r) => (r.status === 'rejected' ? r.reason : 'ok')));
    expect(reasons.size).toBe(1);
    const err = [...reasons][0] as Error & { code: string; idpStatus: number };
    expect(err.code).toBe('idp_error');
    expect(err.idpStatus).toBe(500);
    expect(err.message).toMatch(/answered 500 server_error/);
    // the next caller tries again
    const t = await client.getToken();
    expect(t.accessToken).toBeTruthy();
    expect(idp.stats.tokenRequests).toBe(2);
  });
});

describe('refresh ahead', () => {
  const clock = useTestClock();
  let short: MockIdp;
  beforeAll(async () => {
    short = await startMockIdp({ accessTokenTtl: 2 });
  });
  afterAll(() => short.close());

  test('callers keep getting the cached token while one background refresh waits on a slow IdP', async () => {
    const fetched: M2MTokenFetchedEvent[] = [];
    // 2 s token, skew 1 s → served 1 s; refresh when half of that is left (after ~0.5 s)
    const client = createM2MClient({
      tokenEndpoint: short.ciamTokenEndpoint,
      ...svc,
      refreshAhead: 0.5,
      onTokenFetched: (e) => fetched.push(e),
    });
    const old = await client.getToken();
    await sleep(550);
    short.resetStats();
    short.faults = { mode: 'slow', delayMs: 300, count: 1 };
    const started = Date.now();
    const durations: number[] = [];
    const served: string[] = [];
    while (Date.now() - started < 250) {
      const t0 = performance.now();
      const t = await client.getToken();
      durations.push(performance.now() - t0);
      served.push(t.accessToken);
      await sleep(10);
    }
    expect(served.every((s) => s === old.accessToken)).toBe(true);
    // far below the IdP's 300 ms: nobody waited for the refresh
    expect(Math.max(...durations)).toBeLessThan(100);
    expect(short.stats.tokenRequests).toBe(1);
    await until(() => fetched.length === 2);
    const next = await client.getToken();
    expect(next.accessToken).not.toBe(old.accessToken);
    expect(short.stats.tokenRequests).toBe(1);
    expect(fetched).toHaveLength(2);
    expect(fetched[1]).toMatchObject({ background: true, waiters: 0, source: 'idp' });
    expect(fetched[1]!.latencyMs).toBeGreaterThanOrEqual(290);
  });

  test('refreshAhead: false waits for the token to go stale', async () => {
    const client = createM2MClient({ tokenEndpoint: short.ciamTokenEndpoint, ...svc, refreshAhead: false });
    await client.getToken();
    short.resetStats();
    clock.advance(700);
    await client.getToken();
    await sleep(20);
    expect(short.stats.tokenRequests).toBe(0);
  });
});

describe('answers without expires_in', () => {
  let scripted: ScriptedIdp;
  beforeAll(async () => {
    scripted = await startScriptedIdp();
  });
  afterAll(() => scripted.close());

  test('an opaque token without expires_in lives defaultExpiresIn (300 s unless set)', async () => {
    scripted.answers = [fresh(null)];
    const a = await createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, ...svc }).getToken();
    expect(a.expiresAt - Date.now()).toBeGreaterThan(299_000);
    expect(a.expiresAt - Date.now()).toBeLessThanOrEqual(300_000);
    const b = await createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, ...svc, defaultExpiresInSeconds: 30 }).getToken();
    expect(b.expiresAt - Date.now()).toBeLessThanOrEqual(30_000);
    expect(b.expiresAt - Date.now()).toBeGreaterThan(29_000);
  });

  test("a JWT without expires_in lives until its exp; a numeric string expires_in is accepted", async () => {
    const exp = Math.floor(Date.now() / 1000) + 120;
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new Uint8Array(32));
    scripted.answers = [{ body: { access_token: jwt, token_type: 'bearer' } }];
    const a = await createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, ...svc }).getToken();
    expect(a.expiresAt).toBe(exp * 1000);
    expect(a.tokenType).toBe('Bearer');
    scripted.answers = [{ body: { access_token: 'opaque', token_type: 'Bearer', expires_in: '45' } }];
    const b = await createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, ...svc }).getToken();
    expect(b.expiresAt - Date.now()).toBeGreaterThan(44_000);
    expect(b.expiresAt - Date.now()).toBeLessThanOrEqual(45_000);
  });

  test('the requested scope is reported when the IdP does not echo one', async () => {
    scripted.answers = [fresh(60)];
    const t = await createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, ...svc, scope: 'b a' }).getToken();
    expect(t.scope).toBe('a b');
    expect(scripted.requests.at(-1)!.body.get('scope')).toBe('a b');
  });
});

describe('hooks', () => {
  test('onTokenFetched and onCacheHit never carry the token; a throwing hook breaks nothing', async () => {
    const events: unknown[] = [];
    const client = createM2MClient({
      tokenEndpoint: idp.ciamTokenEndpoint,
      ...svc,
      onTokenFetched: (e) => {
        events.push(e);
        throw new Error('hook bug');
      },
      onCacheHit: (e) => {
        events.push(e);
        throw new Error('hook bug');
      },
    });
    const t = await client.getToken();
    await client.getToken();
    await client.getToken();
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({ source: 'idp', expiresAt: t.expiresAt, clientId: 'svc-report' });
    expect(events[1]).toMatchObject({ expiresAt: t.expiresAt, key: expect.stringContaining('svc-report') });
    const text = JSON.stringify(events);
    expect(text).not.toContain(t.accessToken);
    expect(text).not.toContain('svc-secret');
  });
});

describe('async hooks', () => {
  test('hooks that return a rejected promise are not waited on and break nothing (no unhandled rejection, which ends a Node process)', async () => {
    const seen: string[] = [];
    const failing = (name: string) => async () => {
      seen.push(name);
      throw new Error(`${name} hook bug`);
    };
    const hooks = { onTokenFetched: failing('fetched'), onCacheHit: failing('hit'), onError: failing('error'), onRetry: failing('retry') };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, ...hooks });
    idp.faults = { mode: 'error500', count: 1 };
    const t = await client.getToken();
    expect((await client.getToken()).accessToken).toBe(t.accessToken);
    const denied = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'wrong', retry: false, ...hooks });
    await expect(denied.getToken()).rejects.toMatchObject({ code: 'idp_error' });
    // Jest fails a test that leaves a rejection unhandled; let every rejection settle before it ends.
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['retry', 'fetched', 'hit', 'error']);
  });
});
