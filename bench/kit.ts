/**
 * The package as users run it: the compiled `dist/` (`npm run bench` builds it first), typed from
 * the sources. Benchmarking the TypeScript sources through tsx would measure tsx's transform too
 * (it wraps every function created per request in a naming helper), which the competitors, plain
 * JavaScript from node_modules, do not pay.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function built<T>(path: string): Promise<T> {
  const url = new URL(`../dist/${path}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) throw new Error(`dist/${path} is missing: run \`npm run build\` (npm run bench does)`);
  return (await import(url.href)) as T;
}
