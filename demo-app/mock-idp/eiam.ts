import type { IRouter } from 'express';
import type { IdpContext } from './context.js';
import { oauthEndpoint } from './endpoint.js';
import { challengeEndpoint, tokenEndpoint } from './grants.js';

export const EIAM_TOKEN_PATH = '/auth/oauth2/token';
export const MFA_CHALLENGE_PATH = '/auth/mfa/challenge';

/**
 * Tencent Cloud EIAM: every seed example puts the parameters in the query string of a POST. A form
 * body is merged in as well because generic RFC 6749 clients send one; a parameter in both is rejected.
 */
export function mountEiam(app: IRouter, ctx: IdpContext): void {
  app.post(EIAM_TOKEN_PATH, oauthEndpoint(ctx, { query: true, body: ['form'], countsAsTokenRequest: true }, tokenEndpoint));
  // Auth0-style clients post the challenge as JSON, so that is accepted here too.
  app.post(MFA_CHALLENGE_PATH, oauthEndpoint(ctx, { query: true, body: ['form', 'json'] }, challengeEndpoint));
}
