import type { RequestHandler } from 'express';
import { ServerError } from '../../errors/oauth-error.js';
import type { ExchangedToken, OnBehalfOfApi } from './exchange-types.js';
import type { ExchangeTarget, Exchanger } from './exchange.js';
import { withBearer } from '../outbound/fetch.js';
import { fetchWithOneRenewal, type RenewableToken } from '../outbound/outbound.js';
import type { M2MRequestApi } from '../client/types.js';

/**
 * `onBehalfOf()`: for routes behind `requireAuth()`, adds `req.m2m.fetchAsUser` and
 * `req.m2m.getUserToken`, which exchange the caller's verified access token (RFC 8693) for one
 * for the target service. Nothing happens until they are called; the exchange is cached per user
 * token and target. The subject must come from the issuer that `requireAuth` matched.
 */
export function onBehalfOfMiddleware(exchanger: Exchanger, target: ExchangeTarget, serviceApi: M2MRequestApi, dispatcher?: object): RequestHandler {
  return function onBehalfOf(req, _res, next) {
    const auth = req.auth;
    if (auth === undefined || typeof auth.token !== 'string') {
      // A wiring mistake, not the caller's: without a verified token there is no user to act for.
      next(new ServerError('onBehalfOf() needs req.auth from requireAuth(); mount it after requireAuth()'));
      return;
    }
    const subject = auth.token;
    const options = { expectedIssuer: auth.issuer };
    const getUserToken = (): Promise<ExchangedToken> => exchanger.run(subject, target, options);
    // The M2M client's own 401 policy: one exchange, and at most one more per exchanged token's lifetime.
    const source: RenewableToken<ExchangedToken> = {
      get: getUserToken,
      isReplacement: (token) => exchanger.isReplacement(token),
      reject: (token) => exchanger.forget(subject, target, token.accessToken),
    };
    const fetchAsUser: OnBehalfOfApi['fetchAsUser'] = (input, init) =>
      // With `tls`, the client certificate too: an exchanged token may be bound to it (RFC 8705 §3).
      fetchWithOneRenewal(source, input, init, (token) => fetch(input, withBearer(input, dispatcher === undefined ? init : ({ dispatcher, ...init } as RequestInit), token.accessToken)));
    const base = req.m2m ?? serviceApi;
    req.m2m = { fetch: base.fetch, getToken: base.getToken, fetchAsUser, getUserToken };
    next();
  };
}
