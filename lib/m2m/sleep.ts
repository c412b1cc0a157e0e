// The one timer the M2M flows wait on (retry back-off, store lock waits). A timer, so real time:
// lib/clock.ts is for comparisons against expiry, which tests advance without sleeping.

/** A background wait must not keep the process alive; a caller's wait must. */
export function sleep(ms: number, keepAlive: boolean): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (!keepAlive) t.unref();
  });
}
