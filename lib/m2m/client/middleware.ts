import type { RequestHandler } from 'express';
import type { M2MRequestApi } from './types.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `createM2MClient(...).middleware()`: outbound calls as this service. */
      m2m?: M2MRequestApi;
    }
  }
}

/** One frozen object shared by every request of a mount: nothing is allocated per request. */
export function m2mMiddleware(api: M2MRequestApi): RequestHandler {
  const shared = Object.freeze({ fetch: api.fetch, getToken: api.getToken });
  return function m2m(req, _res, next) {
    req.m2m = shared;
    next();
  };
}
