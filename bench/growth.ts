/**
 * How requireAuth's cost grows (issue 22), `npm run bench -- growth`:
 *
 * 1. Memory after GROWTH_TOKENS (default 1,000,000) distinct one-off tokens seen by one guard with
 *    its defaults: heap used and RSS after a forced GC, every 100,000 tokens (must stay flat).
 * 2. Bytes per verified-cache entry with GROWTH_CACHED (default 100,000) tokens cached.
 *    1 and 2 run in a child process of their own (bench/growth-worker.ts).
 * 3. API CPU per request while the JWKS rotates every second, against the same guard and driver
 *    with a JWKS that never rotates (bench/rotating-jwks.ts); new token each request (also with
 *    OpenTelemetry providers: the guard's only spans are key-set fetches) and one repeated token
 *    (re-issued with each key).
 * 4. Latency at 80 % of the measured maximum throughput: per round, each case runs flat out for
 *    2 s (its maximum), then at 0.8 × that rate (autocannon `overallRate`) for BENCH_WINDOW
 *    seconds; p50 and p99 of the paced run. bare, requireAuth with one repeated token, requireAuth
 *    with a new token each request.
 *
 * 3 and 4 use the per-process method of bench/per-process.ts: one guard per API process (fresh
 * processes, so token budgets are this part's own) on core 0, autocannon on core 1, interleaved
 * rounds, medians with the lowest–highest round. BENCH_ROUNDS (default 5; the latency part at
 * most 3, to stay within the 120,000 pre-signed tokens), BENCH_WINDOW (default 4), GROWTH_TOKENS,
 * GROWTH_CACHED, GROWTH_PARTS (default memory,rotation,latency).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fmt, median, pin, printTable, readmeRows, unpin, type Row } from './common.js';
import { compileScript, measure, startApi, stopApi, type Api, type Sample } from './api-process.js';
import { startRotatingJwks } from './rotating-jwks.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import { benchTokens } from './tokens.js';

const WINDOW = Number(process.env.BENCH_WINDOW ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MAX_WINDOW = 2;
const LATENCY_ROUNDS = Math.min(ROUNDS, 3);
const DISTINCT = 120_000;
if (LATENCY_ROUNDS * (MAX_WINDOW + WINDOW) * 5_000 + 10_000 > DISTINCT) throw new Error('bench growth: BENCH_WINDOW too long for the pre-signed tokens');
const ONE_OFF = Number(process.env.GROWTH_TOKENS ?? 1_000_000);
const CACHED = Number(process.env.GROWTH_CACHED ?? 100_000);
const MiB = 2 ** 20;
const issuer = 'https://idp.bench';
const audience = 'https://api.bench';

interface Step {
  seen: number;
  heapUsed: number;
  rss: number;
  entries: number;
  cacheBytes: number;
  tokenLength: number;
}

/** Runs bench/growth-worker.ts in its own `node --expose-gc` and collects its measurements. */
async function worker(env: Record<string, string>): Promise<{ steps: Step[]; seconds: number }> {
  const child = spawn(process.execPath, ['--expose-gc', compileScript('growth-worker')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const steps: Step[] = [];
  let seconds = NaN;
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = JSON.parse(line) as Step & { done?: boolean; seconds?: number };
    if (m.done) seconds = m.seconds!;
    else steps.push(m);
  }
  const code = child.exitCode ?? ((await once(child, 'exit')) as [number | null])[0];
  if (code !== 0) throw new Error(`growth-worker (${JSON.stringify(env)}) exited with ${code}`);
  return { steps, seconds };
}

async function memory(): Promise<Row[]> {
  const step = String(Math.max(1, Math.round(ONE_OFF / 10)));
  const oneOff = await worker({ MODE: 'oneoff', COUNT: String(ONE_OFF), STEP: step });
  // The same loop without the guard: what the harness itself (signing, the allocator) does to RSS.
  const control = await worker({ MODE: 'control', COUNT: String(ONE_OFF), STEP: step });
  const [first, last] = [oneOff.steps[0]!, oneOff.steps.at(-1)!];
  const curve = (run: { steps: Step[] }, f: (s: Step) => number) => run.steps.map((s) => fmt(f(s) / MiB, 1)).join(', ');
  const cached = await worker({ MODE: 'cached', COUNT: String(CACHED), STEP: String(CACHED) });
  const [c0, c1] = [cached.steps[0]!, cached.steps.at(-1)!];
  const perEntry = (c1.heapUsed - c0.heapUsed) / c1.entries;
  const rows: Row[] = [
    {
      name: `heap used after ${fmt(ONE_OFF)} distinct one-off tokens (defaults)`,
      value: `${fmt(first.heapUsed / MiB, 1)} → ${fmt(last.heapUsed / MiB, 1)} MiB`,
      note: `after a forced GC, every ${fmt(ONE_OFF / 10)} tokens: ${curve(oneOff, (s) => s.heapUsed)} MiB; ${fmt(last.entries)} of them in the cache; ${fmt(oneOff.seconds)} s`,
    },
    { name: 'RSS, same run', value: `${fmt(first.rss / MiB)} → ${fmt(last.rss / MiB)} MiB`, note: `${curve(oneOff, (s) => s.rss)} MiB` },
    {
      name: 'the same loop signing tokens without a guard (control)',
      value: `${fmt(control.steps[0]!.heapUsed / MiB, 1)} → ${fmt(control.steps.at(-1)!.heapUsed / MiB, 1)} MiB heap`,
      note: `RSS ${curve(control, (s) => s.rss)} MiB: RSS growth seen here too is the harness and the allocator, not the guard`,
    },
    {
      name: `bytes per cached token (${fmt(c1.entries)} cached)`,
      value: `${fmt(perEntry)} B`,
      note: `heap ${fmt(c0.heapUsed / MiB, 1)} → ${fmt(c1.heapUsed / MiB, 1)} MiB for ${fmt(c1.entries)} entries of ${c1.tokenLength}-character tokens, each presented twice; the cache's own estimate ${fmt(c1.cacheBytes / c1.entries)} B per entry; ${fmt(cached.seconds)} s`,
    },
  ];
  readmeRows.push(
    { name: `memory after ${fmt(ONE_OFF)} one-off tokens (heap used, after GC)`, value: `${fmt(first.heapUsed / MiB, 1)} → ${fmt(last.heapUsed / MiB, 1)} MiB`, note: `RSS ${fmt(first.rss / MiB)} → ${fmt(last.rss / MiB)} MiB (without the guard: ${fmt(control.steps[0]!.rss / MiB)} → ${fmt(control.steps.at(-1)!.rss / MiB)} MiB); flat means the guard keeps nothing per one-off token` },
    { name: `bytes per cached token (${fmt(c1.entries)} cached)`, value: `${fmt(perEntry)} B`, note: `${c1.tokenLength}-character tokens; the cache bounds itself by its own estimate, ${fmt(c1.cacheBytes / c1.entries)} B` },
  );
  return rows;
}

type Case = [Api, () => Record<string, string>];

/** Interleaved rounds as in bench/per-process.ts: every case once per round, the order rotating each round. */
async function rounds(cases: Record<string, Case>, count: number, one: (c: Case) => Promise<Sample>): Promise<Record<string, Sample[]>> {
  const names = Object.keys(cases);
  const samples: Record<string, Sample[]> = {};
  for (let round = 0; round < count; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]!;
      const s = await one(cases[name]!);
      (samples[name] ??= []).push(s);
      if (process.env.BENCH_VERBOSE) console.error(`round ${round} ${name}: ${fmt(s.rps)} req/s, ${fmt(s.us)} µs CPU/req, p50 ${s.p50} ms, p99 ${s.p99} ms`);
    }
  }
  return samples;
}

const spread = (values: number[], digits: number, unit = '') => `${fmt(median(values), digits)}${unit} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;
// "a ÷ b" as bench/per-process.ts writes it: b's CPU per request over a's (above 1: a is cheaper).
const ratio = (samples: Record<string, Sample[]>, a: string, b: string) => spread(samples[a]!.map((s, k) => samples[b]![k]!.us / s.us), 2, '×');
const us = (samples: Record<string, Sample[]>, c: string) => fmt(median(samples[c]!.map((s) => s.us)));

async function rotation(script: string, core: string | undefined): Promise<Row[]> {
  const rotating = await startRotatingJwks(issuer, audience, 1_000);
  const fixed = await startRotatingJwks(issuer, audience, 0);
  const apis: Api[] = [];
  const start = async (env: Record<string, string>) => {
    const api = await startApi(script, { ISSUER: issuer, AUDIENCE: audience, ...env }, core);
    apis.push(api);
    return api;
  };
  try {
    const bare = await start({ GUARD: 'bare' });
    // The static guard keeps its defaults; the rotating one reloads the set every second
    // (jwksCacheMaxAgeMs: 1000), as it must to follow keys that change every second.
    const kitStatic = await start({ GUARD: 'kit', JWKS_URI: fixed.jwksUri });
    const kitRotating = await start({ GUARD: 'kit', JWKS_URI: rotating.jwksUri, JWKS_MAX_AGE_MS: '1000' });
    // The one place the guard makes spans is a JWKS fetch, so here the tracer provider has work.
    const kitOtelRotating = await start({ GUARD: 'kit', OTEL: 'provider', JWKS_URI: rotating.jwksUri, JWKS_MAX_AGE_MS: '1000' });
    const bearer = (token: () => string) => () => ({ authorization: `Bearer ${token()}` });
    const cases: Record<string, Case> = {
      bare: [bare, bearer(fixed.same)],
      'static new': [kitStatic, bearer(fixed.fresh)],
      'rotating new': [kitRotating, bearer(rotating.fresh)],
      'rotating new otel': [kitOtelRotating, bearer(rotating.fresh)],
      'static same': [kitStatic, bearer(fixed.same)],
      'rotating same': [kitRotating, bearer(rotating.same)],
    };
    for (const c of Object.values(cases)) await measure(c[0], c[1], 1);
    const [rotations0, fetches0, started] = [rotating.rotations, rotating.fetches, performance.now()];
    const samples = await rounds(cases, ROUNDS, ([api, headers]) => measure(api, headers, WINDOW));
    const seconds = (performance.now() - started) / 1000;
    const keys = `${fmt(rotating.rotations - rotations0)} rotations and ${fmt(rotating.fetches - fetches0)} key-set fetches in ${fmt(seconds)} s`;
    readmeRows.push(
      { name: 'JWKS rotating every second ÷ static, new token each request (ES256)', value: ratio(samples, 'rotating new', 'static new'), note: `${us(samples, 'rotating new')} vs ${us(samples, 'static new')} µs CPU/request` },
      { name: 'same, OpenTelemetry providers registered ÷ static', value: ratio(samples, 'rotating new otel', 'static new'), note: `${us(samples, 'rotating new otel')} vs ${us(samples, 'static new')} µs CPU/request` },
      { name: 'JWKS rotating every second ÷ static, one repeated token', value: ratio(samples, 'rotating same', 'static same'), note: `${us(samples, 'rotating same')} vs ${us(samples, 'static same')} µs CPU/request` },
    );
    return [
      { name: 'rotation group: bare route', value: `${us(samples, 'bare')} µs`, note: `${ROUNDS} rounds × ${WINDOW} s per case; tokens ES256, signed per request by the driver (core 1) with the current key` },
      { name: 'requireAuth, static JWKS, new token each request', value: `${us(samples, 'static new')} µs` },
      { name: '**requireAuth, JWKS rotating every second, new token each request**', value: `${us(samples, 'rotating new')} µs`, note: `**${ratio(samples, 'rotating new', 'static new')} the static JWKS** (above 1: the rotating one is cheaper); ${keys}` },
      {
        name: 'requireAuth with OpenTelemetry providers registered, JWKS rotating every second, new token each request',
        value: `${us(samples, 'rotating new otel')} µs`,
        note: `${ratio(samples, 'rotating new otel', 'static new')} the static JWKS, ${ratio(samples, 'rotating new otel', 'rotating new')} without a provider (a span per key-set fetch)`,
      },
      { name: 'requireAuth, static JWKS, one repeated token', value: `${us(samples, 'static same')} µs` },
      { name: '**requireAuth, JWKS rotating every second, one repeated token**', value: `${us(samples, 'rotating same')} µs`, note: `**${ratio(samples, 'rotating same', 'static same')} the static JWKS**; the token is re-issued with each key, and each reload retires the cached result` },
    ];
  } finally {
    for (const api of apis) await stopApi(api);
    await rotating.close();
    await fixed.close();
  }
}

async function latency(script: string, core: string | undefined): Promise<Row[]> {
  const file = benchTokens(issuer, audience, DISTINCT);
  const jwksServer = await startJwksServer({ algs: [] });
  const { kid, jwk } = file.byAlg.RS256;
  jwksServer.keys.push({ kid, alg: 'RS256', privateKey: undefined as never, publicJwk: jwk });
  const env = { ISSUER: issuer, AUDIENCE: audience, JWKS_URI: jwksServer.jwksUri };
  const apis: Api[] = [];
  try {
    const bare = await startApi(script, { ...env, GUARD: 'bare' }, core);
    apis.push(bare);
    const kit = await startApi(script, { ...env, GUARD: 'kit' }, core);
    apis.push(kit);
    const one = { authorization: `Bearer ${file.byAlg.RS256.tokens[0]}` };
    let i = 1;
    const cases: Record<string, Case> = {
      bare: [bare, () => one],
      'kit cached': [kit, () => one],
      'kit new': [kit, () => ({ authorization: `Bearer ${file.byAlg.RS256.tokens[i++]!}` })],
    };
    for (const c of Object.values(cases)) await measure(c[0], c[1], 1);
    // The max right before the paced run, so both see the same machine.
    const samples = await rounds(cases, LATENCY_ROUNDS, async ([api, headers]) => {
      const max = await measure(api, headers, MAX_WINDOW);
      const paced = await measure(api, headers, WINDOW, { overallRate: Math.max(1, Math.round(0.8 * max.rps)) });
      return { ...paced, rps: max.rps };
    });
    const row = (c: string, label: string): Row => {
      const s = samples[c]!;
      const p50 = spread(s.map((x) => x.p50), 0);
      const p99 = spread(s.map((x) => x.p99), 0);
      readmeRows.push({ name: `latency at 80 % of max throughput: ${label}`, value: `p99 ${p99} ms`, note: `p50 ${p50} ms; max ${fmt(median(s.map((x) => x.rps)))} req/s` });
      return { name: `${label}, at 80 % of its max throughput`, value: `p99 ${p99} ms`, note: `p50 ${p50} ms; max ${fmt(median(s.map((x) => x.rps)))} req/s (${MAX_WINDOW} s flat out before each paced run)` };
    };
    return [row('bare', 'bare route'), row('kit cached', 'requireAuth, one repeated token'), row('kit new', 'requireAuth, new RS256 token each request')];
  } finally {
    for (const api of apis) await stopApi(api);
    await jwksServer.close();
  }
}

export async function benchGrowth(): Promise<Row[]> {
  const parts = (process.env.GROWTH_PARTS ?? 'memory,rotation,latency').split(',');
  const out = parts.includes('memory') ? await memory() : [];
  const twoCores = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
  const parentMask = twoCores ? pin(process.pid, '1') : undefined;
  const script = compileScript('api-server');
  try {
    if (parts.includes('rotation')) out.push(...(await rotation(script, twoCores ? '0' : undefined)));
    if (parts.includes('latency')) out.push(...(await latency(script, twoCores ? '0' : undefined)));
  } finally {
    unpin(process.pid, parentMask);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('requireAuth() growth', await benchGrowth());
  printTable('For README.md', readmeRows);
}
