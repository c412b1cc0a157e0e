/**
 * createM2MClient(): IdP token answers that are refused before caching, and valid edge cases accepted.
 */
import { createM2MClient, IdpBadResponseError } from '../../lib/index.js';
import { fresh, startScriptedIdp, type ScriptedIdp } from '../support/m2m.js';

let idp: ScriptedIdp;

beforeAll(async () => {
  idp = await startScriptedIdp();
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.answers = [fresh(3600)];
  idp.requests.length = 0;
});

const opts = () => ({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'svc-secret-value', logger: false as const });

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
    const client = createM2MClient({ ...opts(), idpBackoffMs: 0 });
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
    const client = createM2MClient({ ...opts(), idpBackoffMs: 0 });
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
