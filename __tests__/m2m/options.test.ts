/** createM2MClient(): configuration mistakes fail at construction with a ConfigError that says what to fix. */
import { ConfigError, createM2MClient, type M2MClientOptions } from '../../lib/index.js';

const base = { tokenEndpoint: 'https://idp.example.test/oauth2/token', clientId: 'svc', clientSecret: 's3cr3t-value' };

test.each<[string, Partial<M2MClientOptions> & Record<string, unknown>, RegExp]>([
  ['no clientId', { clientId: '' }, /clientId is required/],
  ['no clientSecret', { clientSecret: undefined }, /clientSecret is required/],
  ['no endpoint', { tokenEndpoint: undefined }, /give tokenEndpoint, or issuer/],
  ['plain http off loopback', { tokenEndpoint: 'http://idp.example.test/token' }, /must use https/],
  ['unknown option with a hint', { scopes: 'a' }, /unknown option "scopes"; did you mean scope\?/],
  ['a near miss', { storeTimoutMs: 5 } as never, /unknown option "storeTimoutMs"; did you mean storeTimeoutMs\?/],
  ['a snake_case IdP option', { token_endpoint: 'https://idp.example.test/t' } as never, /unknown option "token_endpoint"; did you mean tokenEndpoint\?/],
  ['a typo inside retry', { retry: { attemps: 5 } as never }, /unknown option "retry.attemps"; did you mean retry.attempts\?/],
  ['a typo of a renamed option gets the new name', { timout: 5 } as never, /unknown option "timout"; did you mean timeoutMs\?/],
  ['a typo of a renamed retry option', { retry: { baseDelai: 5 } as never }, /unknown option "retry.baseDelai"; did you mean retry.baseDelayMs\?/],
  ['a number given as a string', { timeoutMs: '5000' as never }, /timeoutMs must be a positive number of at most 2147483647 \(got the string "5000"\)/],
  ['a typo inside cache', { cache: { maxEntrys: 5 } as never }, /unknown option "cache.maxEntrys"; did you mean cache.maxEntries\?/],
  ['retryOn401 not a boolean', { retryOn401: 'yes' as never }, /retryOn401 must be true or false/],
  ['ms instead of seconds', { expirySkewMs: 1000 }, /did you mean expirySkewSeconds\?/],
  ['bad scope characters', { scope: 'a "b"' }, /scope ""b"" has characters/],
  ['scope of the wrong type', { scope: 42 as never }, /scope must be/],
  ['resource with a fragment', { resource: 'https://api.example.test/#x' }, /absolute URI without a fragment/],
  ['relative resource', { resource: '/api' }, /absolute URI/],
  ['empty audience', { audience: '' }, /audience must be a non-empty string/],
  ['extraParams overriding credentials', { extraParams: { client_secret: 'x' } }, /must not contain "client_secret"/],
  ['extraParams overriding scope', { extraParams: { scope: 'x' } }, /use the scope option/],
  ['extraParams non-string', { extraParams: { a: 1 as never } }, /extraParams.a must be a string/],
  ['refreshAhead >= 1', { refreshAhead: 1.5 }, /refreshAhead is a fraction/],
  ['negative skew', { expirySkewSeconds: -1 }, /expirySkewSeconds must be a non-negative number \(got -1\)/],
  ['zero defaultExpiresInSeconds', { defaultExpiresInSeconds: 0 }, /defaultExpiresInSeconds must be a positive number \(got 0\)/],
  ['retry attempts 0', { retry: { attempts: 0 } }, /retry.attempts must be a positive integer \(got 0\)/],
  // Past setTimeout's limit Node fires after 1 ms: every IdP call, store call or retry would fail at once.
  ['timeoutMs past the timer limit', { timeoutMs: 2 ** 31 }, /timeoutMs must be a positive number of at most 2147483647 \(got 2147483648\)/],
  ['storeTimeoutMs past the timer limit', { storeTimeoutMs: 2 ** 31 }, /storeTimeoutMs must be a positive number of at most 2147483647/],
  ['retry.maxDelayMs past the timer limit', { retry: { maxDelayMs: 2 ** 31 } }, /retry.maxDelayMs must be a non-negative number of at most 2147483647/],
  ['retry not an object', { retry: true as never }, /retry must be/],
  ['cache.maxEntries 0', { cache: { maxEntries: 0 } }, /cache.maxEntries must be a positive integer \(got 0\)/],
  ['store without set', { store: { get: () => undefined } as never }, /store must implement get\(key\) and set/],
  ['lock without unlock', { store: { get: () => undefined, set: () => undefined, lock: () => true } as never }, /lock and store.unlock must be given together/],
  ['hook not a function', { onError: 'log' as never }, /onError must be a function/],
  ['clientAuth typo', { clientAuth: 'basic' as never }, /clientAuth must be 'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth' or 'self_signed_tls_client_auth'/],
])('%s', (_name, patch, message) => {
  const options = { ...base, ...patch } as M2MClientOptions;
  let err: unknown;
  try {
    createM2MClient(options);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message).not.toContain('s3cr3t-value');
});

test('valid options construct without any network call', () => {
  const c = createM2MClient({
    ...base,
    scope: ['b', 'a'],
    audience: 'https://api.example.test',
    resource: ['https://r1.example.test', 'https://r2.example.test'],
    extraParams: { tenant: 't' },
    expirySkewSeconds: 30,
    refreshAhead: false,
    retry: { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 },
    cache: { maxEntries: 10 },
    retryOn401: false,
  });
  expect(c.clientId).toBe('svc');
  expect(typeof c.middleware()).toBe('function');
});

test('bad per-call options reject getToken() (not throw)', async () => {
  const c = createM2MClient(base);
  const p = c.getToken({ scope: 'bad"scope' });
  await expect(p).rejects.toBeInstanceOf(ConfigError);
});
