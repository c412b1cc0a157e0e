import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { bearerChallenge } from '../bearer/challenge.js';
import { extractCredentials, type ExtractOptions } from '../bearer/extract-token.js';
import { InvalidRequestError, InvalidTokenError, MissingTokenError, type OAuthError } from '../errors/oauth-error.js';
import type { GuardLogger, RequireAuthOptions } from './options.js';
import { resolveOptions } from './resolve-options.js';
import { Tenants } from './tenants.js';
import { errorCode, guardMetrics } from '../telemetry/otel.js';
import { SenderConstraint } from './dpop/sender-constraint.js';
import { VerifiedCache } from './verified-cache.js';
import type { Verifier, VerifiedToken } from './verifier.js';
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
      'WWW-Authenticate': bearerChallenge({ realm, error: 'invalid_request', errorDescription: description }),
    });
  const invalidToken = (description: string, cause?: unknown) =>
    new InvalidTokenError(
      description,
      { 'WWW-Authenticate': bearerChallenge({ realm, error: 'invalid_token', errorDescription: description }) },
      { cause },
    );

  const extractOptions: ExtractOptions = {
    locations: config.locations,
    dpop: config.dpop.mode !== 'disabled',
    cookie: config.tokenCookie,
    getToken: config.getToken,
    maxLength: config.maxTokenLength,
    invalidRequest,
  };
  const report = operatorLog(config.logger);
  const tenants = new Tenants(config, invalidToken, report);
  const constraint = new SenderConstraint(config.dpop, realm, report);
  const bareChallenge = { 'WWW-Authenticate': constraint.missing };
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
  // once) shares one verification. Entries live only while a verification runs.
  const inflight = new Map<string, Promise<VerifiedToken>>();

  function verifyWith(verifier: Verifier, token: string): Promise<VerifiedToken> {
    verifications += 1;
    return verifier.verify(token).then(
      ({ verified, generation }) => {
        telemetry.verifications?.add(1, { result: 'valid' });
        // Stamped with the key set the key came from; if the set has been reloaded since, the
        // entry is dead on arrival, which is the point.
        cache?.set(token, verified, verifier, generation);
        return verified;
      },
      (err: unknown) => {
        telemetry.verifications?.add(1, { result: errorCode(err) });
        throw err;
      },
    );
  }

  function verifyAndRemember(token: string, req: Request | undefined): Promise<VerifiedToken> {
    let pending = inflight.get(token);
    if (pending === undefined) {
      try {
        const selected = tenants.select(token, req);
        pending = selected instanceof Promise ? selected.then((v) => verifyWith(v, token)) : verifyWith(selected, token);
      } catch (err) {
        return Promise.reject(err);
      }
      const forget = () => inflight.delete(token);
      pending.then(forget, forget);
      inflight.set(token, pending);
    }
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
    if (typeof token !== 'string' || token === '') return Promise.reject(invalidToken('The token must be a non-empty string'));
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
      return authRequired ? refuse(next, new MissingTokenError(undefined, bareChallenge)) : next();
    }
    const { token, scheme } = credentials;
    if (scheme === 'dpop') return void presentedWithProof(req, token, next);
    // The hot path: a token seen before answers synchronously, without a promise.
    const hit = cached(token);
    if (hit !== undefined) {
      const refused = constraint.bearer(hit);
      if (refused !== undefined) return refuse(next, refused);
      req.auth = authResult(token, hit, undefined);
      return next();
    }
    verifyAndRemember(token, req).then(
      (v) => {
        const refused = constraint.bearer(v);
        if (refused !== undefined) return refuse(next, refused);
        req.auth = authResult(token, v, undefined);
        next();
      },
      (err) => refuse(next, err),
    );
  } as RequireAuthHandler;

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

/** What `req.auth` holds: the verified token (from the cache or a fresh verification) and how it was presented. */
function authResult(token: string, v: VerifiedToken, dpop: AuthResult['dpop']): AuthResult {
  return { token, issuer: v.issuer, header: v.header, payload: v.payload, scopes: v.scopes, dpop };
}

const LOG_REPEAT_MS = 60_000;

/**
 * Operator lines for failures to obtain keys: what failed and where (URL, status), never a token.
 * An outage fails every request, so the same line is written at most once a minute.
 */
function operatorLog(logger: GuardLogger | undefined): (err: OAuthError) => void {
  let last = '';
  let lastAt = -Infinity;
  return (err) => {
    if (logger === undefined) return;
    const line = `[express-oauth-kit] requireAuth(): ${err.message}${err.code === 'misconfigured' ? ' (fix the configuration; retrying will not help)' : ''}`;
    const now = Date.now();
    if (line === last && now - lastAt < LOG_REPEAT_MS) return;
    last = line;
    lastAt = now;
    if (err.code === 'misconfigured') logger.error(line);
    else logger.warn(line);
  };
}
