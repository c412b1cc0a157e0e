import type { IRouter } from 'express';
import type { IdpContext } from './context.js';
import { oauthEndpoint } from './endpoint.js';
import { introspectEndpoint, revokeEndpoint, tokenEndpoint } from './grants.js';

export const CIAM_TOKEN_PATH = '/oauth2/token';
export const REVOCATION_PATH = '/oauth2/revoke';
export const INTROSPECTION_PATH = '/oauth2/introspect';

/**
 * Tencent Cloud CIAM: form body only, as its seeds and RFC 6749 §4 say. Query parameters are ignored here
 * (recorded in stats.lastRequest, never used), so a client wrongly configured for EIAM's query style
 * gets the same invalid_request a real CIAM tenant would give it.
 */
export function mountCiam(app: IRouter, ctx: IdpContext): void {
  app.post(CIAM_TOKEN_PATH, oauthEndpoint(ctx, { query: false, body: ['form'], countsAsTokenRequest: true }, tokenEndpoint));
  // Not in the seeds. Query accepted too, so an EIAM-style proxy can revoke through the same IdP.
  app.post(REVOCATION_PATH, oauthEndpoint(ctx, { query: true, body: ['form'] }, revokeEndpoint));
  app.post(INTROSPECTION_PATH, oauthEndpoint(ctx, { query: true, body: ['form'] }, introspectEndpoint));
}
