import type { Request, RequestHandler, Response } from 'express';
import type { IdpContext } from './context.js';
import { applyFault } from './faults.js';
import type { Reply } from './grants.js';
import { flattenHeaders, OAuthError, parseRequest, sendError, sendJson, type BodyKind, type ParsedRequest } from './http.js';

export interface EndpointOptions {
  /** Read parameters from the query string too (the EIAM seeds put everything there). */
  query: boolean;
  body: BodyKind[];
  countsAsTokenRequest?: boolean;
}

type Handler = (ctx: IdpContext, req: Request, p: ParsedRequest) => Promise<Reply>;

/**
 * Common shell of every OAuth endpoint: record what arrived, then let an injected fault answer, then run
 * the real handler. Recording comes first so tests can inspect requests even when a fault ate them.
 */
export function oauthEndpoint(ctx: IdpContext, opts: EndpointOptions, handler: Handler): RequestHandler {
  return async (req: Request, res: Response) => {
    if (opts.countsAsTokenRequest) ctx.stats.tokenRequests += 1;
    const record = {
      method: req.method,
      path: req.path,
      query: Object.fromEntries(new URLSearchParams(req.originalUrl.split('?')[1] ?? '')),
      headers: flattenHeaders(req),
      body: {} as Record<string, string>,
    };
    ctx.stats.lastRequest = record;
    try {
      const p = await parseRequest(req, opts);
      record.body = p.body;
      if (await applyFault(ctx, req, res)) return;
      const reply = await handler(ctx, req, p);
      const grant = p.params.grant_type ? ` grant_type=${p.params.grant_type}` : '';
      ctx.log(`${req.method} ${req.path}${grant} -> ${reply.status ?? 200}`);
      if (reply.body === undefined) {
        res.status(reply.status ?? 200).set('Cache-Control', 'no-store').end();
      } else {
        sendJson(res, reply.status ?? 200, reply.body);
      }
    } catch (err) {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof OAuthError) {
        ctx.log(`${req.method} ${req.path} -> ${err.status} ${err.error}`);
        // An oversized body is left unread; closing the connection keeps it from being parsed as a next request.
        if (err.status === 413) res.set('Connection', 'close');
        sendError(res, err);
        return;
      }
      ctx.log(`${req.method} ${req.path} -> 500 ${(err as Error)?.message ?? String(err)}`);
      sendError(res, new OAuthError(500, 'server_error', 'internal error'));
    }
  };
}
