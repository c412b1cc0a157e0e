/**
 * Token extraction from the neutral request shape (lib/bearer/guard-request.ts) that every adapter
 * fills in: what an adapter may leave out (raw headers, a parsed query) and what it may hand over
 * differently (a header as a list) gives the same answers as Node's own request in Express.
 */
import { extractCredentials, type ExtractOptions } from '../../lib/bearer/extract-token.js';
import type { GuardRequest } from '../../lib/bearer/guard-request.js';
import { InvalidRequestError } from '../../lib/errors/oauth-error.js';

const options = (over: Partial<ExtractOptions> = {}): ExtractOptions => ({
  locations: ['header', 'query'],
  dpop: true,
  maxLength: 4096,
  invalidRequest: (d) => new InvalidRequestError(d),
  ...over,
});
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

function req(over: Partial<GuardRequest>): GuardRequest {
  return { method: 'GET', url: '/me', headers: {}, protocol: 'https', host: 'api.example', native: undefined, ...over };
}

test('an Authorization header handed over as a list of two is refused as two headers', () => {
  expect(() => extractCredentials(req({ headers: { authorization: [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`] } }), options())).toThrow(/more than one Authorization header/);
  expect(extractCredentials(req({ headers: { authorization: [`DPoP ${TOKEN}`] } }), options())).toEqual({ token: TOKEN, scheme: 'dpop' });
});

test('without rawHeaders, one Authorization header is just that', () => {
  expect(extractCredentials(req({ headers: { authorization: `Bearer ${TOKEN}` } }), options())).toEqual({ token: TOKEN, scheme: 'bearer' });
});

test('without a parsed query, the query of the URL is read, a name given twice as a list (refused)', () => {
  expect(extractCredentials(req({ url: `/me?x=1&access_token=${TOKEN}` }), options())).toEqual({ token: TOKEN, scheme: 'bearer' });
  expect(() => extractCredentials(req({ url: `/me?access_token=${TOKEN}&access_token=${TOKEN}` }), options())).toThrow(/access_token in the query must be a single non-empty value/);
  expect(extractCredentials(req({ url: '/me?y=2' }), options())).toBeUndefined();
  // A parsed query, when the framework has one, is what counts.
  expect(extractCredentials(req({ url: `/me?access_token=${TOKEN}`, query: {} }), options())).toBeUndefined();
});

test('getToken receives the framework request (native), not the neutral shape', () => {
  const native = { tokenHere: TOKEN };
  let seen: unknown;
  const got = extractCredentials(req({ native }), options({ getToken: ((r: typeof native) => ((seen = r), r.tokenHere)) as never }));
  expect(seen).toBe(native);
  expect(got).toEqual({ token: TOKEN, scheme: 'bearer' });
});

test('a Cookie header handed over as a list is read as one', () => {
  expect(extractCredentials(req({ headers: { cookie: ['theme=dark', `at=${TOKEN}`] } }), options({ cookie: 'at' }))).toEqual({ token: TOKEN, scheme: 'bearer' });
});
