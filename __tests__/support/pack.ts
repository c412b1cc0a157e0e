/**
 * The package as npm publishes it, for the suites that test what a user installs
 * (package.test.ts, docs-compile.test.ts).
 *
 * `npm pack` runs prepack, which deletes and rebuilds dist/. Two suites packing at once in
 * parallel workers would race on dist/ and could ship a half-written build, so packing holds a
 * lock, and a tarball whose inputs have not changed since it was packed is reused: one build
 * per run however many suites need the package.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..', '..');

export interface Packed {
  /** Absolute path of the .tgz. */
  tarball: string;
  /** Paths inside the package, as `npm pack --json` lists them. */
  files: string[];
}

export const run = (cmd: string, args: string[], cwd: string): string =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
  });

/** `name@version` as installed in this repo, so a consumer gets what the repo tests with (and npm's cache has it). */
export const pinned = (name: string): string =>
  `${name}@${(JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`;

// Everything that decides the tarball's content: the build's inputs and the files it ships.
const INPUTS = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'scripts/cjs-entries.ts', 'lib', 'docs'];

function walk(p: string): string[] {
  if (!existsSync(p)) return [];
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((n) => walk(join(p, n)));
}

function inputsHash(): string {
  const h = createHash('sha256');
  for (const f of INPUTS.flatMap((i) => walk(join(root, i)))) h.update(f).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function withLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A worker killed while packing leaves its lock behind; a pack never takes minutes.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`waited 5 minutes for ${lock}`);
      else sleep(200);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Builds and packs the package (or reuses this run's tarball when lib/, docs/ and the manifest are unchanged). */
export function packPackage(): Packed {
  const base = join(root, '.tmp', 'pack');
  mkdirSync(base, { recursive: true });
  return withLock(join(root, '.tmp', 'pack.lock'), () => {
    const key = inputsHash();
    const dir = join(base, key);
    const infoFile = join(dir, 'pack.json');
    if (existsSync(infoFile)) return JSON.parse(readFileSync(infoFile, 'utf8')) as Packed;
    for (const old of readdirSync(base)) rmSync(join(base, old), { recursive: true, force: true });
    mkdirSync(dir);
    const out = run('npm', ['pack', '--json', '--pack-destination', dir], root);
    const info = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const packed: Packed = { tarball: join(dir, info[0]!.filename), files: info[0]!.files.map((f) => f.path) };
    writeFileSync(infoFile, JSON.stringify(packed));
    return packed;
  });
}

/** A fresh consumer project in `dir` with the tarball and `deps` installed from npm (cache first). */
export function installConsumer(dir: string, tarball: string, deps: string[], manifest: Record<string, unknown> = {}): void {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, ...manifest }));
  run('npm', ['install', '--prefer-offline', '--no-package-lock', tarball, ...deps], dir);
}
