import type { ClientAuthMethod } from './client-auth.js';

/**
 * Preset IdP conventions, so one word replaces several options:
 * - `'eiam'` (Tencent Cloud EIAM): token endpoint `/auth/oauth2/token` and MFA challenge
 *   `/auth/mfa/challenge` under the issuer, parameters in the query string, client_secret_basic.
 * - `'ciam'` (Tencent Cloud CIAM): token endpoint `/oauth2/token` under the issuer, form body,
 *   client_secret_post.
 * - `'rfc6749'`: form body, client_secret_basic, endpoints from discovery or explicit options.
 */
export type IdpProfile = 'eiam' | 'ciam' | 'rfc6749';
/**
 * Where grant parameters go on requests to the IdP: `'body'`, the form-encoded body RFC 6749
 * requires, or `'query'`, the query string Tencent EIAM expects.
 */
export type ParamsIn = 'body' | 'query';

interface ProfileDefaults {
  tokenPath?: string;
  mfaChallengePath?: string;
  revocationPath?: string;
  paramsIn: ParamsIn;
  clientAuth: ClientAuthMethod;
}

/**
 * What the Tencent Cloud pages in the seeds say, so `profile: 'eiam'` is all a user types.
 * EIAM: POST /auth/oauth2/token with every parameter in the query string; MFA challenge at
 * /auth/mfa/challenge. CIAM: POST /oauth2/token with a form body. rfc6749: discovery decides.
 */
export const PROFILES: Record<IdpProfile, ProfileDefaults> = {
  eiam: {
    tokenPath: '/auth/oauth2/token',
    mfaChallengePath: '/auth/mfa/challenge',
    paramsIn: 'query',
    clientAuth: 'client_secret_basic',
  },
  ciam: {
    tokenPath: '/oauth2/token',
    paramsIn: 'body',
    clientAuth: 'client_secret_post',
  },
  rfc6749: { paramsIn: 'body', clientAuth: 'client_secret_basic' },
};
