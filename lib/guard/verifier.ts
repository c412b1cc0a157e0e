import { errors, type JWTHeaderParameters, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { deepFreeze, verifyJwt, type JwtVerifyResult } from '../jwt/index.js';
import { isCompactJws } from '../jwt/compact.js';
import type { InvalidTokenError, OAuthError } from '../errors/oauth-error.js';
import { asKeysError, KeySource, type GetKey } from './key-source.js';
import type { ResolvedOptions } from './options.js';
import { scopesOf } from './scopes.js';
import { audForLog, type GuardLog } from './guard-log.js';
import type { KidRefetches } from './kid-refetches.js';
import { forLog } from '../log/operator-log.js';
import type { AuthExtra } from './types.js';

/**
 * What {@link Guard.verify} resolves with: the token's verified parts, as also put on
 * `req.auth` by the middleware (without the raw token).
 */
export interface VerifiedToken {
  /** The configured issuer the token matched (its `iss`). */
  readonly issuer: string;
  /** Verified protected header (`alg`, `kid`, `typ`). */
  readonly header: Readonly<JWTHeaderParameters>;
  /** Verified claims, deeply frozen: the same object may be shared by later requests through the cache. */
  readonly payload: Readonly<JWTPayload>;
  /** Granted scopes, from `scope` (string or array) and `scp`. Frozen. */
  readonly scopes: readonly string[];
  /** `client_id`, else `azp`, else `''` (see {@link AuthResult.clientId}). */
  readonly clientId: string;
  /** The configured http(s) audience the token's `aud` matched, as a URL (see {@link AuthResult.resource}). */
  readonly resource: URL | undefined;
  /** `{ issuer, sub, payload }`, frozen (see {@link AuthResult.extra}). */
  readonly extra: AuthExtra;
}

export type TokenErrorFactory = (description: string, cause?: unknown) => InvalidTokenError;

/** Why a string is not a compact JWS at all, or undefined when it is shaped like one. */
export function formatProblem(token: string): string | undefined {
  if (isCompactJws(token)) return undefined;
  return token.split('.').length === 5 ? 'Encrypted tokens (JWE) are not accepted' : 'The token is not a signed JWT (JWS compact serialization)';
}

function describeClaimFailure(err: errors.JWTClaimValidationFailed): string {
  if (err.reason === 'missing') return `The token has no "${err.claim}" claim, which this API requires`;
  switch (err.claim) {
    case 'iss':
      return 'The token was issued by another issuer';
    case 'aud':
      return 'The token is not meant for this API (aud)';
    case 'nbf':
      return 'The token is not valid yet (nbf)';
    case 'iat':
      return 'The token has an invalid "iat" claim';
    case 'typ':
      return 'The token has an unexpected type (typ header)';
    case 'exp':
      return 'The token has an invalid "exp" claim';
    default:
      return `The token's "${err.claim}" claim is invalid`;
  }
}

// jose errors that say something about the token itself (→ 401). Anything else while verifying
// is about reaching or reading the keys, so the token may be fine: 503.
function tokenProblem(err: unknown): string | undefined {
  if (err instanceof errors.JWTExpired) {
    return err.claim === 'iat' ? 'The token is too old (issued more than maxTokenAge seconds ago)' : 'The access token expired';
  }
  if (err instanceof errors.JWTClaimValidationFailed) return describeClaimFailure(err);
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'The token signature is invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm this API does not accept';
  if (err instanceof errors.JWKSNoMatchingKey) return 'No key of the issuer matches the token (kid/alg)';
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'Several keys match the token and none verified it';
  if (err instanceof errors.JWSInvalid) return 'The token is not a well-formed JWS';
  if (err instanceof errors.JWTInvalid) return 'The token payload is not a valid JWT claims set';
  if (err instanceof errors.JOSENotSupported) return 'The token uses an unsupported algorithm or critical header';
  return undefined;
}

/** A verification's result and the key-set generation its key came from (what the cache keys on). */
export interface Verification {
  verified: VerifiedToken;
  generation: object | undefined;
}

const FINITE_CLAIMS = ['exp', 'nbf', 'iat'] as const;

/**
 * Verifies a compact JWS access token against the configured keys and claims. Pure: no Express,
 * no cache. Errors are OAuthErrors: 401 `invalid_token` for a bad token, 503 when keys could not
 * be obtained, 500 when the IdP's metadata contradicts the configuration.
 */
export class Verifier {
  readonly keys: KeySource;
  readonly issuer: string;
  /** Read by the verified-token cache, which re-checks time claims on every hit. */
  readonly clockTolerance: number;
  readonly maxTokenAge: number | undefined;
  readonly #options: JWTVerifyOptions;
  /** Configured audiences that are http(s) URLs: a token matching one gets `resource`. */
  readonly #urlAudiences: ReadonlySet<string>;
  readonly #report: GuardLog['report'];
  readonly #refusal: GuardLog['refusal'];

  constructor(
    resolved: ResolvedOptions,
    private readonly invalidToken: TokenErrorFactory,
    log: GuardLog,
    refetches: KidRefetches,
  ) {
    this.#report = log.report;
    this.#refusal = log.refusal;
    this.keys = new KeySource(resolved, log.report, refetches);
    this.issuer = resolved.issuer;
    this.clockTolerance = resolved.clockTolerance;
    this.maxTokenAge = resolved.maxTokenAge;
    this.#urlAudiences = new Set(resolved.audience.filter(isHttpUrl));
    this.#options = {
      issuer: resolved.issuer,
      audience: resolved.audience,
      algorithms: resolved.algorithms,
      clockTolerance: resolved.clockTolerance,
      maxTokenAge: resolved.maxTokenAge,
      typ: resolved.typ,
      // RFC 9068 §4 and RFC 8725 §3.10: exp is what makes caching and revocation windows finite.
      requiredClaims: ['exp', ...resolved.requiredClaims],
    };
  }

  /**
   * Synchronous (returns or throws) when the key is at hand, which is every token once the key
   * set is loaded; a promise only while keys are being fetched.
   */
  verify(token: unknown): Verification | Promise<Verification> {
    if (typeof token !== 'string' || token === '') throw this.invalidToken('The token must be a non-empty string');
    const problem = formatProblem(token);
    if (problem !== undefined) throw this.invalidToken(problem);
    // The generation is taken when the key is handed out, not when verification ends: a reload
    // finishing in between must not stamp this result with a key set it was not checked against.
    const { keys } = this;
    let generation = keys.generation();
    const key: GetKey | Uint8Array =
      typeof keys.key === 'function'
        ? (header, parts) => {
            const k = (keys.key as GetKey)(header, parts);
            if (!(k instanceof Promise)) return k;
            return k.then((found) => {
              generation = keys.generation();
              return found;
            });
          }
        : keys.key;
    let result: JwtVerifyResult | Promise<JwtVerifyResult>;
    try {
      result = verifyJwt(token, key as Parameters<typeof verifyJwt>[1], this.#options);
    } catch (err) {
      throw this.#failure(err);
    }
    if (result instanceof Promise) {
      return result.then(
        (r) => this.#accept(r, generation),
        (err: unknown) => {
          throw this.#failure(err);
        },
      );
    }
    return this.#accept(result, generation);
  }

  #failure(err: unknown): OAuthError {
    const problem = tokenProblem(err);
    if (problem !== undefined) {
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud' && err.reason !== 'missing') {
        // Not a secret, and the quickest way to spot a trailing slash or the wrong API identifier.
        this.#refusal(`refused a token with aud ${audForLog(err.payload.aud)}; issuer "${forLog(this.issuer)}" expects ${audForLog(this.#options.audience)}`);
      }
      return this.invalidToken(problem, err);
    }
    const keysError = asKeysError(err);
    this.#report(keysError);
    return keysError;
  }

  #accept({ payload, protectedHeader }: JwtVerifyResult, generation: object | undefined): Verification {
    // JSON allows 1e999, which parses to Infinity: an exp that never comes is no exp (RFC 8725 §3.10).
    for (const claim of FINITE_CLAIMS) {
      const value = payload[claim];
      if (value !== undefined && !Number.isFinite(value)) throw this.invalidToken(`The token has an invalid "${claim}" claim`);
    }
    // Frozen on every path, first request or cache hit alike: the result is shared with the cache.
    deepFreeze(payload);
    deepFreeze(protectedHeader);
    // Once per verification, so requests answered from the cache only copy references (the MCP
    // AuthInfo members of req.auth).
    const issuer = this.issuer;
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : '';
    // Typed string | undefined, and jose does not check the type of `sub`: an IdP's numeric or
    // object `sub` stays in payload, not where a tool handler trusts the declared type.
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const extra: AuthExtra = Object.freeze({ issuer, sub, payload });
    const verified: VerifiedToken = { issuer, header: protectedHeader, payload, scopes: scopesOf(payload), clientId, resource: this.#resource(payload.aud), extra };
    return { verified, generation };
  }

  /** The first configured URL audience the token names (jose has checked that it names one). */
  #resource(aud: JWTPayload['aud']): URL | undefined {
    if (this.#urlAudiences.size === 0) return undefined;
    for (const a of typeof aud === 'string' ? [aud] : (aud ?? [])) if (this.#urlAudiences.has(a)) return new URL(a);
    return undefined;
  }
}

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:';
}
