import { observeRejection } from '../../hook-result.js';

const ignore = (): void => {};

/**
 * Runs an observability hook, without waiting for it. A hook that throws (or an async one that
 * rejects) must never turn a served token into a failed call nor end the process, so its error is
 * dropped here (hooks own their error handling). Fixed arity: no rest array is allocated on the
 * cache-hit path.
 */
export function emit<A, B>(hook: (a: A, b: B) => void, a: A, b?: B): void {
  try {
    observeRejection(hook(a, b as B), ignore);
  } catch {
    // deliberately ignored, see above
  }
}
