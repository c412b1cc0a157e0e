/**
 * The error model: one base class, one constructor shape, literal names that survive a minifier,
 * and docs/errors.md's tables in step with the classes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import {
  ConfigError,
  IdpError,
  InsufficientScopeError,
  InvalidTokenError,
  JwksUnavailableError,
  MethodNotAllowedError,
  MissingTokenError,
  OAuthError,
  OAuthKitError,
  RequestTooLargeError,
  TokenStoreError,
  isOAuthKitError,
  type OAuthKitErrorCode,
} from '../lib/index.js';
import { RedisUnavailableError } from '../lib/redis/index.js';
import { ERRORS_PAGE, exportedErrorClasses, withErrorTables } from '../scripts/errors-table.js';

const all = exportedErrorClasses();
const classes = all;

test('every exported error class extends OAuthKitError, with its export name as a literal name', () => {
  expect(all.length).toBe(28);
  for (const [exported, cls] of classes) {
    const err = new cls('detail', { idpStatus: 502, operation: 'get', clientStatus: 'ready' });
    expect(err).toBeInstanceOf(OAuthKitError);
    expect(err).toBeInstanceOf(Error);
    expect([exported, err.name]).toEqual([exported, exported]);
    // On the prototype, so no instance carries it and the base constructor already sees it.
    expect(Object.getOwnPropertyDescriptor(cls.prototype, 'name')?.value).toBe(exported);
    expect(String(err)).toMatch(new RegExp(`^${exported}: `));
  }
  expect(new RedisUnavailableError('down', { clientStatus: 'end' }).status).toBe('end');
  expect(new ConfigError('x')).not.toBeInstanceOf(TypeError);
});

test('one constructor shape: (description, { cause, headers, class members })', () => {
  const cause = new Error('socket hang up');
  for (const [, cls] of classes) {
    const err = new cls('the detail', { cause, idpStatus: 400, operation: 'set', clientStatus: 'end' });
    expect(err.cause).toBe(cause);
    expect(err.message).toMatch(/the detail/);
  }
  // No `cause` member at all without one, as for a plain Error.
  expect('cause' in new InvalidTokenError('x')).toBe(false);

  const scope = new InsufficientScopeError('needs more', { requiredScopes: ['a', 'b'], headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope"' } });
  expect([scope.status, scope.requiredScopes, scope.headers, scope.toJSON()]).toEqual([
    403,
    ['a', 'b'],
    { 'WWW-Authenticate': 'Bearer error="insufficient_scope"' },
    { error: 'insufficient_scope', error_description: 'needs more', scope: 'a b' },
  ]);
  const idp = new IdpError('detail', { idpStatus: 401, idpError: 'invalid_client', idpErrorDescription: 'bad secret', retryAfterMs: 3000 });
  expect([idp.status, idp.idpStatus, idp.idpError, idp.idpErrorDescription, idp.retryAfterMs]).toEqual([502, 401, 'invalid_client', 'bad secret', 3000]);
  // The one-line stack holds the public sentence, which depends on idpError: built after it is set.
  expect(idp.stack).toBe('IdpError: The server could not authenticate to the identity provider');
  expect(new JwksUnavailableError('x', { retryAfterSeconds: 9, headers: { 'Retry-After': '1', 'X-A': 'b' } }).headers).toEqual({ 'Retry-After': '9', 'X-A': 'b' });
  // Fixed descriptions are defaults; the headers the class must send cannot be dropped.
  expect([new MethodNotAllowedError().message, new MethodNotAllowedError(undefined, { headers: { Allow: 'GET' } }).headers]).toEqual(['Use POST', { Allow: 'POST' }]);
  expect(new RequestTooLargeError().headers).toEqual({ Connection: 'close' });
  expect(new MissingTokenError().toJSON()).toEqual({ error_description: 'Authentication required: send an Authorization: Bearer <token> header' });
  const config = new ConfigError('requireAuth(): audience is required', { code: 'config_audience' });
  expect([config.code, config.docs]).toEqual(['config_audience', 'express-oauth-kit/docs/errors.md#config_audience']);
  expect(new ConfigError('x').code).toBe('config_options');
  const store = new TokenStoreError('get() failed', { operation: 'get' });
  expect([store.code, store.operation]).toEqual(['token_store_error', 'get']);
});

test('client errors keep a one-line stack with the public description, no frames', () => {
  for (const [, cls] of classes) {
    const err = new cls('internal detail https://idp.internal/jwks', { idpStatus: 500, operation: 'get' });
    if (!(err instanceof OAuthError)) continue;
    expect(err.stack).toBe(`${err.name}: ${err.publicDescription}`);
  }
});

test('isOAuthKitError narrows so switch (err.code) reaches each class’s own members', () => {
  const seen: string[] = [];
  const errors: unknown[] = [new InsufficientScopeError('x', { requiredScopes: ['s'] }), new TokenStoreError('x', { operation: 'lock' }), new ConfigError('x'), new Error('not ours')];
  for (const err of errors) {
    if (!isOAuthKitError(err)) {
      seen.push('other');
      continue;
    }
    const code: OAuthKitErrorCode = err.code;
    switch (err.code) {
      case 'insufficient_scope':
        seen.push(err.requiredScopes.join());
        break;
      case 'token_store_error':
        seen.push(err.operation);
        break;
      default:
        seen.push(code);
    }
  }
  expect(seen).toEqual(['s', 'lock', 'config_options', 'other']);
});

test('names survive minification: a minified bundle still says InvalidTokenError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'errors-min-'));
  try {
    const out = join(dir, 'bundle.mjs');
    // The three error modules the probe needs, bundled and minified on their own (no jose, no express).
    const entry = ["oauth-error", "config-error", "store-errors"].map((m) => `export * from './lib/errors/${m}.ts';`).join('\n');
    buildSync({ stdin: { contents: entry, resolveDir: process.cwd(), loader: 'ts' }, bundle: true, minify: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'silent' });
    // The minifier really renamed the classes, so constructor.name no longer says which case it is.
    const probe = `import * as e from ${JSON.stringify(out)};
      const t = new e.InvalidTokenError('x'); const c = new e.ConfigError('x'); const s = new e.TokenStoreError('x', { operation: 'get' });
      console.log(JSON.stringify([t.constructor.name, t.name, t.stack, String(c).split(':')[0], s.name]));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const [ctorName, name, stack, configName, storeName] = JSON.parse(run.stdout) as string[];
    expect(ctorName).not.toBe('InvalidTokenError');
    expect([name, stack, configName, storeName]).toEqual(['InvalidTokenError', 'InvalidTokenError: x', 'ConfigError', 'TokenStoreError']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('docs/errors.md lists exactly what the classes say (npm run docs:errors rewrites it)', () => {
  const page = readFileSync(ERRORS_PAGE, 'utf8');
  expect(page).toBe(withErrorTables(page));
});
