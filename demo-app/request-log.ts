import type { RequestHandler } from 'express';
import type { OperatorLogger } from '../lib/index.js';

/** Where the demo writes its lines. `console.log` in `npm run demo`; tests capture or silence it. */
export type Log = (line: string) => void;

/**
 * One line per request: `[api] POST /auth/token 400 12.3ms`. Only the method, the path without its
 * query string, the status and the latency: tokens travel in headers, bodies and cookies, and a
 * misbuilt client may put one in the query, so none of those are ever written.
 */
export function requestLog(name: string, log: Log): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    // originalUrl, read now: routers rewrite req.url / req.path while the request moves through them.
    const path = req.originalUrl.split('?', 1)[0]!.slice(0, 200);
    const done = (aborted: boolean) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      log(`[${name}] ${req.method} ${path} ${aborted ? 'aborted' : res.statusCode} ${ms.toFixed(1)}ms`);
    };
    res.once('finish', () => done(false));
    res.once('close', () => {
      if (!res.writableFinished) done(true);
    });
    next();
  };
}

/**
 * The package's operator lines (IdP down, a token refused for its issuer or audience) sent to the
 * demo's log with a `[name] source level:` prefix, instead of to the package's default, the console.
 */
export function operatorLogger(name: string, source: string, log: Log): OperatorLogger {
  return {
    warn: (m) => log(`[${name}] ${source} warning: ${m}`),
    error: (m) => log(`[${name}] ${source} error: ${m}`),
    debug: (m) => log(`[${name}] ${source} debug: ${m}`),
  };
}
