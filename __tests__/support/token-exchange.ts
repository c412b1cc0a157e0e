/**
 * An RFC 8693 token exchange grant for node oidc-provider, registered with
 * `provider.registerGrantType`. oidc-provider authenticates the client (secret or private_key_jwt)
 * before the handler runs. The handler accepts only this provider's own JWT access tokens as
 * subject_token, and issues a JWT access token for the requested audience or resource with
 * sub = the subject's sub and act = { sub: the client } (RFC 8693 §4.1), signed with the provider's key.
 */
import type { KeyObject } from 'node:crypto';
import { createLocalJWKSet, exportJWK, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type Provider from 'oidc-provider';
import { errors as oidcErrors } from 'oidc-provider';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export interface TokenExchangeConfig {
  issuer: string;
  /** The only audience / resource tokens are issued for. */
  resource: string;
  scopes: string[];
  signingKey: CryptoKey | KeyObject;
  kid: string;
  /** Lifetime of issued tokens, seconds. */
  ttl?: number;
}

interface GrantCtx {
  oidc: { params: Record<string, string | undefined>; client: { clientId: string } };
  body: unknown;
}

export function registerTokenExchange(provider: Provider, config: TokenExchangeConfig): void {
  let jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  const handler = async (ctx: GrantCtx, next?: () => Promise<void>): Promise<void> => {
    const p = ctx.oidc.params;
    if (!p.subject_token) throw new oidcErrors.InvalidRequest('missing subject_token');
    if (p.subject_token_type !== ACCESS_TOKEN_TYPE && p.subject_token_type !== JWT_TYPE) {
      throw new oidcErrors.InvalidRequest('unsupported subject_token_type');
    }
    if (p.actor_token !== undefined && p.actor_token_type === undefined) throw new oidcErrors.InvalidRequest('actor_token_type is required with actor_token');
    if (p.requested_token_type !== undefined && p.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new oidcErrors.InvalidRequest('unsupported requested_token_type');
    }
    const target = p.audience ?? p.resource;
    if (target === undefined || target !== config.resource) throw new oidcErrors.InvalidTarget('unknown audience or resource');
    if (jwks === undefined) {
      // Private members dropped: a key set for verifying holds public keys only.
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = await exportJWK(config.signingKey);
      jwks = createLocalJWKSet({ keys: [{ ...pub, kid: config.kid, alg: 'RS256' }] });
    }
    let subject: JWTPayload;
    try {
      ({ payload: subject } = await jwtVerify(p.subject_token, jwks, { issuer: config.issuer, typ: 'at+jwt' }));
    } catch {
      throw new oidcErrors.InvalidRequest('subject_token is not a valid access token of this issuer');
    }
    if (typeof subject.sub !== 'string') throw new oidcErrors.InvalidRequest('subject_token has no sub');
    const scope = (p.scope ?? '').split(' ').filter((s) => s !== '');
    if (scope.some((s) => !config.scopes.includes(s))) throw new oidcErrors.InvalidScope('scope not allowed', p.scope ?? '');
    const ttl = config.ttl ?? 300;
    const now = Math.floor(Date.now() / 1000);
    // Never outlive the subject token: the user's session bounds what is done in their name.
    const exp = Math.min(now + ttl, subject.exp ?? now + ttl);
    const access = await new SignJWT({
      scope: scope.join(' ') || undefined,
      client_id: ctx.oidc.client.clientId,
      act: { sub: ctx.oidc.client.clientId },
    })
      .setProtectedHeader({ alg: 'RS256', kid: config.kid, typ: 'at+jwt' })
      .setIssuer(config.issuer)
      .setSubject(subject.sub)
      .setAudience(target)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(crypto.randomUUID())
      .sign(config.signingKey);
    ctx.body = {
      access_token: access,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: exp - now,
      ...(scope.length ? { scope: scope.join(' ') } : {}),
    };
    await next?.();
  };
  provider.registerGrantType(TOKEN_EXCHANGE, handler as never, [
    'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope',
  ]);
}
