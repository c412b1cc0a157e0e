/**
 * The MCP `AuthInfo` members of req.auth (clientId, expiresAt, resource, extra) from claims of odd
 * JSON types: each member must have the type it is declared with, whatever the token carries, so
 * a tool handler reading `authInfo.extra.sub` as the string it is typed as cannot be made to throw.
 */
import { createGuard, type AuthResult, type GuardOutcome } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

let idp: JwksServer;
beforeAll(async () => {
  idp = await startJwksServer({ audience: 'https://api.example.test/mcp' });
});
afterAll(() => idp.close());

async function authFor(claims: Record<string, unknown>): Promise<AuthResult> {
  const guard = createGuard({ issuer: idp.issuer, audience: [idp.audience, 'urn:other'], jwksUri: idp.jwksUri, logger: false });
  const token = await idp.sign(claims as never);
  const outcome: GuardOutcome = await guard.check({ method: 'POST', url: '/mcp', headers: { authorization: `Bearer ${token}` }, protocol: 'https', host: 'api.example.test', native: undefined });
  if (outcome.error !== undefined) throw outcome.error;
  return outcome.auth!;
}

test.each([
  ['a number', 12345],
  ['an object', { id: 'alice' }],
  ['an array', ['alice']],
  ['null', null],
  ['true', true],
])('a sub that is %s: extra.sub is undefined (declared string | undefined), payload.sub keeps the claim', async (_name, sub) => {
  const auth = await authFor({ sub });
  expect(auth.extra.sub).toBeUndefined();
  expect(auth.payload.sub).toEqual(sub);
  expect(auth.extra.payload).toBe(auth.payload);
});

test('a string sub is passed on', async () => {
  expect((await authFor({ sub: 'alice' })).extra.sub).toBe('alice');
});

test.each([
  [{ client_id: 7, azp: 'web' }, 'web'],
  [{ client_id: null, azp: ['x'] }, ''],
  [{ client_id: { a: 1 } }, ''],
  [{ client_id: 'mcp-client', azp: 'web' }, 'mcp-client'],
])('clientId is always a string: %j → %j', async (claims, clientId) => {
  expect((await authFor(claims)).clientId).toBe(clientId);
});

test('resource is the matched http(s) audience only; a non-URL audience alone gives none; expiresAt is the numeric exp', async () => {
  const mixed = await authFor({ aud: ['urn:other', 'https://api.example.test/mcp'] });
  expect(mixed.resource?.href).toBe('https://api.example.test/mcp');
  expect(typeof mixed.expiresAt).toBe('number');
  expect(mixed.expiresAt).toBe(mixed.payload.exp);
  expect((await authFor({ aud: 'urn:other' })).resource).toBeUndefined();
});
