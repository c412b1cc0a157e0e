/**
 * The examples in the docs compile for a user: the package is packed and installed into a fresh
 * strict TypeScript project (strict, module nodenext, "type": "module"), and every ```ts block of
 * README.md and docs/*.md that starts with an `import` becomes its own file there, next to the
 * recipe docs/redis-rate-limit.ts, which imports the package by its name as a user's copy does.
 * One tsc run checks them all against the shipped .d.ts files.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installConsumer, packPackage, pinned, root } from '../support/pack.js';

interface Block {
  /** File name in the consumer project. */
  file: string;
  /** Page and line of the block's first code line, for error messages. */
  page: string;
  line: number;
  code: string;
}

const PAGES = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Fenced ```ts blocks whose first line is an import: complete examples, not fragments. */
function blocks(page: string): Block[] {
  const lines = readFileSync(join(root, page), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    const code = lines.slice(i + 1, end).join('\n');
    if (/^import\s/.test(code)) {
      out.push({ file: `${page.replace(/\W+/g, '_')}_${i + 2}.ts`, page, line: i + 2, code });
    }
    i = end;
  }
  return out;
}

// Placeholders the examples use without declaring them: the app's own logger and monitoring.
const AMBIENT = `declare const logger: { warn(...args: unknown[]): void; error(...args: unknown[]): void; info(...args: unknown[]): void };
declare const metrics: { increment(name: string): void };
declare const alerting: { page(message: string): void };
`;

// Proves the harness type-checks at all: this file must fail, and exactly here.
const NEGATIVE = `import express from 'express';
import { requireAuth } from 'express-oauth-kit';
const app = express();
app.get('/', requireAuth({ issuer: 'https://idp.example.com', audience: 'api' }), (req, res) => {
  res.json(req.auth!.payload.nope.toUpperCase());
});
`;

let dir: string;
let found: Block[];
let errors: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oauth-kit-docs-'));
  const { tarball } = packPackage();
  installConsumer(
    dir,
    tarball,
    ['express', '@types/express', '@types/node', 'ioredis', 'express-rate-limit', 'rate-limit-redis', '@opentelemetry/api', '@opentelemetry/sdk-metrics', '@modelcontextprotocol/sdk'].map(pinned),
    { type: 'module' },
  );
  // docs/testing.md's examples import the test runners and supertest: linked from this repository
  // rather than installed again (vitest alone is a large install).
  for (const name of ['vitest', '@jest/globals', 'supertest', '@types/supertest']) {
    mkdirSync(join(dir, 'node_modules', name, '..'), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  }
  const src = join(dir, 'src');
  mkdirSync(src);
  found = PAGES.flatMap(blocks);
  for (const b of found) writeFileSync(join(src, b.file), b.code);
  // The fleet page imports the copied recipe as './rate-limits.js'.
  copyFileSync(join(root, 'docs', 'redis-rate-limit.ts'), join(src, 'rate-limits.ts'));
  writeFileSync(join(src, 'ambient.d.ts'), AMBIENT);
  writeFileSync(join(src, 'negative.ts'), NEGATIVE);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', noEmit: true, types: ['node'] },
      include: ['src'],
    }),
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const res = spawnTsc(tsc);
  errors = res.split('\n').filter((l) => /^src\/.*error TS/.test(l));
}, 240_000);

function spawnTsc(tsc: string): string {
  try {
    return execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `src/<file>(line,col): error …` → `<page>:<line>: error …`. */
function located(error: string): string {
  const m = /^src\/([^(]+)\((\d+),\d+\): (.*)$/.exec(error);
  const b = m && found.find((x) => x.file === m[1]);
  if (!m || !b) return error;
  return `${b.page}:${b.line + Number(m[2]) - 1}: ${m[3]}`;
}

test('the docs have complete examples for every job', () => {
  const pages = new Set(found.map((b) => b.page));
  for (const p of ['README.md', 'docs/require-auth.md', 'docs/token-proxy.md', 'docs/m2m.md', 'docs/errors.md', 'docs/fleet.md', 'docs/testing.md']) expect(pages).toContain(p);
  expect(found.length).toBeGreaterThanOrEqual(10);
});

test('the harness type-checks: a wrong example fails where it is wrong', () => {
  expect(errors.filter((e) => e.startsWith('src/negative.ts'))).toEqual([expect.stringMatching(/^src\/negative\.ts\(5,\d+\): error TS/)]);
});

test('every import-led ts block of README.md and docs/*.md compiles against the installed package', () => {
  expect(errors.filter((e) => !e.startsWith('src/negative.ts') && !e.startsWith('src/rate-limits.ts')).map(located)).toEqual([]);
});

test('the recipe docs/redis-rate-limit.ts imports the package by name and compiles in the consumer', () => {
  const recipe = readFileSync(join(root, 'docs', 'redis-rate-limit.ts'), 'utf8');
  expect(recipe).toMatch(/from 'express-oauth-kit'/);
  expect(recipe).not.toMatch(/from '\.\.?\//);
  expect(errors.filter((e) => e.startsWith('src/rate-limits.ts'))).toEqual([]);
});
