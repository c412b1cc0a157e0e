/**
 * `npm run bench`: every benchmark of the package in one run, printed as Markdown tables
 * (the README shows the latest). Loopback only; each part starts and stops its own servers.
 */
import { printTable, type Row } from './common.js';
import { benchGuard } from './guard.js';

const parts: Array<[string, () => Promise<Row[]>]> = [['requireAuth()', benchGuard]];

const only = process.argv[2];
console.log(`express-oauth-kit benchmarks — node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
for (const [title, run] of parts) {
  if (only && !title.toLowerCase().includes(only.toLowerCase())) continue;
  printTable(title, await run());
}
