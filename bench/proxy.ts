/**
 * tokenProxy() benchmark: password-grant requests/s straight to the mock IdP vs through the proxy,
 * their ratio (target ≥ 0.8), and how many sockets the proxy opened to the IdP for how many
 * requests (keep-alive should keep it at about the load generator's connection count).
 *
 *   npx tsx bench/proxy.ts   (alone)   ·   npm run bench proxy   (from bench/run.ts)
 *
 * The IdP and the proxy each run in their own process, autocannon in this one, so no two of
 * them share an event loop. On a machine with ≥ 2 cores and `taskset`, the IdP gets core 1 and
 * the proxy and autocannon share core 0, in both the direct and the proxied runs: in production
 * the IdP is another host, and without pinning every millisecond the proxy spends is taken from
 * the IdP on the same cores, which measures the box rather than the proxy (the CPU row shows it).
 * Env: BENCH_DURATION (s, default 5), BENCH_CONNECTIONS (default 32), PROXY_BENCH_PIN=0 (no pinning).
 */
import { spawnSync } from 'node:child_process';
import { Agent, createServer, request, type IncomingMessage } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express from 'express';
import { startMockIdp } from '../fixtures/mock-idp/index.js';
import { built } from './kit.js';
import { CONNECTIONS, DURATION, fmt, load, printTable, serveForParent, startChild, type Row, pin } from './common.js';

const { tokenProxy } = await built<typeof import('../lib/index.js')>('index.js');
const { basicAuthorization } = await built<typeof import('../lib/idp/client-auth.js')>('idp/client-auth.js');

const CLIENT = { clientId: 'web-app', clientSecret: 'web-secret' };
const BODY = 'grant_type=password&username=alice&password=alice-password';

interface IdpInfo {
  tokenEndpoint: string;
  stats: { tokenRequests: number; connections: number };
  /** process.cpuUsage() of the child, user + system, in ms. */
  cpuMs: number;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Child: the mock IdP plus a side port for reading and resetting its counters. */
async function runIdp(): Promise<void> {
  const idp = await startMockIdp();
  const side = createServer((req, res) => {
    // The counters as they were; a POST then resets them for the next measurement.
    const info: IdpInfo = { tokenEndpoint: idp.ciamTokenEndpoint, stats: { ...idp.stats }, cpuMs: cpuMs() };
    if (req.method === 'POST') idp.resetStats();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(info));
  });
  await serveForParent(side);
}

/** Drains a request body; the reference relays ignore it and send the fixed BODY. */
const drain = (req: IncomingMessage): Promise<void> =>
  new Promise((resolve) => {
    req.on('data', () => undefined).on('end', resolve);
  });

/**
 * Child: the proxy as the README mounts it, plus two reference relays that do nothing but forward
 * (no parsing, validation or error mapping): one over fetch (what IdpClient uses), one over
 * node:http with a keep-alive Agent. They show how much of the proxy's cost is the HTTP client.
 */
async function runProxy(): Promise<void> {
  const endpoint = process.env.PROXY_BENCH_TOKEN_ENDPOINT!;
  const auth = basicAuthorization(CLIENT.clientId, CLIENT.clientSecret);
  const headers = { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const agent = new Agent({ keepAlive: true });
  const app = express();
  app.post('/auth/token', tokenProxy({ tokenEndpoint: endpoint, ...CLIENT, logger: false }));
  app.get('/cpu', (_req, res) => res.json({ cpuMs: cpuMs() }));
  app.post('/ref/fetch', async (req, res) => {
    await drain(req);
    const r = await fetch(endpoint, { method: 'POST', body: BODY, headers });
    res.status(r.status).set('Cache-Control', 'no-store').json(await r.json());
  });
  app.post('/ref/http', async (req, res) => {
    await drain(req);
    const upstream = request(endpoint, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(BODY) } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        res.status(r.statusCode ?? 502).set('Cache-Control', 'no-store').json(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      });
    });
    upstream.on('error', () => res.status(502).end());
    upstream.end(BODY);
  });
  const server = createServer(app);
  server.keepAliveTimeout = 60_000;
  await serveForParent(server);
}

const post = (headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  body: BODY,
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
});

export async function benchProxy(): Promise<Row[]> {
  const load1 = loadavg()[0]!;
  const self = fileURLToPath(import.meta.url);
  const idpChild = await startChild(self, { PROXY_BENCH_ROLE: 'idp' });
  const side = `http://127.0.0.1:${idpChild.port}/`;
  const info = (await (await fetch(side)).json()) as IdpInfo;
  const proxyChild = await startChild(self, { PROXY_BENCH_ROLE: 'proxy', PROXY_BENCH_TOKEN_ENDPOINT: info.tokenEndpoint });
  const proxyUrl = `http://127.0.0.1:${proxyChild.port}/auth/token`;
  let parentMask: string | undefined;
  let pinned = false;
  if (process.env.PROXY_BENCH_PIN !== '0' && cpus().length >= 2) {
    parentMask = pin(process.pid, '0');
    pinned = parentMask !== undefined && pin(idpChild.child.pid!, '1') !== undefined && pin(proxyChild.child.pid!, '0') !== undefined;
  }
  const layout = pinned ? 'IdP on core 1; proxy and autocannon on core 0' : `unpinned, ${cpus().length} cores shared by autocannon, proxy and IdP`;
  try {
    const direct = post({ authorization: basicAuthorization(CLIENT.clientId, CLIENT.clientSecret) });
    // Warm both paths (JIT, key caches, sockets) before measuring.
    await load(info.tokenEndpoint, undefined, { ...direct, duration: 2 });
    await load(proxyUrl, undefined, { ...post(), duration: 2 });

    const idpState = async (reset = false): Promise<IdpInfo> => (await fetch(side, { method: reset ? 'POST' : 'GET' })).json() as Promise<IdpInfo>;
    const proxyCpu = async (): Promise<number> => ((await (await fetch(`http://127.0.0.1:${proxyChild.port}/cpu`)).json()) as { cpuMs: number }).cpuMs;

    // Direct runs before and after the proxied one, averaged, so drift in the IdP (JIT, heap
    // growth) or in a neighbour's load does not favour whichever path ran second.
    const before = await idpState(true);
    const straightA = await load(info.tokenEndpoint, undefined, direct);
    const mid = await idpState(true);
    const idpCpuPerRequest = (mid.cpuMs - before.cpuMs) / Math.max(1, mid.stats.tokenRequests);
    const proxyCpuBefore = await proxyCpu();
    const proxied = await load(proxyUrl, undefined, post());
    const proxyCpuAfter = await proxyCpu();
    const after = (await idpState()).stats;
    const proxyCpuPerRequest = (proxyCpuAfter - proxyCpuBefore) / Math.max(1, after.tokenRequests);
    const straightB = await load(info.tokenEndpoint, undefined, direct);
    const straight = { ...straightA, rps: (straightA.rps + straightB.rps) / 2, p99: Math.max(straightA.p99, straightB.p99), non2xx: straightA.non2xx + straightB.non2xx, errors: straightA.errors + straightB.errors };
    const refFetch = await load(`http://127.0.0.1:${proxyChild.port}/ref/fetch`, undefined, post());
    const refHttp = await load(`http://127.0.0.1:${proxyChild.port}/ref/http`, undefined, post());

    const ratio = proxied.rps / straight.rps;
    const bad = (r: typeof straight) => (r.non2xx || r.errors ? `; ${r.non2xx} non-2xx, ${r.errors} errors` : '');
    return [
      {
        name: 'password grant straight to the mock IdP',
        value: `${fmt(straight.rps)} req/s`,
        note: `mean of a run before (${fmt(straightA.rps)}) and after (${fmt(straightB.rps)}) the proxied one; p99 ${fmt(straight.p99)} ms; ${CONNECTIONS} connections, ${DURATION} s each; ${layout}; the IdP signs two RS256 JWTs per answer${bad(straight)}`,
      },
      {
        name: 'password grant through tokenProxy()',
        value: `${fmt(proxied.rps)} req/s`,
        note: `p99 ${fmt(proxied.p99)} ms${bad(proxied)}`,
      },
      {
        name: 'ratio proxy / direct',
        value: fmt(ratio, 2),
        note: `target ≥ 0.8${ratio >= 0.8 ? '' : ' — missed'}`,
      },
      {
        name: 'sockets opened to the IdP by the proxy',
        value: String(after.connections),
        note: `for ${fmt(after.tokenRequests)} token requests (keep-alive; ${CONNECTIONS} concurrent callers)`,
      },
      {
        name: 'CPU per request: proxy process / IdP process',
        value: `${fmt(proxyCpuPerRequest, 2)} ms / ${fmt(idpCpuPerRequest, 2)} ms`,
        note: `where proxy and IdP share cores (PROXY_BENCH_PIN=0) each proxy ms is taken from the IdP; load average at start ${fmt(load1, 1)}`,
      },
      {
        name: 'reference: bare fetch() relay, ratio to direct',
        value: fmt(refFetch.rps / straight.rps, 2),
        note: `${fmt(refFetch.rps)} req/s; forwards only, same HTTP client as IdpClient${bad(refFetch)}`,
      },
      {
        name: 'reference: bare node:http relay, ratio to direct',
        value: fmt(refHttp.rps / straight.rps, 2),
        note: `${fmt(refHttp.rps)} req/s; keep-alive http.Agent instead of fetch${bad(refHttp)}`,
      },
    ];
  } finally {
    // bench/run.ts goes on with other benchmarks in this process: give it its cores back.
    if (parentMask) spawnSync('taskset', ['-a', '-p', parentMask, String(process.pid)]);
    await proxyChild.stop();
    await idpChild.stop();
  }
}

const role = process.env.PROXY_BENCH_ROLE;
if (role === 'idp') {
  await runIdp();
} else if (role === 'proxy') {
  await runProxy();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`tokenProxy() benchmark — node ${process.version}`);
  printTable('tokenProxy()', await benchProxy());
}
