/**
 * Either/or guard options are TypeScript unions: `issuer` or `issuers`, and at most one of
 * `jwksUri`, `jwks` and `secret`. The `@ts-expect-error` lines are the test: `npx tsc --noEmit`
 * (which compiles __tests__) fails if the compiler ever accepts one of them again. At run time the
 * start-up check still refuses them, for JavaScript callers.
 */
import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import { ConfigError, createGuard, requireAuth, type GuardOptions, type IssuerOptions } from '../../lib/index.js';

const issuer = 'https://idp.example.com';
const audience = 'https://api.example.com';
const jwksUri = 'https://idp.example.com/jwks';
const jwks = { keys: [] };
const secret = 'a-very-long-shared-secret-of-32-bytes-or-more!';

describe('the compiler refuses what the start-up check refuses', () => {
  test('issuer and issuers together', () => {
    // @ts-expect-error issuer with issuers
    expect(() => requireAuth({ issuer, audience, issuers: [{ issuer, audience }] })).toThrow(ConfigError);
    // @ts-expect-error jwksUri at the top level with issuers
    expect(() => requireAuth({ jwksUri, issuers: [{ issuer, audience }] })).toThrow(ConfigError);
  });

  test('two key sources', () => {
    // @ts-expect-error jwksUri with jwks
    expect(() => requireAuth({ issuer, audience, jwksUri, jwks })).toThrow(ConfigError);
    // @ts-expect-error jwksUri with secret
    expect(() => requireAuth({ issuer, audience, jwksUri, secret })).toThrow(ConfigError);
    // @ts-expect-error jwks with secret
    expect(() => createGuard({ issuer, audience, jwks, secret })).toThrow(ConfigError);
    // @ts-expect-error two key sources in an issuers entry
    const entry: IssuerOptions = { issuer, audience, jwksUri, secret };
    expect(() => requireAuth({ issuers: [entry] })).toThrow(ConfigError);
  });

  test('each form alone compiles and starts', () => {
    const forms: GuardOptions[] = [
      { issuer, audience },
      { issuer, audience, jwksUri },
      { issuer, audience, jwks: { keys: [] } },
      { issuer, audience, secret },
      { issuers: [{ issuer, audience, jwksUri }, { issuer: 'https://other.example.com', audience, secret }] },
      { issuers: (iss) => (iss === issuer ? { issuer, audience } : undefined) },
    ];
    for (const options of forms) expect(() => createGuard(options)).not.toThrow();
  });

  test('callbacks receive the adapter\'s request type', () => {
    requireAuth({ issuer, audience, getToken: (req: Request) => req.get('x-token') });
    createGuard<IncomingMessage>({ issuer, audience, getToken: (req) => (typeof req.headers['x-token'] === 'string' ? req.headers['x-token'] : undefined) });
    // @ts-expect-error an IncomingMessage has no Express get()
    createGuard<IncomingMessage>({ issuer, audience, getToken: (req) => req.get('x-token') });
    expect(true).toBe(true);
  });
});
