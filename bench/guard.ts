/**
 * requireAuth benchmark: requests/s of one route bare, behind requireAuth (one repeated token,
 * and a new token per request), behind a hand-written jose guard and behind
 * express-oauth2-jwt-bearer, all measured in one run. Then the cache's memory after 200k tokens.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { exportJWK, SignJWT, generateKeyPair, type JWK } from 'jose';
import { requireAuth } from '../lib/index.js';
import { cpus } from 'node:os';
import { DURATION, CONNECTIONS, fmt, load, median, pin, printTable, startChild, unpin, type Row } from './common.js';
import { startJwksServer } from '../__tests__/support/jwks-server.js';
import { fileURLToPath } from 'node:url';

// "New token per request" must mean new: each case walks its own cursor through more distinct
// tokens than it sends requests in a whole run (5 rounds × ~4k req/s × 5 s), so no token recurs.
const DISTINCT = 120_000;
const CACHE_FILE = '.tmp/bench-tokens.json';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

interface TokenFile {
  issuer: string;
  audience: string;
  jwk: JWK;
  tokens: string[];
  exp: number;
}

/** Signing 120k RS256 tokens takes over a minute, so they are kept for a day in .tmp/. */
async function tokens(issuer: string, audience: string): Promise<TokenFile> {
  if (existsSync(CACHE_FILE)) {
    const cached = JSON.parse(readFileSync(CACHE_FILE, 'utf8')) as TokenFile;
    if (cached.exp > Date.now() / 1000 + 600 && cached.tokens.length === DISTINCT) return cached;
  }
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'bench-key', alg: 'RS256' };
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const list: string[] = [];
  for (let i = 0; i < DISTINCT; i++) {
    list.push(
      await new SignJWT({ sub: `user-${i}`, scope: 'openid profile orders:read', client_id: 'web-app' })
        .setProtectedHeader({ alg: 'RS256', kid: 'bench-key', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(privateKey),
    );
  }
  const file = { issuer, audience, jwk, tokens: list, exp };
  mkdirSync('.tmp', { recursive: true });
  writeFileSync(CACHE_FILE, JSON.stringify(file));
  return file;
}

async function cacheFootprint(): Promise<Row[]> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return [{ name: 'cache heap after 200k tokens', value: 'n/a', note: 'run with node --expose-gc (npm run bench does)' }];
  const secret = 'bench-secret-bench-secret-bench-secret!!';
  const key = new TextEncoder().encode(secret);
  const guard = requireAuth({ issuer: 'https://idp.bench', audience: 'https://api.bench', secret });
  const sign = (i: number) =>
    new SignJWT({ sub: `user-${i}`, scope: 'openid profile orders:read', client_id: 'web-app' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer('https://idp.bench')
      .setAudience('https://api.bench')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key);
  await guard.verify(await sign(-1));
  gc();
  const before = process.memoryUsage().heapUsed;
  // Each token twice: the cache admits a token on its second verification.
  for (let i = 0; i < 200_000; i++) {
    const token = await sign(i);
    await guard.verify(token);
    await guard.verify(token);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  const { entries, bytes } = guard.cacheStats;
  return [
    {
      name: 'heap growth after 200k distinct tokens',
      value: `${fmt((after - before) / 2 ** 20, 1)} MiB`,
      note: `${fmt(entries)} entries kept, ${fmt(bytes / 2 ** 20, 1)} MiB by the cache's own estimate (bound: 10,000 / 16 MiB)`,
    },
  ];
}

export async function benchGuard(): Promise<Row[]> {
  const jwksServer = await startJwksServer({ algs: [] });
  const file = await tokens(jwksServer.issuer, jwksServer.audience);
  // The token file may predate this server's port: serve its key and expect its issuer.
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = file.jwk;
  jwksServer.keys.push({ kid: 'bench-key', alg: 'RS256', privateKey: undefined as never, publicJwk: { ...pub, kid: 'bench-key', alg: 'RS256', use: 'sig' } });
  jwksServer.issuer = file.issuer;

  const server = await startChild(fileURLToPath(new URL('./guard-server.ts', import.meta.url)), {
    ISSUER: file.issuer,
    AUDIENCE: file.audience,
    JWKS_URI: jwksServer.jwksUri,
  });
  const base = `http://127.0.0.1:${server.port}`;
  const one = `Bearer ${file.tokens[0]}`;
  const cursor = (start: number) => {
    let i = start;
    return () => `Bearer ${file.tokens[i++ % DISTINCT]}`;
  };
  // The API gets core 1 to itself; autocannon (and the idle JWKS server) run on core 0.
  const parentMask = cpus().length >= 2 ? pin(process.pid, '0') : undefined;
  const pinned = parentMask !== undefined && pin(server.child.pid!, '1') !== undefined;
  try {
    const cpu = async () => ((await (await fetch(`${base}/__cpu`)).json()) as { us: number }).us;
    // Requests/s and the API process's CPU µs per request (steadier than req/s on a shared VM).
    const measured = async (path: string, header: () => string) => {
      const before = await cpu();
      const r = await load(base + path, header);
      const requests = r.rps * DURATION;
      return { ...r, cpuPerRequest: ((await cpu()) - before) / requests };
    };
    const kitCursor = cursor(1);
    const joseCursor = cursor(1);
    const auth0Cursor = cursor(1);
    const cases = {
      bare: () => measured('/bare', () => one),
      noop: () => measured('/noop', () => one),
      kitSame: () => measured('/kit', () => one),
      kitNew: () => measured('/kit', kitCursor),
      jose: () => measured('/jose', joseCursor),
      auth0: () => measured('/auth0', auth0Cursor),
      auth0Same: () => measured('/auth0', () => one),
    };
    type Case = keyof typeof cases;
    const names = Object.keys(cases) as Case[];
    // Warm-up: JIT, JWKS fetch, connection pools.
    const warm = cursor(DISTINCT - 5_000);
    for (const path of ['/bare', '/noop', '/kit', '/jose', '/auth0']) await load(base + path, warm, { duration: 1 });
    // Interleaved rounds in a rotating order, so drift and a neighbour's load hit every case alike;
    // ratios are taken within a round, then the median over rounds is reported.
    const rps = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Case, number[]>;
    const cpuUs = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Case, number[]>;
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + round) % names.length]!;
        const r = await cases[name]();
        if (r.non2xx || r.errors) throw new Error(`bench run ${name} had failures: ${JSON.stringify(r)}`);
        rps[name].push(r.rps);
        cpuUs[name].push(r.cpuPerRequest);
        if (process.env.BENCH_VERBOSE) console.error(`round ${round} ${name}: ${fmt(r.rps)} req/s`);
      }
    }
    const m = (c: Case) => median(rps[c]);
    const ratio = (a: Case, b: Case) => median(rps[a].map((v, k) => v / rps[b][k]!));
    const x = (v: number) => `${fmt(v, 2)}×`;
    const us = (c: Case) => `${fmt(median(cpuUs[c]))} µs CPU/req`;
    const cpuRatio = (a: Case, b: Case) => median(cpuUs[b].map((v, k) => v / cpuUs[a][k]!));
    const layout = pinned ? 'API on core 1, autocannon on core 0' : 'unpinned';
    return [
      { name: 'bare Express route', value: `${fmt(m('bare'))} req/s`, note: `${us('bare')}; median of ${ROUNDS} interleaved ${DURATION} s rounds, ${CONNECTIONS} connections; ${layout}` },
      { name: 'bare route + one no-op middleware', value: `${fmt(m('noop'))} req/s`, note: `${x(ratio('noop', 'bare'))} bare; ${us('noop')} (what any middleware layer costs)` },
      {
        name: 'requireAuth, one repeated token',
        value: `${fmt(m('kitSame'))} req/s`,
        note:
          `**${x(ratio('kitSame', 'bare'))} bare** (target ≥ 0.90×), ${x(ratio('kitSame', 'noop'))} the no-op middleware, ${x(ratio('kitSame', 'auth0Same'))} express-oauth2-jwt-bearer on the same repeated token; ` +
          `${us('kitSame')} (${x(cpuRatio('kitSame', 'bare'))} bare by CPU)`,
      },
      {
        name: 'requireAuth, new token per request',
        value: `${fmt(m('kitNew'))} req/s`,
        note:
          `**${x(ratio('kitNew', 'jose'))} hand-written jose** (target ≥ 0.95×), **${x(ratio('kitNew', 'auth0'))} express-oauth2-jwt-bearer** (target ≥ 1.1×); ` +
          `${us('kitNew')} (by CPU: ${x(cpuRatio('kitNew', 'jose'))} jose, ${x(cpuRatio('kitNew', 'auth0'))} express-oauth2-jwt-bearer)`,
      },
      { name: 'hand-written jose.jwtVerify guard, new token', value: `${fmt(m('jose'))} req/s`, note: `${x(ratio('jose', 'bare'))} bare; ${us('jose')}` },
      { name: 'express-oauth2-jwt-bearer, new token', value: `${fmt(m('auth0'))} req/s`, note: `${x(ratio('auth0', 'bare'))} bare; ${us('auth0')}` },
      { name: 'express-oauth2-jwt-bearer, one repeated token', value: `${fmt(m('auth0Same'))} req/s`, note: `${x(ratio('auth0Same', 'bare'))} bare; ${us('auth0Same')} (it verifies every request)` },
      ...(await cacheFootprint()),
    ];
  } finally {
    unpin(process.pid, parentMask);
    await server.stop();
    await jwksServer.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('requireAuth', await benchGuard());
}
