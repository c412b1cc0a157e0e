import type { JSONWebKeySet } from 'jose';
import { assertHttpUrl } from '../idp/discovery.js';
import { OptionChecker } from '../options/validate.js';
import type { TokenLocation } from '../bearer/extract-token.js';

export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
const SYMMETRIC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGS)[number];
export type SymmetricAlgorithm = (typeof SYMMETRIC_ALGS)[number];

export interface RequireAuthOptions {
  /** Expected `iss`, exactly as the IdP writes it. Also the base for discovery. */
  issuer: string;
  /** Expected `aud`; a token naming any one of these is accepted. */
  audience: string | string[];
  /** JWKS URL. Default: `jwks_uri` from the issuer's discovery document. */
  jwksUri?: string;
  /** A local key set instead of a URL (keys pinned in configuration). */
  jwks?: JSONWebKeySet;
  /** Shared secret for HS256/384/512 tokens. Only with this option are symmetric algorithms accepted. */
  secret?: string | Uint8Array;
  /** Allowed `alg` values. Default: every asymmetric algorithm jose supports. `none` is never accepted. */
  algorithms?: Array<AsymmetricAlgorithm | SymmetricAlgorithm>;
  /** Seconds of clock skew tolerated on exp/nbf/iat. Default 5. */
  clockTolerance?: number;
  /** Reject tokens whose `iat` is older than this many seconds. */
  maxTokenAge?: number;
  /** Claims that must be present (besides iss/aud/exp, which always are). */
  requiredClaims?: string[];
  /** Expected `typ` header, e.g. 'at+jwt' for RFC 9068 access tokens. */
  typ?: string;
  /** false: requests without a token pass with `req.auth` undefined (a bad token is still rejected). Default true. */
  authRequired?: boolean;
  /** The realm in `WWW-Authenticate`. Default 'api'. */
  realm?: string;
  /** Extra places a token may come from besides the Authorization header (RFC 6750 §2.2/2.3). Default none. */
  tokenLocations?: Array<'body' | 'query'>;
  /** Longest token accepted, in characters. Default 16384. */
  maxTokenLength?: number;
  /** Verified-token cache: false turns it off; numbers bound it. Default on (10,000 tokens, 16 MiB). */
  cache?: false | { maxEntries?: number; maxBytes?: number };
  /** Remote JWKS tuning (ms): request timeout, the cooldown between refetches for unknown `kid`s, max age. */
  jwksTimeout?: number;
  jwksCooldown?: number;
  jwksCacheMaxAge?: number;
  /** Permit an http:// issuer/JWKS on a non-loopback host. Default false. */
  allowInsecureHttp?: boolean;
  /**
   * Where operator lines go (JWKS or discovery failures: URL and status, never a token). `console`
   * fits, so do pino and winston loggers; false for none. Default console.
   */
  logger?: GuardLogger | false;
}

/** Where operator-facing messages go. `console` fits, so do pino and winston loggers. */
export interface GuardLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** Longest clock skew accepted: beyond a few minutes, exp stops meaning what the IdP said. */
export const MAX_CLOCK_TOLERANCE = 300;

const KNOWN_KEYS = [
  'issuer', 'audience', 'jwksUri', 'jwks', 'secret', 'algorithms', 'clockTolerance', 'maxTokenAge', 'requiredClaims', 'typ',
  'authRequired', 'realm', 'tokenLocations', 'maxTokenLength', 'cache', 'jwksTimeout', 'jwksCooldown', 'jwksCacheMaxAge',
  'allowInsecureHttp', 'logger',
] as const;

// Names other libraries use for the same thing (express-oauth2-jwt-bearer, express-jwt, jwks-rsa).
const ALIASES: Record<string, string> = {
  jwks_uri: 'jwksUri',
  jwksUrl: 'jwksUri',
  jwksURI: 'jwksUri',
  clockSkew: 'clockTolerance',
  issuerBaseURL: 'issuer',
  tokenSigningAlg: 'algorithms',
  audiences: 'audience',
  credentialsRequired: 'authRequired',
};

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
  authRequired: boolean;
  realm: string;
  locations: TokenLocation[];
  maxTokenLength: number;
  cache: false | { maxEntries: number; maxBytes: number };
  jwksTimeout: number;
  jwksCooldown: number;
  jwksCacheMaxAge: number;
  allowInsecureHttp: boolean;
  logger: GuardLogger | undefined;
}

const check = new OptionChecker('requireAuth()', 'requireauth-options');
const fail = check.fail.bind(check);

export function resolveOptions(options: RequireAuthOptions): ResolvedOptions {
  const o = check.object(options, 'with at least issuer and audience');
  check.knownKeys(o, KNOWN_KEYS, ALIASES);
  if (typeof o.issuer !== 'string' || o.issuer === '') {
    fail('ERR_OAUTHKIT_ISSUER', 'issuer is required: the exact `iss` value your IdP puts in access tokens');
  }
  const allowInsecureHttp = check.boolean(o.allowInsecureHttp, 'allowInsecureHttp', false);
  const audience = typeof o.audience === 'string' ? [o.audience] : o.audience;
  if (!Array.isArray(audience) || audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) {
    fail('ERR_OAUTHKIT_AUDIENCE', 'audience is required: the `aud` value (or values) tokens for this API carry');
  }
  const sources = [o.jwksUri !== undefined, o.jwks !== undefined, o.secret !== undefined].filter(Boolean).length;
  if (sources > 1) fail('ERR_OAUTHKIT_KEYS', 'give only one of jwksUri, jwks or secret');
  if (o.jwksUri !== undefined) assertHttpUrl(o.jwksUri, 'requireAuth(): jwksUri', { allowHttp: allowInsecureHttp });
  if (o.jwksUri === undefined && o.jwks === undefined && o.secret === undefined) {
    // Discovery will run against the issuer, so it must be a URL.
    assertHttpUrl(o.issuer, 'requireAuth(): issuer (used for discovery because no jwksUri/jwks was given)', { allowHttp: allowInsecureHttp });
  }
  if (o.jwks !== undefined && (typeof o.jwks !== 'object' || !Array.isArray(o.jwks.keys))) {
    fail('ERR_OAUTHKIT_KEYS', 'jwks must be a JSON Web Key Set: { keys: [...] }');
  }
  let secret: Uint8Array | undefined;
  if (o.secret !== undefined) {
    secret = typeof o.secret === 'string' ? new TextEncoder().encode(o.secret) : o.secret;
    if (!(secret instanceof Uint8Array) || secret.byteLength < 32) {
      fail('ERR_OAUTHKIT_KEYS', 'secret must be at least 32 bytes (RFC 7518 §3.2); prefer asymmetric keys with a JWKS');
    }
  }
  const allowed: readonly string[] = secret ? SYMMETRIC_ALGS : ASYMMETRIC_ALGS;
  const algorithms = o.algorithms ?? (secret ? ['HS256'] : [...ASYMMETRIC_ALGS]);
  if (!Array.isArray(algorithms) || algorithms.length === 0) fail('ERR_OAUTHKIT_ALGORITHMS', 'algorithms must be a non-empty array');
  for (const alg of algorithms) {
    if (!allowed.includes(alg)) {
      const why =
        String(alg).toLowerCase() === 'none'
          ? '"none" is never accepted (RFC 8725 §3.1)'
          : secret
            ? `"${alg}" is not an HMAC algorithm; with a secret use ${SYMMETRIC_ALGS.join(', ')}`
            : `"${alg}" is not allowed with public keys; symmetric algorithms need the secret option, and only ${ASYMMETRIC_ALGS.join(', ')} are accepted`;
      fail('ERR_OAUTHKIT_ALGORITHMS', why);
    }
  }
  const locations: TokenLocation[] = ['header'];
  for (const l of o.tokenLocations ?? []) {
    if (l !== 'body' && l !== 'query') fail('ERR_OAUTHKIT_TOKEN_LOCATION', `tokenLocations may hold 'body' and 'query' (got "${String(l)}")`);
    if (!locations.includes(l)) locations.push(l);
  }
  if (o.typ !== undefined && (typeof o.typ !== 'string' || o.typ === '')) fail('ERR_OAUTHKIT_OPTIONS', 'typ must be a string such as "at+jwt"');
  if (o.requiredClaims !== undefined && (!Array.isArray(o.requiredClaims) || o.requiredClaims.some((c) => typeof c !== 'string'))) {
    fail('ERR_OAUTHKIT_OPTIONS', 'requiredClaims must be an array of claim names');
  }
  if (o.realm !== undefined && (typeof o.realm !== 'string' || o.realm === '')) fail('ERR_OAUTHKIT_OPTIONS', 'realm must be a non-empty string');
  const realm = o.realm ?? 'api';
  let cache: ResolvedOptions['cache'] = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 };
  if (o.cache === false) cache = false;
  else if (o.cache !== undefined) {
    if (typeof o.cache !== 'object' || o.cache === null) fail('ERR_OAUTHKIT_OPTIONS', 'cache must be false or { maxEntries, maxBytes }');
    cache = {
      maxEntries: check.number(o.cache.maxEntries, 'cache.maxEntries', cache.maxEntries, { positive: true, integer: true }),
      maxBytes: check.number(o.cache.maxBytes, 'cache.maxBytes', cache.maxBytes, { positive: true }),
    };
  }
  return {
    issuer: o.issuer,
    audience: audience as string[],
    jwksUri: o.jwksUri,
    jwks: o.jwks,
    secret,
    algorithms,
    clockTolerance: check.number(o.clockTolerance, 'clockTolerance', 5, { max: MAX_CLOCK_TOLERANCE }),
    maxTokenAge: check.number(o.maxTokenAge, 'maxTokenAge', undefined, { positive: true }),
    requiredClaims: o.requiredClaims ?? [],
    typ: o.typ,
    authRequired: check.boolean(o.authRequired, 'authRequired', true),
    realm,
    locations,
    maxTokenLength: check.number(o.maxTokenLength, 'maxTokenLength', 16_384, { positive: true, integer: true }),
    cache,
    // jose wants whole milliseconds for its timeout.
    jwksTimeout: check.number(o.jwksTimeout, 'jwksTimeout', 5_000, { positive: true, integer: true }),
    jwksCooldown: check.number(o.jwksCooldown, 'jwksCooldown', 30_000),
    jwksCacheMaxAge: check.number(o.jwksCacheMaxAge, 'jwksCacheMaxAge', 600_000, { positive: true }),
    allowInsecureHttp,
    logger: check.logger<GuardLogger>(o.logger, console),
  };
}
