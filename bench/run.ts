/**
 * `npm run bench`: every benchmark of the package in one run, printed as Markdown tables
 * (the README shows the latest). Loopback only; each part starts and stops its own servers.
 * `npm run bench -- proxy` runs only the parts whose title contains "proxy". The last table
 * gathers the per-process figures (one guard per API process, growth) in a compact form for README.md.
 */
import { printTable, readmeRows, type Row } from './common.js';
import { benchDpop } from './dpop.js';
import { benchGrowth } from './growth.js';
import { benchGuard } from './guard.js';
import { benchM2M } from './m2m.js';
import { benchPerProcess } from './per-process.js';
import { benchProxy } from './proxy.js';
import { benchRedis } from './redis.js';

const parts: Array<[string, () => Promise<Row[]>]> = [
  // As users deploy it (each guard alone in its own API process) first; the shared-process comparison second.
  ['requireAuth(), one guard per API process (API CPU µs per request)', benchPerProcess],
  ['requireAuth() growth: memory, cache bytes, JWKS rotation, latency', benchGrowth],
  ['requireAuth(), all guards in one shared process', benchGuard],
  ['requireAuth() DPoP vs express-oauth2-jwt-bearer', benchDpop],
  ['tokenProxy()', benchProxy],
  ['createM2MClient()', benchM2M],
  ['createM2MClient() fleet with redisTokenStore()', benchRedis],
];

const only = process.argv[2];
console.log(`express-oauth-kit benchmarks — node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
for (const [title, run] of parts) {
  if (only && !title.toLowerCase().includes(only.toLowerCase())) continue;
  const started = performance.now();
  printTable(title, await run());
  console.log(`\n(${Math.round((performance.now() - started) / 1000)} s)`);
}
if (readmeRows.length > 0) printTable('For README.md: one guard per API process (median, lowest–highest round)', readmeRows);
