/**
 * The docs as npm ships them: the tarball is unpacked and every relative link in every shipped
 * markdown page (README.md, CHANGELOG.md, docs/*.md) must reach a file that is in the tarball, and
 * its #anchor a heading of that page. Links to what stays in the repository (the demo, the
 * benchmarks, CONTRIBUTING.md) are absolute, to the repository that package.json names; those are
 * checked against this checkout. Plus the manifest's repository fields and the LICENSE.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { packPackage, root } from '../support/pack.js';
import { allLinks, slugs } from '../support/markdown.js';

// To be confirmed before the first publish: the repository's real address (see package.json).
const REPO = 'https://github.com/express-oauth-kit/express-oauth-kit';
const BLOB = `${REPO}/blob/main/`;

let dir: string;
let pkgDir: string;
let shipped: string[];

beforeAll(() => {
  const packed = packPackage();
  shipped = packed.files;
  dir = mkdtempSync(join(tmpdir(), 'oauth-kit-unpacked-'));
  execFileSync('tar', ['-xzf', packed.tarball, '-C', dir]);
  pkgDir = join(dir, 'package');
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Why `target` is broken when `page` (a path under `base`) links to it, or undefined. */
function broken(base: string, page: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? page : normalize(join(dirname(page), decodeURIComponent(path))).replace(/\\/g, '/');
  if (file.startsWith('..')) return 'leaves the package';
  if (!existsSync(join(base, file))) return 'not in the tarball';
  if (anchor === undefined || anchor === '') return undefined;
  if (!file.endsWith('.md') || statSync(join(base, file)).isDirectory()) return 'an #anchor into a file that is not a page';
  return slugs(readFileSync(join(base, file), 'utf8')).has(anchor) ? undefined : `no heading "${anchor}" in ${file}`;
}

test('the shipped pages are README.md, CHANGELOG.md and docs/*.md', () => {
  const pages = shipped.filter((f) => f.endsWith('.md'));
  expect(pages).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'docs/require-auth.md', 'docs/errors.md']));
  expect(pages.filter((p) => !/^(README|CHANGELOG)\.md$|^docs\//.test(p))).toEqual([]);
});

test('every relative link in a shipped page reaches a shipped file (and heading)', () => {
  const pages = shipped.filter((f) => f.endsWith('.md'));
  const bad = pages.flatMap((page) =>
    allLinks(readFileSync(join(pkgDir, page), 'utf8'))
      .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t))
      .map((t) => [page, t, broken(pkgDir, page, t)])
      .filter(([, , why]) => why),
  );
  expect(bad).toEqual([]);
});

test('links from shipped pages into the repository name files (and headings) that exist in it', () => {
  const pages = shipped.filter((f) => f.endsWith('.md'));
  const intoRepo = pages.flatMap((page) => allLinks(readFileSync(join(pkgDir, page), 'utf8')).filter((t) => t.startsWith(`${REPO}/`)).map((t) => [page, t]));
  // README links the demo, the benchmarks and CONTRIBUTING.md this way.
  expect(intoRepo.length).toBeGreaterThanOrEqual(3);
  const bad = intoRepo
    .map(([page, t]) => [page, t, t.startsWith(BLOB) ? broken(root, 'README.md', t.slice(BLOB.length)) : `not under ${BLOB}`])
    .filter(([, , why]) => why);
  expect(bad).toEqual([]);
});

test('package.json names the repository, home page and issue tracker; LICENSE ships (MIT)', () => {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  expect(pkg.repository).toEqual({ type: 'git', url: `git+${REPO}.git` });
  expect(pkg.homepage).toBe(`${REPO}#readme`);
  expect(pkg.bugs).toEqual({ url: `${REPO}/issues` });
  expect(pkg.license).toBe('MIT');
  const license = readFileSync(join(pkgDir, 'LICENSE'), 'utf8');
  expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 express-oauth-kit contributors\n/);
  expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS"');
});
