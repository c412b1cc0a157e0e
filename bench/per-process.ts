/**
 * requireAuth() as users deploy it: each guard in its OWN API process (bench/api-server.ts: Express 5,
 * one route, one guard with its defaults), every process pinned to core 0, autocannon in this process
 * on core 1. The processes start once and stay up; in each round every case runs for BENCH_WINDOW
 * seconds (default 4), back to back, in an order that rotates each round, so a drift of the
 * machine's speed hits every case alike. A case's cost is the CPU time its API process used
 * (all threads, from /proc) divided by the requests it answered. Ratios are taken within a round;
 * the median over BENCH_ROUNDS rounds (default 5) is shown with the lowest and highest round.
 *
 * Groups: one repeated token; per algorithm a new token each request; DPoP (one bound token, a fresh
 * proof each request). requireAuth is measured twice in each group: with `@opentelemetry/api`
 * installed and no provider registered (`kit`, `kitDpop`), and with meter and tracer providers
 * registered (`kitOtel`, `kitOtelDpop`).
 *
 * BENCH_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=.tmp/prof` or `--trace-gc`) are passed to the API
 * processes; with --trace-gc the young and full collections per 1,000 requests are shown too.
 * BENCH_CASES=bare,kitSame runs only those cases (their processes only). BENCH_BASELINE_DIST=<dir>
 * (another build's dist/, an absolute path inside the repository, e.g. .tmp/dist-before, so packages resolve) adds a "baseline" requireAuth process to every group, for
 * before/after figures of a change measured in the same interleaved rounds.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import { CONNECTIONS, fmt, median, pin, readmeRows, unpin, printTable, type Row } from './common.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import { benchTokens, type BenchAlg } from './tokens.js';
import { compileScript, measure, startApi, stopApi, type Api, type Sample } from './api-process.js';
import { signProofs } from './dpop.js';
import { built } from './kit.js';

const { jwkThumbprint } = await built<typeof import('../lib/m2m/dpop/key.js')>('m2m/dpop/key.js');

const WINDOW = Number(process.env.BENCH_WINDOW ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DISTINCT = 120_000;
// Each process sees each token (and each DPoP proof) at most once: a case sends at most ROUNDS × WINDOW × ~5k requests.
const BUDGET = ROUNDS * WINDOW * 5_000 + 10_000;
if (BUDGET > DISTINCT) throw new Error('bench: more rounds × window than distinct tokens; lower BENCH_ROUNDS or BENCH_WINDOW');
const ALGS: BenchAlg[] = ['RS256', 'ES256'];
/**
 * DPoP proofs are signed before the run, so they must stay acceptable for all of it: both guards
 * get a one-hour proof window (it changes nothing per request but how long a jti is remembered),
 * and requireAuth a replay store that holds every proof of the run (sized as its docs say:
 * proofs per second × window), so a long run never meets "store full" (503).
 */
const DPOP_WINDOW = '3600';
/** The Host every DPoP request carries, so one list of proofs (htu http://api.bench/orders) serves every process. */
const DPOP_HOST = 'api.bench';

/** A case: its process, and the headers of each request (a new token or proof per call where needed). */
type Case = [string, () => Record<string, string>];

export async function benchPerProcess(): Promise<Row[]> {
  if (!existsSync('/proc/self/stat')) return [{ name: 'per-process method', value: 'n/a', note: 'needs Linux /proc' }];
  const file = benchTokens('https://idp.bench', 'https://api.bench', DISTINCT);
  const jwksServer = await startJwksServer({ algs: [] });
  for (const alg of ALGS) {
    const { kid, jwk } = file.byAlg[alg];
    jwksServer.keys.push({ kid, alg, privateKey: undefined as never, publicJwk: jwk });
  }
  const env = { ISSUER: file.issuer, AUDIENCE: file.audience, JWKS_URI: jwksServer.jwksUri };
  const one = { authorization: `Bearer ${file.byAlg.RS256.tokens[0]}` };
  const same = () => one;
  // Each case walks its own cursor from the start of the list: a process never sees a token twice.
  const cursor = (alg: BenchAlg, start = 1) => {
    const list = file.byAlg[alg].tokens;
    let i = start;
    return () => ({ authorization: `Bearer ${list[i++ % DISTINCT]}` });
  };
  // RFC 7662: a loopback introspection endpoint answering every token as active for this API, and
  // counting calls and distinct tokens (a new opaque token must cost one call, a repeated one none).
  const introspection = await startIntrospection(file.issuer, file.audience);
  const opaqueOne = { authorization: 'Bearer opaque-bench-token-0' };
  let opaqueSent = 0;
  const opaqueCursor = () => () => ({ authorization: `Bearer opaque-bench-token-${++opaqueSent}` });
  const dpop = { token: '', proofs: [] as string[] };
  const proofCursor = () => {
    let i = 0;
    return () => {
      if (i >= dpop.proofs.length) throw new Error(`bench: ran out of DPoP proofs (${dpop.proofs.length}); lower BENCH_ROUNDS or BENCH_WINDOW`);
      return { authorization: `DPoP ${dpop.token}`, dpop: dpop.proofs[i++]!, host: DPOP_HOST };
    };
  };
  const dpopEnv = { DPOP_IAT_WINDOW: DPOP_WINDOW, DPOP_REPLAY_MAX: String(BUDGET) };
  const processes: Record<string, Record<string, string>> = {
    bare: { GUARD: 'bare' },
    kit: { GUARD: 'kit' },
    kitOtel: { GUARD: 'kit', OTEL: 'provider' },
    jose: { GUARD: 'jose' },
    'auth0 RS256': { GUARD: 'auth0', ALG: 'RS256' },
    'auth0 ES256': { GUARD: 'auth0', ALG: 'ES256' },
    floor: { GUARD: 'floor' },
    minimal: { GUARD: 'minimal', DPOP_IAT_WINDOW: DPOP_WINDOW },
    assign: { GUARD: 'assign' },
    assignLoaded: { GUARD: 'assign', LOAD_KIT: '1' },
    kitDpop: { GUARD: 'kit', ...dpopEnv },
    kitOtelDpop: { GUARD: 'kit', OTEL: 'provider', ...dpopEnv },
    auth0Dpop: { GUARD: 'auth0', ALG: 'RS256', DPOP_IAT_WINDOW: DPOP_WINDOW },
    kitOpaque: { GUARD: 'kit', INTROSPECTION_ENDPOINT: introspection.url },
  };
  const baseline = process.env.BENCH_BASELINE_DIST;
  if (baseline) processes.kitBaseline = { GUARD: 'kit', KIT_DIST: baseline };
  if (baseline) processes.kitBaselineDpop = { GUARD: 'kit', KIT_DIST: baseline, ...dpopEnv };
  // Groups are measured one after the other; ratios only within a group.
  const groups: Array<Record<string, Case>> = [
    { bare: ['bare', same], kitSame: ['kit', same], kitOtelSame: ['kitOtel', same], auth0Same: ['auth0 RS256', same], assign: ['assign', same], minimalSame: ['minimal', same], assignLoaded: ['assignLoaded', same], kitOpaqueSame: ['kitOpaque', () => opaqueOne] },
  ];
  for (const alg of ALGS) {
    groups.push({
      [`bare ${alg}`]: ['bare', same],
      [`kit ${alg}`]: ['kit', cursor(alg)],
      [`kitOtel ${alg}`]: ['kitOtel', cursor(alg)],
      [`jose ${alg}`]: ['jose', cursor(alg)],
      [`auth0 ${alg}`]: [`auth0 ${alg}`, cursor(alg)],
      [`floor ${alg}`]: ['floor', cursor(alg)],
    });
  }
  groups.push({ 'bare opaque': ['bare', same], kitOpaqueNew: ['kitOpaque', opaqueCursor()] });
  groups.push({ 'bare dpop': ['bare', same], kitDpop: ['kitDpop', proofCursor()], kitOtelDpop: ['kitOtelDpop', proofCursor()], auth0Dpop: ['auth0Dpop', proofCursor()], minimalDpop: ['minimal', proofCursor()] });
  if (baseline) {
    groups[0]!.kitBaselineSame = ['kitBaseline', same];
    for (const [k, alg] of ALGS.entries()) groups[k + 1]![`kitBaseline ${alg}`] = ['kitBaseline', cursor(alg)];
    groups[groups.length - 1]!.kitBaselineDpop = ['kitBaselineDpop', proofCursor()];
  }
  const only = process.env.BENCH_CASES?.split(',');
  if (only) for (const g of groups) for (const name of Object.keys(g)) if (!only.includes(name)) delete g[name];
  // A control, only when asked for by name: the package loaded and a guard made, never called.
  if (!only?.includes('assignLoaded')) delete groups[0]!.assignLoaded;
  const used = new Set(groups.flatMap((g) => Object.values(g).map(([p]) => p)));
  let signing = '';
  if (groups.some((g) => ['kitDpop', 'kitOtelDpop', 'auth0Dpop', 'minimalDpop', 'kitBaselineDpop'].some((c) => c in g))) {
    // One RS256 access token bound (cnf.jkt) to an ES256 proof key, and a proof per request for it.
    const started = performance.now();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = publicKey.export({ format: 'jwk' }) as Record<string, string>;
    const { kid } = await jwksServer.addKey('RS256');
    dpop.token = await jwksServer.sign({ cnf: { jkt: jwkThumbprint(pub) }, iss: file.issuer, aud: file.audience }, { kid, expiresIn: 86_400 });
    dpop.proofs = signProofs(BUDGET, `http://${DPOP_HOST}/orders`, dpop.token, privateKey, pub);
    signing = `${fmt(dpop.proofs.length)} ES256 proofs signed in ${fmt((performance.now() - started) / 1000, 1)} s`;
  }

  const twoCores = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
  const parentMask = twoCores ? pin(process.pid, '1') : undefined;
  const script = compileScript('api-server');
  const apis: Record<string, Api> = {};
  try {
    for (const name of used) apis[name] = await startApi(script, { ...env, ...processes[name] }, twoCores ? '0' : undefined);
    const run = ([proc, headers]: Case, seconds: number) => measure(apis[proc]!, headers, seconds);
    // Warm-up: JIT, JWKS fetch, connections (from each case's own cursor: those tokens and proofs are spent).
    for (const group of groups) for (const c of Object.values(group)) await run(c, 1);
    const samples: Record<string, Sample[]> = {};
    for (const group of groups) {
      const names = Object.keys(group);
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(k + round) % names.length]!;
          const s = await run(group[name]!, WINDOW);
          (samples[name] ??= []).push(s);
          if (process.env.BENCH_VERBOSE) console.error(`round ${round} ${name}: ${fmt(s.rps)} req/s, ${fmt(s.us)} µs CPU/req, GC per 1k req ${fmt(s.young, 1)}/${fmt(s.full, 2)}`);
        }
      }
    }
    const perToken = opaqueSent > 0 ? `${fmt(introspection.calls() / introspection.distinct(), 3)} introspection calls per distinct token (${fmt(introspection.calls())} calls; ${fmt(introspection.distinct())} distinct tokens reached the endpoint of ${fmt(opaqueSent + 1)} sent)` : '';
    return rows(samples, twoCores, signing, perToken);
  } finally {
    unpin(process.pid, parentMask);
    for (const api of Object.values(apis)) await stopApi(api);
    await jwksServer.close();
    await introspection.close();
  }
}

function rows(samples: Record<string, Sample[]>, pinned: boolean, signing: string, perToken: string): Row[] {
  const has = (...names: string[]) => names.every((n) => samples[n] !== undefined);
  const us = (c: string) => median(samples[c]!.map((s) => s.us));
  // "a ÷ b" as the issue writes it: b's CPU per request over a's (above 1: a is cheaper).
  const ratio = (a: string, b: string) => {
    const per = samples[a]!.map((s, k) => samples[b]![k]!.us / s.us);
    return `${fmt(median(per), 2)}× (${fmt(Math.min(...per), 2)}–${fmt(Math.max(...per), 2)})`;
  };
  const gcNote = (c: string) => (samples[c]!.some((s) => s.young > 0) ? `; GC per 1,000 req: ${fmt(median(samples[c]!.map((s) => s.young)), 1)} young, ${fmt(median(samples[c]!.map((s) => s.full)), 2)} full` : '');
  const cell = (c: string, label: string, note = ''): Row => ({ name: label, value: `${fmt(us(c))} µs`, note: `${fmt(median(samples[c]!.map((s) => s.rps)))} req/s${note ? `; ${note}` : ''}${gcNote(c)}` });
  // The compact table for README.md: "a ÷ b", its range, the target, and the two CPU figures behind it.
  const readme = (label: string, a: string, b: string, target = '') => {
    if (has(a, b)) readmeRows.push({ name: label, value: ratio(a, b), note: `${target ? `target ${target}; ` : ''}${fmt(us(a))} vs ${fmt(us(b))} µs CPU/request` });
  };
  const out: Row[] = [];
  const conditions = `${ROUNDS} rounds × ${WINDOW} s per case, ${CONNECTIONS} connections, ${pinned ? 'each API process on core 0, autocannon on core 1' : 'unpinned'}; median (lowest–highest round)`;
  if (has('bare')) out.push(cell('bare', 'bare route', conditions));
  if (has('kitSame', 'bare')) out.push(cell('kitSame', 'requireAuth, one repeated token', `**${ratio('kitSame', 'bare')} bare** (target ≥ 0.95×)`));
  if (has('kitBaselineSame', 'bare', 'kitSame')) out.push(cell('kitBaselineSame', 'baseline build (BENCH_BASELINE_DIST), one repeated token', `${ratio('kitBaselineSame', 'bare')} bare; this build ${ratio('kitSame', 'kitBaselineSame')} the baseline`));
  if (has('assign', 'bare')) out.push(cell('assign', 'bare route + a middleware that only sets req.auth', `${ratio('assign', 'bare')} bare (what setting req.auth costs any guard)`));
  if (has('assignLoaded', 'bare')) out.push(cell('assignLoaded', 'the same, with the package loaded and a guard made (never called)', `${ratio('assignLoaded', 'bare')} bare${has('kitSame') ? `; requireAuth ${ratio('kitSame', 'assignLoaded')} this` : ''}`));
  if (has('minimalSame', 'bare')) out.push(cell('minimalSame', 'the minimal caching guard (a Map by token string, req.auth), one repeated token', `${ratio('minimalSame', 'bare')} bare${has('kitSame') ? `; requireAuth ${ratio('kitSame', 'minimalSame')} this` : ''}`));
  if (has('kitOtelSame', 'bare')) out.push(cell('kitOtelSame', 'requireAuth with OpenTelemetry providers registered, one repeated token', `**${ratio('kitOtelSame', 'bare')} bare** (target ≥ 0.95×)`));
  if (has('auth0Same', 'bare')) out.push(cell('auth0Same', 'express-oauth2-jwt-bearer, one repeated token', `${ratio('auth0Same', 'bare')} bare`));
  readme('one repeated token: requireAuth ÷ bare', 'kitSame', 'bare', '≥ 0.95×');
  readme('same, OpenTelemetry providers registered ÷ bare', 'kitOtelSame', 'bare', '≥ 0.95×');
  readme('one repeated token: the minimal caching guard ÷ bare (a bound, not a guard)', 'minimalSame', 'bare');
  readme('one repeated token: requireAuth ÷ the minimal caching guard', 'kitSame', 'minimalSame');
  for (const alg of ALGS) {
    const [kit, otel, jose, auth0, floor, bare] = ['kit', 'kitOtel', 'jose', 'auth0', 'floor', 'bare'].map((n) => `${n} ${alg}`) as [string, string, string, string, string, string];
    const versus = (c: string) => `**${ratio(c, auth0)} express-oauth2-jwt-bearer** (target ≥ 1.3×)${has(floor) ? `, **${ratio(c, floor)} floor** (target ≥ 0.95×)` : ''}${has(jose) ? `, ${ratio(c, jose)} hand-written jose` : ''}`;
    if (has(bare)) out.push(cell(bare, `${alg} group: bare route`));
    if (has(kit, auth0)) out.push(cell(kit, `**${alg}** requireAuth, new token each request`, versus(kit)));
    else if (has(kit)) out.push(cell(kit, `**${alg}** requireAuth, new token each request`));
    if (has(otel, auth0)) out.push(cell(otel, `**${alg}** requireAuth with OpenTelemetry providers registered, new token each request`, `${versus(otel)}; ${ratio(otel, kit)} without a provider`));
    else if (has(otel)) out.push(cell(otel, `**${alg}** requireAuth with OpenTelemetry providers registered, new token each request`));
    const base = `kitBaseline ${alg}`;
    if (has(base, kit)) out.push(cell(base, `${alg} baseline build (BENCH_BASELINE_DIST), new token each request`, `this build ${ratio(kit, base)} the baseline`));
    if (has(jose)) out.push(cell(jose, `${alg} hand-written jose.jwtVerify guard, new token`));
    if (has(auth0)) out.push(cell(auth0, `${alg} express-oauth2-jwt-bearer, new token`));
    if (has(floor)) out.push(cell(floor, `${alg} floor (crypto.verify + JSON.parse + iss/aud/exp), new token`));
    readme(`${alg} new token: requireAuth ÷ express-oauth2-jwt-bearer`, kit, auth0, '≥ 1.3×');
    readme(`${alg} new token: requireAuth ÷ floor`, kit, floor, '≥ 0.95×');
    readme(`${alg} new token: the floor ÷ express-oauth2-jwt-bearer (a bound, not a guard)`, floor, auth0);
    readme(`${alg} new token, OpenTelemetry providers: requireAuth ÷ express-oauth2-jwt-bearer`, otel, auth0, '≥ 1.3×');
    readme(`${alg} new token, OpenTelemetry providers: requireAuth ÷ floor`, otel, floor, '≥ 0.95×');
  }
  if (has('kitOpaqueSame', 'kitSame')) out.push(cell('kitOpaqueSame', '**opaque token** by introspection, one repeated token (cached)', `**${ratio('kitOpaqueSame', 'kitSame')} the cached JWT** (target ≥ 0.95×)`));
  if (has('bare opaque')) out.push(cell('bare opaque', 'opaque group: bare route'));
  if (has('kitOpaqueNew', 'bare opaque')) out.push(cell('kitOpaqueNew', '**opaque token** by introspection, new token each request (one loopback call each)', `${ratio('kitOpaqueNew', 'bare opaque')} bare; ${perToken}`));
  readme('opaque token by introspection, cached: requireAuth ÷ cached JWT', 'kitOpaqueSame', 'kitSame', '≥ 0.95×');
  if (has('bare dpop')) out.push(cell('bare dpop', 'DPoP group: bare route'));
  const dpopVersus = (c: string) => `**${ratio(c, 'auth0Dpop')} express-oauth2-jwt-bearer's DPoP** (target ≥ 2.0×)`;
  if (has('kitDpop', 'auth0Dpop')) out.push(cell('kitDpop', '**DPoP** requireAuth, one bound token, fresh proof each request', dpopVersus('kitDpop')));
  if (has('kitBaselineDpop', 'kitDpop')) out.push(cell('kitBaselineDpop', 'DPoP baseline build (BENCH_BASELINE_DIST), fresh proof each request', `this build ${ratio('kitDpop', 'kitBaselineDpop')} the baseline`));
  if (has('kitOtelDpop', 'auth0Dpop', 'kitDpop')) out.push(cell('kitOtelDpop', '**DPoP** requireAuth with OpenTelemetry providers registered, fresh proof each request', `${dpopVersus('kitOtelDpop')}; ${ratio('kitOtelDpop', 'kitDpop')} without a provider`));
  if (has('auth0Dpop')) out.push(cell('auth0Dpop', 'DPoP express-oauth2-jwt-bearer, same token, fresh proof each request', signing));
  if (has('minimalDpop', 'auth0Dpop')) out.push(cell('minimalDpop', 'DPoP, the minimal DPoP check (cached token, proof key imported once, ES256 verify, claims, jti once)', `${ratio('minimalDpop', 'auth0Dpop')} express-oauth2-jwt-bearer's DPoP${has('kitDpop') ? `; requireAuth ${ratio('kitDpop', 'minimalDpop')} this` : ''}`));
  readme('DPoP, fresh proof each request: requireAuth ÷ express-oauth2-jwt-bearer', 'kitDpop', 'auth0Dpop', '≥ 2.0×');
  readme('DPoP, OpenTelemetry providers: requireAuth ÷ express-oauth2-jwt-bearer', 'kitOtelDpop', 'auth0Dpop', '≥ 2.0×');
  readme('DPoP: the minimal DPoP check ÷ express-oauth2-jwt-bearer (a bound, not a guard)', 'minimalDpop', 'auth0Dpop');
  readme('DPoP: requireAuth ÷ the minimal DPoP check', 'kitDpop', 'minimalDpop');
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('requireAuth, one guard per process', await benchPerProcess());
  printTable('For README.md', readmeRows);
}

/** A loopback RFC 7662 endpoint: every token active for the bench API, an hour to live. Counts calls and distinct tokens. */
async function startIntrospection(iss: string, aud: string): Promise<{ url: string; calls: () => number; distinct: () => number; close: () => Promise<void> }> {
  let calls = 0;
  const seen = new Set<string>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      calls += 1;
      seen.add(new URLSearchParams(body).get('token') ?? '');
      const exp = Math.floor(Date.now() / 1000) + 3_600;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ active: true, iss, aud, exp, scope: 'orders:read', client_id: 'bench-client', token_type: 'Bearer' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
  return {
    url,
    calls: () => calls,
    distinct: () => seen.size,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
