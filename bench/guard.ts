/**
 * requireAuth benchmark: requests/s of one route bare, behind requireAuth (one repeated token,
 * and a new token per request), behind a hand-written jose guard and behind
 * express-oauth2-jwt-bearer, all measured in one run. Then the cache's memory after 200k tokens.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { exportJWK, SignJWT, generateKeyPair, type JWK } from 'jose';
import { requireAuth } from '../lib/index.js';
import { fmt, load, printTable, startChild, type Row } from './common.js';
import { startJwksServer } from '../__tests__/support/jwks-server.js';
import { fileURLToPath } from 'node:url';

// More distinct tokens than the default cache holds (10,000), so cycling through them always misses.
const DISTINCT = 24_000;
const CACHE_FILE = '.tmp/bench-tokens.json';

interface TokenFile {
  issuer: string;
  audience: string;
  jwk: JWK;
  tokens: string[];
  exp: number;
}

/** Signing 24k RS256 tokens takes ~15 s, so they are kept for a day in .tmp/. */
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
  for (let i = 0; i < 200_000; i++) await guard.verify(await sign(i));
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
  let i = 0;
  const next = () => `Bearer ${file.tokens[i++ % DISTINCT]}`;
  try {
    // Warm-up: JIT, JWKS fetch, connection pools.
    for (const path of ['/bare', '/kit', '/jose', '/auth0']) await load(base + path, () => one, { duration: 1 });
    const bare = await load(`${base}/bare`, () => one);
    const kitSame = await load(`${base}/kit`, () => one);
    const kitNew = await load(`${base}/kit`, next);
    const jose = await load(`${base}/jose`, next);
    const auth0 = await load(`${base}/auth0`, next);
    for (const r of [bare, kitSame, kitNew, jose, auth0]) if (r.non2xx || r.errors) throw new Error(`bench run had failures: ${JSON.stringify(r)}`);
    const x = (a: number, b: number) => `${fmt(a / b, 2)}×`;
    return [
      { name: 'bare Express route', value: `${fmt(bare.rps)} req/s`, note: `p99 ${bare.p99} ms` },
      { name: 'requireAuth, one repeated token', value: `${fmt(kitSame.rps)} req/s`, note: `${x(kitSame.rps, bare.rps)} bare (target ≥ 0.90×)` },
      { name: 'requireAuth, new token per request', value: `${fmt(kitNew.rps)} req/s`, note: `${x(kitNew.rps, jose.rps)} hand-written jose (target ≥ 0.95×), ${x(kitNew.rps, auth0.rps)} express-oauth2-jwt-bearer (target ≥ 1.1×)` },
      { name: 'hand-written jose.jwtVerify guard, new token', value: `${fmt(jose.rps)} req/s`, note: `${x(jose.rps, bare.rps)} bare` },
      { name: 'express-oauth2-jwt-bearer, new token', value: `${fmt(auth0.rps)} req/s`, note: `${x(auth0.rps, bare.rps)} bare` },
      ...(await cacheFootprint()),
    ];
  } finally {
    await server.stop();
    await jwksServer.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('requireAuth', await benchGuard());
}
