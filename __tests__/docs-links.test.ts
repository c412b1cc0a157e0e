/**
 * The docs hold together: every page and section a ConfigError names exists (so "see …" in an
 * error message leads somewhere), and every relative link between the pages reaches an existing
 * file and, for `#anchors`, an existing heading under GitHub's slug rules.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { ConfigError, requireAuth, tokenProxy, createM2MClient } from '../lib/index.js';

const root = join(import.meta.dirname, '..');

// Written on another branch of the work; a link to it is checked once the file is there.
const WRITTEN_ELSEWHERE = new Set(['bench/README.md']);

/** The pages: README, CONTRIBUTING, docs/*.md and every other README in the repository's folders. */
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...['demo-app/README.md', 'demo-app/mock-idp/README.md', 'bench/README.md'].filter((p) => existsSync(join(root, p))),
];

/** GitHub's heading ids (github-slugger): lower case, punctuation and symbols dropped, each space a dash, repeats numbered. */
export function slugs(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The lines outside fenced code blocks. */
function prose(markdown: string): string[] {
  let fence = false;
  return markdown.split('\n').filter((l) => {
    if (/^\s*(```|~~~)/.test(l)) {
      fence = !fence;
      return false;
    }
    return !fence;
  });
}

/** Relative link targets of a page (inline code removed; web and mail links skipped). */
function links(markdown: string): string[] {
  const out: string[] = [];
  for (const line of prose(markdown)) {
    for (const m of line.replace(/`[^`]*`/g, '``').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (!/^[a-z][a-z0-9+.-]*:/i.test(m[1]!)) out.push(m[1]!);
    }
  }
  return out;
}

const read = (p: string) => readFileSync(join(root, p), 'utf8');
const anchorsOf = new Map(PAGES.map((p) => [p, slugs(read(p))]));

/** Why `target` (linked from `page`) is broken, or undefined when it leads somewhere. */
function broken(page: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? page : normalize(join(dirname(page), decodeURIComponent(path))).replace(/\\/g, '/');
  if (file.startsWith('..')) return 'leaves the repository';
  if (!existsSync(join(root, file))) return WRITTEN_ELSEWHERE.has(file) ? undefined : 'no such file';
  if (anchor === undefined || anchor === '') return undefined;
  if (!file.endsWith('.md') || statSync(join(root, file)).isDirectory()) return 'an #anchor into a file that is not a page';
  const anchors = anchorsOf.get(file) ?? slugs(read(file));
  return anchors.has(anchor) ? undefined : `no heading with id "${anchor}" in ${file}`;
}

test('the slug rules are GitHub\'s', () => {
  const s = slugs('# `requireAuth()` / `requireScopes()`\n## Each grant: request and response\n```sh\n# not a heading\n```\n## Errors\n## Errors\n### snake_case — and Ünïcode');
  expect([...s]).toEqual(['requireauth--requirescopes', 'each-grant-request-and-response', 'errors', 'errors-1', 'snake_case--and-ünïcode']);
});

test.each(PAGES)('every relative link in %s leads to an existing file and heading', (page) => {
  const targets = links(read(page));
  const bad = targets.map((t) => [t, broken(page, t)]).filter(([, why]) => why);
  expect(bad).toEqual([]);
});

test('the pages that ship in the package (docs/) link only to pages that ship too', () => {
  const shipped = (file: string) => file === 'README.md' || file.startsWith('docs/');
  const outside = PAGES.filter((p) => p.startsWith('docs/')).flatMap((page) =>
    links(read(page))
      .map((t) => t.split('#')[0]!)
      .filter((path) => path !== '')
      .map((path) => normalize(join(dirname(page), path)).replace(/\\/g, '/'))
      .filter((file) => !shipped(file))
      .map((file) => `${page} → ${file}`),
  );
  expect(outside).toEqual([]);
});

// ---- ConfigError → page#section ----

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `express-oauth-kit/docs/page.md#anchor` → [repository path, anchor]. */
function target(docs: string): [string, string] {
  const m = /^express-oauth-kit\/(docs\/[a-z0-9-]+\.md)#([a-z0-9-]+)$/.exec(docs);
  if (!m) throw new Error(`not a docs reference: ${docs}`);
  return [m[1]!, m[2]!];
}

const FALLBACK = new ConfigError('ERR_OAUTHKIT_URL', 'issuer must be a URL string').docs;

test('every topic named in lib/ maps to an existing page and section (not the generic one)', () => {
  const named = new Set<string>();
  for (const file of sources(join(root, 'lib'))) {
    const src = readFileSync(file, 'utf8');
    // The anchor argument of `new ConfigError(code, message, anchor)`, and defaults of helpers that pass one on.
    for (const call of src.matchAll(/new ConfigError\(([\s\S]*?)\);/g)) {
      const last = /,\s*'([a-z0-9.#]+(?:-[a-z0-9.#]+)+)'\s*,?\s*$/.exec(call[1]!);
      if (last) named.add(last[1]!);
    }
    for (const m of src.matchAll(/anchor = '([a-z0-9.#-]+)'/g)) named.add(m[1]!);
    // The shared option checker carries each factory's anchor.
    for (const m of src.matchAll(/new OptionChecker\('[^']*', '([a-z0-9.#-]+)'\)/g)) named.add(m[1]!);
  }
  expect(named.size).toBeGreaterThan(4);
  const bad = [...named]
    .map((topic) => [topic, new ConfigError('ERR_OAUTHKIT_OPTIONS', 'x', topic).docs] as const)
    .filter(([, docs]) => docs === FALLBACK || broken('README.md', relative(root, join(root, target(docs)[0])) + '#' + target(docs)[1]));
  expect(bad).toEqual([]);
});

test.each([
  ['requireAuth(): x', 'docs/require-auth.md#options'],
  ['tokenProxy(): x', 'docs/token-proxy.md#options'],
  ['mfaChallengeProxy(): x', 'docs/token-proxy.md#options'],
  ['revocationProxy(): x', 'docs/token-proxy.md#options'],
  ['createM2MClient(): x', 'docs/m2m.md#options'],
  ['redisTokenStore(): x', 'docs/fleet.md#redistokenstore-options'],
  ['jwksUri must be a URL string', 'docs/errors.md#configerror'],
])('a ConfigError "%s" without a topic points at %s, which exists', (message, expected) => {
  const docs = new ConfigError('ERR_OAUTHKIT_OPTIONS', message).docs;
  expect(docs).toBe(`express-oauth-kit/${expected}`);
  expect(broken('README.md', expected)).toBeUndefined();
});

test.each([
  ['requireAuth', () => requireAuth({} as never), 'docs/require-auth.md#options'],
  ['tokenProxy', () => tokenProxy({} as never), 'docs/token-proxy.md#options'],
  ['createM2MClient', () => createM2MClient({} as never), 'docs/m2m.md#options'],
])('%s misuse names its page in err.docs and in the message', (_name, misuse, page) => {
  let err: unknown;
  try {
    misuse();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).docs).toBe(`express-oauth-kit/${page}`);
  expect((err as ConfigError).message).toContain(`see node_modules/express-oauth-kit/${page})`);
});
