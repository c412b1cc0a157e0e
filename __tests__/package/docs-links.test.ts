/**
 * The docs hold together: every page and section a ConfigError names exists (so "see …" in an
 * error message leads somewhere), and every relative link between the pages reaches an existing
 * file and, for `#anchors`, an existing heading under GitHub's slug rules.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { ConfigError, claimCheck, createM2MClient, mfaChallengeProxy, requireAuth, revocationProxy, tokenProxy, type ConfigErrorCode } from '../../lib/index.js';
import type { DocsTopic } from '../../lib/errors/config-error.js';
import { CONFIG_ERROR_DOCS } from '../../lib/errors/config-error.js';
import { redisTokenStore } from '../../lib/redis/index.js';
import { links, slugs } from '../support/markdown.js';

const root = join(import.meta.dirname, '..', '..');

/** The pages: README, CONTRIBUTING, docs/*.md and every other README in the repository's folders. */
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...['demo-app/README.md', 'fixtures/mock-idp/README.md', 'bench/README.md'].filter((p) => existsSync(join(root, p))),
];

const read = (p: string) => readFileSync(join(root, p), 'utf8');
const anchorsOf = new Map(PAGES.map((p) => [p, slugs(read(p))]));

/** Why `target` (linked from `page`) is broken, or undefined when it leads somewhere. */
function broken(page: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? page : normalize(join(dirname(page), decodeURIComponent(path))).replace(/\\/g, '/');
  if (file.startsWith('..')) return 'leaves the repository';
  if (!existsSync(join(root, file))) return 'no such file';
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
  // What package.json's "files" ships besides dist/.
  const shipped = (file: string) => file === 'README.md' || file === 'CHANGELOG.md' || file.startsWith('docs/');
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

test("README's Documentation table is one table and lists every docs/ page", () => {
  // A blank line inside a Markdown table ends it: the rows after it render as a paragraph of pipes.
  const section = read('README.md').split(/^## Documentation$/m)[1]!.split(/^## /m)[0]!;
  const rows = section.trim().split('\n');
  expect(rows.filter((r) => !r.startsWith('|'))).toEqual([]);
  const listed = new Set(rows.flatMap((r) => [...r.matchAll(/\]\((docs\/[a-z0-9-]+\.md)\)/g)].map((m) => m[1]!)));
  const pages = PAGES.filter((p) => p.startsWith('docs/'));
  expect(pages.filter((p) => !listed.has(p))).toEqual([]);
});

// ---- ConfigError → page#section ----

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `express-oauth-kit/docs/page.md#anchor` → `docs/page.md#anchor`, or throws when it is not of that form. */
function target(docs: string): string {
  const m = /^express-oauth-kit\/(docs\/[a-z0-9-]+\.md#[a-z0-9_-]+)$/.exec(docs);
  if (!m) throw new Error(`not a docs reference: ${docs}`);
  return m[1]!;
}

test('every ConfigError code has its own section in docs/errors.md, which exists', () => {
  const codes = Object.keys(CONFIG_ERROR_DOCS) as ConfigErrorCode[];
  expect(codes.length).toBe(14);
  const bad = codes
    .map((code) => [code, target(new ConfigError('x', { code }).docs)] as const)
    .filter(([code, t]) => t !== `docs/errors.md#${code}` || broken('README.md', t));
  expect(bad).toEqual([]);
});

test('every topic named in lib/ (an OptionChecker\'s or a ConfigError\'s) is an existing page and section', () => {
  const named = new Set<string>();
  for (const file of sources(join(root, 'lib'))) {
    const src = readFileSync(file, 'utf8');
    // Any string literal of the DocsTopic form: the checkers' topics, explicit ConfigError topics,
    // the constants that hold one.
    for (const m of src.matchAll(/'([a-z0-9-]+\.md#[a-z0-9_-]+)'/g)) named.add(m[1]!);
  }
  // The five documented factories' own tables at least, plus cookie mode, the store interface, the claim helpers.
  for (const t of ['require-auth.md#options', 'token-proxy.md#options', 'm2m.md#options', 'fleet.md#redistokenstore-options', 'token-proxy.md#refresh-token-cookie-mode']) {
    expect(named).toContain(t);
  }
  const bad = [...named].filter((topic) => broken('README.md', target(new ConfigError('x', { code: 'config_options', topic: topic as DocsTopic }).docs)));
  expect(bad).toEqual([]);
});

test.each([
  ['requireAuth', () => requireAuth({} as never), 'docs/require-auth.md#options'],
  ['tokenProxy', () => tokenProxy({} as never), 'docs/token-proxy.md#options'],
  ['mfaChallengeProxy', () => mfaChallengeProxy({ clientId: 'c', clientSecret: 's', tokenEndpoint: 'https://idp.example/t', timout: 5 } as never), 'docs/token-proxy.md#options'],
  ['revocationProxy', () => revocationProxy({ clientId: 'c', clientSecret: 's', tokenEndpoint: 'http://idp.example/t' } as never), 'docs/token-proxy.md#options'],
  ['createM2MClient', () => createM2MClient({} as never), 'docs/m2m.md#options'],
  ['createM2MClient store', () => createM2MClient({ clientId: 'c', clientSecret: 's', tokenEndpoint: 'https://idp.example/t', store: {} } as never), 'docs/m2m.md#sharing-tokens-across-instances-the-store-interface'],
  ['redisTokenStore', () => redisTokenStore({ client: {} } as never), 'docs/fleet.md#redistokenstore-options'],
  ['tokenProxy cookie', () => tokenProxy({ clientId: 'c', clientSecret: 's', tokenEndpoint: 'https://idp.example/t', cookie: {} } as never), 'docs/token-proxy.md#refresh-token-cookie-mode'],
  ['claimCheck', () => claimCheck(1 as never), 'docs/require-auth.md#requirescopes-and-claim-helpers'],
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
  expect(broken('README.md', page)).toBeUndefined();
});

test('the page is chosen by the code or the thrower, never by the message text', () => {
  // A message that starts like another factory's does not move the link.
  expect(new ConfigError('tokenProxy(): x', { code: 'config_url' }).docs).toBe('express-oauth-kit/docs/errors.md#config_url');
  expect(new ConfigError('requireAuth(): x', { code: 'config_store' }).docs).toBe('express-oauth-kit/docs/errors.md#config_store');
});
