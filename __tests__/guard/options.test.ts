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
  ])('unknown option %s → ConfigError suggesting %s', (name, suggestion) => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', [name]: 'x' } as unknown as RequireAuthOptions)).toThrow(
      expect.objectContaining({ code: 'config_options', message: expect.stringContaining(`did you mean ${suggestion}?`) }),
    );
  });

  test.each([301, 1e9, Infinity])('clockToleranceSeconds %p is refused: it would make exp meaningless', (value) => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, clockToleranceSeconds: value })).toThrow(/clockToleranceSeconds must be a non-negative number of at most 300/);
  });

  test('logger must have warn and error', () => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, logger: {} as never })).toThrow(/logger must have warn/);
  });
});
