/** The M2M comparisons against expiry and back-off read lib/clock.ts, so tests advance time instead of sleeping. */
import { MemoryTokenStore } from '../../lib/index.js';
import { parseRetryAfter } from '../../lib/m2m/request/retry.js';
import { useTestClock } from '../support/clock.js';

const clock = useTestClock();

test('MemoryTokenStore: a lock lease runs out on the clock', () => {
  const store = new MemoryTokenStore();
  expect(store.lock('k', 1000)).toBe(true);
  expect(store.lock('k', 1000)).toBe(false);
  clock.advance(1001);
  expect(store.lock('k', 1000)).toBe(true);
});

test('Retry-After as an HTTP-date is measured from the clock', () => {
  clock.advance(3_600_000); // an hour ahead of real time
  const inTen = new Date(Math.ceil((Date.now() + 3_600_000) / 1000) * 1000 + 10_000).toUTCString();
  const ms = parseRetryAfter(inTen)!;
  expect(ms).toBeGreaterThan(9_000);
  expect(ms).toBeLessThanOrEqual(11_000);
});
