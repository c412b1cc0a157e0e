/**
 * Observability hooks (`onResult`, `onError` …) are typed as returning nothing, so an `async` one
 * type-checks, and nothing awaits it: the package never waits on a hook. But its rejection would
 * be an unhandled rejection, which ends a Node process by default. `result` is what the hook
 * returned: when it is a promise (or thenable), its rejection goes to `onRejected` instead.
 */
export function observeRejection(result: unknown, onRejected: (err: unknown) => void): void {
  if (result === undefined || result === null || (typeof result !== 'object' && typeof result !== 'function')) return;
  try {
    const then = (result as PromiseLike<unknown>).then;
    if (typeof then === 'function') then.call(result, undefined, onRejected);
  } catch (err) {
    // A thenable whose `then` throws: as much a hook failure as a rejection.
    onRejected(err);
  }
}
