import type { ErrorRequestHandler } from 'express';
import { forLog } from '../log/operator-log.js';
import { OAuthError } from './oauth-error.js';

/** Longest error message in the default line. */
const UNEXPECTED_MAX = 600;

/** Options of {@link oauthErrorHandler}. */
export interface OAuthErrorHandlerOptions {
  /**
   * Called with errors that are not `OAuthError`s (bugs, other middleware) before the generic
   * 500 answer is sent. Use it to log the bug with your own logger.
   *
   * @default `console.error` of the error's name and message only (no stack, no properties), controls replaced and cut as by `forLog()`
   */
  onUnexpectedError?: (err: unknown) => void;
  /**
   * Answer non-OAuth errors too (500 `server_error`, no detail) instead of passing them on with
   * `next(err)`. Set to false when another error handler after this one renders your own errors.
   *
   * @default true
   */
  handleAll?: boolean;
}

/**
 * Renders `OAuthError`s as `{ error, error_description }` JSON with their status and headers
 * (WWW-Authenticate, Retry-After). Other errors become a 500 `server_error` without details,
 * so a stack trace never reaches a client. Client errors of other middleware that set a 4xx
 * `status` and `expose` (body-parser) become a 4xx `invalid_request`. Every answer is `no-store`.
 * Mount it after your routes.
 *
 * @example
 * ```ts
 * app.use('/api', requireAuth({ issuer: 'https://idp.example.com', audience: 'api' }), apiRouter);
 * app.use(oauthErrorHandler({ onUnexpectedError: (err) => logger.error(err) }));
 * ```
 */
export function oauthErrorHandler(options: OAuthErrorHandlerOptions = {}): ErrorRequestHandler {
  const handleAll = options.handleAll ?? true;
  const onUnexpected =
    options.onUnexpectedError ??
    ((err: unknown) => {
      const e = err as { name?: unknown; message?: unknown } | null | undefined;
      // A message may quote the request (a decoded route parameter): cleaned like any caller value.
      console.error(`[express-oauth-kit] unexpected error: ${forLog(e?.name ?? 'Error')}: ${forLog(e?.message ?? String(err), UNEXPECTED_MAX)}`);
    });

  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof OAuthError) {
      res.status(err.status).set(err.headers).set('Cache-Control', 'no-store').json(err.toJSON());
      return;
    }
    // body-parser and friends report client mistakes with a 4xx status and `expose`.
    const status = typeof err?.status === 'number' ? err.status : typeof err?.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500 && err?.expose) {
      res.status(status).set('Cache-Control', 'no-store').json({ error: 'invalid_request', error_description: String(err.message) });
      return;
    }
    if (!handleAll) return next(err);
    onUnexpected(err);
    res.status(500).set('Cache-Control', 'no-store').json({ error: 'server_error', error_description: 'Internal server error' });
  };
}
