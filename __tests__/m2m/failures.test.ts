/** createM2MClient(): retries, Retry-After, IdP outages, non-retryable errors and malformed answers. */
import { createM2MClient, IdpBadResponseError, IdpError, IdpTimeoutError, IdpUnavailableError } from '../../lib/index.js';
import type { M2MErrorEvent, M2MRetryEvent } from '../../lib/index.js';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { useTestClock } from '../support/clock.js';
import { fresh, startScriptedIdp, until, type ScriptedIdp } from '../support/m2m.js';

// Failures are asserted through hooks and results; the default console logger would only add noise here.
const svc = { clientId: 'svc-report', clientSecret: 'svc-secret', logger: false as const };
const fast = { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000 };
let idp: MockIdp;

beforeAll(async () => {
  idp = await startMockIdp({ accessTokenTtl: 3600 });
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.resetStats();
  idp.faults = { mode: 'none' };
});

describe('retries', () => {
  test('a 503 with Retry-After is retried after at least that long', async () => {
    idp.faults = { mode: 'status503', retryAfter: 1, count: 1 };
    const retries: M2MRetryEvent[] = [];
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: fast, onRetry: (e) => retries.push(e) });
    const t0 = Date.now();
    const t = await client.getToken();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(990);
    expect(t.accessToken).toBeTruthy();
    expect(idp.stats.tokenRequests).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ attempt: 1, delayMs: 1000 });
    expect((retries[0]!.error as IdpError).idpStatus).toBe(503);
  });

  test('a 429 asking for longer than retry.maxDelay fails at once, saying so', async () => {
    idp.faults = { mode: 'status429', retryAfter: 30, count: 1 };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: fast });
    const t0 = Date.now();
    const err = (await client.getToken().catch((e) => e)) as IdpError;
    expect(Date.now() - t0).toBeLessThan(500);
    expect(err).toBeInstanceOf(IdpError);
    expect(err.idpStatus).toBe(429);
    expect(err.message).toMatch(/answered 429 temporarily_unavailable/);
    expect(err.message).toMatch(/retry after 30 s/);
    expect(idp.stats.tokenRequests).toBe(1);
  });

  test('500s and a connection reset are retried with backoff until a token comes', async () => {
    idp.faults = { mode: 'error500', count: 2 };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: fast });
    expect((await client.getToken()).accessToken).toBeTruthy();
    expect(idp.stats.tokenRequests).toBe(3);

    idp.resetStats();
    idp.faults = { mode: 'reset', count: 1 };
    const other = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: fast, scope: 'inventory:read' });
    expect((await other.getToken()).scope).toBe('inventory:read');
    expect(idp.stats.tokenRequests).toBe(2);
  });

  test('when every try fails the error names the status, the OAuth error and the attempts', async () => {
    idp.faults = { mode: 'status503', retryAfter: 0 };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: fast });
    const err = (await client.getToken().catch((e) => e)) as IdpError;
    expect(err).toBeInstanceOf(IdpError);
    expect(err.code).toBe('idp_error');
    expect(err.status).toBe(502);
    expect(err.idpStatus).toBe(503);
    expect(err.idpError).toBe('temporarily_unavailable');
    expect(err.message).toMatch(/answered 503 temporarily_unavailable/);
    expect(err.message).toMatch(/client "svc-report"/);
    expect(err.message).toMatch(/after 3 attempts/);
    expect(idp.stats.tokenRequests).toBe(3);
  });

  test('a gateway HTML page is retried, then reported as a bad response', async () => {
    idp.faults = { mode: 'html' };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: { attempts: 2, baseDelayMs: 5 } });
    const err = await client.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect(err.message).toMatch(/text\/html/);
    expect(idp.stats.tokenRequests).toBe(2);
  });

  test('an oversized answer is refused and not cached', async () => {
    idp.faults = { mode: 'huge', count: 1 };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retry: false, idpBackoffMs: 0 });
    const err = await client.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect(err.message).toMatch(/larger than/);
    expect((await client.getToken()).accessToken.length).toBeLessThan(4096);
  });

  test('a slow IdP times out with IdpTimeoutError', async () => {
    idp.faults = { mode: 'slow', delayMs: 600, count: 1 };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, timeoutMs: 150, retry: false });
    const err = await client.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(IdpTimeoutError);
    expect(err.code).toBe('idp_timeout');
    expect(err.message).toMatch(/within 150 ms/);
  });
});

describe('errors that are not retried', () => {
  test('invalid_client: one request, a clear error, no secret in it', async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'wrong-secret-value', retry: fast, logger });
    const err = (await client.getToken().catch((e) => e)) as IdpError;
    expect(err).toBeInstanceOf(IdpError);
    expect(err.idpStatus).toBe(401);
    expect(err.idpError).toBe('invalid_client');
    expect(err.message).toMatch(/answered 401 invalid_client/);
    expect(err.message).toMatch(/check clientId, clientSecret/);
    expect(err.message).not.toContain('wrong-secret-value');
    expect(err.stack).not.toContain('wrong-secret-value');
    expect(lines.join('\n')).toMatch(/client "svc-report": no token \(idp_error\): .*answered 401 invalid_client/);
    expect(lines.join('\n')).not.toContain('wrong-secret-value');
    expect(idp.stats.tokenRequests).toBe(1);
  });

  test('invalid_scope and unauthorized_client: one request each', async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const scoped = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, scope: 'admin:all', retry: fast, logger });
    const e1 = (await scoped.getToken().catch((e) => e)) as IdpError;
    expect([e1.idpStatus, e1.idpError]).toEqual([400, 'invalid_scope']);
    expect(e1.message).toMatch(/scope "admin:all"/);
    const web = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'web-app', clientSecret: 'web-secret', retry: fast, logger });
    const e2 = (await web.getToken().catch((e) => e)) as IdpError;
    expect([e2.idpStatus, e2.idpError]).toEqual([400, 'unauthorized_client']);
    expect(e2.message).toMatch(/client_credentials grant/);
    expect(lines.join('\n')).toMatch(/client "web-app": no token \(idp_error\): .*answered 400 unauthorized_client/);
    expect(idp.stats.tokenRequests).toBe(2);
  });

  test('invalid_client inside a 5xx answer is still not retried', async () => {
    const s = await startScriptedIdp([{ status: 500, body: { error: 'invalid_client' } }]);
    try {
      const err = (await createM2MClient({ tokenEndpoint: s.tokenEndpoint, ...svc, retry: fast }).getToken().catch((e) => e)) as IdpError;
      expect(err.idpError).toBe('invalid_client');
      expect(s.requests).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});

describe('malformed success answers', () => {
  let s: ScriptedIdp;
  beforeAll(async () => {
    s = await startScriptedIdp();
  });
  afterAll(() => s.close());

  test.each([
    ['no access_token', { token_type: 'Bearer', expires_in: 60 }, /without an access_token/],
    ['empty access_token', { access_token: '', token_type: 'Bearer' }, /without an access_token/],
    ['a non-Bearer token_type', { access_token: 'x', token_type: 'mac', expires_in: 60 }, /token_type "mac"; only Bearer/],
    ['no token_type', { access_token: 'x', expires_in: 60 }, /no token_type/],
  ])('%s is an error, not a cached token', async (_name, body, message) => {
    s.answers = [{ body }, fresh(60)];
    const client = createM2MClient({ tokenEndpoint: s.tokenEndpoint, ...svc, idpBackoffMs: 0 });
    const err = await client.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect(err.code).toBe('idp_bad_response');
    expect(err.message).toMatch(message);
    const before = s.requests.length;
    expect((await client.getToken()).accessToken).toMatch(/^tok-/);
    expect(s.requests.length).toBe(before + 1);
  });

  test('an IdP error description that echoes the secret is redacted', async () => {
    s.answers = [{ status: 401, body: { error: 'invalid_client', error_description: 'bad secret svc-secret for svc-report' } }];
    const err = (await createM2MClient({ tokenEndpoint: s.tokenEndpoint, ...svc }).getToken().catch((e) => e)) as IdpError;
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain('svc-secret');
  });
});

describe('IdP down', () => {
  const clock = useTestClock();
  test('a still-valid token keeps being served and the failure goes to onError; once stale, a clear error', async () => {
    const short = await startMockIdp({ accessTokenTtl: 2 });
    const errors: [Error, M2MErrorEvent][] = [];
    try {
      const client = createM2MClient({
        tokenEndpoint: short.ciamTokenEndpoint,
        ...svc,
        refreshAhead: 0.5,
        retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 50 },
        idpBackoffMs: 100,
        onError: (err, e) => errors.push([err, e]),
      });
      const old = await client.getToken();
      short.faults = { mode: 'error500' };
      clock.advance(600); // past the refresh point (~0.5 s), before stale (~1 s)
      expect(await client.getToken()).toBe(old);
      await until(() => errors.length >= 1);
      const [err, ev] = errors[0]!;
      expect(ev).toMatchObject({ phase: 'refresh', servingCachedToken: true, clientId: 'svc-report' });
      expect((err as IdpError).idpStatus).toBe(500);
      expect(await client.getToken()).toBe(old);

      clock.advance(450); // now stale
      const stale = (await client.getToken().catch((e) => e)) as IdpError;
      expect(stale).toBeInstanceOf(IdpError);
      expect(stale.message).toMatch(/answered 500 server_error/);
      expect(errors.at(-1)![1]).toMatchObject({ phase: 'fetch', servingCachedToken: false });

      short.faults = { mode: 'none' };
      // within idpBackoff the next caller gets the same error without asking; after it, the IdP again
      expect(await client.getToken().catch((e) => e)).toBe(stale);
      clock.advance(120);
      const back = await client.getToken();
      expect(back.accessToken).not.toBe(old.accessToken);
    } finally {
      await short.close();
    }
  });

  test('an IdP that is gone: a valid token is served, an expired one gives idp_unavailable', async () => {
    const s = await startScriptedIdp([fresh(2)]);
    const errors: M2MErrorEvent[] = [];
    const client = createM2MClient({
      tokenEndpoint: s.tokenEndpoint,
      ...svc,
      refreshAhead: 0.5,
      retry: { attempts: 2, baseDelayMs: 5 },
      onError: (_e, ev) => errors.push(ev),
    });
    const old = await client.getToken();
    await s.close();
    clock.advance(600);
    expect(await client.getToken()).toBe(old);
    // the background refresh that call started fails while the token is still servable
    await until(() => errors.length >= 1);
    clock.advance(500);
    const err = await client.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(IdpUnavailableError);
    expect(err.code).toBe('idp_unavailable');
    expect(err.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
    expect(err.message).toMatch(/after 2 attempts/);
    expect(errors.some((e) => e.phase === 'refresh' && e.servingCachedToken)).toBe(true);
  });
});
