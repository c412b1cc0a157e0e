import type { JSONWebKeySet } from 'jose';
import type { DpopOptions, ResolvedDpop } from './dpop/options.js';
import type { MtlsOptions, ResolvedMtls } from './mtls/options.js';
import type { IdpFetch } from '../idp/http.js';
import type { OperatorLogger } from '../log/operator-log.js';
import type { ProtectedResourceMetadata, ResourceMetadataOptions } from './resource-metadata.js';

import type { IntrospectionOptions, ResolvedIntrospection } from './introspection/options.js';

import type { AsymmetricAlgorithm, SymmetricAlgorithm } from '../jwt/algorithms.js';

// The algorithm names live with the one algorithm table (lib/jwt/algorithms.ts); re-exported for the options' users.
export { ASYMMETRIC_ALGS, SYMMETRIC_ALGS, type AsymmetricAlgorithm, type SymmetricAlgorithm } from '../jwt/algorithms.js';

/** What identifies one token issuer and how its tokens are checked, apart from where its keys come from. */
export interface IssuerSettings {
  /**
   * Expected `iss`, exactly as the IdP writes it (compared byte for byte, trailing slash
   * included). Also the base URL for OpenID discovery when no key source is given. Required.
   */
  issuer: string;
  /** Expected `aud`; a token naming any one of these is accepted. Required. */
  audience: string | string[];
  /**
   * Allowed `alg` values. `none` is never accepted.
   * @default every asymmetric algorithm in {@link AsymmetricAlgorithm} (HS256 with `secret`)
   */
  algorithms?: Array<AsymmetricAlgorithm | SymmetricAlgorithm>;
  /**
   * Seconds of clock skew tolerated on exp/nbf/iat, at most 300.
   * @default 5
   */
  clockToleranceSeconds?: number;
  /** @deprecated Use clockToleranceSeconds. */
  clockTolerance?: number;
  /**
   * Reject tokens whose `iat` is older than this many seconds, whatever their `exp` says.
   * @default none: only `exp` limits a token's life
   */
  maxTokenAgeSeconds?: number;
  /** @deprecated Use maxTokenAgeSeconds. */
  maxTokenAge?: number;
  /**
   * Claims that must be present (besides iss/aud/exp, which always are).
   * @default []
   */
  requiredClaims?: string[];
  /**
   * Expected `typ` header, e.g. `'at+jwt'` for RFC 9068 access tokens; guards against an ID
   * token being used as an access token.
   * @default none: `typ` is not checked
   */
  typ?: string;
  /**
   * RFC 7662 token introspection: opaque access tokens (or every token, `tokens: 'all'`) are
   * checked by asking this issuer's introspection endpoint, with the answers cached. At most one
   * issuer of a guard may introspect opaque tokens (an opaque token does not say who issued it,
   * and sending it to another IdP would hand it over). Not with an `issuers` resolver.
   * See docs/introspection.md.
   * @default none: only JWTs are accepted
   */
  introspection?: IntrospectionOptions;
}

/**
 * Where an issuer's keys come from: `jwksUri`, `jwks` or `secret` — at most one of them (the
 * compiler refuses two) — or none, for OpenID discovery from the issuer.
 */
export type IssuerKeySource =
  | {
      /**
       * JWKS URL. Only one of `jwksUri`, `jwks` and `secret` may be given; must be https (or http on
       * a loopback host, see {@link GuardCommonOptions.allowInsecureHttp}).
       * @default the `jwks_uri` of the issuer's discovery document (`<issuer>/.well-known/openid-configuration`)
       */
      jwksUri?: string;
      /** Not with `jwksUri`. */
      jwks?: never;
      /** Not with `jwksUri`. */
      secret?: never;
    }
  | {
      /** A local key set instead of a URL (keys pinned in configuration; nothing is fetched). */
      jwks: JSONWebKeySet;
      /** Not with `jwks`. */
      jwksUri?: never;
      /** Not with `jwks`. */
      secret?: never;
    }
  | {
      /**
       * Shared secret for HS256/384/512 tokens, at least 32 bytes (RFC 7518 §3.2). Only with this
       * option are symmetric algorithms accepted, and then only they.
       */
      secret: string | Uint8Array;
      /** Not with `secret`. */
      jwksUri?: never;
      /** Not with `secret`. */
      jwks?: never;
    };

/** One issuer's settings: {@link IssuerSettings} and at most one {@link IssuerKeySource}. */
export type IssuerOptions = IssuerSettings & IssuerKeySource;

/**
 * Finds the settings for a token's (unverified) `iss` at run time, e.g. for tenants created after
 * start-up. Return undefined to refuse the issuer. Accepted settings are cached per `iss` alone
 * (bounded, for `issuerCacheTtlMs`), so the answer must depend only on `iss`: `req` (the
 * framework's request, undefined for `verify(token)`) is there for logging or tracing, not to
 * answer differently for different requests.
 *
 * @typeParam Req - the framework's request type (Express: `Request`).
 */
export type GuardIssuerResolver<Req = unknown> = (iss: string, req: Req | undefined) => IssuerOptions | undefined | Promise<IssuerOptions | undefined>;

/**
 * Where the guard's operator lines go: the package's {@link OperatorLogger} (`console`, pino and
 * winston fit). A `debug` method, if the logger has one, receives why tokens were refused for an
 * issuer or audience mismatch.
 * @deprecated Use OperatorLogger, the one logger interface of every factory.
 */
export type GuardLogger = OperatorLogger;

/**
 * Options of {@link createGuard} (and of `requireAuth()`, its Express adapter): one issuer's
 * settings at the top level, or several in `issuers`.
 *
 * @typeParam Req - the framework's request type, which `getToken` and an `issuers` resolver receive.
 */
export type GuardOptions<Req = unknown> = GuardCommonOptions<Req> & (SingleIssuerOptions | MultiIssuerOptions<Req>);

/** One issuer, configured at the top level; `issuers` is then not allowed. */
export type SingleIssuerOptions = IssuerOptions & {
  /** Not with a top-level `issuer`: list it in `issuers` instead. */
  issuers?: never;
};

/** Several issuers in `issuers`; the single-issuer options are then not allowed at the top level. */
export type MultiIssuerOptions<Req = unknown> = {
  /**
   * Several issuers in one API: a list (the token's `iss` picks one, matched exactly) or a
   * resolver. Not together with a top-level `issuer`.
   * @example
   * ```ts
   * requireAuth({ issuers: [
   *   { issuer: 'https://staff.example.com', audience: 'https://api.example.com' },
   *   { issuer: 'https://customers.example.com', audience: 'https://api.example.com' },
   * ] });
   * ```
   */
  issuers: IssuerOptions[] | GuardIssuerResolver<Req>;
} & { [K in keyof IssuerSettings | 'jwksUri' | 'jwks' | 'secret']?: never };

/** The options of {@link GuardOptions} that apply whatever the issuers. */
export interface GuardCommonOptions<Req = unknown> {
  /**
   * How long in ms the settings an `issuers` resolver returned are used before it is asked again:
   * a tenant the resolver stops accepting is refused at most this long after.
   * @default 600000
   */
  issuerCacheTtlMs?: number;
  /**
   * false: requests without a token pass with `req.auth` undefined (a bad token is still rejected).
   * @default true
   */
  authRequired?: boolean;
  /**
   * The realm in `WWW-Authenticate`.
   * @default 'api'
   */
  realm?: string;
  /**
   * Extra places a token may come from besides the Authorization header (RFC 6750 §2.2/2.3).
   * Whatever the places, a request carrying a token in more than one is refused (400).
   * @default none
   */
  tokenLocations?: Array<'body' | 'query'>;
  /**
   * Name of a cookie that may carry the token (the application must protect such routes against
   * CSRF, e.g. SameSite=Strict). Read from the raw `Cookie` header; no cookie parser needed.
   * @default none: cookies are not read
   */
  tokenCookie?: string;
  /**
   * Your own token lookup, e.g. a WebSocket sub-protocol header; return undefined for none.
   * Counts as one more place. Receives the framework's request object.
   * @default none
   */
  getToken?: (req: Req) => string | undefined;
  /**
   * Longest token accepted, in characters.
   * @default 16384
   */
  maxTokenLength?: number;
  /**
   * Verified-token cache: false turns it off; numbers bound it.
   * @default { maxEntries: 10000, maxBytes: 16777216 }
   */
  cache?: false | {
    /**
     * Most tokens kept. A token is admitted once it has verified twice, so one-off tokens cannot
     * push out the ones clients keep presenting.
     * @default 10000
     */
    maxEntries?: number;
    /**
     * Most estimated bytes kept (about three times the token's length per entry, plus overhead).
     * @default 16777216 (16 MiB)
     */
    maxBytes?: number;
  };
  /**
   * JWKS request timeout in ms.
   * @default 5000
   */
  jwksTimeoutMs?: number;
  /** @deprecated Use jwksTimeoutMs. */
  jwksTimeout?: number;
  /**
   * Least time in ms between JWKS refetches caused by unknown `kid`s.
   * @default 30000
   */
  jwksCooldownMs?: number;
  /** @deprecated Use jwksCooldownMs. */
  jwksCooldown?: number;
  /**
   * Age in ms after which the key set is reloaded (in the background for cached tokens).
   * @default 600000
   */
  jwksCacheMaxAgeMs?: number;
  /** @deprecated Use jwksCacheMaxAgeMs. */
  jwksCacheMaxAge?: number;
  /**
   * When the key set cannot be reloaded past `jwksCacheMaxAgeMs`, keep verifying with the last
   * good set for this many more ms (logged), then answer 503. 0 fails closed at once.
   * @default 0
   */
  jwksStaleIfErrorMs?: number;
  /** @deprecated Use jwksStaleIfErrorMs. */
  jwksStaleIfError?: number;
  /**
   * Permit an http:// issuer/JWKS on a non-loopback host.
   * @default false
   */
  allowInsecureHttp?: boolean;
  /**
   * Where operator lines go (JWKS or discovery failures: URL and status, never a token; with a
   * `debug` method, also why tokens were refused for an issuer or audience mismatch); false for none.
   * @default console
   */
  logger?: OperatorLogger | false;
  /**
   * DPoP (RFC 9449) sender-constrained tokens: `Authorization: DPoP <token>` with a `DPoP` proof
   * header. A token bound to a key (`cnf.jkt`) is never accepted as a plain Bearer token.
   * @default { mode: 'allowed' }
   */
  dpop?: DpopOptions;
  /**
   * Certificate-bound tokens (RFC 8705): a token with `cnf["x5t#S256"]` is accepted only on a
   * request whose client certificate has that thumbprint, read from the TLS connection or from
   * the header a trusted TLS-terminating proxy sets (`certificateHeader`). Checked on every
   * request, cached token or not.
   * @default { mode: 'allowed' }: bound tokens need their certificate, unbound ones pass as usual
   */
  mtls?: MtlsOptions;
  /**
   * The `fetch` used for discovery and JWKS requests (every issuer of this guard), e.g. to go
   * through an egress proxy or trust a private CA. The timeout, size cap and no-redirect policy
   * still apply to what it returns.
   * @default Node's global fetch
   */
  fetch?: IdpFetch;
  /**
   * Publish RFC 9728 protected-resource metadata for this guard: every 401 challenge (and the 403
   * of `requireScopes()` after it) then names the document in `resource_metadata`, and
   * `protectedResourceMetadata()` (Express) or {@link protectedResourceMetadataDocument} serves it.
   * What MCP clients need to find the authorization server (docs/mcp.md).
   * @default none: no metadata, challenges without `resource_metadata`
   */
  resourceMetadata?: ResourceMetadataOptions;
}

/** One issuer, fully resolved, with the shared key-set tuning it needs. */
export interface ResolvedOptions {
  issuer: string;
  audience: string[];
  jwksUri?: string;
  jwks?: JSONWebKeySet;
  secret?: Uint8Array;
  algorithms: string[];
  clockTolerance: number;
  maxTokenAge?: number;
  requiredClaims: string[];
  typ?: string;
  introspection?: ResolvedIntrospection;
  jwksTimeout: number;
  jwksCooldown: number;
  jwksCacheMaxAge: number;
  jwksStaleIfError: number;
  allowInsecureHttp: boolean;
  /** The application's fetch for discovery and JWKS; undefined for Node's. */
  fetch?: IdpFetch;
}

/** Everything requireAuth() needs, resolved and checked. */
export interface GuardConfig {
  /** One entry per configured issuer, or a resolver for run-time issuers. */
  issuers: ResolvedOptions[] | ((iss: string, req: unknown) => Promise<ResolvedOptions | undefined>);
  /** true when the issuers came from the `issuers` option (false: the single top-level issuer). */
  issuersListed: boolean;
  /** How long a resolver's answer is used, in ms. */
  issuerCacheTtlMs: number;
  authRequired: boolean;
  realm: string;
  locations: Array<'header' | 'body' | 'query'>;
  tokenCookie?: string;
  getToken?: (req: never) => string | undefined;
  maxTokenLength: number;
  cache: false | { maxEntries: number; maxBytes: number };
  logger: OperatorLogger | undefined;
  dpop: ResolvedDpop;
  /** The RFC 9728 document, built once; undefined without the option. */
  resourceMetadata: ProtectedResourceMetadata | undefined;
  mtls: ResolvedMtls;
}
