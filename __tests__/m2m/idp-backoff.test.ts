/**
 * createM2MClient({ idpBackoff }): a failed fetch is not repeated by every caller in turn.
 */
import { ConfigError, createM2MClient, IdpError, type M2MErrorEvent } from '../../lib/index.js';
import { useTestClock } from '../support/clock.js';
import { fresh, startDownstream, startScriptedIdp, type Downstream, type ScriptedIdp } from '../support/m2m.js';

let idp: ScriptedIdp;
let api: Downstream;

beforeAll(async () => {
  [idp, api] = await Promise.all([startScriptedIdp(), startDownstream()]);
});
afterAll(() => Promise.all([idp.close(), api.close()]));
beforeEach(() => {
  idp.answers = [fresh(3600)];
  idp.requests.length = 0;
  api.seen.length = 0;
});

const opts = () => ({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'svc-secret-value', logger: false as const });

describe('a failed fetch is not repeated by every caller in turn (idpBackoff)', () => {
  const clock = useTestClock();
  test('after a failure (retries included), concurrent and following callers get the same error without the IdP', async () => {
    idp.answers = [{ status: 503, body: { error: 'temporarily_unavailable' } }];
    const errors: [Error, M2MErrorEvent][] = [];
    const client = createM2MClient({ ...opts(), retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 }, idpBackoffMs: 300, onError: (e, ev) => errors.push([e, ev]) });
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
    const client = createM2MClient({ ...opts(), idpBackoffMs: 150 });
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
    const client = createM2MClient({ ...opts(), retry: { maxDelayMs: 10 }, idpBackoffMs: 50 });
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
    const off = createM2MClient({ ...opts(), idpBackoffMs: 0 });
    for (let i = 0; i < 3; i++) await expect(off.getToken()).rejects.toBeInstanceOf(IdpError);
    expect(idp.requests).toHaveLength(3);
  });

  test('idpBackoff is checked', () => {
    expect(() => createM2MClient({ ...opts(), idpBackoffMs: 5000 })).not.toThrow();
    expect(() => createM2MClient({ ...opts(), idpBackoffMs: -1 })).toThrow(/idpBackoff/);
    expect(() => createM2MClient({ ...opts(), idpBackoffMs: Infinity })).toThrow(ConfigError);
  });
});
