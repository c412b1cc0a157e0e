import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { GuardRequest } from '../../bearer/guard-request.js';
import { createGuard, type GuardCacheStats, type GuardOutcome, type GuardVerifyOptions } from '../../guard/guard.js';
import type { GuardIssuerResolver, GuardOptions } from '../../guard/options.js';
import type { VerifiedToken } from '../../guard/verifier.js';
import { metadataOf, registerMetadata } from '../../guard/resource-metadata.js';
import { peerCertificateReader } from '../tls/peer-certificate.js';
import './types.js';

/**
 * Options of {@link requireAuth}: the guard's options, with Express's `Request` as the request
 * type `getToken` and an `issuers` resolver receive.
 */
export type RequireAuthOptions<Req = Request> = GuardOptions<Req>;

/** An `issuers` resolver of {@link requireAuth}; see {@link GuardIssuerResolver}. */
export type IssuerResolver<Req = Request> = GuardIssuerResolver<Req>;

/**
 * What {@link requireAuth} returns: Express middleware, plus a way to verify tokens that do not
 * come through an Express route and counters for monitoring.
 */
export interface RequireAuthHandler extends RequestHandler {
  /**
   * Verify a token outside Express (WebSocket upgrades, queues). Rejects with OAuthErrors only.
   * A certificate-bound token (RFC 8705) needs `{ clientCertificate }`: the DER certificate of the
   * connection it came on.
   */
  verify(token: string, options?: GuardVerifyOptions): Promise<VerifiedToken>;
  /**
   * Entries and estimated bytes in the verified-token cache, and counters since start: requests
   * answered from the cache, and signature verifications run (hits / (hits + verifications) is the
   * hit ratio worth graphing).
   */
  readonly cacheStats: GuardCacheStats;
}

/**
 * An Express request as the guard reads it. Getters, so a request answered from the cache reads
 * only its headers: `req.protocol` (trust proxy) and the parsed query cost something in Express.
 */
class ExpressGuardRequest implements GuardRequest<Request> {
  /**
   * Read once: an Express 5 request has a hidden class of its own (bench/README.md, "Where the
   * HTTP-only cost goes", point 1), so every property read on it misses V8's inline caches and
   * costs a full lookup. The guard reads the headers two or three times per request (the token,
   * a DPoP proof, the Host for its htu); this object's shape is the same for every request.
   */
  readonly headers: Request['headers'];
  constructor(readonly native: Request) {
    this.headers = native.headers;
  }
  get method(): string {
    return this.native.method;
  }
  // The URL as received: routers strip their mount path from req.url, a DPoP proof names the whole path.
  get url(): string {
    return this.native.originalUrl ?? this.native.url;
  }
  get rawHeaders(): readonly string[] {
    return this.native.rawHeaders;
  }
  get query(): unknown {
    return this.native.query;
  }
  get body(): unknown {
    return this.native.body as unknown;
  }
  get protocol(): string {
    return this.native.protocol;
  }
  // What req.get('host') returns (the Host header, no trust proxy), without looking up `get` on the request.
  get host(): string | undefined {
    return this.headers.host;
  }
  // Read only for a certificate-bound token (RFC 8705).
  get clientCertificate(): (() => Uint8Array | undefined) | undefined {
    return peerCertificateReader(this.native.socket);
  }
}

/**
 * Express middleware that accepts only requests with a valid Bearer JWT (RFC 6750, RFC 9068).
 * On success `req.auth` holds the token, header, claims and scopes; on failure `next(err)` with
 * an OAuthError whose status and WWW-Authenticate header are already right: 401 with no error
 * code when there is no token, 400 `invalid_request` for a malformed request, 401 `invalid_token`
 * for a bad token, 503 `jwks_unavailable` when the keys cannot be fetched. Options are checked at
 * once: a mistake throws a {@link ConfigError} before the server starts. The Express adapter of
 * {@link createGuard}.
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
export function requireAuth<Req extends Request = Request>(options: RequireAuthOptions<Req>): RequireAuthHandler {
  const guard = createGuard<Request>(options as RequireAuthOptions<Request>);

  const handler = function requireAuthMiddleware(req: Request, _res: Response, next: NextFunction): void {
    let outcome: GuardOutcome | Promise<GuardOutcome>;
    try {
      outcome = guard.check(new ExpressGuardRequest(req));
    } catch (err) {
      return next(err);
    }
    // The hot path (a cached token) stays synchronous: no promise, no extra turn.
    if (outcome instanceof Promise) {
      outcome.then((o) => settle(req, o, next), next);
      return;
    }
    settle(req, outcome, next);
  } as RequireAuthHandler;

  Object.defineProperty(handler, 'verify', { value: guard.verify });
  Object.defineProperty(handler, 'cacheStats', { get: () => guard.cacheStats });
  // So protectedResourceMetadata(handler) finds the document of the guard inside.
  registerMetadata(handler, metadataOf(guard));
  return handler;
}

function settle(req: Request, outcome: GuardOutcome, next: NextFunction): void {
  if (outcome.error !== undefined) return next(outcome.error);
  if (outcome.auth !== undefined) req.auth = outcome.auth;
  next();
}
