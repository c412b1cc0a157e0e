import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { metadataFor } from '../../guard/resource-metadata.js';
import type { Guard } from '../../guard/guard.js';
import type { RequireAuthHandler } from './require-auth.js';

/**
 * Express middleware serving a guard's RFC 9728 protected-resource metadata at its well-known
 * path (§3.1: resource `https://api.example.com/mcp` → `/.well-known/oauth-protected-resource/mcp`).
 * Mount it at the application's root, before any guard: the document is public. `GET` and `HEAD`
 * answer the precomputed JSON (`Cache-Control: public, max-age=3600`, `Access-Control-Allow-Origin: *`);
 * `OPTIONS` answers a CORS preflight (browser MCP clients send custom headers); any other method
 * gets 405 with `Allow`. Every other path goes on to `next()`.
 *
 * Takes what `requireAuth()` or {@link createGuard} returned, built with the `resourceMetadata`
 * option; anything else is a ConfigError at start-up.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { protectedResourceMetadata, requireAuth } from 'express-oauth-kit';
 *
 * const app = express();
 * const auth = requireAuth({
 *   issuer: 'https://idp.example.com',
 *   audience: 'https://api.example.com/mcp',
 *   resourceMetadata: { scopesSupported: ['tools:call'] },
 * });
 * app.use(protectedResourceMetadata(auth)); // GET /.well-known/oauth-protected-resource/mcp
 * app.post('/mcp', auth, (req, res) => {
 *   res.json({ client: req.auth!.clientId });
 * });
 * ```
 */
export function protectedResourceMetadata(guard: RequireAuthHandler | Guard<never>): RequestHandler {
  const { path, body, headers } = metadataFor(guard, 'protectedResourceMetadata()');
  return function protectedResourceMetadataHandler(req: Request, res: Response, next: NextFunction): void {
    // An exact comparison: no pattern, so no path (however long or odd) costs more than this.
    if (req.path !== path) return next();
    const method = req.method;
    if (method === 'GET' || method === 'HEAD') {
      // res.end, not res.send: no ETag computed over a body that never changes, and HEAD gets the same headers.
      res.writeHead(200, headers);
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'GET, HEAD',
        // A public document read without credentials, so any request header may come along (MCP-Protocol-Version).
        'Access-Control-Allow-Headers': '*',
        'Access-Control-Max-Age': '86400',
        Allow: ALLOW,
      });
      res.end();
      return;
    }
    res.writeHead(405, { Allow: ALLOW, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(METHOD_NOT_ALLOWED);
  };
}

const ALLOW = 'GET, HEAD, OPTIONS';
const METHOD_NOT_ALLOWED = JSON.stringify({ error: 'invalid_request', error_description: 'The protected-resource metadata is read with GET' });
