import type { RequestHandler } from 'express';
import { InvalidRequestError } from '../errors/oauth-error.js';
import { assertSameOriginRequest, clearRefreshCookie, readRefreshCookie, resolveCookieOptions } from './cookie-mode.js';
import { REVOCATION_SPEC } from './grants.js';
import { proxyHandler } from './handler.js';
import { renamedProxyOptions, assertEndpoint, resolveProxyOptions, type RevocationProxyOptions } from './options.js';
import { copyAllowed, readParams, single } from './read-params.js';
import { callIdp } from './respond.js';

/**
 * RFC 7009 token revocation on behalf of the front end (`token`, optional `token_type_hint`).
 * In cookie mode a request without `token` revokes the refresh token held in the cookie and
 * clears the cookie: that is "log out".
 */
export function revocationProxy(given: RevocationProxyOptions): RequestHandler {
  const options = renamedProxyOptions(given, 'revocationProxy');
  const config = resolveProxyOptions(options, 'revocationProxy');
  assertEndpoint(options, 'revocationProxy', 'revocationEndpoint');
  const cookie = options.cookie === undefined ? undefined : resolveCookieOptions(options.cookie, 'revocationProxy');

  return proxyHandler(config, 'revocation', async (ctx) => {
    const { req, res } = ctx;
    if (cookie) assertSameOriginRequest(req, cookie);
    const params = await readParams(req, config);
    if (!cookie || single(params, 'token') !== undefined) {
      return callIdp(config, 'revocation', copyAllowed(params, REVOCATION_SPEC));
    }
    if (single(params, 'token_type_hint') !== undefined && single(params, 'token_type_hint') !== 'refresh_token') {
      throw new InvalidRequestError('Missing required parameter: token (the cookie holds only the refresh token)');
    }
    const token = readRefreshCookie(req, cookie);
    // Logging out is idempotent: without a cookie there is nothing to revoke, and the answer is
    // the same 200 RFC 7009 gives for an unknown token.
    clearRefreshCookie(res, cookie);
    if (token === undefined) return { status: 200, body: {}, source: 'local' };
    // The cookie is cleared whatever the IdP says: the user asked to be signed out of this browser.
    return callIdp(config, 'revocation', new URLSearchParams({ token, token_type_hint: 'refresh_token' }));
  });
}
