import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ServerError } from '../../errors/oauth-error.js';
import { compileAcrCheck, type AcrOptions } from '../../guard/step-up.js';
import './types.js';

/**
 * Step-up (RFC 9470), after `requireAuth()`: passes only tokens whose `acr` is one of `acrValues`
 * and, with `maxAgeSeconds`, whose `auth_time` is at most that many seconds old. Others get 401
 * `insufficient_user_authentication` with `acr_values` and `max_age` in the challenge (DPoP
 * scheme for a DPoP presentation), so the client can get a token with a stronger or fresher
 * sign-in and retry. Arguments are checked at once: a mistake throws a ConfigError.
 *
 * @param acrValues - the accepted `acr` values, most preferred first (the challenge lists them in this order).
 * @example
 * ```ts
 * app.post('/payouts', requireAuth(options), requireAcr(['urn:example:acr:mfa'], { maxAgeSeconds: 600 }), pay);
 * ```
 */
export function requireAcr(acrValues: string | readonly string[], options?: AcrOptions): RequestHandler {
  const check = compileAcrCheck('requireAcr', acrValues, options);
  return function requireAcrGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) {
      return next(new ServerError('requireAcr() found no req.auth: mount requireAuth() before it (with authRequired: true) on this route'));
    }
    next(check(auth));
  };
}
