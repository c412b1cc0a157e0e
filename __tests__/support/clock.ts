/**
 * Lets time pass for the library without sleeping: the library's clock (lib/clock.ts) reads real
 * time plus what the test advanced. Timers, sockets and the IdPs keep real time, so this is for the
 * comparisons against expiry and back-off windows only; jest's fake timers would stall real I/O.
 *
 * Limits: tokens the M2M client fetches after an advance are stamped with real time (issuedAt), so
 * to the shifted clock they look older by the amount advanced.
 */
import { setClock } from '../../lib/clock.js';

export interface TestClock {
  /** Moves the library's clock forward. */
  advance(ms: number): void;
}

/** Installs a shifted clock for each test of the enclosing describe (or file) and restores Date.now after. */
export function useTestClock(): TestClock {
  let offset = 0;
  beforeEach(() => {
    offset = 0;
    setClock(() => Date.now() + offset);
  });
  afterEach(() => setClock());
  return {
    advance(ms: number) {
      offset += ms;
    },
  };
}
