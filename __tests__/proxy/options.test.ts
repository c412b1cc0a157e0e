/** Misuse of the proxy factories fails at construction with a ConfigError that says what to fix. */
import {
  ConfigError,
  mfaChallengeProxy,
  proxyRequestParser,
  revocationProxy,
  tokenProxy,
  type ConfigErrorCode,
  type TokenProxyOptions,
} from '../../lib/index.js';

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
  ['no options', () => tokenProxy(undefined as never), 'config_options', /needs an options object/],
  ['no clientId', () => tokenProxy({ ...BASE, clientId: '' }), 'config_client', /clientId is required/],
  ['no clientSecret', () => tokenProxy({ ...BASE, clientSecret: undefined as never }), 'config_client', /clientSecret is required/],
  ['no endpoint', () => tokenProxy({ clientId: 'a', clientSecret: 'b' }), 'config_url', /tokenEndpoint, or issuer/],
  ['http to a remote host', () => tokenProxy({ ...BASE, tokenEndpoint: 'http://idp.example.com/token' }), 'config_url', /https/],
  ['a typo in an option name', () => tokenProxy({ ...BASE, clientAuthh: 'client_secret_post' } as never), 'config_options', /unknown option "clientAuthh"/],
  ['a near miss gets a suggestion', () => tokenProxy({ ...BASE, timout: 5 } as never), 'config_options', /^tokenProxy\(\): unknown option "timout"; did you mean timeoutMs\?/],
  ['snake_case gets the camelCase name', () => revocationProxy({ ...BASE, client_secret: 'x' } as never), 'config_options', /^revocationProxy\(\): unknown option "client_secret"; did you mean clientSecret\?/],
  ['another library\'s name', () => mfaChallengeProxy({ ...BASE, tokenUrl: 'https://idp.example.com/t' } as never), 'config_options', /did you mean tokenEndpoint\?/],
  ['a typo inside cookie', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], maxage: 60 } as never }), 'config_options', /unknown option "cookie.maxage"; did you mean cookie.maxAgeSeconds\?/],
  ['allowInsecureHttp "true"', () => tokenProxy({ ...BASE, allowInsecureHttp: 'true' as never }), 'config_options', /allowInsecureHttp must be true or false/],
  ['proxyRequestParser with a typo', () => proxyRequestParser({ bodylimit: 10 } as never), 'config_options', /^proxyRequestParser\(\): unknown option "bodylimit"; did you mean bodyLimit\?/],
  ['proxyRequestParser bodyLimit 0', () => proxyRequestParser({ bodyLimit: 0 }), 'config_number', /bodyLimit must be a positive number/],
  ['bad clientAuth', () => tokenProxy({ ...BASE, clientAuth: 'basic' as never }), 'config_client', /client_secret_basic/],
  ['bad paramsIn', () => tokenProxy({ ...BASE, paramsIn: 'header' as never }), 'config_options', /paramsIn/],
  ['client_credentials in grants', () => tokenProxy({ ...BASE, grants: ['password', 'client_credentials' as never] }), 'config_grants', /createM2MClient/],
  ['an unknown grant', () => tokenProxy({ ...BASE, grants: ['implicit' as never] }), 'config_grants', /unknown grant "implicit"/],
  ['empty grants', () => tokenProxy({ ...BASE, grants: [] }), 'config_grants', /non-empty array/],
  ['allowParams naming client_secret', () => tokenProxy({ ...BASE, allowParams: { password: ['client_secret'] } }), 'config_options', /must not name "client_secret"/],
  ['allowParams for an unknown grant', () => tokenProxy({ ...BASE, allowParams: { implicit: ['x'] } as never }), 'config_grants', /unknown grant "implicit"/],
  ['allowParams not an object', () => tokenProxy({ ...BASE, allowParams: ['audience'] as never }), 'config_options', /keyed by grant/],
  ['extraParams setting grant_type', () => tokenProxy({ ...BASE, extraParams: { grant_type: 'client_credentials' } }), 'config_options', /must not set "grant_type"/],
  ['extraParams with a number', () => tokenProxy({ ...BASE, extraParams: { auth_source_id: 5 as never } }), 'config_options', /auth_source_id must be a string/],
  ['bodyLimit 0', () => tokenProxy({ ...BASE, bodyLimit: 0 }), 'config_number', /bodyLimit must be a positive number/],
  ['timeoutMs -1', () => tokenProxy({ ...BASE, timeoutMs: -1 }), 'config_number', /timeoutMs/],
  ['allowQueryParams "yes"', () => tokenProxy({ ...BASE, allowQueryParams: 'yes' as never }), 'config_options', /allowQueryParams must be true or false/],
  ['onResult not a function', () => tokenProxy({ ...BASE, onResult: {} as never }), 'config_options', /onResult must be a function/],
  ['a logger without error()', () => tokenProxy({ ...BASE, logger: { warn: () => undefined } as never }), 'config_options', /logger must have warn/],
  ['cookie without allowedOrigins', () => tokenProxy({ ...BASE, cookie: {} as never }), 'config_cookie', /allowedOrigins is required/],
  ['cookie origin with a path', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://app.example.com/'] } }), 'config_cookie', /not an origin/],
  ['cookie origin that is not a URL', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['app.example.com'] } }), 'config_cookie', /not an origin/],
  [
    '__Host- cookie with a scoped path',
    () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], path: '/auth', name: '__Host-rt' } }),
    'config_cookie',
    /only with path "\/"/,
  ],
  ['cookie path without a slash', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], path: 'auth' } }), 'config_cookie', /path must start with/],
  ['cookie maxAge 1.5', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], maxAgeSeconds: 1.5 } }), 'config_cookie', /maxAge/],
  ['cookie name with a space', () => tokenProxy({ ...BASE, cookie: { allowedOrigins: ['https://a.example'], name: 'a b' } }), 'config_cookie', /not a valid cookie name/],
  ['mfaChallengeProxy with nowhere to send', () => mfaChallengeProxy(BASE), 'config_url', /mfaChallengeEndpoint, or issuer .*profile: 'eiam'/],
  ['revocationProxy with nowhere to send', () => revocationProxy(BASE), 'config_url', /revocationEndpoint, or issuer/],
])('%s', (_name, fn, code, message) => configError(fn, code, message));

test('each proxy factory points err.docs at the proxy options table, whatever the option', () => {
  for (const fn of [() => tokenProxy({ ...BASE, timout: 5 } as never), () => tokenProxy({ ...BASE, clientId: '' }), () => mfaChallengeProxy(BASE), () => tokenProxy({ ...BASE, bodyLimit: -1 })]) {
    expect(fn).toThrow(expect.objectContaining({ docs: 'express-oauth-kit/docs/token-proxy.md#options' }));
  }
});
