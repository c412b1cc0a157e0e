/**
 * requireAuth() as users deploy it: each guard in its OWN API process (bench/api-server.ts: Express 5,
 * one route, one guard with its defaults), every process pinned to core 0, autocannon in this process
 * on core 1. The processes start once and stay up; in each round every case runs for BENCH_WINDOW
 * seconds (default 4), back to back, in an order that rotates each round, so a drift of the
 * machine's speed hits every case alike. A case's cost is the CPU time its API process used
 * (all threads, from /proc) divided by the requests it answered. Ratios are taken within a round;
 * the median over BENCH_ROUNDS rounds (default 5) is shown with the lowest and highest round.
 *
 * BENCH_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=.tmp/prof` or `--trace-gc`) are passed to the API
 * processes; with --trace-gc the young and full collections per 1,000 requests are shown too.
 * BENCH_CASES=bare,kitSame runs only those cases (their processes only). BENCH_BASELINE_DIST=<dir>
 * (another build's dist/, an absolute path inside the repository, e.g. .tmp/dist-before, so packages resolve) adds a "baseline" requireAuth process to every group, for
 * before/after figures of a change measured in the same interleaved rounds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { CONNECTIONS, fmt, load, median, pin, printTable, unpin, type Row } from './common.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import { benchTokens, type BenchAlg } from './tokens.js';

const WINDOW = Number(process.env.BENCH_WINDOW ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DISTINCT = 120_000;
// Each process sees each token at most once: a case sends at most ROUNDS × WINDOW × ~5k requests.
if (ROUNDS * WINDOW * 5_000 > DISTINCT - 10_000) throw new Error('bench: more rounds × window than distinct tokens; lower BENCH_ROUNDS or BENCH_WINDOW');
const ALGS: BenchAlg[] = ['RS256', 'ES256'];

interface Api {
  pid: number;
  url: string;
  child: ChildProcess;
  /** Young (scavenge) and full (mark-compact) collections so far, when --trace-gc is on. */
  gc: { young: number; full: number };
}

/** bench/api-server.ts as plain JavaScript in .tmp/ (one level below the root, like bench/), run by plain node. */
function compileServer(): string {
  const source = readFileSync(fileURLToPath(new URL('./api-server.ts', import.meta.url)), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  mkdirSync('.tmp', { recursive: true });
  const out = '.tmp/bench-api-server.mjs';
  writeFileSync(out, outputText);
  return out;
}

async function startApi(script: string, env: Record<string, string>, core: string | undefined): Promise<Api> {
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const [cmd, args] = core === undefined ? [process.execPath, [...flags, script]] : ['taskset', ['-c', core, process.execPath, ...flags, script]];
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const gc = { young: 0, full: 0 };
  let buffer = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const m = /PORT=(\d+)/.exec(line);
        if (m) resolve(Number(m[1]));
        else if (line.includes(': Scavenge')) gc.young += 1;
        else if (line.includes(': Mark-Compact')) gc.full += 1;
      }
    });
    child.once('exit', (code) => reject(new Error(`api-server (${JSON.stringify(env)}) exited early (${code})`)));
  });
  return { pid: child.pid!, url: `http://127.0.0.1:${port}/orders`, child, gc };
}

async function stopApi(api: Api): Promise<void> {
  if (api.child.exitCode !== null) return;
  api.child.kill('SIGTERM');
  await once(api.child, 'exit');
}

/** CPU time (µs) of every thread of `pid`: the sum of /proc/<pid>/task/<tid>/schedstat (ns), or utime+stime ticks. */
function cpuMicros(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1000;
  } catch {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  }
}

interface Sample {
  rps: number;
  us: number;
  young: number;
  full: number;
}

export async function benchPerProcess(): Promise<Row[]> {
  if (!existsSync('/proc/self/stat')) return [{ name: 'per-process method', value: 'n/a', note: 'needs Linux /proc' }];
  const file = benchTokens('https://idp.bench', 'https://api.bench', DISTINCT);
  const jwksServer = await startJwksServer({ algs: [] });
  for (const alg of ALGS) {
    const { kid, jwk } = file.byAlg[alg];
    jwksServer.keys.push({ kid, alg, privateKey: undefined as never, publicJwk: jwk });
  }
  const env = { ISSUER: file.issuer, AUDIENCE: file.audience, JWKS_URI: jwksServer.jwksUri };
  const one = `Bearer ${file.byAlg.RS256.tokens[0]}`;
  const cursor = (alg: BenchAlg, start = 1) => {
    const list = file.byAlg[alg].tokens;
    let i = start;
    return () => `Bearer ${list[i++ % DISTINCT]}`;
  };
  const processes: Record<string, Record<string, string>> = {
    bare: { GUARD: 'bare' },
    kit: { GUARD: 'kit' },
    kitOtel: { GUARD: 'kit', OTEL: 'provider' },
    jose: { GUARD: 'jose' },
    'auth0 RS256': { GUARD: 'auth0', ALG: 'RS256' },
    'auth0 ES256': { GUARD: 'auth0', ALG: 'ES256' },
    floor: { GUARD: 'floor' },
    assign: { GUARD: 'assign' },
  };
  const baseline = process.env.BENCH_BASELINE_DIST;
  if (baseline) processes.kitBaseline = { GUARD: 'kit', KIT_DIST: baseline };
  // Cases: [process, Authorization per request]. Groups are measured one after the other; ratios only within a group.
  type Case = [string, () => string];
  const groups: Array<Record<string, Case>> = [
    { bare: ['bare', () => one], kitSame: ['kit', () => one], kitOtelSame: ['kitOtel', () => one], auth0Same: ['auth0 RS256', () => one], assign: ['assign', () => one] },
  ];
  for (const alg of ALGS) {
    groups.push({
      [`bare ${alg}`]: ['bare', () => one],
      [`kit ${alg}`]: ['kit', cursor(alg)],
      [`jose ${alg}`]: ['jose', cursor(alg)],
      [`auth0 ${alg}`]: [`auth0 ${alg}`, cursor(alg)],
      [`floor ${alg}`]: ['floor', cursor(alg)],
    });
  }
  if (baseline) {
    groups[0]!.kitBaselineSame = ['kitBaseline', () => one];
    for (const [k, alg] of ALGS.entries()) groups[k + 1]![`kitBaseline ${alg}`] = ['kitBaseline', cursor(alg)];
  }
  const only = process.env.BENCH_CASES?.split(',');
  if (only) for (const g of groups) for (const name of Object.keys(g)) if (!only.includes(name)) delete g[name];
  const used = new Set(groups.flatMap((g) => Object.values(g).map(([p]) => p)));

  const twoCores = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
  const parentMask = twoCores ? pin(process.pid, '1') : undefined;
  const script = compileServer();
  const apis: Record<string, Api> = {};
  try {
    for (const name of used) apis[name] = await startApi(script, { ...env, ...processes[name] }, twoCores ? '0' : undefined);
    const run = async ([proc, header]: Case, seconds: number): Promise<Sample> => {
      const api = apis[proc]!;
      const [cpu0, young0, full0] = [cpuMicros(api.pid), api.gc.young, api.gc.full];
      const r = await load(api.url, header, { duration: seconds });
      if (r.non2xx || r.errors) throw new Error(`bench ${proc} had failures: ${JSON.stringify(r)}`);
      const requests = r.rps * seconds;
      return { rps: r.rps, us: (cpuMicros(api.pid) - cpu0) / requests, young: ((api.gc.young - young0) * 1000) / requests, full: ((api.gc.full - full0) * 1000) / requests };
    };
    // Warm-up: JIT, JWKS fetch, connections (new-token cases from the far end of the list, never reused).
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
    return rows(samples, twoCores);
  } finally {
    unpin(process.pid, parentMask);
    for (const api of Object.values(apis)) await stopApi(api);
    await jwksServer.close();
  }
}

function rows(samples: Record<string, Sample[]>, pinned: boolean): Row[] {
  const has = (...names: string[]) => names.every((n) => samples[n] !== undefined);
  const us = (c: string) => median(samples[c]!.map((s) => s.us));
  // "a ÷ b" as the issue writes it: b's CPU per request over a's (above 1: a is cheaper).
  const ratio = (a: string, b: string) => {
    const per = samples[a]!.map((s, k) => samples[b]![k]!.us / s.us);
    return `${fmt(median(per), 2)}× (${fmt(Math.min(...per), 2)}–${fmt(Math.max(...per), 2)})`;
  };
  const gcNote = (c: string) => (samples[c]!.some((s) => s.young > 0) ? `; GC per 1,000 req: ${fmt(median(samples[c]!.map((s) => s.young)), 1)} young, ${fmt(median(samples[c]!.map((s) => s.full)), 2)} full` : '');
  const cell = (c: string, label: string, note = ''): Row => ({ name: label, value: `${fmt(us(c))} µs`, note: `${fmt(median(samples[c]!.map((s) => s.rps)))} req/s${note ? `; ${note}` : ''}${gcNote(c)}` });
  const out: Row[] = [];
  const conditions = `${ROUNDS} rounds × ${WINDOW} s per case, ${CONNECTIONS} connections, ${pinned ? 'each API process on core 0, autocannon on core 1' : 'unpinned'}; median (lowest–highest round)`;
  if (has('bare')) out.push(cell('bare', 'bare route', conditions));
  if (has('kitSame', 'bare')) out.push(cell('kitSame', 'requireAuth, one repeated token', `**${ratio('kitSame', 'bare')} bare** (target ≥ 0.95×)`));
  if (has('kitBaselineSame', 'bare', 'kitSame')) out.push(cell('kitBaselineSame', 'baseline build (BENCH_BASELINE_DIST), one repeated token', `${ratio('kitBaselineSame', 'bare')} bare; this build ${ratio('kitSame', 'kitBaselineSame')} the baseline`));
  if (has('assign', 'bare')) out.push(cell('assign', 'bare route + a middleware that only sets req.auth', `${ratio('assign', 'bare')} bare (what setting req.auth costs any guard)`));
  if (has('kitOtelSame', 'bare')) out.push(cell('kitOtelSame', 'requireAuth with an OpenTelemetry meter provider, one repeated token', `${ratio('kitOtelSame', 'bare')} bare`));
  if (has('auth0Same', 'bare')) out.push(cell('auth0Same', 'express-oauth2-jwt-bearer, one repeated token', `${ratio('auth0Same', 'bare')} bare`));
  for (const alg of ALGS) {
    const [kit, jose, auth0, floor, bare] = ['kit', 'jose', 'auth0', 'floor', 'bare'].map((n) => `${n} ${alg}`) as [string, string, string, string, string];
    if (has(bare)) out.push(cell(bare, `${alg} group: bare route`));
    if (has(kit, auth0)) out.push(cell(kit, `**${alg}** requireAuth, new token each request`, `**${ratio(kit, auth0)} express-oauth2-jwt-bearer** (target ≥ 1.3×)${has(floor) ? `, **${ratio(kit, floor)} floor** (target ≥ 0.95×)` : ''}${has(jose) ? `, ${ratio(kit, jose)} hand-written jose` : ''}`));
    else if (has(kit)) out.push(cell(kit, `**${alg}** requireAuth, new token each request`));
    const base = `kitBaseline ${alg}`;
    if (has(base, kit)) out.push(cell(base, `${alg} baseline build (BENCH_BASELINE_DIST), new token each request`, `this build ${ratio(kit, base)} the baseline`));
    if (has(jose)) out.push(cell(jose, `${alg} hand-written jose.jwtVerify guard, new token`));
    if (has(auth0)) out.push(cell(auth0, `${alg} express-oauth2-jwt-bearer, new token`));
    if (has(floor)) out.push(cell(floor, `${alg} floor (crypto.verify + JSON.parse + iss/aud/exp), new token`));
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('requireAuth, one guard per process', await benchPerProcess());
}
