import type { ClientAuthMethod } from './client-auth.js';

export type IdpProfile = 'eiam' | 'ciam' | 'rfc6749';
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
