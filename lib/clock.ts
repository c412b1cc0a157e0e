/**
 * The one wall clock the library reads for token lifetimes, expiry checks and back-off windows.
 *
 * @internal Not exported from the package. Tests replace it with `setClock()` so time can pass
 * without sleeping (a faster suite, and no flakiness on a loaded machine). Timers (`setTimeout`)
 * and lru-cache's own TTLs keep real time; only the comparisons against expiry read this.
 */
export let now: () => number = Date.now;

/** @internal Replaces the clock; `setClock()` restores `Date.now`. */
export function setClock(clock?: () => number): void {
  now = clock ?? Date.now;
}
