import { errors, type JWTHeaderParameters, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { jwtVerify } from '../jwt/index.js';
import { InvalidTokenError, JwksUnavailableError, OAuthError } from '../errors/oauth-error.js';
import { KeySource } from './key-source.js';
import type { ResolvedOptions } from './options.js';
import { scopesOf } from './scopes.js';

export interface VerifiedToken {
  header: JWTHeaderParameters;
  payload: JWTPayload;
  scopes: readonly string[];
}

export type TokenErrorFactory = (description: string, cause?: unknown) => InvalidTokenError;

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

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

/**
 * Verifies a compact JWS access token against the configured keys and claims. Pure: no Express,
 * no cache. Errors are OAuthErrors: 401 `invalid_token` for a bad token, 503 when keys could not
 * be obtained.
 */
export class Verifier {
  readonly keys: KeySource;
  readonly #options: JWTVerifyOptions;

  constructor(
    resolved: ResolvedOptions,
    private readonly invalidToken: TokenErrorFactory,
  ) {
    this.keys = new KeySource(resolved);
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

  async verify(token: string): Promise<VerifiedToken> {
    if (!JWS_COMPACT.test(token)) {
      throw this.invalidToken(
        token.split('.').length === 5 ? 'Encrypted tokens (JWE) are not accepted' : 'The token is not a signed JWT (JWS compact serialization)',
      );
    }
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.keys.key as Parameters<typeof jwtVerify>[1], this.#options);
      return { header: protectedHeader, payload, scopes: scopesOf(payload) };
    } catch (err) {
      const problem = tokenProblem(err);
      if (problem !== undefined) throw this.invalidToken(problem, err);
      if (err instanceof JwksUnavailableError) throw err;
      if (err instanceof OAuthError) throw new JwksUnavailableError(`Keys could not be obtained: ${err.message}`, 5, { cause: err });
      const detail = err instanceof errors.JWKSTimeout ? 'the JWKS request timed out' : 'the JWKS endpoint could not be read';
      throw new JwksUnavailableError(`Token keys are unavailable right now (${detail}); try again shortly`, 5, { cause: err });
    }
  }
}
