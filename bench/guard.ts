/**
 * requireAuth benchmark: requests/s and CPU µs per request of one route bare, behind requireAuth
 * (one repeated token with one issuer and with two, and a new token per request), and — new token per request, RS256 and
 * ES256 — behind a hand-written jose guard, express-oauth2-jwt-bearer and a "floor" guard that only
 * does crypto.verify + JSON.parse + iss/aud/exp; all measured in one run. Then the cache's memory
 * after 200k tokens. Run alone: `npm run bench -- requireAuth` (see bench/README.md).
 */
import { SignJWT } from 'jose';
import { built } from './kit.js';
import { cpus } from 'node:os';
import { CONNECTIONS, ROUNDS, WINDOW, fmt, groupedRounds, load, pin, printTable, startChild, unpin, type Row } from './common.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import { benchTokens, type BenchAlg } from './tokens.js';
import { fileURLToPath } from 'node:url';

const { requireAuth } = await built<typeof import('../lib/index.js')>('index.js');

// "New token per request" must mean new: each case walks its own cursor through more distinct
// tokens than it sends requests in a whole run (10 rounds × 2 s × ~4k req/s), so no token recurs.
const DISTINCT = 120_000;
if (ROUNDS * WINDOW * 5_000 > DISTINCT - 5_000) throw new Error('bench: more rounds × window than distinct tokens; lower BENCH_ROUNDS or BENCH_WINDOW');
const ALGS: BenchAlg[] = ['RS256', 'ES256'];

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
  const file = benchTokens('https://idp.bench', 'https://api.bench', DISTINCT);
  const jwksServer = await startJwksServer({ algs: [] });
  for (const alg of ALGS) {
    const { kid, jwk } = file.byAlg[alg];
    jwksServer.keys.push({ kid, alg, privateKey: undefined as never, publicJwk: jwk });
  }
  const server = await startChild(fileURLToPath(new URL('./guard-server.ts', import.meta.url)), {
    ISSUER: file.issuer,
    AUDIENCE: file.audience,
    JWKS_URI: jwksServer.jwksUri,
  });
  const base = `http://127.0.0.1:${server.port}`;
  const one = `Bearer ${file.byAlg.RS256.tokens[0]}`;
  const cursor = (alg: BenchAlg, start = 1) => {
    const list = file.byAlg[alg].tokens;
    let i = start;
    return () => `Bearer ${list[i++ % DISTINCT]}`;
  };
  // The API gets core 1 to itself; autocannon (and the idle JWKS server) run on core 0.
  const parentMask = cpus().length >= 2 ? pin(process.pid, '0') : undefined;
  const pinned = parentMask !== undefined && pin(server.child.pid!, '1') !== undefined;
  try {
    const cpu = async () => ((await (await fetch(`${base}/__cpu`)).json()) as { us: number }).us;
    // Requests/s and the API process's CPU µs per request (steadier than req/s on a shared VM).
    const measured = async (path: string, header: () => string) => {
      const before = await cpu();
      const r = await load(base + path, header, { duration: WINDOW });
      const requests = r.rps * WINDOW;
      return { ...r, cpuPerRequest: ((await cpu()) - before) / requests };
    };
    type Runner = () => ReturnType<typeof measured>;
    // Three groups, each measured in its own interleaved rounds: ratios compare cases of one group.
    const same: Record<string, Runner> = {
      bare: () => measured('/bare', () => one),
      noop: () => measured('/noop', () => one),
      kitSame: () => measured('/kit', () => one),
      kitTwoSame: () => measured('/kit-two', () => one),
      kitOtelSame: () => measured('/kit-otel', () => one),
      auth0Same: () => measured('/auth0-RS256', () => one),
    };
    const groups = [same];
    for (const alg of ALGS) {
      const next = { kit: cursor(alg), jose: cursor(alg), auth0: cursor(alg), floor: cursor(alg) };
      groups.push({
        [`bare ${alg}`]: () => measured('/bare', () => one),
        [`kit ${alg}`]: () => measured('/kit', next.kit),
        [`jose ${alg}`]: () => measured('/jose', next.jose),
        [`auth0 ${alg}`]: () => measured(`/auth0-${alg}`, next.auth0),
        [`floor ${alg}`]: () => measured('/floor', next.floor),
      });
    }
    // Warm-up: JIT, JWKS fetch, connection pools (tokens from the far end of the list, never reused).
    for (const alg of ALGS) {
      const warm = cursor(alg, DISTINCT - 5_000);
      for (const path of ['/bare', '/noop', '/kit', '/kit-two', '/kit-otel', '/jose', '/floor', `/auth0-${alg}`]) await load(base + path, warm, { duration: 1 });
    }
    const { m, ratio, cpuRatio, us } = await groupedRounds(groups, ROUNDS);
    const x = (v: number) => `${fmt(v, 2)}×`;
    const layout = pinned ? 'API on core 1, autocannon on core 0' : 'unpinned';
    const rows: Row[] = [
      { name: 'bare Express route', value: `${fmt(m('bare'))} req/s`, note: `${us('bare')}; median of ${ROUNDS} rounds; in each, the cases compared with each other run back to back, ${WINDOW} s each, ${CONNECTIONS} connections; ${layout}` },
      { name: 'bare route + one no-op middleware', value: `${fmt(m('noop'))} req/s`, note: `${x(ratio('noop', 'bare'))} bare; ${us('noop')} (what any middleware layer costs)` },
      {
        name: 'requireAuth, one repeated token',
        value: `${fmt(m('kitSame'))} req/s`,
        note:
          `**${x(ratio('kitSame', 'bare'))} bare** (target ≥ 0.90×), ${x(ratio('kitSame', 'noop'))} the no-op middleware, ${x(ratio('kitSame', 'auth0Same'))} express-oauth2-jwt-bearer on the same repeated token; ` +
          `${us('kitSame')} (${x(cpuRatio('kitSame', 'bare'))} bare by CPU)`,
      },
      {
        name: 'requireAuth with two issuers, one repeated token',
        value: `${fmt(m('kitTwoSame'))} req/s`,
        note: `**${x(ratio('kitTwoSame', 'bare'))} bare** (target ≥ 0.90×), ${x(ratio('kitTwoSame', 'kitSame'))} the one-issuer guard; ${us('kitTwoSame')} (the token's iss picks the tenant, then the cache answers)`,
      },
      {
        name: 'requireAuth with an OpenTelemetry meter provider, one repeated token',
        value: `${fmt(m('kitOtelSame'))} req/s`,
        note: `**${x(ratio('kitOtelSame', 'bare'))} bare** (target ≥ 0.90×), ${x(ratio('kitOtelSame', 'kitSame'))} without telemetry; ${us('kitOtelSame')}`,
      },
      { name: 'express-oauth2-jwt-bearer, one repeated token', value: `${fmt(m('auth0Same'))} req/s`, note: `${x(ratio('auth0Same', 'bare'))} bare; ${us('auth0Same')} (it verifies every request)` },
    ];
    for (const alg of ALGS) {
      const [kit, jose, auth0, floor, bare] = ['kit', 'jose', 'auth0', 'floor', 'bare'].map((n) => `${n} ${alg}`) as [string, string, string, string, string];
      rows.push(
        {
          name: `**${alg}** requireAuth, new token per request`,
          value: `${fmt(m(kit))} req/s`,
          note:
            `**${x(ratio(kit, auth0))} express-oauth2-jwt-bearer** (target ≥ 1.3×), **${x(ratio(kit, floor))} floor** (target ≥ 0.95×), ${x(ratio(kit, jose))} hand-written jose; ` +
            `${us(kit)} (by CPU: ${x(cpuRatio(kit, auth0))} express-oauth2-jwt-bearer, ${x(cpuRatio(kit, floor))} floor, ${x(cpuRatio(kit, jose))} jose)`,
        },
        { name: `${alg} hand-written jose.jwtVerify guard, new token`, value: `${fmt(m(jose))} req/s`, note: `${x(ratio(jose, bare))} bare; ${us(jose)}` },
        { name: `${alg} express-oauth2-jwt-bearer, new token`, value: `${fmt(m(auth0))} req/s`, note: `${x(ratio(auth0, bare))} bare; ${us(auth0)}` },
        { name: `${alg} floor (crypto.verify + JSON.parse + iss/aud/exp), new token`, value: `${fmt(m(floor))} req/s`, note: `${x(ratio(floor, bare))} bare; ${us(floor)}` },
      );
    }
    return [...rows, ...(await cacheFootprint())];
  } finally {
    unpin(process.pid, parentMask);
    await server.stop();
    await jwksServer.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('requireAuth', await benchGuard());
}
