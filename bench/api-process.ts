/**
 * One-guard API processes for the per-process method (bench/per-process.ts, bench/growth.ts):
 * start bench/api-server.ts as plain JavaScript under plain node, pinned to a core, and read the
 * CPU time it used from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import ts from 'typescript';
import { load } from './common.js';

export interface Api {
  pid: number;
  url: string;
  child: ChildProcess;
  /** Young (scavenge) and full (mark-compact) collections so far, when --trace-gc is on. */
  gc: { young: number; full: number };
}

/**
 * A bench/ script as plain JavaScript in .tmp/ (one level below the root, like bench/, so its
 * relative URL to dist/ resolves the same), to be run by plain node: tsx would add source maps
 * and wrap per-request closures, which a deployed API does not pay.
 */
export function compileScript(name: string): string {
  const source = readFileSync(fileURLToPath(new URL(`./${name}.ts`, import.meta.url)), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  mkdirSync('.tmp', { recursive: true });
  const out = `.tmp/bench-${name}.mjs`;
  writeFileSync(out, outputText);
  return out;
}

/** Starts bench/api-server.ts (compiled by compileScript) with `env`, pinned to `core` if given; resolves once it listens. */
export async function startApi(script: string, env: Record<string, string>, core: string | undefined): Promise<Api> {
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

export async function stopApi(api: Api): Promise<void> {
  if (api.child.exitCode !== null) return;
  api.child.kill('SIGTERM');
  await once(api.child, 'exit');
}

/** CPU time (µs) of every thread of `pid`: the sum of /proc/<pid>/task/<tid>/schedstat (ns), or utime+stime ticks. */
export function cpuMicros(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1000;
  } catch {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  }
}

export interface Sample {
  rps: number;
  /** The API process's CPU µs per request answered. */
  us: number;
  /** Young and full collections per 1,000 requests (with --trace-gc). */
  young: number;
  full: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
}

/**
 * Drives `api` for `seconds` with `headers()` per request (a new token or proof per call where
 * needed) and reads its CPU time before and after. Any non-2xx answer fails the run: a guard that
 * refused a request would look cheap.
 */
export async function measure(api: Api, headers: () => Record<string, string>, seconds: number, extra: Partial<autocannon.Options> = {}): Promise<Sample> {
  const [cpu0, young0, full0] = [cpuMicros(api.pid), api.gc.young, api.gc.full];
  const requests = [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, ...headers() } }) }];
  const r = await load(api.url, undefined, { duration: seconds, requests, ...extra });
  if (r.non2xx || r.errors) throw new Error(`bench ${api.url} had failures: ${JSON.stringify(r)}`);
  const served = r.rps * seconds;
  return { rps: r.rps, us: (cpuMicros(api.pid) - cpu0) / served, young: ((api.gc.young - young0) * 1000) / served, full: ((api.gc.full - full0) * 1000) / served, p50: r.p50, p99: r.p99 };
}
