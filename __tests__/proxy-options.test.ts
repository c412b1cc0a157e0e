/** Misuse of the proxy factories fails at construction with a ConfigError that says what to fix. */
import {
  ConfigError,
  mfaChallengeProxy,
  revocationProxy,
  tokenProxy,
  type ConfigErrorCode,
  type TokenProxyOptions,
} from '../lib/index.js';

const BASE: TokenProxyOptions = { tokenEndpoint: 'https://idp.example.com/oauth2/token', clientId: 'web-app', clientSecret: 's3cret-value' };

function configError(fn: () => unknown, code: ConfigErrorCode, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).code).toBe(code);
  expect((caught as ConfigError).message).toMatch(message);
  expect((caught as ConfigError).message).not.toContain('s3cret-value');
}

test('valid options build a request handler', () => {
  expect(typeof tokenProxy(BASE)).toBe('function');
  expect(typeof tokenProxy({ ...BASE, grants: ['password', 'mfa_oob', 'refresh_token', 'authorization_code'] })).toBe('function');
  expect(typeof mfaChallengeProxy({ ...BASE, profile: 'eiam' })).toBe('function');
  expect(typeof revocationProxy({ ...BASE, revocationEndpoint: 'https://idp.example.com/oauth2/revoke' })).toBe('function');
  // One object can be shared by the three factories.
  const shared: TokenProxyOptions = { ...BASE, issuer: 'https://idp.example.com', grants: ['password'], cookie: { allowedOrigins: ['https://app.example.com'] } };
  expect(() => [tokenProxy(shared), mfaChallengeProxy(shared), revocationProxy(shared)]).not.toThrow();
});

test.each<[string, () => unknown, ConfigErrorCode, RegExp]>([
  ['no options', () => tokenProxy(undefined as never), 'ERR_OAUTHKIT_OPTIONS', /needs an options object/],
  ['no clientId', () => tokenProxy({ ...BASE, clientId: '' }), 'ERR_OAUTHKIT_CLIENT', /clientId is required/],
  ['no clientSecret', () => tokenProxy({ ...BASE, clientSecret: undefined as never }), 'ERR_OAUTHKIT_CLIENT', /clientSecret is required/],
  ['no endpoint', () => tokenProxy({ clientId: 'a', clientSecret: 'b' }), 'ERR_OAUTHKIT_URL', /tokenEndpoint, or issuer/],
  ['http to a remote host', () => tokenProxy({ ...BASE, tokenEndpoint: 'http://idp.example.com/token' }), 'ERR_OAUTHKIT_URL', /https/],
  ['a typo in an option name', () => tokenProxy({ ...BASE, clientAuthh: 'client_secret_post' } as never), 'ERR_OAUTHKIT_OPTIONS', /unknown option "clientAuthh"/],
  ['bad clientAuth', () => tokenProxy({ ...BASE, clientAuth: 'basic' as never }), 'ERR_OAUTHKIT_CLIENT', /client_secret_basic/],
  ['bad paramsIn', () => tokenProxy({ ...BASE, paramsIn: 'header' as never }), 'ERR_OAUTHKIT_OPTIONS', /paramsIn/],
  ['client_credentials in grants', () => tokenProxy({ ...BASE, grants: ['password', 'client_credentials' as never] }), 'ERR_OAUTHKIT_GRANTS', /createM2MClient/],
  ['an unknown grant', () => tokenProxy({ ...BASE, grants: ['implicit' as never] }), 'ERR_OAUTHKIT_GRANTS', /unknown grant "implicit"/],
  ['empty grants', () => tokenProxy({ ...BASE, grants: [] }), 'ERR_OAUTHKIT_GRANTS', /non-empty array/],
  ['allowParams naming client_secret', () => tokenProxy({ ...BASE, allowParams: { password: ['client_secret'] } }), 'ERR_OAUTHKIT_OPTIONS', /must not name "client_secret"/],
  ['allowParams for an unknown grant', () => tokenProxy({ ...BASE, allowParams: { implicit: ['x'] } as never }), 'ERR_OAUTHKIT_GRANTS', /unknown grant "implicit"/],
  ['allowParams not an object', () => tokenProxy({ ...BASE, allowParams: ['audience'] as never }), 'ERR_OAUTHKIT_OPTIONS', /keyed by grant/],
  ['extraParams setting grant_type', () => tokenProxy({ ...BASE, extraParams: { grant_type: 'client_credentials' } }), 'ERR_OAUTHKIT_OPTIONS', /must not set "grant_type"/],
  ['extraParams with a number', () => tokenProxy({ ...BASE, extraParams: { auth_source_id: 5 as never } }), 'ERR_OAUTHKIT_OPTIONS', /auth_source_id must be a string/],
  ['bodyLimit 0', () => tokenProxy({ ...BASE, bodyLimit: 0 }), 'ERR_OAUTHKIT_NUMBER', /bodyLimit must be a positive number/],
  ['timeout -1', () => tokenProxy({ ...BASE, timeout: -1 }), 'ERR_OAUTHKIT_NUMBER', /timeout/],
  ['allowQueryParams "yes"', () => tokenProxy({ ...BASE, allowQueryParams: 'yes' as never }), 'ERR_OAUTHKIT_OPTIONS', /allowQueryParams must be true or false/],
  ['onResult not a function', () => tokenProxy({ ...BASE, onResult: {} as never }), 'ERR_OAUTHKIT_OPTIONS', /onResult must be a function/],
  ['a logger without error()', () => tokenProxy({ ...BASE, logger: { warn: () => undefined } as never }), 'ERR_OAUTHKIT_OPTIONS', /logger must have warn/],
  ['cookie without allowedOrigins', () => tokenProxy({ ...BASE, cookie: {} as never }), 'ERR_OAUTHKIT_COOKIE', /allowedOrigins is required/],
  ['cookie origin with a path', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://app.example.com/'] } }), 'ERR_OAUTHKIT_COOKIE', /not an origin/],
  ['cookie origin that is not a URL', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['app.example.com'] } }), 'ERR_OAUTHKIT_COOKIE', /not an origin/],
  [
    '__Host- cookie with a scoped path',
    () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], path: '/auth', name: '__Host-rt' } }),
    'ERR_OAUTHKIT_COOKIE',
    /only with path "\/"/,
  ],
  ['cookie path without a slash', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], path: 'auth' } }), 'ERR_OAUTHKIT_COOKIE', /path must start with/],
  ['cookie maxAge 1.5', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], maxAge: 1.5 } }), 'ERR_OAUTHKIT_COOKIE', /maxAge/],
  ['cookie name with a space', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], name: 'a b' } }), 'ERR_OAUTHKIT_COOKIE', /not a valid cookie name/],
  ['mfaChallengeProxy with nowhere to send', () => mfaChallengeProxy(BASE), 'ERR_OAUTHKIT_URL', /mfaChallengeEndpoint, or issuer .*profile: 'eiam'/],
  ['revocationProxy with nowhere to send', () => revocationProxy(BASE), 'ERR_OAUTHKIT_URL', /revocationEndpoint, or issuer/],
])('%s', (_name, fn, code, message) => configError(fn, code, message));
