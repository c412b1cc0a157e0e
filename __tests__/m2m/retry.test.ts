/** The retry policy on its own: backoff ceilings, full jitter, Retry-After parsing and what is retryable. */
import { IdpBadResponseError, IdpError, IdpTimeoutError, IdpUnavailableError, ServerError } from '../../lib/index.js';
import { isRetryable, parseRetryAfter, retryDelay } from '../../lib/m2m/request/retry.js';

const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };

test('full jitter: a uniform wait up to a ceiling that doubles per attempt and is capped', () => {
  const top = () => 0.999999;
  expect([1, 2, 3, 4, 5, 6].map((a) => retryDelay(policy, a, undefined, top))).toEqual([99, 199, 399, 799, 999, 999]);
  expect(retryDelay(policy, 3, undefined, () => 0)).toBe(0);
  const samples = Array.from({ length: 1000 }, () => retryDelay(policy, 3, undefined)!);
  expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...samples)).toBeLessThan(400);
  expect(new Set(samples).size).toBeGreaterThan(100);
});

test('Retry-After is a floor; one above maxDelayMs stops the retries', () => {
  expect(retryDelay(policy, 1, 700, () => 0.5)).toBe(700);
  expect(retryDelay(policy, 4, 100, () => 0.999)).toBe(799);
  expect(retryDelay(policy, 1, 1001, () => 0.5)).toBeUndefined();
  expect(retryDelay(policy, 1, 0, () => 0)).toBe(0);
});

test('Retry-After: delay-seconds or an HTTP-date; anything else is ignored', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');
  expect(parseRetryAfter('3', now)).toBe(3000);
  expect(parseRetryAfter(' 0 ', now)).toBe(0);
  expect(parseRetryAfter('Fri, 27 Nov 2026 10:00:05 GMT', now)).toBe(5000);
  expect(parseRetryAfter('Fri, 27 Nov 2026 09:59:00 GMT', now)).toBe(0);
  expect(parseRetryAfter('-1', now)).toBeUndefined();
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter(null, now)).toBeUndefined();
});

test.each<[string, Error, boolean]>([
  ['500', new IdpError('x', { idpStatus: 500, idpError: 'server_error' }), true],
  ['503 without a code', new IdpError('x', { idpStatus: 503 }), true],
  ['429', new IdpError('x', { idpStatus: 429, idpError: 'temporarily_unavailable' }), true],
  ['408', new IdpError('x', { idpStatus: 408 }), true],
  ['400 invalid_request', new IdpError('x', { idpStatus: 400, idpError: 'invalid_request' }), false],
  ['401 invalid_client', new IdpError('x', { idpStatus: 401, idpError: 'invalid_client' }), false],
  ['400 invalid_scope', new IdpError('x', { idpStatus: 400, idpError: 'invalid_scope' }), false],
  ['400 unauthorized_client', new IdpError('x', { idpStatus: 400, idpError: 'unauthorized_client' }), false],
  ['503 invalid_client', new IdpError('x', { idpStatus: 503, idpError: 'invalid_client' }), false],
  ['403 without a code', new IdpError('x', { idpStatus: 403 }), false],
  ['timeout', new IdpTimeoutError('x'), true],
  ['refused', new IdpUnavailableError('x'), true],
  ['gateway HTML page', new IdpBadResponseError('x'), true],
  ['2xx without a token', new IdpBadResponseError('x', { retryable: false }), false],
  ['no token endpoint', new ServerError('x'), false],
  ['a bug', new TypeError('x'), false],
])('retryable: %s → %s', (_name, err, expected) => {
  expect(isRetryable(err)).toBe(expected);
});
