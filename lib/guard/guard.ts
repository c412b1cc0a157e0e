import { bearerChallenge, rememberChallenge, type ChallengeContext } from '../bearer/challenge.js';
import { detached, extractCredentials, isB64Token, type ExtractOptions } from '../bearer/extract-token.js';
import type { GuardRequest } from '../bearer/guard-request.js';
import { InvalidRequestError, InvalidTokenError, MissingTokenError, OAuthError } from '../errors/oauth-error.js';
import type { GuardOptions } from './options.js';
import { guardLog } from './guard-log.js';
import { resolveOptions } from './resolve-options.js';
import { Tenants } from './tenants.js';
import { errorCode, guardMetrics } from '../telemetry/otel.js';
import { SenderConstraint } from './dpop/sender-constraint.js';
import { CertificateBinding } from './mtls/binding.js';
import { stillValid, VerifiedCache } from './verified-cache.js';
import { tokenKey } from './token-key.js';
import * as clock from '../clock.js';
import type { Verification, Verifier, VerifiedToken } from './verifier.js';
import type { AuthResult } from './types.js';
import { registerMetadata } from './resource-metadata.js';
import type { GuardConfig } from './options.js';
import { forLog, operatorLog } from '../log/operator-log.js';

/**
 * What {@link Guard.check} answers: the verified token (`auth` undefined only when
 * `authRequired: false` and the request carried none), or the OAuth error to answer with — its
 * `status`, `headers` (WWW-Authenticate, Retry-After, DPoP-Nonce) and `toJSON()` body are the
 * whole answer.
 */
export type GuardOutcome =
  | {
      /** The verified token; undefined only for a request without one under `authRequired: false`. */
      auth: AuthResult | undefined;
      /** Never set when `auth` is the answer. */
      error?: undefined;
    }
  | {
      /** The refusal: its `status`, `headers` and `toJSON()` body are the answer to send. */
      error: OAuthError;
      /** Never set on a refusal. */
      auth?: undefined;
    };

/** Options of {@link Guard.verify} (and of `requireAuth().verify`). */
export interface GuardVerifyOptions {
  /**
   * The DER bytes of the client certificate of the connection the token came on, e.g.
   * `req.socket.getPeerCertificate().raw` in a WebSocket `upgrade` handler: what a
   * certificate-bound token (RFC 8705) is checked against. Without it such a token is refused.
   */
  clientCertificate?: Uint8Array;
}

/** Counters of a guard's verified-token cache (see {@link Guard.cacheStats}). */
export interface GuardCacheStats {
  /** Tokens in the verified-token cache now. */
  entries: number;
  /** Their estimated size in bytes now. */
  bytes: number;
  /** Requests answered from the cache since start (for introspected tokens: from the introspection cache). */
  hits: number;
  /** Signature verifications run since start (cache misses, each deduplicated across a burst). */
  verifications: number;
}

/**
 * The guard without a framework: token extraction, verification, DPoP, the caches and single
 * flight. Adapters (`requireAuth()` for Express, {@link nodeAuth}, {@link webAuth}) turn a request
 * into a {@link GuardRequest} and the {@link GuardOutcome} into their framework's answer.
 *
 * @typeParam Req - the framework's request type, passed on to `getToken` and an `issuers` resolver.
 */
export interface Guard<Req = unknown> {
  /**
   * Checks one request. Synchronous when the answer is at hand (a token in the verified-token
   * cache, a malformed request), a promise otherwise. Client mistakes and outages are outcomes,
   * never throws; only a bug throws (answer it as a 500).
   */
  check(request: GuardRequest<Req>): GuardOutcome | Promise<GuardOutcome>;
  /**
   * Verify a token outside a request (WebSocket upgrades, queues). Rejects with OAuthErrors only.
   * DPoP-bound tokens are refused (there is no proof to check); a certificate-bound one (RFC 8705)
   * only passes with `clientCertificate`, the DER certificate of the connection it came on. A
   * token longer than `maxTokenLength` is refused, as in a request.
   */
  verify(token: string, options?: GuardVerifyOptions): Promise<VerifiedToken>;
  /**
   * Entries and estimated bytes in the verified-token cache, and counters since start: requests
   * answered from the cache, and signature verifications run (hits / (hits + verifications) is the
   * hit ratio worth graphing).
   */
  readonly cacheStats: GuardCacheStats;
  /** Whether a token may come in the body (`tokenLocations: ['body']`): adapters read the body only then. */
  readonly readsBody: boolean;
}

/**
 * Builds a {@link Guard}: the framework-free core of `requireAuth()`. Options are checked at
 * once: a mistake throws a `ConfigError` before the server starts.
 *
 * @example
 * ```ts
 * import { createGuard, webAuth } from 'express-oauth-kit';
 *
 * const guard = createGuard({ issuer: 'https://idp.example.com', audience: 'https://api.example.com' });
 * const auth = webAuth(guard);
 * export async function GET(request: Request): Promise<Response> {
 *   const result = await auth(request);
 *   if (result instanceof Response) return result;
 *   return Response.json({ sub: result.payload.sub });
 * }
 * ```
 */
export function createGuard<Req = unknown>(options: GuardOptions<Req>): Guard<Req> {
  const config = resolveOptions(options as GuardOptions<never>);
  const { realm, authRequired } = config;
  // Every challenge of this guard names its RFC 9728 document (§5.1), when it has one.
  const resourceMetadata = config.resourceMetadata?.url;
  const base = resourceMetadata === undefined ? { realm } : { realm, resourceMetadata };

  const invalidRequest = (description: string) =>
    new InvalidRequestError(description, {
      headers: { 'WWW-Authenticate': bearerChallenge({ ...base, error: 'invalid_request', errorDescription: description }) },
    });
  const invalidToken = (description: string, cause?: unknown) =>
    new InvalidTokenError(description, {
      headers: { 'WWW-Authenticate': bearerChallenge({ ...base, error: 'invalid_token', errorDescription: description }) },
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
  warnUnreachableResource(config);
  const tenants = new Tenants(config, invalidToken, log);
  const constraint = new SenderConstraint(config.dpop, base, log.report);
  const binding = new CertificateBinding(config.mtls, base, log.refusal);
  const bareChallenge = { 'WWW-Authenticate': constraint.missing };
  // What requireScopes(), claimCheck() and requireIssuer() after this guard answer with.
  const challengeContext: ChallengeContext = { realm, algs: constraint.proofs.algs, resourceMetadata };
  // Per issuer, the same plus its clock tolerance (requireAcr's maxAgeSeconds allows the same skew):
  // one object per verifier, made once, so remembering a verification allocates nothing.
  const issuerContexts = new WeakMap<Verifier, ChallengeContext>();
  const contextFor = (verifier: Verifier): ChallengeContext => {
    let context = issuerContexts.get(verifier);
    if (context === undefined) issuerContexts.set(verifier, (context = { ...challengeContext, clockTolerance: verifier.clockTolerance }));
    return context;
  };
  const cache = config.cache ? new VerifiedCache(config.cache.maxEntries, config.cache.maxBytes) : undefined;
  // Shared: an outcome is read, never changed.
  const noToken: GuardOutcome = { auth: undefined };

  const telemetry = guardMetrics();
  /** Every refusal goes through here, so rejections are counted by error code. Anything not an OAuthError is a bug: thrown on. */
  const refuse = (err: unknown): GuardOutcome => {
    telemetry.rejections?.add(1, { 'error.code': errorCode(err) });
    if (!(err instanceof OAuthError)) throw err;
    return { error: err };
  };

  let hits = 0;
  let verifications = 0;
  // Single flight: a burst of requests with the same new token (a page firing its API calls at
  // once) shares one verification. One still fetching keys is shared as its promise until it
  // settles; one that finished synchronously is kept until the next timers phase (a millisecond
  // or so: the rest of the burst arrives on other connections in the next I/O turns), at most
  // LINGER_MAX of them, so a loop of verify() calls cannot pile up results. Keyed like the cache
  // (token-key.ts); an entry is joined only by its own token.
  const inflight = new Map<number, Flight>();
  let lingering = 0;
  const sweep = () => {
    lingering = 0;
    for (const [key, flight] of inflight) if (!('pending' in flight)) inflight.delete(key);
  };
  const linger = (key: number, settled: Settled): void => {
    if (lingering >= LINGER_MAX) return;
    if (lingering++ === 0) setTimeout(sweep, 1).unref();
    inflight.set(key, settled);
  };

  function accepted(verifier: Verifier, token: string, { verified, generation }: Verification): VerifiedToken {
    telemetry.verifications?.add(1, { result: 'valid' });
    // Once per verification: requests answered from the cache carry this payload in req.auth.
    rememberChallenge(verified.payload, contextFor(verifier));
    // Stamped with the key set the key came from; if the set has been reloaded since, the
    // entry is dead on arrival, which is the point. An introspected token is not: its answer
    // lives by the introspection cache's rules (cacheTtlSeconds), not by exp and a key set.
    if (verified.verifiedBy !== 'introspection') cache?.set(token, verified, verifier, generation);
    return verified;
  }
  const rejected = (err: unknown): never => {
    telemetry.verifications?.add(1, { result: errorCode(err) });
    throw err;
  };

  /** Verifies with the token's verifier: the result (or a throw) at once when the keys are at hand. */
  function verifyWith(verifier: Verifier, token: string, key: number): VerifiedToken | Promise<VerifiedToken> {
    verifications += 1;
    let result: Verification | Promise<Verification>;
    try {
      result = verifier.verify(token);
    } catch (err) {
      return rejected(err);
    }
    if (result instanceof Promise) return result.then((r) => accepted(verifier, token, r), rejected);
    if (result.verified.verifiedBy !== 'introspection') linger(key, { token, verified: result.verified, verifier, generation: result.generation });
    return accepted(verifier, token, result);
  }

  function verifyAndRemember(token: string, native: unknown): VerifiedToken | Promise<VerifiedToken> {
    const key = tokenKey(token);
    const joined = inflight.get(key);
    if (joined !== undefined && joined.token === token) {
      if ('pending' in joined) return joined.pending;
      if ('error' in joined) {
        // Claims are checked to the second, so a refusal (nbf not reached yet) holds for its second only.
        if (joined.second === clockSecond()) throw joined.error;
      } else if (stillValid(joined.verified.payload, joined.verifier, joined.generation)) {
        // Checked like a cache hit: a result from a moment ago must not outlive exp or a key change.
        // A sighting like any other: a token sent in a burst is one in use, and the cache should know.
        cache?.set(token, joined.verified, joined.verifier, joined.generation);
        return joined.verified;
      }
      inflight.delete(key);
    }
    let outcome: VerifiedToken | Promise<VerifiedToken>;
    try {
      const selected = tenants.select(token, native);
      outcome = selected instanceof Promise ? selected.then((v) => verifyWith(v, token, key)) : verifyWith(selected, token, key);
    } catch (error) {
      linger(key, { token, error, second: clockSecond() });
      throw error;
    }
    if (!(outcome instanceof Promise)) return outcome;
    const flight = { token, pending: outcome };
    const forget = () => {
      if (inflight.get(key) === flight) inflight.delete(key);
    };
    outcome.then(forget, forget);
    inflight.set(key, flight);
    return outcome;
  }

  // Introspected opaque tokens have their own cache (keyed by the token's hash, by the
  // introspection's rules); asked right after the verified-token cache, before any other work.
  const introspected = tenants.introspector;

  /** The cache-hit path, shared by check() and verify(). */
  function cached(token: string): VerifiedToken | undefined {
    const hit = cache?.get(token) ?? introspected?.cached(token);
    if (hit !== undefined) {
      hits += 1;
      telemetry.cacheHits?.add(1);
    }
    return hit;
  }

  async function verify(token: string, options?: GuardVerifyOptions): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token === '') throw invalidToken('The token must be a non-empty string');
    // As for a token in a request: a caller's token (a WebSocket query parameter, say) is not
    // hashed, parsed or forwarded to the introspection endpoint whatever its size.
    if (token.length > config.maxTokenLength) throw invalidToken(`The token is longer than ${config.maxTokenLength} characters`);
    // The charset a token in a request must have (RFC 6750 §2.1): nothing else is hashed, parsed or
    // sent to an introspection endpoint (lone surrogates would reach it, and its cache's SHA-256, as U+FFFD).
    if (!isB64Token(token)) throw invalidToken('The token has characters a bearer token cannot have (RFC 6750 §2.1)');
    // Copied before it can be cached, as a token from a cookie or the query is: the caller may have
    // cut it from a whole Cookie header (a WebSocket upgrade's), which the entry would keep alive.
    const v = cached(token) ?? (await verifyAndRemember(detached(token), undefined));
    // No request, so no proof: a DPoP-bound token here would be a stolen token's way around the binding.
    const refused = constraint.bearer(v);
    if (refused !== undefined) throw refused;
    // A certificate-bound one (RFC 8705) needs the certificate the caller read from its connection.
    binding.checkCertificate(v, options?.clientCertificate);
    return v;
  }

  function check(req: GuardRequest<Req>): GuardOutcome | Promise<GuardOutcome> {
    let credentials: ReturnType<typeof extractCredentials>;
    try {
      credentials = extractCredentials(req, extractOptions);
    } catch (err) {
      return refuse(err);
    }
    if (credentials === undefined) {
      return authRequired ? refuse(new MissingTokenError(undefined, { headers: bareChallenge })) : noToken;
    }
    const { token, scheme } = credentials;
    if (scheme === 'dpop') return presentedWithProof(req, token);
    // The hot path: a token seen before answers synchronously, without a promise.
    const hit = cached(token);
    if (hit !== undefined) return admit(req, token, hit);
    let outcome: VerifiedToken | Promise<VerifiedToken>;
    try {
      outcome = verifyAndRemember(token, req.native);
    } catch (err) {
      return refuse(err);
    }
    if (outcome instanceof Promise) return outcome.then((v) => admit(req, token, v), refuse);
    return admit(req, token, outcome);
  }

  /**
   * A verified Bearer token: unless it is DPoP-bound, and if it is certificate-bound, with its
   * certificate. Also the cache-hit path: the certificate is checked on every request.
   */
  function admit(req: GuardRequest<Req>, token: string, v: VerifiedToken): GuardOutcome {
    const refused = constraint.bearer(v);
    if (refused !== undefined) return refuse(refused);
    let mtls: AuthResult['mtls'];
    try {
      mtls = binding.check(req, v);
    } catch (err) {
      return refuse(err);
    }
    return { auth: authResult(token, v, undefined, mtls) };
  }

  /**
   * `Authorization: DPoP`: the token (cache as usual), then this request's proof, which is never
   * cached. A token bound both to a key and to a certificate needs both: the proof and the certificate.
   * Synchronous from end to end when it can be (a cached token, the in-memory replay store): a
   * promise only for a token still being verified or a replay store over the network.
   */
  function presentedWithProof(req: GuardRequest<Req>, token: string): GuardOutcome | Promise<GuardOutcome> {
    const hit = cached(token);
    if (hit !== undefined) return withProof(req, token, hit);
    let verified: VerifiedToken | Promise<VerifiedToken>;
    try {
      verified = verifyAndRemember(token, req.native);
    } catch (err) {
      return refuse(constraint.rechallenge(err));
    }
    if (verified instanceof Promise) {
      return verified.then(
        (v) => withProof(req, token, v),
        (err: unknown) => refuse(constraint.rechallenge(err)),
      );
    }
    return withProof(req, token, verified);
  }

  /** The verified token of a DPoP presentation: its proof, then the certificate binding. */
  function withProof(req: GuardRequest<Req>, token: string, v: VerifiedToken): GuardOutcome | Promise<GuardOutcome> {
    let jkt: string | Promise<string>;
    try {
      jkt = constraint.dpop(req, token, v);
    } catch (err) {
      return refuse(err);
    }
    if (jkt instanceof Promise) return jkt.then((k) => proven(req, token, v, k), refuse);
    return proven(req, token, v, jkt);
  }

  function proven(req: GuardRequest<Req>, token: string, v: VerifiedToken, jkt: string): GuardOutcome {
    let mtls: AuthResult['mtls'];
    try {
      mtls = binding.check(req, v);
    } catch (err) {
      return refuse(constraint.rechallenge(err));
    }
    return { auth: authResult(token, v, { jkt }, mtls) };
  }

  const guard = { check, verify, readsBody: config.locations.includes('body') } as Guard<Req>;
  Object.defineProperty(guard, 'cacheStats', {
    enumerable: true,
    get: (): GuardCacheStats => ({ entries: cache?.size ?? 0, bytes: cache?.bytes ?? 0, hits, verifications }),
  });
  registerMetadata(guard, config.resourceMetadata);
  return guard;
}

/**
 * A `resource` that is none of the audiences is legal (an IdP may map a resource indicator to
 * another `aud`), but usually a mistake that only shows as every client's token being refused:
 * said once at start-up.
 */
function warnUnreachableResource(config: GuardConfig): void {
  const resource = config.resourceMetadata?.document.resource;
  if (resource === undefined || typeof config.issuers === 'function' || config.issuers.some((i) => i.audience.includes(resource))) return;
  operatorLog(config.logger)(
    'warn',
    `[express-oauth-kit] requireAuth(): resourceMetadata.resource "${forLog(resource)}" is none of the configured audiences: clients ask for tokens for it, which this guard refuses unless the IdP puts an accepted audience in them`,
  );
}

/** A verification that finished synchronously, kept for the rest of the event-loop turn. */
type Settled = { token: string } & ({ verified: VerifiedToken; verifier: Verifier; generation: object | undefined } | { error: unknown; second: number });

/** A verification of `token` in single flight: still running, or just finished. */
type Flight = { token: string; pending: Promise<VerifiedToken> } | Settled;

/** The second the claim checks read (lib/jwt/claims.ts compares whole seconds). */
const clockSecond = (): number => Math.floor(clock.now() / 1000);

/** Synchronous results kept for single flight at any one time (see `linger`). */
const LINGER_MAX = 256;

/** The verified token (from the cache or a fresh verification) and how it was presented. */
function authResult(token: string, v: VerifiedToken, dpop: AuthResult['dpop'], mtls: AuthResult['mtls']): AuthResult {
  // References only (scopes stay the frozen array the verification made; the cast is the type
  // MCP's AuthInfo wants, the freeze what keeps one request from changing another's).
  return {
    token,
    issuer: v.issuer,
    header: v.header,
    payload: v.payload,
    scopes: v.scopes as string[],
    dpop,
    mtls,
    clientId: v.clientId,
    expiresAt: v.payload.exp,
    resource: v.resource,
    extra: v.extra,
    verifiedBy: v.verifiedBy,
  };
}
