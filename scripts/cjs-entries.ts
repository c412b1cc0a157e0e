/**
 * The CommonJS face of the package, written after `tsc` has built the ES modules in dist/.
 *
 * The implementation ships once, as ES modules. For each entry point in package.json's `exports`,
 * its `require` condition names
 * - a one-line CommonJS wrapper, `module.exports = require('./index.js')`: Node ≥ 20.19 loads the
 *   ES module synchronously and returns its namespace object — the very object `import` gets, so
 *   there is one copy of every class (`instanceof OAuthError` holds across both) and of every
 *   module-level cache, unlike a dual build that would compile lib/ twice;
 * - a `.d.cts` copy of the declarations, so TypeScript in a CommonJS file (`module: node16`,
 *   `node18`, `commonjs`) sees CommonJS types and does not refuse the import with TS1479.
 *
 * An entry point is added in package.json alone (see CONTRIBUTING.md, "Entry points"); this script
 * derives everything from there and fails the build when the manifest and dist/ disagree.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '..');
const dist = join(root, 'dist');

interface Conditions {
  types: string;
  default: string;
}
type ExportEntry = string | { import: Conditions; require: Conditions };

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const NODE16: ts.CompilerOptions = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };
const esmOnly = new Map<string, boolean>();

/** Whether TypeScript, resolving `specifier` from a CommonJS file, lands on ES module types (jose 6 does). */
function isEsmOnly(specifier: string, from: string): boolean {
  let known = esmOnly.get(specifier);
  if (known === undefined) {
    const hit = ts.resolveModuleName(specifier, from, NODE16, ts.sys, undefined, undefined, ts.ModuleKind.CommonJS).resolvedModule;
    known = hit !== undefined && ts.getImpliedNodeFormatForFile(hit.resolvedFileName as ts.Path, undefined, ts.sys, NODE16) === ts.ModuleKind.ESNext;
    esmOnly.set(specifier, known);
  }
  return known;
}

const IMPORT = /^import (type )?\{([^}]*)\} from (['"])([^'"]+)\3;$/gm;

/**
 * A .d.ts turned into its .d.cts twin:
 * - `./x.js` → `./x.cjs` in relative specifiers, so a .d.cts file only ever reaches other .d.cts files;
 * - an import of a package whose types are ES modules only gets `resolution-mode: "import"`
 *   (TypeScript ≥ 5.3), else a CommonJS program stops at TS1479/TS1541 inside our types. Declaration
 *   files only import types, so `import type` says the same thing.
 */
function toCjsDeclarations(dts: string, file: string): string {
  const out = dts
    .replace(/(['"])(\.\.?\/[^'"\n]*?)\.js\1/g, '$1$2.cjs$1')
    .replace(IMPORT, (line, _type, names: string, q: string, spec: string) =>
      spec.startsWith('.') || !isEsmOnly(spec, file)
        ? line
        : `import type {${names.replace(/\btype /g, '')}} from ${q}${spec}${q} with { 'resolution-mode': 'import' };`,
    );
  // Any other form (`import('pkg')`, `export … from 'pkg'`) of an ES-module-only package would need the
  // same treatment: refuse to ship it untreated.
  for (const m of out.matchAll(/(?:^export .* from |import\()(['"])([^'".][^'"]*)\1/gm)) {
    if (isEsmOnly(m[2]!, file)) throw new Error(`${relative(root, file)}: handle \`${m[0]}\` of ES-module-only ${m[2]} in scripts/cjs-entries.ts`);
  }
  return out;
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, ExportEntry>;
  main: string;
  types: string;
  typesVersions?: Record<string, Record<string, string[]>>;
};

for (const file of walk(dist).filter((f) => f.endsWith('.d.ts'))) {
  const twin = file.replace(/\.d\.ts$/, '.d.cts');
  writeFileSync(twin, toCjsDeclarations(readFileSync(file, 'utf8'), twin));
}

const problems: string[] = [];
const fromRoot = (p: string) => join(root, p);
for (const [subpath, entry] of Object.entries(pkg.exports)) {
  if (typeof entry === 'string') continue; // ./package.json
  const { import: esm, require: cjs } = entry;
  if (!esm || !cjs) {
    problems.push(`exports["${subpath}"] needs both "import" and "require" conditions`);
    continue;
  }
  if (cjs.default !== esm.default.replace(/\.js$/, '.cjs') || cjs.types !== esm.types.replace(/\.d\.ts$/, '.d.cts')) {
    problems.push(`exports["${subpath}"].require must name the .cjs/.d.cts siblings of its "import" files`);
    continue;
  }
  if (!existsSync(fromRoot(esm.default))) {
    problems.push(`exports["${subpath}"]: ${esm.default} was not built`);
    continue;
  }
  const target = `./${relative(dirname(fromRoot(cjs.default)), fromRoot(esm.default))}`;
  writeFileSync(
    fromRoot(cjs.default),
    `'use strict';\n// ${subpath === '.' ? 'express-oauth-kit' : `express-oauth-kit/${subpath.slice(2)}`} for require(): the ES module's own namespace object (scripts/cjs-entries.ts).\nmodule.exports = require(${JSON.stringify(target)});\n`,
  );
  // TypeScript's node10 resolution reads neither "exports" nor a subpath's folder: it finds a
  // subpath's types through "typesVersions" only.
  if (subpath !== '.' && pkg.typesVersions?.['*']?.[subpath.slice(2)]?.[0] !== cjs.types) {
    problems.push(`typesVersions["*"]["${subpath.slice(2)}"] must be ["${cjs.types}"]`);
  }
  if (subpath === '.' && (pkg.main !== cjs.default || pkg.types !== cjs.types)) {
    problems.push(`"main" and "types" must be "${cjs.default}" and "${cjs.types}" (for tools that do not read "exports")`);
  }
}
if (problems.length > 0) {
  console.error(`scripts/cjs-entries.ts: package.json and dist/ disagree:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
