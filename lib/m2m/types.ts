import type { RequestHandler } from 'express';
import type { IdpClientOptions } from '../idp/idp-client.js';
import type { TokenStore } from './store.js';

/** What `getToken()` resolves to. The object is frozen and shared by every caller of one token. */
export interface M2MToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch milliseconds at which the IdP says the token expires. */
  readonly expiresAt: number;
  /** Scope the IdP granted, or the requested scope when the IdP did not say. */
  readonly scope: string | undefined;
}

/** Which token: each distinct (scope, audience, resource) is its own cache entry and IdP request. */
export interface TokenRequestOptions {
  /** Replaces the client's default `scope` (space-separated string or list). */
  scope?: string | readonly string[];
  /** Replaces the client's default `audience` (Auth0 style `audience` parameter). */
  audience?: string | readonly string[];
  /** Replaces the client's default `resource` (RFC 8707 resource indicators). */
  resource?: string | readonly string[];
}

export interface GetTokenOptions extends TokenRequestOptions {
  /** Ignore the cached and shared token and ask the IdP for a new one (concurrent callers still share it). */
  forceRefresh?: boolean;
}

export interface M2MRetryOptions {
  /** Total tries per token request, the first included. Default 3; 1 turns retries off. */
  attempts?: number;
  /** First backoff ceiling in ms; doubles per retry ("full jitter": a random wait up to it). Default 200. */
  baseDelay?: number;
  /**
   * Largest wait between tries in ms. Default 5000. A `Retry-After` asking for longer than this
   * ends the retries at once (the error says how long the IdP asked for) rather than blocking callers.
   */
  maxDelay?: number;
}

/** Identifies a cache entry in hook events. Never holds the token or the secret. */
export interface M2MTokenKeyInfo {
  /** The cache key. In a shared store the entry's key is this plus an id derived from the credentials (slow KDF). */
  readonly key: string;
  readonly clientId: string;
  readonly scope: string | undefined;
  readonly audience: readonly string[];
  readonly resource: readonly string[];
}

export interface M2MTokenFetchedEvent extends M2MTokenKeyInfo {
  /** 'idp': a new token from the token endpoint; 'store': taken from the shared store. */
  readonly source: 'idp' | 'store';
  /** From the start of the request until the token was usable, retries and backoff included. */
  readonly latencyMs: number;
  readonly expiresAt: number;
  /** Token requests sent to the IdP for this token (0 when it came from the store). */
  readonly attempts: number;
  /** True for a refresh-ahead run that started while a valid token was being served. */
  readonly background: boolean;
  /** Callers of `getToken()` that waited for this token. Zero is the goal for refreshes. */
  readonly waiters: number;
}

export interface M2MCacheHitEvent extends M2MTokenKeyInfo {
  readonly expiresAt: number;
}

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

export interface M2MRetryEvent extends M2MTokenKeyInfo {
  /** The try that just failed (1-based). */
  readonly attempt: number;
  /** Wait before the next try, in ms. */
  readonly delayMs: number;
  readonly error: Error;
}

export interface M2MHooks {
  /** A token was obtained (from the IdP or the shared store). */
  onTokenFetched?: (event: M2MTokenFetchedEvent) => void;
  /** A token was served from the in-process cache. On the hot path: keep it cheap. */
  onCacheHit?: (event: M2MCacheHitEvent) => void;
  /** Something failed; see `event.phase`. Errors never contain the token or the client secret. */
  onError?: (error: Error, event: M2MErrorEvent) => void;
  /** A token request failed and will be retried after `delayMs`. */
  onRetry?: (event: M2MRetryEvent) => void;
}

export interface M2MClientOptions extends IdpClientOptions, TokenRequestOptions, M2MHooks {
  /** Extra token-request parameters sent on every request (not `grant_type`, credentials, scope, audience, resource). */
  extraParams?: Record<string, string>;
  /** Seconds a token is treated as expired before the IdP's expiry; capped at half its lifetime. Default 60. */
  expirySkew?: number;
  /**
   * Start one background refresh when this fraction of the token's usable lifetime is left
   * (0 < x < 1). Default 0.2; `false` or 0 turns refresh-ahead off.
   */
  refreshAhead?: number | false;
  /** Lifetime in seconds assumed when the IdP sends no `expires_in` and the token is not a JWT with `exp`. Default 300. */
  defaultExpiresIn?: number;
  /** Retries of token requests on 5xx, 429 and network errors. `false` = one try only. */
  retry?: M2MRetryOptions | false;
  /** In-process lru-cache of tokens (always in front of `store`). */
  cache?: { max?: number };
  /** Shared token store for a fleet (e.g. the Redis adapter). Default: none, the in-process cache only. */
  store?: TokenStore;
  /** Milliseconds one store call may take before it is abandoned (reported as a 'store' error). Default 1000. */
  storeTimeout?: number;
  /** Milliseconds the store is left alone after a failure (one outage, one report, not one per miss). Default 5000. */
  storeBackoff?: number;
  /**
   * Milliseconds to wait for another instance that holds the store lock to publish its token,
   * before fetching one ourselves. Also the lock's lease. Default: `timeout` (10000).
   */
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
  idpBackoff?: number;
}

/** `init` of `fetch()` as Node accepts it (`duplex` is needed for stream bodies). */
export type M2MFetchInit = RequestInit & { duplex?: 'half' };

export type M2MFetch = (input: string | URL | Request, init?: M2MFetchInit, token?: TokenRequestOptions) => Promise<Response>;
export type M2MGetToken = (options?: GetTokenOptions) => Promise<M2MToken>;

/** What `middleware()` puts on `req.m2m`. */
export interface M2MRequestApi {
  readonly fetch: M2MFetch;
  readonly getToken: M2MGetToken;
}

/** Token defaults for the requests that pass through one mount of `middleware()`. */
export type M2MMiddlewareOptions = TokenRequestOptions;

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
  readonly clientId: string;
}
