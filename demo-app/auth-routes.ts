import { Router } from 'express';
import { mfaChallengeProxy, revocationProxy, tokenProxy, type ProxyResultEvent, type RefreshCookieOptions } from '../lib/index.js';
import { idpClientOptions, type ApiSettings } from './settings.js';

/**
 * The login page's three OAuth endpoints, all through the package's proxies so the client secret
 * stays on this server:
 *   POST /auth/token          password, mfa_oob, refresh_token grants
 *   POST /auth/mfa/challenge  asks the IdP to send bob's SMS code
 *   POST /auth/revoke         RFC 7009; without a token it revokes the cookie's refresh token (log out)
 * and, with the customer tenant, POST /auth/customer/token and /auth/customer/revoke for it.
 */
export function authRoutes(settings: ApiSettings): Router {
  const { log } = settings;
  const idp = idpClientOptions(settings.idp, settings.web);
  // Cookie mode: the refresh token lives in an HttpOnly cookie the page's script can never read.
  // Path /auth keeps the cookie off every /api request (and out of their logs); the price is the
  // weaker __Secure- prefix instead of __Host- (see RefreshCookieOptions.path).
  const cookie: RefreshCookieOptions = { allowedOrigins: settings.publicOrigins, path: '/auth' };
  const common = {
    ...idp,
    // Operator messages from the package (e.g. the IdP rejected our client) go to the same log.
    logger: { warn: (m: string) => log(`[api] proxy warning: ${m}`), error: (m: string) => log(`[api] proxy error: ${m}`) },
    // An audit line per answer. The event never holds tokens; the username is left out on purpose.
    onResult: (e: ProxyResultEvent) =>
      log(
        `[api] proxy ${e.endpoint}${e.grantType ? ` grant=${e.grantType}` : ''} -> ${e.status}` +
          `${e.error ? ` ${e.error}` : ''} (${e.source}${e.idpStatus ? ` ${e.idpStatus}` : ''})`,
      ),
  };

  const router = Router();
  // Server-side parameters win over the browser's, so the page cannot ask for another API's audience.
  const audience = settings.web.sendAudience ? { audience: settings.web.audience } : undefined;
  router.post(
    '/auth/token',
    tokenProxy({
      ...common,
      grants: ['password', 'mfa_oob', 'refresh_token'],
      // Step-up (RFC 9470 §4): the page asks for the MFA level the API's challenge named.
      allowParams: { password: ['acr_values'] },
      cookie,
      extraParams: (grant) => (grant === 'password' ? audience : undefined),
    }),
  );
  router.post('/auth/mfa/challenge', mfaChallengeProxy(common));
  router.post('/auth/revoke', revocationProxy({ ...common, cookie }));

  // Customers sign in at their own tenant (CIAM profile) through a second pair of proxies with its
  // own client and its own cookie, so a staff session and a customer session never mix.
  if (settings.customers) {
    const customer = { ...common, ...idpClientOptions(settings.customers.idp, settings.customers.web) };
    const customerCookie: RefreshCookieOptions = { allowedOrigins: settings.publicOrigins, path: '/auth/customer', name: '__Secure-customer_refresh' };
    router.post('/auth/customer/token', tokenProxy({ ...customer, grants: ['password', 'refresh_token'], cookie: customerCookie }));
    router.post('/auth/customer/revoke', revocationProxy({ ...customer, cookie: customerCookie }));
  }
  return router;
}
