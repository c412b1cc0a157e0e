/**
 * The memory half of bench/growth.ts, in a process of its own (plain `node --expose-gc`, importing
 * the compiled dist/ like bench/api-server.ts), so the bench's own heap (120 MB of pre-signed
 * tokens, autocannon) is not in the figures. One guard, driven through `createGuard().check()`,
 * the framework-free core `requireAuth()` wraps (the Express adapter keeps no state of its own).
 * Prints one JSON line per measurement.
 *
 * MODE=oneoff: COUNT distinct tokens, each seen once, default options; heap and RSS after a forced
 * GC every STEP tokens. MODE=control: the same loop, tokens signed but shown to no guard. MODE=cached: COUNT distinct tokens each presented twice (the cache admits
 * a token on its second sighting), a cache big enough for all of them; bytes per entry.
 *
 * Tokens are HS256 (the guard's `secret` option), signed here as they are needed: an HMAC costs
 * microseconds where an RS256 signature costs a millisecond, so a million tokens take seconds,
 * not a quarter of an hour. What a guard keeps per token (cache entry, sighting, single-flight
 * result) does not depend on the signature algorithm; the token is about as long as the
 * benchmark's RS256 tokens (a 342-character signature is replaced by padding in the payload).
 */
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const { createGuard } = (await import(new URL('../dist/index.js', import.meta.url).href)) as typeof import('../lib/index.js');

const MODE = process.env.MODE ?? 'oneoff';
const COUNT = Number(process.env.COUNT ?? 1_000_000);
const STEP = Number(process.env.STEP ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('growth-worker: run with node --expose-gc');

const issuer = 'https://idp.bench';
const audience = 'https://api.bench';
const secret = 'bench-growth-secret-bench-growth-secret!';
const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const header = b64(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' }));
const exp = Math.floor(Date.now() / 1000) + 3_600;
const pad = 'x'.repeat(250);
function token(i: number): string {
  const input = `${header}.${b64(JSON.stringify({ sub: `user-${i}`, scope: 'openid profile orders:read', client_id: 'web-app', iss: issuer, aud: audience, iat: exp - 3_600, exp, pad }))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const guard = createGuard({ issuer, audience, secret, ...(MODE === 'cached' && { cache: { maxEntries: COUNT, maxBytes: 2 ** 31 } }) });
async function present(t: string): Promise<void> {
  const outcome = await guard.check({ method: 'GET', url: '/orders', headers: { authorization: `Bearer ${t}` }, protocol: 'http', host: 'api.bench', native: undefined });
  if (outcome.auth === undefined) throw new Error(`growth-worker: token refused: ${outcome.error?.message}`);
}

/** After the guard's single-flight sweep (a 1 ms timer) has run, a full GC: what stays is what the guard keeps. */
async function measure(seen: number): Promise<void> {
  await sleep(20);
  gc!();
  gc!();
  const { heapUsed, rss } = process.memoryUsage();
  const { entries, bytes } = guard.cacheStats;
  console.log(JSON.stringify({ seen, heapUsed, rss, entries, cacheBytes: bytes, tokenLength: token(0).length }));
}

// Warm-up (JIT, first allocations of every path), outside the count.
if (MODE !== 'control') for (let i = 0; i < 2_000; i++) await present(token(-1 - i));
await measure(0);
const started = performance.now();
for (let i = 0; i < COUNT; i++) {
  const t = token(i);
  if (MODE !== 'control') await present(t);
  if (MODE === 'cached') await present(t);
  if ((i + 1) % STEP === 0) await measure(i + 1);
}
console.log(JSON.stringify({ done: true, seconds: (performance.now() - started) / 1000 }));
