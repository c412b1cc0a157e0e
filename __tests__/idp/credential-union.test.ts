/**
 * `clientSecret` or `privateKey`, never both: a TypeScript union in the IdP client options shared
 * by createM2MClient() and the proxies, so the compiler refuses both at once (`npx tsc --noEmit`
 * fails if a `@ts-expect-error` below stops being an error); the start-up check stays for
 * JavaScript callers, as the runtime half of each case shows.
 */
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, createM2MClient, mfaChallengeProxy, revocationProxy, tokenProxy, type IdpClientOptions, type M2MClientOptions, type TokenProxyOptions } from '../../lib/index.js';

const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const endpoint = { tokenEndpoint: 'https://idp.example.test/oauth2/token', issuer: 'https://idp.example.test', clientId: 'svc' };

test('either credential alone compiles and constructs', () => {
  const bySecret: M2MClientOptions = { ...endpoint, clientSecret: 's3cr3t-value' };
  const byKey: M2MClientOptions = { ...endpoint, privateKey, kid: 'k1' };
  const proxyByKey: TokenProxyOptions = { ...endpoint, privateKey, assertionAudience: 'token_endpoint' };
  expect(createM2MClient(bySecret).clientId).toBe('svc');
  expect(createM2MClient(byKey).clientId).toBe('svc');
  expect(typeof tokenProxy(proxyByKey)).toBe('function');
});

test('both at once: a compile error in TypeScript, a ConfigError at start-up in JavaScript', () => {
  const attempts: (() => unknown)[] = [
    // @ts-expect-error clientSecret and privateKey are exclusive
    () => createM2MClient({ ...endpoint, clientSecret: 's3cr3t-value', privateKey }),
    // @ts-expect-error clientSecret and privateKey are exclusive
    () => tokenProxy({ ...endpoint, clientSecret: 's3cr3t-value', privateKey }),
    // @ts-expect-error clientSecret and privateKey are exclusive
    () => mfaChallengeProxy({ ...endpoint, clientSecret: 's3cr3t-value', privateKey }),
    // @ts-expect-error clientSecret and privateKey are exclusive
    () => revocationProxy({ ...endpoint, clientSecret: 's3cr3t-value', privateKey }),
    // @ts-expect-error the private_key_jwt settings (kid, alg, assertionAudience) need privateKey, not a secret
    () => createM2MClient({ ...endpoint, clientSecret: 's3cr3t-value', kid: 'k1' }),
  ];
  for (const attempt of attempts) {
    let err: unknown;
    try {
      attempt();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('config_client');
    expect((err as Error).message).not.toContain('s3cr3t-value');
  }
});

test('the shared IdpClientOptions type is the same union', () => {
  // @ts-expect-error clientSecret and privateKey are exclusive
  const both: IdpClientOptions = { ...endpoint, clientSecret: 's3cr3t-value', privateKey };
  expect(both.clientId).toBe('svc');
});
