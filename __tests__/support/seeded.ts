/** A seeded PRNG (mulberry32): the same cases and mutations on every run, so a failure names a case that comes back. */
export function seeded(seed: number): { rand: () => number; int: (n: number) => number; pick: <T>(list: readonly T[]) => T } {
  let state = seed;
  const rand = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(rand() * n);
  return { rand, int, pick: (list) => list[int(list.length)]! };
}
