/**
 * Renamed options of createM2MClient(), the three proxies and redisTokenStore(): each old name
 * keeps working for one minor version with one DeprecationWarning per process, and giving both
 * names is a ConfigError. One table for every factory; lib/options/deprecated.ts does the work.
 */
import { jest } from '@jest/globals';
import { ConfigError, createM2MClient, mfaChallengeProxy, revocationProxy, tokenProxy } from '../../lib/index.js';
import { redisTokenStore } from '../../lib/redis/index.js';

const idp = { tokenEndpoint: 'https://idp.example.test/oauth2/token', issuer: 'https://idp.example.test', clientId: 'svc', clientSecret: 's3cr3t-value' };
const cookie = { allowedOrigins: ['https://app.example.test'] };
// Enough of an ioredis client for the option checks (no command is sent at construction).
const redis = { status: 'ready', get() {}, set() {}, eval() {} };

type Build = (options: Record<string, unknown>) => unknown;
const m2m: Build = (o) => createM2MClient({ ...idp, ...o } as never);
const token: Build = (o) => tokenProxy({ ...idp, ...o } as never);
const mfa: Build = (o) => mfaChallengeProxy({ ...idp, ...o } as never);
const revocation: Build = (o) => revocationProxy({ ...idp, ...o } as never);
const store: Build = (o) => redisTokenStore({ client: redis, ...o } as never);

// [factory, old name (dotted inside a nested object), new name, value, build]
const cases: [string, string, string, unknown, Build][] = [
  ['createM2MClient', 'timeout', 'timeoutMs', 5000, m2m],
  ['createM2MClient', 'expirySkew', 'expirySkewSeconds', 30, m2m],
  ['createM2MClient', 'defaultExpiresIn', 'defaultExpiresInSeconds', 600, m2m],
  ['createM2MClient', 'storeTimeout', 'storeTimeoutMs', 500, m2m],
  ['createM2MClient', 'storeBackoff', 'storeBackoffMs', 1000, m2m],
  ['createM2MClient', 'storeLockWait', 'storeLockWaitMs', 2000, m2m],
  ['createM2MClient', 'idpBackoff', 'idpBackoffMs', 0, m2m],
  ['createM2MClient', 'retry.baseDelay', 'retry.baseDelayMs', 50, m2m],
  ['createM2MClient', 'retry.maxDelay', 'retry.maxDelayMs', 1000, m2m],
  ['createM2MClient', 'cache.max', 'cache.maxEntries', 10, m2m],
  ['tokenProxy', 'timeout', 'timeoutMs', 5000, token],
  ['tokenProxy', 'cookie.maxAge', 'cookie.maxAgeSeconds', 3600, token],
  ['mfaChallengeProxy', 'timeout', 'timeoutMs', 5000, mfa],
  ['revocationProxy', 'timeout', 'timeoutMs', 5000, revocation],
  ['revocationProxy', 'cookie.maxAge', 'cookie.maxAgeSeconds', 3600, revocation],
  ['redisTokenStore', 'connectWait', 'connectWaitMs', 100, store],
  ['redisTokenStore', 'callTimeout', 'callTimeoutMs', 800, store],
  ['redisTokenStore', 'replayWaitTimeout', 'replayWaitTimeoutMs', 100, store],
];

/** `{ a: v }`, or `{ a: { b: v } }` for 'a.b' (with the cookie's required origins). */
function option(path: string, value: unknown): Record<string, unknown> {
  const [outer, inner] = path.split('.') as [string, string | undefined];
  if (inner === undefined) return { [outer]: value };
  return { [outer]: { ...(outer === 'cookie' ? cookie : {}), [inner]: value } };
}
function both(oldPath: string, newPath: string, value: unknown): Record<string, unknown> {
  const a = option(oldPath, value);
  const b = option(newPath, value);
  const key = Object.keys(a)[0]!;
  return typeof a[key] === 'object' ? { [key]: { ...(a[key] as object), ...(b[key] as object) } } : { ...a, ...b };
}

let warn: jest.SpiedFunction<typeof process.emitWarning>;
beforeEach(() => {
  warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
});
afterEach(() => warn.mockRestore());

test.each(cases)('%s: old name %s still works, with one DeprecationWarning naming %s', (factory, oldName, newName, value, build) => {
  expect(() => build(option(oldName, value))).not.toThrow();
  expect(() => build(option(oldName, value))).not.toThrow();
  // Once per process and old name, however many objects are built with it.
  expect(warn).toHaveBeenCalledTimes(1);
  const [message, opts] = warn.mock.calls[0]! as [string, { type: string; code: string }];
  expect(message).toBe(`${factory}(): option "${oldName}" is renamed "${newName}"; the old name will stop working in the next minor version (see node_modules/express-oauth-kit/CHANGELOG.md, "Option names")`);
  expect(opts).toEqual({ type: 'DeprecationWarning', code: 'EXPRESS_OAUTH_KIT_RENAMED_OPTION' });
});

test.each(cases)('%s: %s together with %s is a ConfigError', (_factory, oldName, newName, value, build) => {
  let err: unknown;
  try {
    build(both(oldName, newName, value));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).code).toBe('config_options');
  expect((err as Error).message).toContain(`both "${oldName}" and "${newName}" are set`);
});

test('the old name means the same number: a value out of range is reported under the new name', () => {
  expect(() => m2m({ storeTimeout: 2 ** 31 })).toThrow(/storeTimeoutMs must be a positive number of at most 2147483647/);
  expect(() => store({ callTimeout: -5 })).toThrow(/callTimeoutMs must be a non-negative number/);
  expect(() => token({ cookie: { ...cookie, maxAge: 1.5 } })).toThrow(/cookie.maxAgeSeconds must be a whole number of seconds/);
});
