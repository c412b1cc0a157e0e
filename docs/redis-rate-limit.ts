/**
 * Recipe (shipped with the package, not part of its API): brute-force limits on the token proxy that hold across every
 * instance of the API, with express-rate-limit and its Redis store (rate-limit-redis).
 * Copy it into your app (it ships as node_modules/express-oauth-kit/docs/redis-rate-limit.ts).
 * Tested in __tests__/redis-rate-limit.test.ts; explained in docs/fleet.md.
 *
 *   npm install express-rate-limit rate-limit-redis ioredis
 *
 *   const redis = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
 *   // or a Cluster: new Cluster(nodes, { enableOfflineQueue: false, redisOptions: { enableOfflineQueue: false, commandTimeout: 500 } })
 *   app.set('trust proxy', 1); // your load balancer: req.ip must be the caller's address
 *   app.post('/auth/token', ...tokenRateLimits({ redis }), tokenProxy({ ... }));
 */
import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Logger, type Options } from 'express-rate-limit';
import { RedisStore, type RedisReply, type SendCommandClusterDetails } from 'rate-limit-redis';
import type { Cluster, Redis } from 'ioredis';
import { proxyGuess, proxyRequestParser } from 'express-oauth-kit';

export interface TokenRateLimitOptions {
  /** Your ioredis client, `new Redis(…)` or `new Cluster(…)` (the same one as the token store is fine). */
  redis: Redis | Cluster;
  /** Key prefix in Redis. Default 'rl:token:'. */
  prefix?: string;
  /** Window in ms. Default 15 minutes. */
  windowMs?: number;
  /** Failed attempts per window per account: per username (password grant) and per mfa_token (mfa_oob). Default 10. */
  perAccount?: number;
  /** Attempts per window per client IP (IPv6: per /56) over both grants. Default 50. */
  perIp?: number;
  /** Grants that are limited: 'password', 'mfa_oob' or both (the default); refresh_token is not guessable. */
  grants?: ('password' | 'mfa_oob')[];
  /** Where store errors go (Redis down: requests are let through). Default console. */
  logger?: Logger;
}

// Hashed so that Redis holds neither usernames nor MFA tokens in clear.
const digest = (s: string): string => createHash('sha256').update(s).digest('base64url').slice(0, 32);

const isNoScript = (err: unknown): boolean => err instanceof Error && /^NOSCRIPT\b/.test(err.message);

/**
 * rate-limit-redis talks to Redis through this function, with the key of each command, so an
 * ioredis Cluster sends every command to the master that holds its key. Scripts are the subtle
 * part: SCRIPT LOAD has no key (on a Cluster it would reach one random master, and counters on the
 * others would get NOSCRIPT), and the store keeps the answer of its first SCRIPT LOAD forever (a
 * load that failed while Redis was down would leave it broken). So SCRIPT LOAD is answered here,
 * with the script's SHA1 (what Redis would answer), and an EVALSHA that gets NOSCRIPT (a node that
 * never saw the script, a restarted or failed-over one, SCRIPT FLUSH) is sent again as EVAL with
 * the same key: it runs, and loads the script, on the node that holds the counter.
 */
function sendCommand(redis: Redis | Cluster) {
  const scripts = new Map<string, string>();
  return async ({ command: [name = '', ...args] }: SendCommandClusterDetails): Promise<RedisReply> => {
    const upper = name.toUpperCase();
    if (upper === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
      const sha = createHash('sha1').update(args[1]).digest('hex');
      scripts.set(sha, args[1]);
      return sha;
    }
    try {
      return (await redis.call(name, ...args)) as RedisReply;
    } catch (err) {
      const script = upper === 'EVALSHA' ? scripts.get(args[0] ?? '') : undefined;
      if (script === undefined || !isNoScript(err)) throw err;
      return (await redis.call('EVAL', script, ...args.slice(1))) as RedisReply;
    }
  };
}

/**
 * Middleware to put in front of `tokenProxy()` on the same route: proxyRequestParser() (reads the
 * request with tokenProxy's own rules; tokenProxy then reuses that parse), a per-IP limit and a
 * per-account limit, both counted in Redis. Only what the proxy would forward as a password or
 * SMS-code guess is counted (proxyGuess), so no content type or encoding trick can make the
 * limiters see less than the proxy. Over a limit: 429, `Retry-After`, and an OAuth-style JSON
 * body, without calling the IdP. Pass the proxy's `allowQueryParams` / `bodyLimit` if you set them.
 */
export function tokenRateLimits(o: TokenRateLimitOptions & { allowQueryParams?: boolean; bodyLimit?: number }): RequestHandler[] {
  const prefix = o.prefix ?? 'rl:token:';
  const windowMs = o.windowMs ?? 15 * 60_000;
  const grants = new Set<string>(o.grants ?? ['password', 'mfa_oob']);
  const guess = (req: Request) => {
    const g = proxyGuess(req);
    return g !== undefined && grants.has(g.grantType) ? g : undefined;
  };

  const common: Partial<Options> = {
    windowMs,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Redis down: let sign-ins through (the IdP has its own lockout) rather than lock everyone out.
    passOnStoreError: true,
    ...(o.logger ? { logger: o.logger } : {}),
    handler: (_req, res, _next, options) => {
      const seconds = Number(res.getHeader('Retry-After')) || Math.ceil(windowMs / 1000);
      res
        .status(options.statusCode)
        .set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
        .json({ error: 'temporarily_unavailable', error_description: `Too many sign-in attempts. Try again in ${seconds} seconds.` });
    },
  };

  const perIp = rateLimit({
    ...common,
    limit: o.perIp ?? 50,
    store: new RedisStore({ sendCommandCluster: sendCommand(o.redis), prefix: `${prefix}ip:` }),
    skip: (req) => !guess(req),
    // Set `trust proxy` to match your load balancer, or every caller shares the balancer's address.
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
  });

  const perAccount = rateLimit({
    ...common,
    limit: o.perAccount ?? 10,
    // Only failures count (a success is taken back with DECR), so signing in often locks nobody out.
    // mfa_required is a 400, so the first step of an MFA sign-in counts once.
    skipSuccessfulRequests: true,
    store: new RedisStore({ sendCommandCluster: sendCommand(o.redis), prefix: `${prefix}account:` }),
    skip: (req) => !guess(req),
    // "Alice", "alice " and "ALICE" are one account (proxyGuess normalises the username).
    keyGenerator: (req) => {
      const g = guess(req)!;
      return `${g.grantType === 'password' ? 'user' : 'mfa'}:${digest(g.account)}`;
    },
  });

  return [
    // Refusals (415 for other content types, 413, malformed bodies) are answered here as OAuth JSON.
    proxyRequestParser({ allowQueryParams: o.allowQueryParams, bodyLimit: o.bodyLimit }),
    perIp,
    perAccount,
  ];
}
