/**
 * nodeAuth() and webAuth() take a guard, where requireAuth() takes options: a newcomer's first
 * try is often nodeAuth({ issuer, audience }). That, or a misspelt nodeAuth option, is a
 * ConfigError at start-up that says what to write, not a 500 on every request.
 */
import { ConfigError, createGuard, nodeAuth, webAuth } from '../../lib/index.js';

const options = { issuer: 'https://idp.example.test', audience: 'https://api.example.test', jwks: { keys: [] } };

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('no ConfigError thrown');
}

test.each([
  ['nodeAuth', 'the guard options', () => nodeAuth(options as never), 'adapters.md#nodehttp'],
  ['nodeAuth', 'nothing', () => nodeAuth(undefined as never), 'adapters.md#nodehttp'],
  ['webAuth', 'the guard options', () => webAuth(options as never), 'adapters.md#web-standard-request--response'],
  ['webAuth', 'null', () => webAuth(null as never), 'adapters.md#web-standard-request--response'],
] as const)('%s given %s → ConfigError naming createGuard()', (adapter, _what, misuse, topic) => {
  const err = thrown(misuse);
  expect(err.code).toBe('config_options');
  expect(err.message).toMatch(new RegExp(`^${adapter}\\(\\): takes a guard: ${adapter}\\(createGuard\\(\\{ issuer, audience, … \\}\\)\\), not the guard's options`));
  expect(err.docs).toBe(`express-oauth-kit/docs/${topic}`);
});

test('a misspelt nodeAuth option is refused with the right name', () => {
  const guard = createGuard(options);
  expect(thrown(() => nodeAuth(guard, { trustproxy: true } as never)).message).toMatch(/^nodeAuth\(\): unknown option "trustproxy"; did you mean trustProxy\?/);
  expect(thrown(() => nodeAuth(guard, { trustProxy: 'yes' } as never)).message).toMatch(/^nodeAuth\(\): trustProxy must be true or false/);
});

test('a guard is accepted by both', () => {
  const guard = createGuard(options);
  expect(typeof nodeAuth(guard, { trustProxy: true })).toBe('function');
  expect(typeof webAuth(guard)).toBe('function');
});
