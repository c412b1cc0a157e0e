/**
 * A throw-away redis-server per test file (and for the Redis benchmark): 127.0.0.1, a free port, no
 * persistence. `stop()` / `restart()` take it down and bring it back on the same port, empty, as a
 * crashed and restarted Redis would be.
 *
 * When redis-server is not installed: with CI set the tests FAIL with a clear message; elsewhere
 * they are skipped and one line says so. They never pass silently.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { describeWithTool } from './system-tool.js';

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** True between a successful start/restart and a stop. */
  readonly running: boolean;
  /** SIGKILL by default: Redis dies like a crashed process (connections reset, data gone). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted) and waits for PING. */
  restart(): Promise<void>;
}

/** The redis-server binary: $REDIS_SERVER when set (only that one), else /usr/bin/redis-server or the first one on PATH. */
export function findRedisServer(): string | undefined {
  const env = process.env.REDIS_SERVER;
  const candidates = env ? [env] : ['/usr/bin/redis-server', ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'redis-server'))];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const MISSING =
  'redis-server was not found ($REDIS_SERVER, else /usr/bin/redis-server or PATH). Install it (Debian: apt-get install -y redis-server); .ci/run does.';

/**
 * `describe` when redis-server exists. Without it: a failing suite when CI is set, else a skipped
 * suite and one "skipped: redis-server not found" line per run (support/system-tool.ts).
 */
export function describeWithRedis(name: string, body: () => void): void {
  describeWithTool(
    !!findRedisServer(),
    { tool: 'redis-server', lookedAt: '$REDIS_SERVER, else /usr/bin/redis-server or PATH', install: 'apt-get install redis-server' },
    name,
    body,
  );
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** One PING over a raw socket; true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.once('connect', () => sock.write('PING\r\n'));
  });
}

const live = new Set<ChildProcess>();
let exitHook = false;
function killAllOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  // A test worker that dies must not leave redis-servers behind.
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

async function spawnOn(bin: string, port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir(), '--daemonize', 'no', '--loglevel', 'warning'];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  killAllOnExit();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => {
    exited = true;
    live.delete(child);
  });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`redis-server on port ${port} exited at start: ${stderr.trim().slice(0, 500)}`);
    if (await ping(port)) return child;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING within 5 s`);
}

/** Starts redis-server on a free 127.0.0.1 port and waits until it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const bin = findRedisServer();
  if (!bin) throw new Error(MISSING);
  let child: ChildProcess | undefined;
  let port = 0;
  // The port found free may be taken before redis binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      child = await spawnOn(bin, port);
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
  const stop = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill(signal);
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    stop,
    async restart() {
      await stop();
      // The old socket may linger for a moment; retry the bind briefly.
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          child = await spawnOn(bin, port);
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}

/** Closes ioredis clients without leaving timers behind: QUIT when connected, else disconnect(). */
export async function closeClients(clients: Iterable<{ status: string; quit(): Promise<unknown>; disconnect(): void }>): Promise<void> {
  await Promise.all(
    [...clients].map(async (c) => {
      if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
      else c.disconnect();
    }),
  );
}

/**
 * An ioredis client as the docs recommend (fail fast while Redis is down), plus what tests need:
 * an 'error' listener (ioredis logs unhandled ones) and a short disconnectTimeout, so closing a
 * client whose server is gone leaves no 2 s timer behind.
 */
export function redisClient(url: string, options: RedisOptions = {}): Redis {
  const c = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50, disconnectTimeout: 20, ...options } as RedisOptions);
  c.on('error', () => undefined);
  return c;
}
