import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { scopesOf } from './scopes.js';
import type { AuthExtra, VerifiedToken } from './types.js';

/**
 * The configured audiences that are http(s) URLs: an RFC 8707 resource a token can be for, which
 * `req.auth.resource` names (MCP's `AuthInfo.resource`). Computed once per issuer.
 */
export function urlAudiences(audience: readonly string[]): ReadonlyMap<string, URL> {
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
  audiences: ReadonlyMap<string, URL>,
  verifiedBy: VerifiedToken['verifiedBy'],
): VerifiedToken {
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : '';
  // Typed string | undefined, and neither jose nor RFC 7662 checks the type of `sub`: an IdP's
  // numeric or object `sub` stays in payload, not where a tool handler trusts the declared type.
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
  const extra: AuthExtra = Object.freeze({ issuer, sub, payload });
  return { issuer, header, payload, scopes: scopesOf(payload), clientId, resource: resourceOf(payload.aud, audiences), extra, verifiedBy };
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
