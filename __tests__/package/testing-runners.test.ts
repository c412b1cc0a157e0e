/**
 * express-oauth-kit/testing from the test runners users have, against the package as installed
 * from its tarball: vitest (ESM, TypeScript) and node:test (ESM and CommonJS). The jest side is
 * __tests__/testing/test-issuer.test.ts. Each runner must pass its tests and then exit by itself:
 * a server left open by the kit would hang it until the timeout here.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { installConsumer, packPackage, pinned, root } from '../support/pack.js';

const runners = join(root, '__tests__', 'testing', 'runners');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oauth-kit-runners-'));
  installConsumer(dir, packPackage().tarball, [pinned('express')]);
  // The repository's vitest, not a second install: the consumer's test file resolves it by name.
  symlinkSync(join(root, 'node_modules', 'vitest'), join(dir, 'node_modules', 'vitest'), 'dir');
  copyFileSync(join(runners, 'vitest-kit.ts'), join(dir, 'kit.test.ts'));
  copyFileSync(join(runners, 'node-test-kit.mjs'), join(dir, 'kit.node.mjs'));
  copyFileSync(join(runners, 'node-test-kit.cjs'), join(dir, 'kit.node.cjs'));
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a command in the consumer; its output either way, and whether it exited with 0. */
function runIn(args: string[]): { ok: boolean; out: string } {
  try {
    const out = execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 100_000, env: { ...process.env, NO_COLOR: '1', CI: '1' } });
    return { ok: true, out };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}` };
  }
}

test('vitest: the kit works from a vitest suite (ESM, TypeScript) and the run exits', () => {
  const { ok, out } = runIn([join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir, '--maxWorkers=1', 'kit.test.ts']);
  expect(out).toMatch(/Tests\s+4 passed \(4\)/);
  expect(ok).toBe(true);
});

test('node:test: the kit works imported (ESM) and required (CommonJS), and the run exits', () => {
  const { ok, out } = runIn(['--no-warnings', '--test', 'kit.node.mjs', 'kit.node.cjs']);
  expect(out).toMatch(/^# pass 3$/m);
  expect(out).toMatch(/^# fail 0$/m);
  expect(ok).toBe(true);
});

test('a test that forgets close() does not keep the process alive (the server and its sockets are unref\'d)', () => {
  const script = `import { createTestIssuer } from 'express-oauth-kit/testing';
const idp = await createTestIssuer();
const res = await fetch(idp.jwksUri);
console.log(res.status, (await res.json()).keys.length);`;
  const { ok, out } = runIn(['--input-type=module', '-e', script]);
  expect(out.trim()).toBe('200 1');
  expect(ok).toBe(true);
});

/** Every file of the package that `entry` loads, following its relative imports. */
function importGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:^|[\s;])(?:import|export)\b[^'"]*?from\s*'(\.{1,2}\/[^']+)'|import\s*'(\.{1,2}\/[^']+)'/g)) {
      visit(resolve(dirname(file), (m[1] ?? m[2])!));
    }
  };
  visit(entry);
  return [...seen];
}

test('the main entry point loads nothing of the kit (no key generation or test server in production)', () => {
  const dist = join(dir, 'node_modules', 'express-oauth-kit', 'dist');
  const main = importGraph(join(dist, 'index.js')).map((f) => relative(dist, f));
  expect(main.length).toBeGreaterThan(20);
  expect(main.filter((f) => f.startsWith('testing'))).toEqual([]);
  // Control: the walk does follow imports, the kit's own entry reaches its modules.
  expect(importGraph(join(dist, 'testing', 'index.js')).map((f) => relative(dist, f))).toEqual(expect.arrayContaining(['testing/test-issuer.js', 'testing/token-endpoint.js']));
});
