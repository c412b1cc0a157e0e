/**
 * requireAuth's option checks at start-up (lib/guard/options.ts), like the other factories'.
 */
import { requireAuth, type RequireAuthOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer();
  clearDiscoveryCache();
});
afterEach(() => idp.close());

describe('options are checked like the other factories', () => {
  test.each([
    ['jwksUrl', 'jwksUri'],
    ['jwks_uri', 'jwksUri'],
    ['clockSkew', 'clockToleranceSeconds'],
    ['audiance', 'audience'],
    // Typos of a renamed option are told its new name (the old one would only earn a DeprecationWarning).
    ['jwksTimout', 'jwksTimeoutMs'],
    ['clockTolerence', 'clockToleranceSeconds'],
  ])('unknown option %s → ConfigError suggesting %s', (name, suggestion) => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', [name]: 'x' } as unknown as RequireAuthOptions)).toThrow(
      expect.objectContaining({ code: 'config_options', message: expect.stringContaining(`did you mean ${suggestion}?`) }),
    );
  });

  test.each([301, 1e9, Infinity])('clockToleranceSeconds %p is refused: it would make exp meaningless', (value) => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, clockToleranceSeconds: value })).toThrow(/clockToleranceSeconds must be a non-negative number of at most 300/);
  });

  test('a misspelt cache size is refused, not left at the default', () => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, cache: { max: 500 } as never })).toThrow(
      expect.objectContaining({ code: 'config_options', message: expect.stringContaining('unknown option "cache.max"; did you mean cache.maxEntries?') }),
    );
  });

  test('a number given as a string is named as a string in the message', () => {
    // "(got 2000)" for '2000' (an environment variable passed on as is) would hide the mistake.
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, jwksTimeoutMs: '2000' as never })).toThrow(
      'requireAuth(): jwksTimeoutMs must be a positive integer of at most 2147483647 (got the string "2000")',
    );
  });

  test('logger must have warn and error', () => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, logger: {} as never })).toThrow(/logger must have warn/);
  });
});
