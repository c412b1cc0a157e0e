/** Shared bits of the benchmark scripts: rows, autocannon runs, child servers. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { RequestListener, Server } from 'node:http';
import autocannon from 'autocannon';
import { listen } from '../fixtures/listen.js';

export interface Row {
  name: string;
  value: string;
  note?: string;
}

export const DURATION = Number(process.env.BENCH_DURATION ?? 5);
/**
 * Seconds per case in interleaved comparisons. Short windows, many rounds: on a shared VM a
 * machine's speed drifts by ±15% over seconds, and cases compared within a round must see the
 * same machine, so they are measured back to back rather than a minute apart.
 */
export const WINDOW = Number(process.env.BENCH_WINDOW ?? 2);
/** Rounds of interleaved comparisons (the median over rounds is reported). */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

export interface LoadResult {
  rps: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/**
 * Drives `url` with autocannon for DURATION seconds. `header()` may return a different
 * Authorization value per request (a new token each time).
 */
export async function load(url: string, header?: () => string, extra: Partial<autocannon.Options> = {}): Promise<LoadResult> {
  const requests = header ? [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, authorization: header() } }) }] : undefined;
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, requests, ...extra } as autocannon.Options);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** In a child started by startChild(): listen on 127.0.0.1 and tell the parent the port; SIGTERM closes it. */
export async function serveForParent(target: Server | RequestListener): Promise<void> {
  const { port, close } = await listen(target);
  console.log(`PORT=${port}`);
  process.once('SIGTERM', () => void close().then(() => process.exit(0)));
}

/** Starts a TypeScript server script in its own process so it does not share a core's event loop with autocannon. */
export async function startChild(script: string, env: Record<string, string>): Promise<{ port: number; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const m = /PORT=(\d+)/.exec(buffer);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited early (${code})`)));
  });
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * Compact rows for README.md (per-process method only: medians with the lowest–highest round),
 * added by the parts that measure them and printed last by bench/run.ts.
 */
export const readmeRows: Row[] = [];

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n### ${title}\n`);
  console.log('| measure | value | note |');
  console.log('| --- | ---: | --- |');
  for (const r of rows) console.log(`| ${r.name} | ${r.value} | ${r.note ?? ''} |`);
}

/** Sets the CPU affinity of every thread of `pid`; returns the previous mask, or undefined when taskset is missing. */
export function pin(pid: number, cpuList: string): string | undefined {
  const before = spawnSync('taskset', ['-p', String(pid)], { encoding: 'utf8' });
  const mask = /mask:\s*([0-9a-f]+)/i.exec(before.stdout ?? '')?.[1];
  if (before.status !== 0 || !mask) return undefined;
  const set = spawnSync('taskset', ['-a', '-c', '-p', cpuList, String(pid)], { encoding: 'utf8' });
  return set.status === 0 ? mask : undefined;
}


/** Gives every thread of `pid` back the CPU mask `pin()` returned. */
export function unpin(pid: number, mask: string | undefined): void {
  if (mask) spawnSync('taskset', ['-a', '-p', mask, String(pid)]);
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Medians over interleaved rounds: req/s of a case, ratios within a round, CPU µs per request. */
export interface RoundStats {
  m(c: string): number;
  ratio(a: string, b: string): number;
  cpuRatio(a: string, b: string): number;
  us(c: string): string;
}

type Cases = Record<string, () => Promise<LoadResult & { cpuPerRequest: number }>>;

/**
 * interleavedRounds() for several groups, one group after the other: ratios are only taken
 * between cases of one group, which are measured seconds apart. Case names are unique across groups.
 */
export async function groupedRounds(groups: Cases[], rounds: number): Promise<RoundStats> {
  const stats: Array<[Set<string>, RoundStats]> = [];
  for (const group of groups) stats.push([new Set(Object.keys(group)), await interleavedRounds(group, rounds)]);
  const of = (...names: string[]): RoundStats => {
    const found = stats.find(([set]) => names.every((n) => set.has(n)));
    if (found === undefined) throw new Error(`bench: ${names.join(' and ')} are not measured in one group`);
    return found[1];
  };
  return {
    m: (c) => of(c).m(c),
    ratio: (a, b) => of(a, b).ratio(a, b),
    cpuRatio: (a, b) => of(a, b).cpuRatio(a, b),
    us: (c) => of(c).us(c),
  };
}

/**
 * Runs every case once per round, in an order that rotates each round, so drift and a
 * neighbour's load hit every case alike; ratios are taken within a round, then the median over
 * rounds is reported.
 */
export async function interleavedRounds(cases: Cases, rounds: number): Promise<RoundStats> {
  const names = Object.keys(cases);
  const rps = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const cpuUs = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]!;
      const r = await cases[name]!();
      if (r.non2xx || r.errors) throw new Error(`bench run ${name} had failures: ${JSON.stringify(r)}`);
      rps[name]!.push(r.rps);
      cpuUs[name]!.push(r.cpuPerRequest);
      if (process.env.BENCH_VERBOSE) console.error(`round ${round} ${name}: ${fmt(r.rps)} req/s, ${fmt(r.cpuPerRequest)} µs CPU/req`);
    }
  }
  return {
    m: (c) => median(rps[c]!),
    ratio: (a, b) => median(rps[a]!.map((v, k) => v / rps[b]![k]!)),
    cpuRatio: (a, b) => median(cpuUs[b]!.map((v, k) => v / cpuUs[a]![k]!)),
    us: (c) => `${fmt(median(cpuUs[c]!))} µs CPU/req`,
  };
}
