import { LRUCache } from 'lru-cache';
import type { JSONWebKeySet } from 'jose';

/**
 * Issuers remembered. Far more than the resolver keeps verifiers for (1,000), and each entry is a
 * few hundred bytes at most, so tenants in use churning through the verifier cache do not evict it.
 */
const MAX_ISSUERS = 20_000;
/** A key set with more kids than this is not remembered kid by kid (no pre-refusal then). */
const MAX_KIDS = 32;

/** The last refetch of one issuer's key set caused by an unknown `kid`. */
export interface KidRefetch {
  /** When it started (library clock). */
  readonly at: number;
  /** The kids of the set it brought; undefined while it runs, after it failed, or for a huge set. */
  readonly kids: readonly string[] | undefined;
}

/**
 * When each issuer's key set was last refetched because of an unknown `kid`, shared by all the
 * verifiers of one guard and kept apart from them: it is what makes `jwksCooldown` hold per issuer.
 * A verifier the resolver cache dropped (more tenants in use than it holds, or its TTL) is rebuilt
 * with no keys; with this record, a made-up `kid` within the cooldown is refused before the new
 * verifier fetches anything, so a flood of them costs at most one JWKS fetch per issuer per cooldown.
 */
export class KidRefetches {
  readonly #lru = new LRUCache<string, KidRefetch>({ max: MAX_ISSUERS });

  get(issuer: string): KidRefetch | undefined {
    return this.#lru.get(issuer);
  }

  set(issuer: string, at: number, jwks: JSONWebKeySet | undefined): void {
    let kids: string[] | undefined;
    if (jwks !== undefined && jwks.keys.length <= MAX_KIDS) {
      kids = [];
      for (const k of jwks.keys) if (typeof k.kid === 'string') kids.push(k.kid);
    }
    this.#lru.set(issuer, { at, kids });
  }
}
