import { IdpBadResponseError, IdpError, IdpTimeoutError, IdpUnavailableError } from '../../errors/oauth-error.js';
import * as clock from '../../clock.js';

/** How often and how patiently one token request is retried (the resolved `retry` option). */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Answers that mean "this request will never work as sent": retrying them only adds load and
 * delays the clear error (and repeated invalid_client attempts can get a client locked out).
 */
const NEVER_RETRY = new Set([
  'invalid_client', 'invalid_scope', 'unauthorized_client', 'invalid_request', 'invalid_grant', 'unsupported_grant_type',
  'access_denied', 'invalid_target',
]);

/** Retry-After of an IdP answer, in ms, remembered per error without widening the public error type. */
/** The wait the IdP asked for (an IdpError's Retry-After), if any. */
export function getRetryAfter(err: unknown): number | undefined {
  return err instanceof IdpError ? err.retryAfterMs : undefined;
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. Garbage is ignored rather than trusted. */
export function parseRetryAfter(value: string | null, now = clock.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Every HTTP-date form starts with a day name; Date.parse alone would accept "-1" or "2".
  if (!/^[A-Za-z]{3,9},? /.test(v)) return undefined;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * 5xx, 429 and transport failures are worth another try; a gateway's HTML error page (bad
 * response) usually is too. OAuth client errors are not, whatever the status they came with.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof IdpBadResponseError && !err.retryable) return false;
  if (err instanceof IdpError) {
    if (err.idpError !== undefined && NEVER_RETRY.has(err.idpError)) return false;
    return err.idpStatus >= 500 || err.idpStatus === 429 || err.idpStatus === 408;
  }
  return err instanceof IdpTimeoutError || err instanceof IdpUnavailableError || err instanceof IdpBadResponseError;
}

/**
 * Wait before try `attempt + 1`: capped exponential backoff with full jitter (a uniform random
 * wait up to the ceiling), so a fleet that failed together does not retry together. A Retry-After
 * is a floor. Returns undefined when the IdP asks for more than `maxDelayMs`: callers should get the
 * error now instead of hanging.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined, random = Math.random): number | undefined {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs === undefined) return jittered;
  if (retryAfterMs > policy.maxDelayMs) return undefined;
  return Math.max(retryAfterMs, jittered);
}
