/**
 * The published package as a user gets it: `npm pack`, install the tarball into fresh consumer
 * projects, then import it as ESM, require() it from CommonJS, and compile a TypeScript consumer
 * against the shipped .d.ts. A broken `exports` map or a missing file fails here.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../lib/index.js';
import { installConsumer, packPackage, pinned, root, run } from '../support/pack.js';

const EXPORTS = ['requireAuth', 'requireScopes', 'requireAnyScope', 'claimCheck', 'tokenProxy', 'mfaChallengeProxy', 'revocationProxy', 'createM2MClient', 'OAuthError', 'oauthErrorHandler'];

let dir: string;
let files: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oauth-kit-consumer-'));
  const packed = packPackage();
  files = packed.files;
  installConsumer(dir, packed.tarball, [pinned('express'), pinned('@types/express'), pinned('@types/node')]);
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the tarball ships dist with types and nothing of the sources or tests', () => {
  expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']));
  // The CommonJS face of each entry point (scripts/cjs-entries.ts): a wrapper and the .d.cts twins.
  expect(files).toEqual(expect.arrayContaining(['dist/index.cjs', 'dist/index.d.cts', 'dist/redis/index.cjs', 'dist/redis/index.d.cts']));
  expect(files.filter((f) => /^(lib|__tests__|bench|demo-app|fixtures)\//.test(f) || f.endsWith('.map'))).toEqual([]);
});

test('the docs pages ship, so the page a ConfigError names is on disk where the error was thrown', () => {
  const pages = ['require-auth', 'token-proxy', 'm2m', 'errors', 'fleet', 'security'].map((p) => `docs/${p}.md`);
  expect(files).toEqual(expect.arrayContaining(pages));
  const err = new ConfigError('requireAuth(): x', { code: 'config_options' });
  const page = err.docs.replace(/^express-oauth-kit\//, '').replace(/#.*/, '');
  expect(files).toContain(page);
  expect(readdirSync(join(dir, 'node_modules', 'express-oauth-kit', 'docs'))).toEqual(expect.arrayContaining(pages.map((p) => p.slice(5))));
});

test('ESM import', () => {
  writeFileSync(join(dir, 'esm.mjs'), `import * as kit from 'express-oauth-kit';\nconsole.log(JSON.stringify(${JSON.stringify(EXPORTS)}.filter((n) => typeof kit[n] !== 'function')));\n`);
  expect(JSON.parse(run(process.execPath, ['esm.mjs'], dir))).toEqual([]);
});

test('CommonJS require() (Node ≥ 20.19 loads ES modules synchronously)', () => {
  writeFileSync(join(dir, 'cjs.cjs'), `const kit = require('express-oauth-kit');\nconsole.log(JSON.stringify(${JSON.stringify(EXPORTS)}.filter((n) => typeof kit[n] !== 'function')));\n`);
  expect(JSON.parse(run(process.execPath, ['--no-warnings', 'cjs.cjs'], dir))).toEqual([]);
});

test('the express-oauth-kit/redis subpath loads both ways without pulling ioredis into the core', () => {
  writeFileSync(join(dir, 'redis.mjs'), `import { redisTokenStore } from 'express-oauth-kit/redis';\nconsole.log(typeof redisTokenStore);\n`);
  writeFileSync(join(dir, 'redis.cjs'), `console.log(typeof require('express-oauth-kit/redis').redisTokenStore);\n`);
  expect(run(process.execPath, ['redis.mjs'], dir).trim()).toBe('function');
  expect(run(process.execPath, ['--no-warnings', 'redis.cjs'], dir).trim()).toBe('function');
});

test('a TypeScript consumer compiles against the shipped .d.ts (req.auth typed, error codes a union)', () => {
  writeFileSync(
    join(dir, 'consumer.ts'),
    `import express from 'express';
import { requireAuth, requireScopes, tokenProxy, createM2MClient, oauthErrorHandler, OAuthError, type OAuthErrorCode } from 'express-oauth-kit';

const app = express();
app.post('/auth/token', tokenProxy({ tokenEndpoint: 'https://idp.example.com/oauth2/token', clientId: 'id', clientSecret: 'secret' }));
app.get('/me', requireAuth({ issuer: 'https://idp.example.com', audience: 'api' }), requireScopes('read'), (req, res) => {
  const sub: string | undefined = req.auth?.payload.sub;
  const scopes: readonly string[] = req.auth?.scopes ?? [];
  res.json({ sub, scopes });
});
const m2m = createM2MClient({ tokenEndpoint: 'https://idp.example.com/oauth2/token', clientId: 'svc', clientSecret: 's' });
void m2m.getToken();
app.use(oauthErrorHandler());
export function describe(err: unknown): string {
  if (!(err instanceof OAuthError)) return 'other';
  const code: OAuthErrorCode = err.code;
  switch (code) {
    case 'invalid_token': return 'bad token';
    case 'insufficient_scope': return 'forbidden';
    default: return code;
  }
}
`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'] }, files: ['consumer.ts'] }),
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  expect(() => run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir)).not.toThrow();
});

test('installs only jose and lru-cache at run time', () => {
  const installed = readdirSync(join(dir, 'node_modules', 'express-oauth-kit', '..'));
  expect(installed).toEqual(expect.arrayContaining(['jose', 'lru-cache']));
  const pkg = JSON.parse(run(process.execPath, ['-p', "JSON.stringify(require('./node_modules/express-oauth-kit/package.json'))"], dir));
  expect(Object.keys(pkg.dependencies).sort()).toEqual(['jose', 'lru-cache']);
});
