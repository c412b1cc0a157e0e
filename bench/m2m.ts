/**
 * createM2MClient() benchmarks: warm getToken() cost, outbound fetch through the client vs plain
 * fetch, and IdP traffic under constant load with short-lived tokens. Loopback only.
 *
 *   npx tsx bench/m2m.ts            (alone)   ·   npm run bench m2m   (from bench/run.ts)
 *
 * Env: M2M_BENCH_GET_N (warm getToken calls, default 1e6), M2M_BENCH_FETCH_SECONDS (per round, default 1.5),
 * M2M_BENCH_ROUNDS (interleaved rounds per side, default 6),
 * M2M_BENCH_CONCURRENCY (default 32), M2M_BENCH_REFRESH_SECONDS (default 15; the issue asks 30 s, 15 s keeps
 * the bench short and still covers ~7 refresh windows of a 5 s token).
 */
import { createServer } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startMockIdp } from '../fixtures/mock-idp/index.js';
import type { M2MTokenFetchedEvent } from '../lib/index.js';
import { built } from './kit.js';
import { fmt, printTable, serveForParent, startChild, type Row } from './common.js';

const { createM2MClient } = await built<typeof import('../lib/index.js')>('index.js');
const { withBearer } = await built<typeof import('../lib/m2m/outbound/fetch.js')>('m2m/outbound/fetch.js');

const GET_N = Number(process.env.M2M_BENCH_GET_N ?? 1_000_000);
const FETCH_SECONDS = Number(process.env.M2M_BENCH_FETCH_SECONDS ?? 1.5);
const ROUNDS = Number(process.env.M2M_BENCH_ROUNDS ?? 6);
const CONCURRENCY = Number(process.env.M2M_BENCH_CONCURRENCY ?? 32);
const REFRESH_SECONDS = Number(process.env.M2M_BENCH_REFRESH_SECONDS ?? 15);
const svc = { clientId: 'svc-report', clientSecret: 'svc-secret' };

/** The downstream runs in its own process so it does not share the client's event loop. */
async function runDownstream(): Promise<void> {
  const server = createServer((req, res) => {
    const ok = (req.headers.authorization ?? '').startsWith('Bearer ');
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(ok ? '{"ok":true}' : '{"error":"invalid_token"}');
  });
  server.keepAliveTimeout = 60_000;
  await serveForParent(server);
}

async function warmGetToken(tokenEndpoint: string): Promise<Row[]> {
  const client = createM2MClient({ tokenEndpoint, ...svc });
  await client.getToken();
  for (let i = 0; i < 50_000; i++) await client.getToken(); // JIT warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < GET_N; i++) await client.getToken();
  const ns = Number(process.hrtime.bigint() - t0) / GET_N;
  const scoped = { scope: 'inventory:read' };
  await client.getToken(scoped);
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < GET_N; i++) await client.getToken(scoped);
  const nsScoped = Number(process.hrtime.bigint() - t1) / GET_N;
  return [
    { name: 'warm `await getToken()`', value: `${fmt(ns)} ns/op`, note: `${fmt(GET_N)} sequential calls; target well under 10 µs` },
    { name: 'warm `await getToken({ scope })`', value: `${fmt(nsScoped)} ns/op`, note: 'per-call options (memoized key)' },
  ];
}

/** `CONCURRENCY` loops sending requests back to back for `seconds`; returns requests per second. */
async function drive(send: () => Promise<Response>, seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const res = await send();
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`downstream answered ${res.status}`);
      done += 1;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return done / ((performance.now() - t0) / 1000);
}

async function fetchOverhead(tokenEndpoint: string, downstream: string): Promise<Row[]> {
  const client = createM2MClient({ tokenEndpoint, ...svc });
  const { accessToken } = await client.getToken();
  const plain = () => fetch(downstream, { headers: { authorization: `Bearer ${accessToken}` } });
  const viaClient = () => client.fetch(downstream);
  await drive(plain, 1); // warm both paths and the connection pool
  await drive(viaClient, 1);
  const p: number[] = [];
  const c: number[] = [];
  // Short interleaved rounds, alternating which goes first, so drift on a shared machine hits both alike.
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      p.push(await drive(plain, FETCH_SECONDS));
      c.push(await drive(viaClient, FETCH_SECONDS));
    } else {
      c.push(await drive(viaClient, FETCH_SECONDS));
      p.push(await drive(plain, FETCH_SECONDS));
    }
  }
  // What client.fetch() adds before the request leaves: token lookup and the header. Measured alone, it is
  // the bound on the throughput ratio that load elsewhere on the machine cannot blur.
  const N = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) withBearer(downstream, undefined, (await client.getToken()).accessToken);
  const addedNs = Number(process.hrtime.bigint() - t0) / N;
  const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  // Each round's pair ran back to back, so its ratio is the least disturbed by load elsewhere; report the median.
  const ratios = c.map((v, i) => v / p[i]!).sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  const ratio = ratios.length % 2 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
  return [
    { name: 'plain `fetch()` to a downstream on 127.0.0.1', value: `${fmt(avg(p))} req/s`, note: `${CONCURRENCY} concurrent loops, ${ROUNDS} × ${FETCH_SECONDS} s` },
    { name: '`client.fetch()` (token from cache)', value: `${fmt(avg(c))} req/s`, note: 'same downstream, interleaved rounds' },
    { name: 'CPU added per `client.fetch()` call', value: `${fmt(addedNs)} ns`, note: `token lookup + header; vs ${fmt(1e9 / avg(p))} ns of wall time per request (1 / plain throughput)` },
    {
      name: 'client / plain',
      value: fmt(ratio, 3),
      note: `median of ${ratios.length} paired rounds (range ${fmt(ratios[0]!, 2)}–${fmt(ratios.at(-1)!, 2)}); target ≥ 0.95`,
    },
  ];
}

async function refreshUnderLoad(downstream: string): Promise<Row[]> {
  const idp = await startMockIdp({ accessTokenTtl: 5 });
  const events: M2MTokenFetchedEvent[] = [];
  try {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, onTokenFetched: (e) => events.push(e) });
    await client.getToken();
    const cold = events.length;
    idp.resetStats();
    const end = performance.now() + REFRESH_SECONDS * 1000;
    let calls = 0;
    let slowest = 0;
    const loop = async (): Promise<void> => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await client.getToken();
        slowest = Math.max(slowest, performance.now() - t0);
        const res = await client.fetch(downstream);
        await res.arrayBuffer();
        calls += 1;
      }
    };
    await Promise.all(Array.from({ length: 16 }, loop));
    const run = events.slice(cold);
    const waited = run.reduce((n, e) => n + e.waiters, 0);
    const background = run.filter((e) => e.background).length;
    // 5 s token: skew min(60 s, 2.5 s) → served 2.5 s; refresh-ahead (20 %) starts 0.5 s before that.
    const window = 2.5 * 0.8;
    return [
      {
        name: `IdP token requests, ${REFRESH_SECONDS} s of load, 5 s tokens`,
        value: String(idp.stats.tokenRequests),
        note: `one per refresh window ≈ ${fmt(REFRESH_SECONDS / window, 1)} expected (a new token every ~${window} s); ${fmt(calls)} outbound calls`,
      },
      { name: 'of which background refreshes', value: String(background) },
      { name: 'callers that waited for a token', value: String(waited), note: 'after the cold start; target 0' },
      { name: 'slowest `getToken()` during the run', value: `${fmt(slowest, 2)} ms`, note: '16 concurrent loops of getToken + fetch' },
    ];
  } finally {
    await idp.close();
  }
}

export async function benchM2M(): Promise<Row[]> {
  const idp = await startMockIdp();
  const down = await startChild(fileURLToPath(import.meta.url), { M2M_BENCH_ROLE: 'downstream' });
  const downstream = `http://127.0.0.1:${down.port}/inventory`;
  try {
    return [
      ...(await warmGetToken(idp.ciamTokenEndpoint)),
      ...(await fetchOverhead(idp.ciamTokenEndpoint, downstream)),
      ...(await refreshUnderLoad(downstream)),
    ];
  } finally {
    await down.stop();
    await idp.close();
  }
}

if (process.env.M2M_BENCH_ROLE === 'downstream') {
  await runDownstream();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`createM2MClient() benchmark — node ${process.version}`);
  printTable('createM2MClient()', await benchM2M());
}
