import * as clock from '../clock.js';
import { describeUrl } from '../idp/http.js';
import type { DpopSigner } from './dpop.js';
import { postWithDpop } from './dpop.js';
import { emit } from './hooks.js';
import type { ResolvedOptions } from './options.js';
import { getRetryAfter, isRetryable, retryDelay, sleep } from './retry.js';
import type { TokenSpec } from './spec.js';
import type { StoredToken } from './store.js';
import { interpretTokenResponse, withContext } from './token-response.js';

/**
 * One token from the IdP for `spec`, with the retry policy: retryable failures (5xx, 429, network)
 * are tried again after a back-off with jitter (honouring Retry-After up to retry.maxDelay); the
 * last failure is thrown with its context. The token cache calls this; nothing else does.
 */
export function tokenRequester(o: ResolvedOptions, signer: DpopSigner | undefined) {
  const { idp, retry } = o;
  return async function fetchToken(spec: TokenSpec, background: boolean): Promise<{ token: StoredToken; attempts: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const where = describeUrl(await idp.endpointUrl('token'));
        // Lifetime counts from when we asked, not from when the answer arrived: errs on the early side.
        const issuedAt = clock.now();
        const params = new URLSearchParams(spec.params as [string, string][]);
        const res = signer === undefined ? await idp.post('token', params) : await postWithDpop(idp, signer, params);
        const token = interpretTokenResponse(res, {
          tokenType: signer === undefined ? 'Bearer' : 'DPoP',
          where,
          requestedScope: spec.info.scope,
          defaultExpiresInMs: o.defaultExpiresInMs,
          sanitize: (text) => idp.sanitize(text),
          issuedAt,
        });
        return { token, attempts: attempt };
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        const retryAfter = getRetryAfter(e);
        const delay = attempt < retry.attempts && isRetryable(e) ? retryDelay(retry, attempt, retryAfter) : undefined;
        if (delay === undefined) {
          const note =
            retryAfter !== undefined && retryAfter > retry.maxDelay && attempt < retry.attempts && isRetryable(e)
              ? `the IdP asked to retry after ${Math.ceil(retryAfter / 1000)} s, more than retry.maxDelay`
              : undefined;
          // The context keeps the IdP's Retry-After on the error (it lengthens idpBackoff).
          throw withContext(e, spec.label, attempt, note);
        }
        if (o.hooks.onRetry) emit(o.hooks.onRetry, { ...spec.info, attempt, delayMs: delay, error: e });
        await sleep(delay, !background);
      }
    }
  };
}
