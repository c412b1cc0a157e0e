/** Every README anchor a ConfigError points to exists, so "see …" in an error message leads somewhere. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, requireAuth, tokenProxy, createM2MClient } from '../lib/index.js';

// GitHub / npm heading slugs: lower case, punctuation dropped, spaces to dashes.
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s/g, '-');

const anchors = new Set(
  readFileSync('README.md', 'utf8')
    .split('\n')
    .filter((l) => /^#{1,4} /.test(l))
    .map((l) => slug(l.replace(/^#+ /, ''))),
);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('anchors named in lib/ exist in README.md', () => {
  const named = new Set<string>();
  for (const file of sources('lib')) {
    const src = readFileSync(file, 'utf8');
    // The anchor argument of `new ConfigError(code, message, anchor)` and of the section table.
    for (const call of src.matchAll(/new ConfigError\(([\s\S]*?)\);/g)) {
      const last = /,\s*'([a-z0-9]+(?:-[a-z0-9]+)+)'\s*,?\s*$/.exec(call[1]!);
      if (last) named.add(last[1]!);
    }
    for (const m of src.matchAll(/\[\/\^[^\]]*\/, '([a-z0-9-]+)'\]/g)) named.add(m[1]!);
    for (const m of src.matchAll(/anchor = '([a-z0-9-]+)'/g)) named.add(m[1]!);
  }
  expect(named.size).toBeGreaterThan(5);
  expect([...named].filter((a) => !anchors.has(a))).toEqual([]);
});

test.each([
  ['requireAuth', () => requireAuth({} as never), 'requireauth-options'],
  ['tokenProxy', () => tokenProxy({} as never), 'token-proxy-tokenproxy-mfachallengeproxy-revocationproxy'],
  ['createM2MClient', () => createM2MClient({} as never), 'calling-other-services-createm2mclient'],
])('%s misuse points at its README section', (_name, misuse, anchor) => {
  let err: unknown;
  try {
    misuse();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).docs).toBe(`https://www.npmjs.com/package/express-oauth-kit#${anchor}`);
  expect((err as ConfigError).message).toContain((err as ConfigError).docs);
});
