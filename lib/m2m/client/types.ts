import type { RequestHandler } from 'express';
import type { M2MExchange, OnBehalfOfApi, OnBehalfOfOptions } from '../exchange/exchange-types.js';
import type { IdpConnectionOptions, IdpCredentials } from '../../idp/idp-client.js';
import type { OperatorLogger } from '../../log/operator-log.js';
import type { M2MDpopOptions } from '../dpop/key.js';
import type { TokenStore } from '../store/store.js';
import type { M2MFetchInit, M2MToken } from '../request/token-types.js';

export type { M2MFetchInit, M2MToken } from '../request/token-types.js';

/** Which token: each distinct (scope, audience, resource) is its own cache entry and IdP request. */
export interface TokenRequestOptions {
  /**
   * Scope to request (space-separated string or list). Per call it replaces the client's default.
   * @default the client's `scope`; on the client, none (the IdP's default scope)
   */
  scope?: string | readonly string[];
  /**
   * Auth0-style `audience` parameter. Per call it replaces the client's default.
   * @default the client's `audience`; on the client, none
   */
  audience?: string | readonly string[];
  /**
   * RFC 8707 resource indicators. Per call they replace the client's default.
   * @default the client's `resource`; on the client, none
   */
  resource?: string | readonly string[];
}

/** Options of {@link M2MClient.getToken}: which token, and whether to bypass the caches. */
export interface GetTokenOptions extends TokenRequestOptions {
  /**
   * Ignore the cached and shared token and ask the IdP for a new one (concurrent callers still share it).
   * @default false
   */
  forceRefresh?: boolean;
}

/**
 * Retries of token requests that failed on a 5xx, a 429 or a network error, with exponential
 * backoff and full jitter. The IdP's `Retry-After` is honoured.
 */
export interface M2MRetryOptions {
  /**
   * Total tries per token request, the first included; 1 turns retries off.
   * @default 3
   */
  attempts?: number;
  /**
   * First backoff ceiling in ms; doubles per retry ("full jitter": a random wait up to it).
   * @default 200
   */
  baseDelayMs?: number;
  /**
   * Largest wait between tries in ms. A `Retry-After` asking for longer than this ends the
   * retries at once (the error says how long the IdP asked for) rather than blocking callers.
   * @default 5000
   */
  maxDelayMs?: number;
  /** @deprecated Use baseDelayMs (same unit, milliseconds). */
  baseDelay?: number;
  /** @deprecated Use maxDelayMs (same unit, milliseconds). */
  maxDelay?: number;
}

/** Identifies a cache entry in hook events. Never holds the token or the secret. */
export interface M2MTokenKeyInfo {
  /** The cache key. In a shared store the entry's key is this plus an id derived from the credentials (slow KDF). */
  readonly key: string;
  /** The client id the token was requested for. */
  readonly clientId: string;
  /** The normalised scope requested (space-separated, sorted), or undefined for none. */
  readonly scope: string | undefined;
  /** The `audience` values requested (empty for none). */
  readonly audience: readonly string[];
  /** The RFC 8707 `resource` values requested (empty for none). */
  readonly resource: readonly string[];
}

/** Passed to {@link M2MHooks.onTokenFetched}. */
export interface M2MTokenFetchedEvent extends M2MTokenKeyInfo {
  /** 'idp': a new token from the token endpoint; 'store': taken from the shared store. */
  readonly source: 'idp' | 'store';
  /** From the start of the request until the token was usable, retries and backoff included. */
  readonly latencyMs: number;
  /** Epoch milliseconds at which the IdP says the token expires. */
  readonly expiresAt: number;
  /** Token requests sent to the IdP for this token (0 when it came from the store). */
  readonly attempts: number;
  /** True for a refresh-ahead run that started while a valid token was being served. */
  readonly background: boolean;
  /** Callers of `getToken()` that waited for this token. Zero is the goal for refreshes. */
  readonly waiters: number;
}

/** Passed to {@link M2MHooks.onCacheHit}. */
export interface M2MCacheHitEvent extends M2MTokenKeyInfo {
  /** Epoch milliseconds at which the served token expires. */
  readonly expiresAt: number;
}

/** Passed to {@link M2MHooks.onError} with the error. */
export interface M2MErrorEvent extends M2MTokenKeyInfo {
  /**
   * 'refresh': a refresh-ahead failed while a valid token is still being served.
   * 'fetch': a caller needed a token and did not get one (`getToken` rejects with the same error).
   * 'store': the shared store failed or timed out; the client carried on without it.
   */
  readonly phase: 'refresh' | 'fetch' | 'store';
  /** True when callers are still being served a valid cached token despite this error. */
  readonly servingCachedToken: boolean;
}

/** Passed to {@link M2MHooks.onRetry}. */
export interface M2MRetryEvent extends M2MTokenKeyInfo {
  /** The try that just failed (1-based). */
  readonly attempt: number;
  /** Wait before the next try, in ms. */
  readonly delayMs: number;
  /** Why the try failed (an {@link OAuthError} such as {@link IdpTimeoutError}); never holds the secret. */
  readonly error: Error;
}

/**
 * Observability hooks of {@link createM2MClient}, for metrics and logs. All are optional and
 * called synchronously; an exception a hook throws is caught and does not affect token requests.
 */
export interface M2MHooks {
  /**
   * A token was obtained (from the IdP or the shared store).
   * @default none
   */
  onTokenFetched?: (event: M2MTokenFetchedEvent) => void;
  /**
   * A token was served from the in-process cache. On the hot path: keep it cheap.
   * @default none
   */
  onCacheHit?: (event: M2MCacheHitEvent) => void;
  /**
   * Something failed; see `event.phase`. Errors never contain the token or the client secret.
   * @default none
   */
  onError?: (error: Error, event: M2MErrorEvent) => void;
  /**
   * A token request failed and will be retried after `delayMs`.
   * @default none
   */
  onRetry?: (event: M2MRetryEvent) => void;
}

/**
 * Options of {@link createM2MClient}: the IdP connection and credentials ({@link IdpClientOptions}:
 * `clientSecret` or `privateKey`, not both), the default token request (`scope`, `audience`,
 * `resource`), caching, retries, hooks and the logger.
 */
export type M2MClientOptions = M2MClientBaseOptions & IdpCredentials;

/** {@link M2MClientOptions} without the credentials (which are a union: secret or private key). */
export interface M2MClientBaseOptions extends IdpConnectionOptions, TokenRequestOptions, M2MHooks {
  /**
   * Extra token-request parameters sent on every request (not `grant_type`, credentials, scope,
   * audience, resource: those are refused at start-up).
   * @default none
   */
  extraParams?: Record<string, string>;
  /**
   * Seconds a token is treated as expired before the IdP's expiry; capped at half its lifetime.
   * @default 60
   */
  expirySkewSeconds?: number;
  /** @deprecated Use expirySkewSeconds (same unit, seconds). */
  expirySkew?: number;
  /**
   * Start one background refresh when this fraction of the token's usable lifetime is left
   * (0 < x < 1); `false` or 0 turns refresh-ahead off.
   * @default 0.2
   */
  refreshAhead?: number | false;
  /**
   * Lifetime in seconds assumed when the IdP sends no `expires_in` and the token is not a JWT with `exp`.
   * @default 300
   */
  defaultExpiresInSeconds?: number;
  /** @deprecated Use defaultExpiresInSeconds (same unit, seconds). */
  defaultExpiresIn?: number;
  /**
   * Retries of token requests on 5xx, 429 and network errors. `false` = one try only.
   * @default { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 }
   */
  retry?: M2MRetryOptions | false;
  /**
   * In-process lru-cache of tokens (always in front of `store`).
   * @default { maxEntries: 500 }
   */
  cache?: {
    /**
     * Most token entries (distinct scope / audience / resource combinations) kept.
     * @default 500
     */
    maxEntries?: number;
    /** @deprecated Use maxEntries. */
    max?: number;
  };
  /**
   * Shared token store for a fleet (e.g. `redisTokenStore()` from `express-oauth-kit/redis`), so
   * the instances ask the IdP for one token per key instead of one each.
   * @default none: the in-process cache only
   */
  store?: TokenStore;
  /**
   * Milliseconds one store call may take before it is abandoned (reported as a 'store' error).
   * @default 1000
   */
  storeTimeoutMs?: number;
  /** @deprecated Use storeTimeoutMs (same unit, milliseconds). */
  storeTimeout?: number;
  /**
   * Milliseconds the store is left alone after a failure (one outage, one report, not one per miss).
   * @default 5000
   */
  storeBackoffMs?: number;
  /** @deprecated Use storeBackoffMs (same unit, milliseconds). */
  storeBackoff?: number;
  /**
   * Milliseconds to wait for another instance that holds the store lock to publish its token,
   * before fetching one ourselves. Also the lock's lease.
   * @default the IdP `timeoutMs` (10000 unless set)
   */
  storeLockWaitMs?: number;
  /** @deprecated Use storeLockWaitMs (same unit, milliseconds). */
  storeLockWait?: number;
  /**
   * In `fetch()`: on a downstream 401, drop the token and retry once with a fresh one. Default true.
   * A token that was itself fetched because of a 401 is not replaced again: its 401s go to the caller.
   */
  retryOn401?: boolean;
  /**
   * Milliseconds after a failed token request (retries included) during which callers of the same
   * token get that same error at once, without another IdP request; a `Retry-After` from the IdP
   * lengthens it, up to 60 s. `forceRefresh` ignores it. Default 2000; 0 turns it off.
   */
  idpBackoffMs?: number;
  /** @deprecated Use idpBackoffMs (same unit, milliseconds). */
  idpBackoff?: number;
  /**
   * DPoP (RFC 9449): tokens bound to a key of this client, sent as `Authorization: DPoP` with a
   * fresh proof per request. `true` generates an ES256 key pair per client; give `privateKey` to
   * share one key (and so the bound tokens in `store`) across a fleet. See docs/dpop.md.
   * @default false: Bearer tokens
   */
  dpop?: boolean | M2MDpopOptions;
  /**
   * Operator lines (`warn`) when the shared store fails or a caller gets no token, written only
   * when no `onError` hook is given (a hook means you report errors yourself; the client does not
   * report them twice). Each distinct line at most once a minute; IdP text sanitized, the secret
   * and tokens never included. `false` silences it.
   * @default console
   */
  logger?: OperatorLogger | false;
}

/**
 * Node's `fetch` with this client's token: sets `Authorization: Bearer <token>` (replacing any
 * the caller set), and by default retries once with a fresh token when the downstream answers
 * 401 (`retryOn401`). `token` picks another scope / audience / resource than the client's
 * default. Rejects with the token error (an {@link OAuthError}) when no token can be obtained.
 */
export type M2MFetch = (input: string | URL | Request, init?: M2MFetchInit, token?: TokenRequestOptions) => Promise<Response>;
/**
 * Resolves with a valid token from the in-process cache, the shared store or the IdP, in that
 * order; concurrent callers of one key share one IdP request. Rejects with an {@link OAuthError}
 * (e.g. {@link IdpError}, {@link IdpTimeoutError}) when none can be obtained.
 */
export type M2MGetToken = (options?: GetTokenOptions) => Promise<M2MToken>;

/** What `middleware()` puts on `req.m2m`. */
export interface M2MRequestApi {
  /** The client's {@link M2MClient.fetch}, with the mount's token defaults. */
  readonly fetch: M2MFetch;
  /** The client's {@link M2MClient.getToken}, with the mount's token defaults. */
  readonly getToken: M2MGetToken;
  /** Set by {@link M2MClient.onBehalfOf}: `fetch` as the signed-in user (RFC 8693 token exchange). */
  readonly fetchAsUser?: OnBehalfOfApi['fetchAsUser'];
  /** Set by {@link M2MClient.onBehalfOf}: the exchanged token for the signed-in user. */
  readonly getUserToken?: OnBehalfOfApi['getUserToken'];
}

/** Token defaults for the requests that pass through one mount of `middleware()`. */
export type M2MMiddlewareOptions = TokenRequestOptions;

/**
 * A client_credentials client created by {@link createM2MClient}: cached, refreshed-ahead tokens
 * and an authenticated `fetch` for calls from this service to others.
 */
export interface M2MClient {
  /** The cached token for this client (and the given scope / audience / resource). */
  readonly getToken: M2MGetToken;
  /** Node's `fetch` with `Authorization: Bearer <token>`; one retry with a fresh token on 401. */
  readonly fetch: M2MFetch;
  /** Express middleware: `req.m2m = { fetch, getToken }`. */
  middleware(options?: M2MMiddlewareOptions): RequestHandler;
  /**
   * Drop a cached token (all keys when no options are given). With `accessToken`, only when the
   * cache still holds that very token, so a late 401 does not throw away a newer one.
   */
  invalidate(options?: TokenRequestOptions & { accessToken?: string }): Promise<void>;
  /** The `clientId` this client authenticates as (never the secret). */
  readonly clientId: string;
  /** RFC 8693 token exchange: a token for another service on behalf of the subject token's user. */
  readonly exchange: M2MExchange;
  /**
   * Express middleware for routes behind `requireAuth()`: `req.m2m.fetchAsUser(url, init)` calls
   * a service as the signed-in user, with `req.auth.token` exchanged for a token for `options`' target.
   */
  onBehalfOf(options: OnBehalfOfOptions): RequestHandler;
}
