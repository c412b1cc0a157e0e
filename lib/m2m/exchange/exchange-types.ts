import type { M2MFetchInit, M2MToken } from '../request/token-types.js';

/** RFC 8693 §3 token type of an OAuth access token: the default subject and requested type. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Which token to ask for on behalf of a user: the target and the rights (RFC 8693 §2.1). */
export interface TokenExchangeTarget {
  /**
   * Logical name(s) of the service the new token is for (`audience`).
   * @default none
   */
  audience?: string | readonly string[];
  /**
   * RFC 8707 resource URI(s) the new token is for (`resource`).
   * @default none
   */
  resource?: string | readonly string[];
  /**
   * Scope of the new token (space-separated string or list).
   * @default none: the IdP decides
   */
  scope?: string | readonly string[];
  /**
   * `requested_token_type`. Only tokens the IdP issues with `token_type` Bearer can be used.
   * @default none: the IdP's default (an access token)
   */
  requestedTokenType?: string;
}

/** Options of {@link M2MClient.exchange}. */
export interface TokenExchangeOptions extends TokenExchangeTarget {
  /**
   * `subject_token_type` of the token being exchanged.
   * @default 'urn:ietf:params:oauth:token-type:access_token'
   */
  subjectTokenType?: string;
  /**
   * RFC 8693 §2.1 `actor_token`: a token for the party acting (delegation). Needs `actorTokenType`.
   * @default none
   */
  actorToken?: string;
  /**
   * `actor_token_type`, required with `actorToken`.
   * @default none
   */
  actorTokenType?: string;
  /**
   * When set, a subject token (a JWT) whose `iss` is not this value is refused before any IdP call.
   * An opaque subject token is then refused too: its issuer cannot be read.
   * @default none
   */
  expectedIssuer?: string;
}

/** What {@link M2MClient.exchange} resolves to. Frozen; shared by the callers of one cache entry. */
export interface ExchangedToken extends M2MToken {
  /** RFC 8693 §2.2.1 `issued_token_type`, e.g. `urn:ietf:params:oauth:token-type:access_token`. */
  readonly issuedTokenType: string;
}

/**
 * RFC 8693 token exchange: trades `subjectToken` (a user's access token) for a token for another
 * service. Cached in memory per (subject token, target, scope) until the earlier of the new
 * token's and the subject token's expiry; never written to the shared store. Rejects with
 * {@link InvalidTokenError} for an expired or foreign subject token and with
 * {@link InvalidRequestError} (400) for bad options (no IdP call either way), else like
 * `getToken()`, with the same retry policy (e.g. {@link IdpError} with `idpError`
 * 'invalid_target' or 'invalid_request').
 */
export type M2MExchange = (subjectToken: string, options?: TokenExchangeOptions) => Promise<ExchangedToken>;

/** Options of {@link M2MClient.onBehalfOf}: the target of every exchange on this mount. */
export type OnBehalfOfOptions = TokenExchangeTarget;

/** What `onBehalfOf()` adds to `req.m2m`: calls as the signed-in user, through token exchange. */
export interface OnBehalfOfApi {
  /**
   * Node's `fetch` with `Authorization: Bearer <exchanged token>` for the user of this request;
   * the exchange happens on first use and is cached. One retry with a new exchange on a 401, unless
   * the token was itself exchanged because of a 401 (as `retryOn401` does for `fetch`).
   */
  readonly fetchAsUser: (input: string | URL | Request, init?: M2MFetchInit) => Promise<Response>;
  /** The exchanged token for the user of this request. */
  readonly getUserToken: () => Promise<ExchangedToken>;
}
