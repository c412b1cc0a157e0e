/**
 * The package in the projects users have: CommonJS JavaScript, TypeScript compiled to CommonJS
 * under every `module` setting for Node (and `commonjs` with its node10 resolution), and
 * TypeScript as ES modules. Each consumer installs the packed tarball, compiles without
 * skipLibCheck and runs. The README's "CommonJS and TypeScript" section is what they paste: its
 * blocks are taken from README.md as they are. Then @arethetypeswrong/cli and publint judge the
 * same tarball.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installConsumer, packPackage, pinned, root, run } from '../support/pack.js';

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

let dir: string;
let tarball: string;

/** The fenced blocks of README.md's "CommonJS and TypeScript" section, by language. */
function readmeBlocks(): { js: string; json: string; ts: string } {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### CommonJS and TypeScript\n');
  expect(start).toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const block = (lang: string) => {
    const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
    if (!m) throw new Error(`README.md "CommonJS and TypeScript" has no \`\`\`${lang} block`);
    return m[1]!;
  };
  return { js: block('js'), json: block('json'), ts: block('ts') };
}

/** A consumer folder inside the installed project (its node_modules is found by walking up). */
function project(name: string, files: Record<string, string>): string {
  const p = join(dir, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(p, file, '..'), { recursive: true });
    writeFileSync(join(p, file), text);
  }
  return p;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oauth-kit-consumers-'));
  tarball = packPackage().tarball;
  installConsumer(dir, tarball, [pinned('express'), pinned('@types/express'), pinned('@types/node'), pinned('ioredis')]);
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Checks what a TypeScript user leans on: req.auth typed, error codes a union, instanceof narrowing,
// both entry points; `mixed` then loads the package through import() too.
const CONSUMER_TS = `import express from 'express';
import { requireAuth, OAuthError, InvalidTokenError, type OAuthErrorCode } from 'express-oauth-kit';
import { redisTokenStore, type RedisTokenStoreOptions } from 'express-oauth-kit/redis';

export const app = express();
app.get('/me', requireAuth({ issuer: 'https://idp.example.com', audience: 'api' }), (req, res) => {
  const sub: string | undefined = req.auth?.payload.sub;
  res.json({ sub });
});
export function codeOf(err: unknown): OAuthErrorCode | undefined {
  return err instanceof OAuthError ? err.code : undefined;
}
export const store: (options: RedisTokenStoreOptions) => unknown = redisTokenStore;
export const made = new InvalidTokenError('expired');
`;

// Printed by each compiled consumer: what it loaded, and whether it is the module import() gets.
const REPORT = `const cjs = require('./consumer.js');
const viaRequire = require('express-oauth-kit');
import('express-oauth-kit').then((esm) => {
  console.log(JSON.stringify({
    code: cjs.codeOf(cjs.made),
    sameModule: esm === viaRequire,
    sameClass: esm.OAuthError === viaRequire.OAuthError && cjs.made instanceof esm.OAuthError,
    store: typeof cjs.store,
    app: typeof cjs.app,
    entry: require.resolve('express-oauth-kit').split('express-oauth-kit')[1],
  }));
});
`;

test('CommonJS JavaScript: the README example runs, require() and import() give one module', () => {
  const check = `const { app, redisTokenStore } = require('./app.js');
const kit = require('express-oauth-kit');
const made = new kit.InvalidTokenError('x');
import('express-oauth-kit').then((esm) => {
  console.log(JSON.stringify({ app: typeof app, store: typeof redisTokenStore, sameModule: esm === kit, sameClass: made instanceof esm.OAuthError, entry: require.resolve('express-oauth-kit').split('express-oauth-kit')[1] }));
});
`;
  const p = project('cjs-js', { 'app.js': readmeBlocks().js, 'check.js': check, 'package.json': '{ "private": true }' });
  expect(JSON.parse(run(process.execPath, ['check.js'], p))).toEqual({ app: 'function', store: 'function', sameModule: true, sameClass: true, entry: '/dist/index.cjs' });
});

test('TypeScript → CommonJS: the README tsconfig and example compile and run', () => {
  const { json, ts } = readmeBlocks();
  const p = project('cjs-ts-readme', { 'tsconfig.json': json, 'src/app.ts': ts.replace(/^\/\/ src\/app\.ts\n/, ''), 'package.json': '{ "private": true }' });
  run(process.execPath, [tsc, '-p', '.'], p);
  expect(readFileSync(join(p, 'dist', 'app.js'), 'utf8')).toMatch(/require\("express-oauth-kit"\)/);
  writeFileSync(join(p, 'check.js'), `const { app, codeOf } = require('./dist/app.js');\nconst { InvalidTokenError } = require('express-oauth-kit');\nconsole.log(typeof app, codeOf(new InvalidTokenError('x')));\n`);
  expect(run(process.execPath, ['check.js'], p).trim()).toBe('function invalid_token');
});

test('the README tsconfig also compiles on TypeScript 6 and later (an outDir needs its rootDir)', () => {
  // `npm install typescript` now installs 7.x, where outDir without rootDir is error TS5011 ("The
  // 'rootDir' setting must be explicitly set"): a newcomer pasting the README got no build. The
  // repository's compiler is 5.9, so this is checked on the text.
  const { compilerOptions } = JSON.parse(readmeBlocks().json) as { compilerOptions: Record<string, unknown> };
  if (compilerOptions.outDir !== undefined) expect(compilerOptions.rootDir).toBe('src');
});

// node16/node18 do not model require() of ES modules (TS1479 before the .d.cts types); commonjs
// uses node10 resolution, which reads "types" and "typesVersions" instead of "exports".
test.each(['node16', 'node18', 'node20', 'nodenext', 'commonjs'])('TypeScript → CommonJS with "module": "%s" compiles without skipLibCheck and runs', (module) => {
  const p = project(`cjs-ts-${module}`, {
    'consumer.ts': CONSUMER_TS,
    'check.js': REPORT,
    'package.json': '{ "private": true }',
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module, ...(module === 'commonjs' ? { moduleResolution: 'node10', esModuleInterop: true } : {}), target: 'es2022', strict: true, types: ['node'] },
      files: ['consumer.ts'],
    }),
  });
  run(process.execPath, [tsc, '-p', '.'], p);
  expect(readFileSync(join(p, 'consumer.js'), 'utf8')).toMatch(/require\("express-oauth-kit\/redis"\)/);
  expect(JSON.parse(run(process.execPath, ['check.js'], p))).toEqual({ code: 'invalid_token', sameModule: true, sameClass: true, store: 'function', app: 'function', entry: '/dist/index.cjs' });
});

test.each([
  ['nodenext', {}],
  ['esnext', { moduleResolution: 'bundler' }],
])('TypeScript as ES modules ("module": "%s") compiles against the ES module types and runs', (module, extra) => {
  const p = project(`esm-ts-${module}`, {
    'consumer.ts': CONSUMER_TS,
    'package.json': '{ "private": true, "type": "module" }',
    'check.js': `import { codeOf, made, app } from './consumer.js';\nimport * as kit from 'express-oauth-kit';\nconsole.log(codeOf(made), made instanceof kit.OAuthError, typeof app, import.meta.resolve('express-oauth-kit').split('express-oauth-kit')[1]);\n`,
    'tsconfig.json': JSON.stringify({ compilerOptions: { module, ...extra, target: 'es2022', strict: true, types: ['node'] }, files: ['consumer.ts'] }),
  });
  expect(run(process.execPath, [tsc, '-p', '.', '--traceResolution'], p)).toMatch(/'express-oauth-kit' was successfully resolved to '[^']*\/dist\/index\.d\.ts'/);
  expect(readFileSync(join(p, 'consumer.js'), 'utf8')).toMatch(/from 'express-oauth-kit\/redis'/);
  expect(run(process.execPath, ['check.js'], p).trim()).toBe('invalid_token true function /dist/index.js');
});

test('every entry point in "exports": require() and import() give the same module object, through the .cjs wrapper', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const names = Object.keys(pkg.exports)
    .filter((e) => e !== './package.json')
    .map((e) => (e === '.' ? 'express-oauth-kit' : `express-oauth-kit/${e.slice(2)}`));
  const p = project('every-entry', {
    'package.json': '{ "private": true }',
    'check.js': `const names = ${JSON.stringify(names)};
Promise.all(names.map(async (n) => {
  const viaRequire = require(n);
  const viaImport = await import(n);
  return [n, viaRequire === viaImport, Object.keys(viaRequire).length > 0, require.resolve(n).split('node_modules/express-oauth-kit/')[1]];
})).then((r) => console.log(JSON.stringify(r)));
`,
  });
  const expected = names.map((n) => [n, true, true, n === 'express-oauth-kit' ? 'dist/index.cjs' : `dist/${n.slice('express-oauth-kit/'.length)}/index.cjs`]);
  expect(JSON.parse(run(process.execPath, ['check.js'], p))).toEqual(expected);
});

test('@arethetypeswrong/cli finds no problem in any resolution mode, for every entry point', () => {
  const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
  const out = JSON.parse(run(process.execPath, [attw, tarball, '--format', 'json'], root)) as {
    analysis: { problems: unknown[]; entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }> };
    problems: unknown[];
  };
  expect(out.analysis.problems).toEqual([]);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  expect(Object.keys(out.analysis.entrypoints).sort()).toEqual(Object.keys(pkg.exports).sort());
  const table = Object.fromEntries(
    Object.entries(out.analysis.entrypoints).map(([entry, { resolutions }]) => [entry, Object.fromEntries(Object.entries(resolutions).map(([mode, r]) => [mode, r.resolution?.fileName.replace(/^.*\/express-oauth-kit\//, '') ?? 'unresolved']))]),
  );
  for (const entry of Object.keys(pkg.exports).filter((e) => e !== './package.json')) {
    const base = entry === '.' ? 'dist/index' : `dist/${entry.slice(2)}/index`;
    // CommonJS modes get the .d.cts twins, ES module modes the .d.ts files.
    expect([entry, table[entry]]).toEqual([entry, { node10: `${base}.d.cts`, 'node16-cjs': `${base}.d.cts`, 'node16-esm': `${base}.d.ts`, bundler: `${base}.d.ts` }]);
  }
});

test('publint --strict has nothing to say', () => {
  const publint = join(root, 'node_modules', 'publint', 'src', 'cli.js');
  expect(run(process.execPath, [publint, 'run', '--strict', tarball], root)).toMatch(/All good!/);
});
