import { errors, type JWTVerifyOptions } from 'jose';
import { deepFreeze, verifyJwt, type JwtVerifyResult } from '../jwt/index.js';
import { isCompactJws } from '../jwt/compact.js';
import type { OAuthError } from '../errors/oauth-error.js';
import { asKeysError, KeySource, type GetKey } from './key-source.js';
import type { ResolvedOptions } from './options.js';
import { audForLog, type GuardLog } from './guard-log.js';
import type { KidRefetches } from './kid-refetches.js';
import { forLog } from '../log/operator-log.js';
import { Introspector } from './introspection/introspector.js';

// Declared in types.ts so that the introspection module can name them without a cycle.
export type { VerifiedToken, TokenErrorFactory } from './types.js';
import type { VerifiedToken, TokenErrorFactory } from './types.js';
import { urlAudiences, verifiedToken } from './verified-token.js';

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
  /** RFC 7662 introspection, when this issuer's `introspection` option is set. */
  readonly introspector: Introspector | undefined;
  readonly #options: JWTVerifyOptions;
  /** Configured audiences that are http(s) URLs: a token matching one gets `resource`. */
  readonly #urlAudiences: ReadonlyMap<string, URL>;
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
    this.#urlAudiences = urlAudiences(resolved.audience);
    const { introspection } = resolved;
    this.introspector = introspection === undefined ? undefined : new Introspector({ ...resolved, introspection }, this.keys, invalidToken, log);
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
    const intro = this.introspector;
    if (intro?.takes(token)) {
      // Not a signature: the issuer's answer. No key set generation; the introspection cache has its own rules.
      const answer = intro.introspect(token);
      return answer instanceof Promise ? answer.then((verified) => ({ verified, generation: undefined })) : { verified: answer, generation: undefined };
    }
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
    return { verified: verifiedToken(this.issuer, protectedHeader, payload, this.#urlAudiences, 'jwt'), generation };
  }
}
