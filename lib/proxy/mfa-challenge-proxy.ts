import type { RequestHandler } from 'express';
import { MFA_CHALLENGE_SPEC } from './grants.js';
import { proxyHandler } from './handler.js';
import { renamedProxyOptions, assertEndpoint, resolveProxyOptions, type MfaChallengeProxyOptions } from './options.js';
import { copyAllowed, readParams } from './read-params.js';
import { callIdp } from './respond.js';

/**
 * The EIAM MFA challenge (`POST /auth/mfa/challenge`): after a password grant answered
 * `mfa_required` with an `mfa_token`, the front end asks for an SMS code here and gets back the
 * `oob_code` it later sends as `code` in the `mfa_oob` grant. Same client-credential injection
 * and rules as `tokenProxy`.
 */
export function mfaChallengeProxy(given: MfaChallengeProxyOptions): RequestHandler {
  const options = renamedProxyOptions(given, 'mfaChallengeProxy');
  const config = resolveProxyOptions(options, 'mfaChallengeProxy');
  assertEndpoint(options, 'mfaChallengeProxy', 'mfaChallengeEndpoint');
  return proxyHandler(config, 'mfa_challenge', async (ctx) => {
    const params = await readParams(ctx.req, config);
    return callIdp(config, 'mfa_challenge', copyAllowed(params, MFA_CHALLENGE_SPEC));
  });
}
