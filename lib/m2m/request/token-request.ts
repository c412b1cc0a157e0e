import * as clock from '../../clock.js';
import { describeUrl } from '../../idp/http.js';
import type { DpopSigner } from '../dpop/proof.js';
import { postWithDpop } from '../dpop/proof.js';
import { emit } from '../hooks/emit.js';
import type { IdpClient } from '../../idp/idp-client.js';
import type { M2MHooks } from '../client/types.js';
import { getRetryAfter, isRetryable, retryDelay, type RetryPolicy } from './retry.js';
import { sleep } from '../sleep.js';
import type { TokenSpec } from './spec.js';
import type { StoredToken } from '../store/store.js';
import { interpretTokenResponse, withContext } from './token-response.js';

/** How one token request is retried, and what its errors are labelled with. */
export interface RetryRun {
  retry: RetryPolicy;
  /** For error messages: which token was wanted. */
  label: string;
  /** A background refresh's waits do not keep the process alive. */
  background: boolean;
  onRetry?: (attempt: number, delayMs: number, error: Error) => void;
}

/**
 * The one retry loop of every IdP token request (client_credentials and token exchange):
 * retryable failures (5xx, 429, network) are tried again after a back-off with jitter, honouring
 * Retry-After up to retry.maxDelayMs; the last failure is thrown with its context.
 */
export async function withRetry<T>(run: RetryRun, attemptOnce: () => Promise<T>): Promise<{ value: T; attempts: number }> {
  const { retry } = run;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await attemptOnce(), attempts: attempt };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const retryAfter = getRetryAfter(e);
      const delay = attempt < retry.attempts && isRetryable(e) ? retryDelay(retry, attempt, retryAfter) : undefined;
      if (delay === undefined) {
        const note =
          retryAfter !== undefined && retryAfter > retry.maxDelayMs && attempt < retry.attempts && isRetryable(e)
            ? `the IdP asked to retry after ${Math.ceil(retryAfter / 1000)} s, more than retry.maxDelayMs`
            : undefined;
        // The context keeps the IdP's Retry-After on the error (it lengthens idpBackoff).
        throw withContext(e, run.label, attempt, note);
      }
      run.onRetry?.(attempt, delay, e);
      await sleep(delay, !run.background);
    }
  }
}

/** What a client_credentials request needs from the client's resolved options. */
export interface TokenRequestContext {
  idp: IdpClient;
  retry: RetryPolicy;
  defaultExpiresInMs: number;
  hooks: Pick<M2MHooks, 'onRetry'>;
}

/**
 * One client_credentials token from the IdP for `spec`, through {@link withRetry}. The token
 * cache calls this; nothing else does.
 */
export function tokenRequester(o: TokenRequestContext, signer: DpopSigner | undefined) {
  const { idp, retry } = o;
  return async function fetchToken(spec: TokenSpec, background: boolean): Promise<{ token: StoredToken; attempts: number }> {
    const onRetry = o.hooks.onRetry;
    const run: RetryRun = {
      retry,
      label: spec.label,
      background,
      onRetry: onRetry && ((attempt, delayMs, error) => emit(onRetry, { ...spec.info, attempt, delayMs, error })),
    };
    const { value: token, attempts } = await withRetry(run, async () => {
      const where = describeUrl(await idp.endpointUrl('token'));
      // Lifetime counts from when we asked, not from when the answer arrived: errs on the early side.
      const issuedAt = clock.now();
      const params = new URLSearchParams(spec.params as [string, string][]);
      const res = signer === undefined ? await idp.post('token', params) : await postWithDpop(idp, signer, params);
      return interpretTokenResponse(res, {
        tokenType: signer === undefined ? 'Bearer' : 'DPoP',
        where,
        requestedScope: spec.info.scope,
        defaultExpiresInMs: o.defaultExpiresInMs,
        sanitize: (text) => idp.sanitize(text),
        issuedAt,
      });
    });
    return { token, attempts };
  };
}
