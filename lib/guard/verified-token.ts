import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { GUARD_CONTEXT, sealContext, type ChallengeContext } from '../bearer/challenge.js';
import { scopesOf } from './scopes.js';
import type { AuthExtra, VerifiedToken } from './types.js';

/**
 * What one verifier (one issuer of one guard) puts into each token it checks, made once: the
 * audiences that are URLs (`resource`), and the class of `extra`, whose prototype names the
 * guard's challenge context (realm, DPoP algs, `resource_metadata`, clock tolerance), so that
 * requireScopes(), claimCheck() and requireAcr() after the guard challenge as it does.
 *
 * Why a prototype: the context used to be kept in a WeakMap keyed by each verification's payload.
 * In a loaded API that entry (an ephemeron the GC must visit) cost about 0.9 µs per new token,
 * measured with perf; a property of a prototype costs nothing per token, and shows on no object
 * the application reads (it is neither own nor enumerable).
 */
export interface TokenShape {
  readonly urlAudiences: ReadonlyMap<string, URL>;
  readonly extra: (issuer: string, sub: string | undefined, payload: Readonly<JWTPayload>) => AuthExtra;
}

export function tokenShape(audience: readonly string[], context: ChallengeContext): TokenShape {
  class Extra {
    [key: string]: unknown;
    constructor(
      readonly issuer: string,
      readonly sub: string | undefined,
      readonly payload: Readonly<JWTPayload>,
    ) {}
  }
  Object.defineProperty(Extra.prototype, GUARD_CONTEXT, { value: sealContext(context) });
  return { urlAudiences: urlAudiences(audience), extra: (issuer, sub, payload) => Object.freeze(new Extra(issuer, sub, payload)) };
}

/**
 * The configured audiences that are http(s) URLs: an RFC 8707 resource a token can be for, which
 * `req.auth.resource` names (MCP's `AuthInfo.resource`). Computed once per issuer.
 */
function urlAudiences(audience: readonly string[]): ReadonlyMap<string, URL> {
  // One URL object per audience, made here: parsing one per new token cost a microsecond or two.
  return new Map(audience.filter(isHttpUrl).map((a) => [a, new URL(a)]));
}

/**
 * A checked token's parts, from a verified JWT or an introspection answer alike. Once per
 * verification, so a request answered from a cache only copies references into `req.auth`.
 * `payload` must already be deeply frozen.
 */
export function verifiedToken(
  issuer: string,
  header: Readonly<JWTHeaderParameters>,
  payload: Readonly<JWTPayload>,
  shape: TokenShape,
  verifiedBy: VerifiedToken['verifiedBy'],
): VerifiedToken {
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : '';
  // Typed string | undefined, and neither jose nor RFC 7662 checks the type of `sub`: an IdP's
  // numeric or object `sub` stays in payload, not where a tool handler trusts the declared type.
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
  return { issuer, header, payload, scopes: scopesOf(payload), clientId, resource: resourceOf(payload.aud, shape.urlAudiences), extra: shape.extra(issuer, sub, payload), verifiedBy };
}

/** The first configured URL audience the token names (its checks made sure it names one). */
function resourceOf(aud: unknown, audiences: ReadonlyMap<string, URL>): URL | undefined {
  if (audiences.size === 0) return undefined;
  if (typeof aud === 'string') return audiences.get(aud);
  if (Array.isArray(aud)) for (const a of aud as unknown[]) if (typeof a === 'string' && audiences.has(a)) return audiences.get(a);
  return undefined;
}

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:';
}
