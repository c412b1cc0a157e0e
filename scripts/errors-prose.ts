import type { OAuthErrorCode, StoreErrorCode } from '../lib/index.js';

/**
 * The hand-written columns of docs/errors.md's tables: when each error is sent, and what a call
 * site adds to the answer (a challenge, a body member). Everything the classes know themselves
 * (code, class, status, the headers a class always sets, the wire `error`) comes from the classes;
 * see errors-table.ts. Records, so a new code without its sentence does not compile. The order of
 * the keys is the order of the rows.
 */
export interface HttpErrorProse {
  /** When the package sends it. */
  when: string;
  /** Appended as is to the status cell: headers the call site adds, e.g. ` + `DPoP-Nonce``. */
  status?: string;
  /** Appended to the wire `error` cell. */
  wire?: string;
}

export const HTTP_ERROR_PROSE: Record<OAuthErrorCode, HttpErrorProse> = {
  missing_token: {
    wire: '(bare `WWW-Authenticate: Bearer realm="api"`; the JSON body has no `error` member, only `error_description`, RFC 6750 §3.1)',
    when: 'no bearer token on a route that requires one',
  },
  invalid_request: {
    when: 'malformed `Authorization` header, a token (header, query, body, cookie or `getToken`) that is not a b64token, token sent in more than one place, a token cookie sent twice, token too long, a certificate-bound token with a trusted client-certificate header that cannot be read ([mTLS](mtls.md)); proxy: missing/duplicated parameter, bad body, bad PKCE `code_verifier`',
  },
  request_too_large: {
    when: "proxy: a body over `bodyLimit` ([Request bodies](token-proxy.md#request-bodies)). The proxies answer this themselves; the class is exported so hooks and logs can tell it apart",
  },
  method_not_allowed: {
    when: 'proxy: another method than POST',
  },
  unsupported_media_type: {
    when: 'proxy: a body that is not `application/x-www-form-urlencoded` or UTF-8 `application/json` ([Request bodies](token-proxy.md#request-bodies))',
  },
  invalid_token: {
    when: 'bad signature, unknown `kid`, disallowed `alg`, expired, not yet valid, wrong `iss`/`aud`/`typ`, an issuer not configured, a non-finite `exp`/`nbf`/`iat`, missing required claim, malformed JWT, JWE; a certificate-bound token without its client certificate, or an unbound one under `mtls.mode: \'required\'` ([mTLS](mtls.md)); `requireIssuer()` or `claimCheck(…, { status: 401 })` refusing',
  },
  invalid_dpop_proof: {
    status: ' + `WWW-Authenticate: DPoP … algs="…"`',
    when: 'a DPoP proof missing, sent twice, malformed, replayed, or not for this request, token or key; an RSA proof key whose exponent is not 65537 or whose modulus is not 2048 to 4096 bits ([DPoP](dpop.md))',
  },
  use_dpop_nonce: {
    status: ' + `DPoP-Nonce`',
    when: 'server nonces are on and the proof lacks the current one; the client retries with the nonce sent',
  },
  insufficient_scope: {
    wire: "(+ `scope` attribute; the guard's `realm`, and the DPoP scheme with `algs` for a DPoP presentation)",
    when: '`requireScopes`, `requireAnyScope`, claim helpers',
  },
  insufficient_user_authentication: {
    wire: "(+ `acr_values` and/or `max_age` attributes, RFC 9470 §3, also in the body; the guard's `realm`, and the DPoP scheme with `algs` for a DPoP presentation)",
    when: '`requireAcr()` / `acrCheck()` (step-up): the token\'s `acr` is not one the route accepts, or, with `maxAgeSeconds`, its `auth_time` is missing, in the future or too old; or `acrCheck()` got no token (`null` under `authRequired: false`) ([step-up](require-auth.md#requireacr-step-up))',
  },
  jwks_unavailable: {
    when: 'JWKS or discovery unreachable, timed out, garbled or oversized, or discovery without `jwks_uri` — the token may be fine, so never 401. Public description: "The keys needed to check the token are unavailable right now; try again shortly"',
  },
  introspection_unavailable: {
    when: 'the RFC 7662 introspection endpoint was unreachable, timed out, answered 5xx/429, a redirect, an oversized or non-JSON body, or an answer without a boolean `active` (or a signed RFC 9701 answer that did not verify); too many distinct tokens in flight at once — the token may be fine, so never 401 ([Introspection](introspection.md)). Retry-After is the endpoint\'s (1–60 s) or 5. Public description: "The token cannot be checked with its issuer right now; try again shortly"',
  },
  temporarily_unavailable: {
    when: 'an application callback the answer depends on failed: the `issuers` resolver or an async `claimCheck` threw or rejected, or the `claimCheck` did not settle within its `timeoutMs` (the resolver within `jwksTimeoutMs`); the DPoP replay store failed or did not answer within `dpop.replayStoreTimeoutMs`, or the in-memory one is full of unexpired proof ids (`Retry-After` then says when one expires, [DPoP](dpop.md#replay-store-and-nonces)). Its error is in `cause`, never in the body',
  },
  misconfigured: {
    status: ', no `Retry-After`',
    when: "the IdP's metadata contradicts this server's settings: discovery names another issuer, or a `jwks_uri` failing the `https` policy; the `issuers` resolver answered invalid settings or another issuer's. Retrying will not help: an operator must fix it (logged at `error` level; at `warn` when it is the resolver's answer for a client's `iss`, so a client cannot page anyone)",
  },
  unsupported_grant_type: {
    when: 'proxy: grant not in `grants`',
  },
  unauthorized_client: {
    when: 'proxy: `client_credentials` asked for by a front end',
  },
  invalid_client: {
    when: "(IdP answers; the proxy turns the IdP's `invalid_client` into a 502 `idp_error`, see below)",
  },
  access_denied: {
    when: "proxy cookie mode: the request's `Origin` is not allowed or the CSRF header is missing",
  },
  invalid_grant: {
    when: "available for applications; the proxy passes the IdP's own answers (`invalid_grant`, `mfa_required`, …) through unchanged",
  },
  invalid_scope: {
    when: "available for applications; the proxy passes the IdP's own answers through unchanged",
  },
  idp_timeout: {
    when: 'the IdP did not answer within `timeoutMs`',
  },
  idp_unavailable: {
    when: 'connection refused or reset',
  },
  idp_bad_response: {
    when: 'the IdP answered HTML, non-JSON, a redirect, or more than `maxResponseBytes`; `retryable` is false when trying again cannot help (a 2xx without a usable token)',
  },
  idp_error: {
    when: "the IdP refused this server's own credentials (`invalid_client`), or M2M: the IdP answered an error (`idpStatus`, `idpError` say which; `retryAfterMs` holds its `Retry-After`; `cause` the error of the last try)",
  },
  server_error: {
    when: 'a programming mistake found while serving (e.g. `requireScopes` or `requireIssuer` without `requireAuth`)',
  },
};

/** The errors never sent to a client, by code; `config_*` codes share one row. */
export const OTHER_ERROR_PROSE: Record<'config' | StoreErrorCode, string> = {
  config: 'thrown by a factory given bad options, at start-up, never per request ([ConfigError](#configerror))',
  token_store_error: "an M2M `store` call failed or did not answer within `storeTimeoutMs`; reported through `onError` (phase `'store'`), never thrown: the client carries on with its in-process cache and the IdP",
  redis_unavailable: "`redisTokenStore()`: Redis is not connected, so the call was not sent; reported like `token_store_error` ([Redis store failures](fleet.md#failure-behaviour))",
};
