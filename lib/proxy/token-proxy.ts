import type { RequestHandler } from 'express';
import { InvalidRequestError, UnauthorizedClientError, UnsupportedGrantTypeError } from '../errors/oauth-error.js';
import { assertSameOriginRequest, clearRefreshCookie, moveRefreshTokenToCookie, readRefreshCookie, stripRefreshTokens } from './cookie-mode.js';
import { CONFIDENTIAL_ONLY_GRANTS, GRANT_SPECS, type ProxyGrantType } from './grants.js';
import { proxyHandler } from './handler.js';
import { renamedProxyOptions, resolveTokenProxyOptions, type TokenProxyOptions } from './options.js';
import { readParams, single } from './read-params.js';
import { callIdp } from './respond.js';

/** RFC 7636 §4.1: code-verifier = 43*128unreserved. */
const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * Token endpoint for a front end that must not hold the client secret:
 * `app.post('/auth/token', tokenProxy({ profile: 'eiam', issuer, clientId, clientSecret }))`.
 *
 * The outbound request is built from scratch: the validated grant_type, the allow-listed
 * parameters of that grant, `extraParams`, and this server's client credentials. Nothing else of
 * the browser's request (cookies, headers, client_id/client_secret, Authorization) is forwarded.
 * Throws `ConfigError` at once for bad options.
 *
 * @example
 * ```ts
 * const idp = {
 *   profile: 'eiam',
 *   issuer: 'https://tenant.example.com',
 *   clientId: process.env.OAUTH_CLIENT_ID!,
 *   clientSecret: process.env.OAUTH_CLIENT_SECRET!,
 * } as const;
 * const cookie = { allowedOrigins: ['https://app.example.com'] };
 *
 * app.post('/auth/token', tokenProxy({ ...idp, grants: ['password', 'mfa_oob', 'refresh_token'], cookie }));
 * app.post('/auth/mfa/challenge', mfaChallengeProxy(idp));
 * app.post('/auth/revoke', revocationProxy({ ...idp, cookie }));
 * app.use(oauthErrorHandler());
 * ```
 */
export function tokenProxy(given: TokenProxyOptions): RequestHandler {
  const options = renamedProxyOptions(given, 'tokenProxy');
  const config = resolveTokenProxyOptions(options, 'tokenProxy');
  const cookie = config.cookie;

  return proxyHandler(config, 'token', async (ctx) => {
    const { req, res } = ctx;
    // Before reading the body: a cross-site request gets nothing, not even a parse error.
    if (cookie) assertSameOriginRequest(req, cookie);
    const params = await readParams(req, config);

    const grantType = single(params, 'grant_type');
    ctx.audit.grantType = grantType;
    if (grantType === undefined) throw new InvalidRequestError('Missing required parameter: grant_type');
    if (CONFIDENTIAL_ONLY_GRANTS.has(grantType)) {
      // Anyone can call this endpoint; forwarding would hand them this server's own identity.
      throw new UnauthorizedClientError(`grant_type ${grantType} is not available to front ends`);
    }
    if (!config.grants.has(grantType as ProxyGrantType)) {
      throw new UnsupportedGrantTypeError(`grant_type ${grantType.slice(0, 64)} is not supported by this endpoint`);
    }
    const grant = grantType as ProxyGrantType;
    const spec = GRANT_SPECS[grant];
    const outbound = new URLSearchParams({ grant_type: grant });
    let refreshFromCookie = false;

    for (const name of spec.required) {
      let value = single(params, name);
      if (cookie && name === 'refresh_token') {
        if (value !== undefined) {
          throw new InvalidRequestError('Do not send refresh_token: in cookie mode it is read from the HttpOnly cookie');
        }
        value = readRefreshCookie(req, cookie);
        if (value === undefined) {
          throw new InvalidRequestError(`Missing required parameter: refresh_token (no ${cookie.name} cookie; sign in again)`);
        }
        refreshFromCookie = true;
      }
      if (value === undefined) throw new InvalidRequestError(`Missing required parameter: ${name}`);
      outbound.set(name, value);
    }
    for (const name of [...spec.optional, ...(config.allowParams[grant] ?? [])]) {
      const value = single(params, name);
      if (value !== undefined) outbound.set(name, value);
    }
    // Server-side values win: a front end must not be able to pick another auth source or audience.
    const extra = config.extraParams(grant);
    if (extra) for (const [k, v] of Object.entries(extra)) outbound.set(k, v);
    if (grant === 'password') ctx.audit.username = outbound.get('username') ?? undefined;
    if (grant === 'authorization_code' && !PKCE_VERIFIER.test(outbound.get('code_verifier')!)) {
      // Checked here so a malformed verifier costs no IdP call and says what is wrong.
      throw new InvalidRequestError('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)');
    }

    const answer = await callIdp(config, 'token', outbound);
    if (cookie && answer.source === 'idp') {
      if (answer.status >= 200 && answer.status < 300 && answer.body.error === undefined) {
        answer.body = moveRefreshTokenToCookie(res, cookie, answer.body);
      } else {
        // Error bodies are already cut to their OAuth members; this keeps that true whatever they hold.
        answer.body = stripRefreshTokens(answer.body);
        // Rotated, revoked or expired: keeping it would make every later refresh fail the same way.
        if (refreshFromCookie && answer.body.error === 'invalid_grant') clearRefreshCookie(res, cookie);
      }
    }
    return answer;
  });
}
