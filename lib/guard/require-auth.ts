import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { bearerChallenge, rememberChallenge, type ChallengeContext } from '../bearer/challenge.js';
import { extractCredentials, type ExtractOptions } from '../bearer/extract-token.js';
import { InvalidRequestError, InvalidTokenError, MissingTokenError } from '../errors/oauth-error.js';
import type { RequireAuthOptions } from './options.js';
import { guardLog } from './guard-log.js';
import { resolveOptions } from './resolve-options.js';
import { Tenants } from './tenants.js';
import { errorCode, guardMetrics } from '../telemetry/otel.js';
import { SenderConstraint } from './dpop/sender-constraint.js';
import { stillValid, VerifiedCache } from './verified-cache.js';
import * as clock from '../clock.js';
import type { Verification, Verifier, VerifiedToken } from './verifier.js';
import type { AuthResult } from './types.js';

/**
 * What {@link requireAuth} returns: Express middleware, plus a way to verify tokens that do not
 * come through an Express route and counters for monitoring.
 */
export interface RequireAuthHandler extends RequestHandler {
  /** Verify a token outside Express (WebSocket upgrades, queues). Rejects with OAuthErrors only. */
  verify(token: string): Promise<VerifiedToken>;
  /**
   * Entries and estimated bytes in the verified-token cache, and counters since start: requests
   * answered from the cache, and signature verifications run (hits / (hits + verifications) is the
   * hit ratio worth graphing).
   */
  readonly cacheStats: {
    /** Tokens in the verified-token cache now. */
    entries: number;
    /** Their estimated size in bytes now. */
    bytes: number;
    /** Requests answered from the cache since start. */
    hits: number;
    /** Signature verifications run since start (cache misses, each deduplicated across a burst). */
    verifications: number;
  };
}

/**
 * Express middleware that accepts only requests with a valid Bearer JWT (RFC 6750, RFC 9068).
 * On success `req.auth` holds the token, header, claims and scopes; on failure `next(err)` with
 * an OAuthError whose status and WWW-Authenticate header are already right: 401 with no error
 * code when there is no token, 400 `invalid_request` for a malformed request, 401 `invalid_token`
 * for a bad token, 503 `jwks_unavailable` when the keys cannot be fetched. Options are checked at
 * once: a mistake throws a {@link ConfigError} before the server starts.
 *
 * @example
 * ```ts
 * const auth = requireAuth({ issuer: 'https://idp.example.com', audience: 'https://api.example.com' });
 * app.get('/api/orders', auth, requireScopes('orders:read'), (req, res) => {
 *   res.json({ user: req.auth!.payload.sub, scopes: req.auth!.scopes });
 * });
 * app.use(oauthErrorHandler());
 *
 * // Outside Express, e.g. a WebSocket upgrade:
 * const { payload } = await auth.verify(token);
 * ```
 */
export function requireAuth(options: RequireAuthOptions): RequireAuthHandler {
  const config = resolveOptions(options);
  const { realm, authRequired } = config;

  const invalidRequest = (description: string) =>
    new InvalidRequestError(description, {
      headers: { 'WWW-Authenticate': bearerChallenge({ realm, error: 'invalid_request', errorDescription: description }) },
    });
  const invalidToken = (description: string, cause?: unknown) =>
    new InvalidTokenError(description, {
      headers: { 'WWW-Authenticate': bearerChallenge({ realm, error: 'invalid_token', errorDescription: description }) },
      cause,
    });

  const extractOptions: ExtractOptions = {
    locations: config.locations,
    dpop: config.dpop.mode !== 'disabled',
    cookie: config.tokenCookie,
    getToken: config.getToken,
    maxLength: config.maxTokenLength,
    invalidRequest,
  };
  // Operator lines go through lib/log/operator-log.ts: caller values cleaned and cut, each
  // distinct line at most once a minute, and a logger that throws never changes an answer.
  const log = guardLog(config.logger);
  const tenants = new Tenants(config, invalidToken, log);
  const constraint = new SenderConstraint(config.dpop, realm, log.report);
  const bareChallenge = { 'WWW-Authenticate': constraint.missing };
  // What requireScopes(), claimCheck() and requireIssuer() after this guard answer with.
  const bearerContext: ChallengeContext = { realm, scheme: 'bearer', algs: constraint.proofs.algs };
  const dpopContext: ChallengeContext = { realm, scheme: 'dpop', algs: constraint.proofs.algs };
  const cache = config.cache ? new VerifiedCache(config.cache.maxEntries, config.cache.maxBytes) : undefined;

  const telemetry = guardMetrics();
  /** Every refusal goes through here, so rejections are counted by error code. */
  const refuse = (next: NextFunction, err: unknown): void => {
    telemetry.rejections?.add(1, { 'error.code': errorCode(err) });
    next(err);
  };

  let hits = 0;
  let verifications = 0;
  // Single flight: a burst of requests with the same new token (a page firing its API calls at
  // once) shares one verification. One still fetching keys is shared as its promise until it
  // settles; one that finished synchronously is kept until the next timers phase (a millisecond
  // or so: the rest of the burst arrives on other connections in the next I/O turns), at most
  // LINGER_MAX of them, so a loop of verify() calls cannot pile up results.
  const inflight = new Map<string, Promise<VerifiedToken> | Settled>();
  let lingering = 0;
  const sweep = () => {
    lingering = 0;
    for (const [token, entry] of inflight) if (!(entry instanceof Promise)) inflight.delete(token);
  };
  const linger = (token: string, settled: Settled): void => {
    if (lingering >= LINGER_MAX) return;
    if (lingering++ === 0) setTimeout(sweep, 1).unref();
    inflight.set(token, settled);
  };

  function accepted(verifier: Verifier, token: string, { verified, generation }: Verification): VerifiedToken {
    telemetry.verifications?.add(1, { result: 'valid' });
    // Stamped with the key set the key came from; if the set has been reloaded since, the
    // entry is dead on arrival, which is the point.
    cache?.set(token, verified, verifier, generation);
    return verified;
  }
  const rejected = (err: unknown): never => {
    telemetry.verifications?.add(1, { result: errorCode(err) });
    throw err;
  };

  /** Verifies with the token's verifier: the result (or a throw) at once when the keys are at hand. */
  function verifyWith(verifier: Verifier, token: string): VerifiedToken | Promise<VerifiedToken> {
    verifications += 1;
    let result: Verification | Promise<Verification>;
    try {
      result = verifier.verify(token);
    } catch (err) {
      return rejected(err);
    }
    if (result instanceof Promise) return result.then((r) => accepted(verifier, token, r), rejected);
    linger(token, { verified: result.verified, verifier, generation: result.generation });
    return accepted(verifier, token, result);
  }

  function verifyAndRemember(token: string, req: Request | undefined): VerifiedToken | Promise<VerifiedToken> {
    const joined = inflight.get(token);
    if (joined !== undefined) {
      if (joined instanceof Promise) return joined;
      if ('error' in joined) {
        // Claims are checked to the second, so a refusal (nbf not reached yet) holds for its second only.
        if (joined.second === clockSecond()) throw joined.error;
      } else if (stillValid(joined.verified.payload, joined.verifier, joined.generation)) {
        // Checked like a cache hit: a result from a moment ago must not outlive exp or a key change.
        // A sighting like any other: a token sent in a burst is one in use, and the cache should know.
        cache?.set(token, joined.verified, joined.verifier, joined.generation);
        return joined.verified;
      }
      inflight.delete(token);
    }
    let outcome: VerifiedToken | Promise<VerifiedToken>;
    try {
      const selected = tenants.select(token, req);
      outcome = selected instanceof Promise ? selected.then((v) => verifyWith(v, token)) : verifyWith(selected, token);
    } catch (error) {
      linger(token, { error, second: clockSecond() });
      throw error;
    }
    if (!(outcome instanceof Promise)) return outcome;
    const pending = outcome;
    const forget = () => {
      if (inflight.get(token) === pending) inflight.delete(token);
    };
    pending.then(forget, forget);
    inflight.set(token, pending);
    return pending;
  }

  /** The cache-hit path, shared by the middleware and verify(). */
  function cached(token: string): VerifiedToken | undefined {
    if (cache === undefined) return undefined;
    const hit = cache.get(token);
    if (hit !== undefined) {
      hits += 1;
      telemetry.cacheHits?.add(1);
    }
    return hit;
  }

  async function verify(token: string): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token === '') throw invalidToken('The token must be a non-empty string');
    const v = cached(token) ?? (await verifyAndRemember(token, undefined));
    // No request, so no proof: a DPoP-bound token here would be a stolen token's way around the binding.
    const refused = constraint.bearer(v);
    if (refused !== undefined) throw refused;
    return v;
  }

  const handler = function requireAuthMiddleware(req: Request, _res: Response, next: NextFunction): void {
    let credentials: ReturnType<typeof extractCredentials>;
    try {
      credentials = extractCredentials(req, extractOptions);
    } catch (err) {
      return refuse(next, err);
    }
    if (credentials === undefined) {
      return authRequired ? refuse(next, new MissingTokenError(undefined, { headers: bareChallenge })) : next();
    }
    const { token, scheme } = credentials;
    if (scheme === 'dpop') return void presentedWithProof(req, token, next);
    // The hot path: a token seen before answers synchronously, without a promise.
    const hit = cached(token);
    if (hit !== undefined) return admit(req, token, hit, next);
    let outcome: VerifiedToken | Promise<VerifiedToken>;
    try {
      outcome = verifyAndRemember(token, req);
    } catch (err) {
      return refuse(next, err);
    }
    if (outcome instanceof Promise) {
      outcome.then((v) => admit(req, token, v, next), (err: unknown) => refuse(next, err));
      return;
    }
    admit(req, token, outcome, next);
  } as RequireAuthHandler;

  /** A verified Bearer token: unless it is DPoP-bound, the request goes on. */
  function admit(req: Request, token: string, v: VerifiedToken, next: NextFunction): void {
    const refused = constraint.bearer(v);
    if (refused !== undefined) return refuse(next, refused);
    req.auth = authResult(token, v, undefined);
    rememberChallenge(req, bearerContext);
    next();
  }

  /** `Authorization: DPoP`: the token (cache as usual), then this request's proof, which is never cached. */
  async function presentedWithProof(req: Request, token: string, next: NextFunction): Promise<void> {
    try {
      let v = cached(token);
      if (v === undefined) {
        try {
          v = await verifyAndRemember(token, req);
        } catch (err) {
          throw constraint.rechallenge(err);
        }
      }
      const jkt = await constraint.dpop(req, token, v);
      req.auth = authResult(token, v, { jkt });
      rememberChallenge(req, dpopContext);
    } catch (err) {
      return refuse(next, err);
    }
    next();
  }

  Object.defineProperty(handler, 'verify', { value: verify });
  Object.defineProperty(handler, 'cacheStats', {
    get: () => ({ entries: cache?.size ?? 0, bytes: cache?.bytes ?? 0, hits, verifications }),
  });
  return handler;
}

/** A verification that finished synchronously, kept for the rest of the event-loop turn. */
type Settled = { verified: VerifiedToken; verifier: Verifier; generation: object | undefined } | { error: unknown; second: number };

/** The second the claim checks read (lib/jwt/claims.ts compares whole seconds). */
const clockSecond = (): number => Math.floor(clock.now() / 1000);

/** Synchronous results kept for single flight at any one time (see `linger`). */
const LINGER_MAX = 256;

/** What `req.auth` holds: the verified token (from the cache or a fresh verification) and how it was presented. */
function authResult(token: string, v: VerifiedToken, dpop: AuthResult['dpop']): AuthResult {
  return { token, issuer: v.issuer, header: v.header, payload: v.payload, scopes: v.scopes, dpop };
}
