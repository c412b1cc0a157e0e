/**
 * Writes the error tables of docs/errors.md from the error classes themselves: each class is
 * constructed and its `code`, `name`, `status`, the headers it always sets and its wire `error`
 * become a row; only the "sent when" prose comes from errors-prose.ts. Run `npm run docs:errors`
 * after changing an error class; __tests__/errors-table.test.ts fails while the page disagrees.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as kit from '../lib/index.js';
import * as redis from '../lib/redis/index.js';
import { CONFIG_ERROR_DOCS } from '../lib/errors/config-error.js';
import { HTTP_ERROR_PROSE, OTHER_ERROR_PROSE } from './errors-prose.js';

type AnyCtor = new (description: string, options: object) => kit.OAuthKitError;

/** Every concrete error class the entry points export, by export name. */
export function exportedErrorClasses(): Array<[string, AnyCtor]> {
  const entries: Array<[string, unknown]> = Object.entries({ ...kit, ...redis });
  return entries.filter(
    (entry): entry is [string, AnyCtor] =>
      typeof entry[1] === 'function' && entry[1].prototype instanceof kit.OAuthKitError && entry[0] !== 'OAuthError',
  );
}

// Options every class accepts; the members a class does not know are ignored (IdpError needs idpStatus).
const construct = (cls: AnyCtor): kit.OAuthKitError => new cls('x', { idpStatus: 502, operation: 'get', clientStatus: 'ready' });

// Headers whose value depends on the call (Retry-After: the wait) are shown by name only.
const VARYING = new Set(['Retry-After']);

const START = '<!-- errors-table: generated from the error classes by `npm run docs:errors`; edit scripts/errors-prose.ts, not these rows -->';
const END = '<!-- /errors-table -->';

function httpTable(): string {
  const byCode = new Map<string, kit.OAuthError>();
  for (const [, cls] of exportedErrorClasses()) {
    const err = construct(cls);
    if (err instanceof kit.OAuthError) byCode.set(err.code, err);
  }
  const rows = Object.entries(HTTP_ERROR_PROSE).map(([code, prose]) => {
    const err = byCode.get(code);
    if (err === undefined) throw new Error(`scripts/errors-prose.ts describes ${code}, which no exported class has`);
    byCode.delete(code);
    const fixed = Object.entries(err.headers).map(([name, value]) => ` + \`${VARYING.has(name) ? name : `${name}: ${value}`}\``);
    const status = `${err.status}${fixed.join('')}${prose.status ?? ''}`;
    const wire = `${err.error === undefined ? '—' : `\`${err.error}\``}${prose.wire ? ` ${prose.wire}` : ''}`;
    return `| \`${err.code}\` | \`${err.name}\` | ${status} | ${wire} | ${prose.when} |`;
  });
  if (byCode.size) throw new Error(`no prose in scripts/errors-prose.ts for ${[...byCode.keys()].join(', ')}`);
  return ['| `code` | class | status | wire `error` | sent when |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

function otherTable(): string {
  const rows = exportedErrorClasses()
    .map(([, cls]) => construct(cls))
    .filter((err) => !(err instanceof kit.OAuthError))
    .map((err) => {
      const config = err instanceof kit.ConfigError;
      const code = config ? `\`config_*\` (${Object.keys(CONFIG_ERROR_DOCS).length} codes)` : `\`${err.code}\``;
      const prose = OTHER_ERROR_PROSE[config ? 'config' : (err.code as keyof typeof OTHER_ERROR_PROSE)];
      if (prose === undefined) throw new Error(`no prose in scripts/errors-prose.ts for ${err.code}`);
      return `| ${code} | \`${err.name}\` | ${prose} |`;
    });
  return ['| `code` | class | raised when |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The generated block: both tables between their markers. */
export function renderErrorTables(): string {
  return [START, '', httpTable(), '', 'Never sent to a client, but under the same base class:', '', otherTable(), '', END].join('\n');
}

/** `page` with its generated block replaced by the current one. */
export function withErrorTables(page: string): string {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/errors.md has no "${START}" … "${END}" block`);
  return page.slice(0, start) + renderErrorTables() + page.slice(end + END.length);
}

/** Run from the repository root, as npm scripts and jest are. */
export const ERRORS_PAGE = join(process.cwd(), 'docs', 'errors.md');

if (process.argv[1]?.endsWith('errors-table.ts')) {
  const page = readFileSync(ERRORS_PAGE, 'utf8');
  const next = withErrorTables(page);
  if (next !== page) writeFileSync(ERRORS_PAGE, next);
  process.stdout.write(next === page ? 'docs/errors.md is up to date\n' : 'docs/errors.md: error tables rewritten\n');
}
