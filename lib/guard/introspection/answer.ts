import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { deepFreeze } from '../../jwt/index.js';
import type { VerifiedToken } from '../types.js';
import { verifiedToken } from '../verified-token.js';

/** What an answer is checked against: the issuer's settings and the cache periods. */
export interface AnswerRules {
  issuer: string;
  audience: readonly string[];
  /** The audiences that are http(s) URLs (`req.auth.resource`), from urlAudiences(). */
  urlAudiences: ReadonlyMap<string, URL>;
  clockTolerance: number;
  maxTokenAge: number | undefined;
  requiredClaims: readonly string[];
  allowMissingAudience: boolean;
  cacheTtlMs: number;
  inactiveTtlMs: number;
}

/**
 * An introspection answer, judged at one moment: the token accepted until `until` (epoch ms), or
 * refused (cached until `until`, not at all when undefined), or an answer that is not an RFC 7662
 * answer at all (an outage: never cached, never a 401).
 */
export type Judgement =
  | { verified: VerifiedToken; until: number; refused?: undefined; malformed?: undefined }
  | { refused: string; until: number | undefined; answer: Record<string, unknown>; inactive: boolean; verified?: undefined; malformed?: undefined }
  | { malformed: string; verified?: undefined; refused?: undefined };

const NUMERIC = ['exp', 'nbf', 'iat'] as const;
// RFC 7662 §2.2 token_type is an RFC 6749 §7.1 access token type; some IdPs write the RFC 8693 name.
const ACCESS_TOKEN_TYPES = new Set(['bearer', 'dpop', 'access_token', 'urn:ietf:params:oauth:token-type:access_token']);
/** Empty: an opaque token has no header; `req.auth.header` is this frozen object for introspected tokens. */
const NO_HEADER = Object.freeze({}) as JWTHeaderParameters;

/**
 * RFC 7662 §2.2 answer → the token's claims, checked as a JWT's would be: `active` must be the
 * boolean true; `exp`/`nbf`/`iat` (with the clock tolerance), `iss`, `aud` and `token_type` are
 * checked when present, and `aud` must be present unless `allowMissingAudience`. `now` in ms.
 * `at`: when the answer was given (cache periods count from it). `answer` becomes
 * `req.auth.payload` (frozen), so it must be a fresh object the caller gives up.
 */
export function judge(answer: Record<string, unknown>, rules: AnswerRules, now: number, at: number): Judgement {
  if (typeof answer.active !== 'boolean') return { malformed: 'the answer has no boolean "active" member' };
  if (!answer.active) return { refused: 'The access token is not active (expired, revoked or unknown to its issuer)', until: at + rules.inactiveTtlMs, answer, inactive: true };
  const refuse = (refused: string, cache = true): Judgement => ({ refused, until: cache ? at + rules.inactiveTtlMs : undefined, answer, inactive: false });
  const seconds = now / 1000;
  const tolerance = rules.clockTolerance;
  for (const claim of NUMERIC) {
    const v = answer[claim];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) return refuse(`The token has an invalid "${claim}" claim`);
  }
  const { exp, nbf, iat } = answer as { exp?: number; nbf?: number; iat?: number };
  if (exp !== undefined && seconds - tolerance >= exp) return refuse('The access token expired');
  // Not cached: the same token becomes valid in a moment.
  if (nbf !== undefined && seconds + tolerance < nbf) return refuse('The token is not valid yet (nbf)', false);
  if (iat !== undefined && seconds + tolerance < iat) return refuse('The token has an invalid "iat" claim', false);
  // As jose does for a JWT: with maxTokenAge, an answer without iat is a token of unknown age.
  if (rules.maxTokenAge !== undefined && iat === undefined) return refuse('The token has no "iat" claim, which this API requires');
  if (rules.maxTokenAge !== undefined && seconds - tolerance > iat! + rules.maxTokenAge) {
    return refuse('The token is too old (issued more than maxTokenAge seconds ago)');
  }
  if (answer.iss !== undefined && answer.iss !== rules.issuer) return refuse('The token was issued by another issuer');
  const aud = answer.aud;
  if (aud === undefined) {
    if (!rules.allowMissingAudience) return refuse('The token is not meant for this API (the introspection answer has no aud)');
  } else if (!(typeof aud === 'string' ? rules.audience.includes(aud) : Array.isArray(aud) && aud.some((a) => typeof a === 'string' && rules.audience.includes(a)))) {
    return refuse('The token is not meant for this API (aud)');
  }
  const type = answer.token_type;
  if (type !== undefined && (typeof type !== 'string' || !ACCESS_TOKEN_TYPES.has(type.toLowerCase()))) {
    return refuse('The token is not an access token (token_type)');
  }
  for (const claim of rules.requiredClaims) {
    if (answer[claim] === undefined) return refuse(`The token has no "${claim}" claim, which this API requires`);
  }
  const binding = bindingProblem(answer.cnf, type);
  if (binding !== undefined) return refuse(binding);
  if (answer.client_id !== undefined && typeof answer.client_id !== 'string') return refuse('The token has an invalid "client_id" claim');
  // The token's own lifetime caps the cache: never accepted past exp (nor past maxTokenAge),
  // however long cacheTtl is.
  const until = Math.min(at + rules.cacheTtlMs, acceptableUntil(answer, rules));
  const payload = deepFreeze(answer) as JWTPayload;
  return {
    verified: Object.freeze(verifiedToken(rules.issuer, NO_HEADER, payload, rules.urlAudiences, 'introspection')),
    until,
  };
}

/**
 * `cnf` names the key the token is bound to. A binding this guard cannot enforce must not be
 * dropped on the floor (a stolen bound token would then work as a bearer token): a `jkt` that is
 * not a string, a `token_type` DPoP without a `jkt`, or a certificate binding (mTLS, RFC 8705),
 * refuses the token.
 */
function bindingProblem(cnf: unknown, type: unknown): string | undefined {
  // RFC 9449 §6.2: a DPoP token's answer names its key; one that does not would pass as a bearer token.
  const dpop = typeof type === 'string' && type.toLowerCase() === 'dpop';
  if (dpop && typeof (cnf as { jkt?: unknown } | null | undefined)?.jkt !== 'string') return 'The token is a DPoP token but its introspection answer names no key (cnf.jkt)';
  if (cnf === undefined) return undefined;
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return 'The token has an invalid "cnf" claim';
  const c = cnf as Record<string, unknown>;
  if (c.jkt !== undefined && (typeof c.jkt !== 'string' || c.jkt === '')) return 'The token has an invalid "cnf" claim';
  if (c['x5t#S256'] !== undefined) return 'The token is bound to a client certificate (cnf x5t#S256), which this API cannot check';
  return undefined;
}

/**
 * Epoch ms past which an accepted answer must not be used, cached or stale: its `exp`, and
 * `iat + maxTokenAge` (within the clock tolerance, as judge() allows it).
 */
export function acceptableUntil(payload: { exp?: unknown; iat?: unknown }, rules: Pick<AnswerRules, 'maxTokenAge' | 'clockTolerance'>): number {
  const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity;
  const aged = rules.maxTokenAge !== undefined && typeof payload.iat === 'number' ? (payload.iat + rules.maxTokenAge + rules.clockTolerance) * 1000 : Infinity;
  return Math.min(exp, aged);
}
