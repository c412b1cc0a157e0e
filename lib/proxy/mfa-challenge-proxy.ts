import type { RequestHandler } from 'express';
import { ConfigError } from '../errors/config-error.js';
import { InvalidRequestError } from '../errors/oauth-error.js';
import { MFA_CHALLENGE_SPEC, type GrantSpec } from './grants.js';
import { proxyHandler } from './handler.js';
import { resolveProxyOptions, type MfaChallengeProxyOptions, type ProxyOptions } from './options.js';
import { readParams, single, type Params } from './read-params.js';
import { callIdp } from './respond.js';

/** Builds a fresh parameter set from an allow-list; everything else the caller sent is dropped. */
export function copyAllowed(params: Params, spec: GrantSpec): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of spec.required) {
    const value = single(params, name);
    if (value === undefined) throw new InvalidRequestError(`Missing required parameter: ${name}`);
    out.set(name, value);
  }
  for (const name of spec.optional) {
    const value = single(params, name);
    if (value !== undefined) out.set(name, value);
  }
  return out;
}

/** Fails at start-up rather than answering 500 on the first request. */
export function assertEndpoint(options: ProxyOptions, factory: string, option: 'mfaChallengeEndpoint' | 'revocationEndpoint'): void {
  if (options[option] !== undefined || options.issuer !== undefined) return;
  if (option === 'mfaChallengeEndpoint' && options.profile === 'eiam') return;
  throw new ConfigError('ERR_OAUTHKIT_URL', `${factory}(): set ${option}, or issuer to discover it${option === 'mfaChallengeEndpoint' ? ", or profile: 'eiam'" : ''}`);
}

/**
 * The EIAM MFA challenge (`POST /auth/mfa/challenge`): after a password grant answered
 * `mfa_required` with an `mfa_token`, the front end asks for an SMS code here and gets back the
 * `oob_code` it later sends as `code` in the `mfa_oob` grant. Same client-credential injection
 * and rules as `tokenProxy`.
 */
export function mfaChallengeProxy(options: MfaChallengeProxyOptions): RequestHandler {
  const config = resolveProxyOptions(options, 'mfaChallengeProxy');
  assertEndpoint(options, 'mfaChallengeProxy', 'mfaChallengeEndpoint');
  return proxyHandler(config, 'mfa_challenge', async (ctx) => {
    const params = await readParams(ctx.req, config);
    return callIdp(config, 'mfa_challenge', copyAllowed(params, MFA_CHALLENGE_SPEC));
  });
}
