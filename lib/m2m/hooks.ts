/**
 * Runs an observability hook. A hook that throws must never turn a served token into a failed
 * call, so its error is dropped here (hooks own their error handling). Fixed arity: no rest
 * array is allocated on the cache-hit path.
 */
export function emit<A, B>(hook: (a: A, b: B) => void, a: A, b?: B): void {
  try {
    hook(a, b as B);
  } catch {
    // deliberately ignored, see above
  }
}
