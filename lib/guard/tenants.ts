import { LRUCache } from 'lru-cache';
import { OAuthError, TemporarilyUnavailableError, type InvalidTokenError } from '../errors/oauth-error.js';
import { forLog } from '../log/operator-log.js';
import { unverifiedClaims } from '../jwt/verify.js';
import * as clock from '../clock.js';
import type { GuardLog } from './guard-log.js';
import { KidRefetches } from './kid-refetches.js';
import type { GuardConfig, ResolvedOptions } from './options.js';
import { formatProblem, Verifier, type TokenErrorFactory } from './verifier.js';
import type { Introspector } from './introspection/introspector.js';

/** Resolved issuers kept for the resolver form; a new one beyond this evicts the least used. */
const MAX_RESOLVED_ISSUERS = 1_000;
/** Configured issuers named in a refusal line. */
const ISSUERS_SHOWN = 3;

/** A resolver's answer, as a verifier, with when it was given (library clock). */
interface Resolved {
  verifier: Verifier;
  at: number;
}

/**
 * The issuers a guard accepts, each with its own verifier (keys, discovery, key-set generation).
 * A token's unverified `iss` picks one by exact match; an `iss` that is not accepted is refused
 * before anything is fetched or stored, so random issuers cost nothing — in the single-issuer
 * form too. The unknown-kid refetch cooldown is kept per issuer, apart from the verifiers.
 */
export class Tenants {
  readonly #byIssuer = new Map<string, Verifier>();
  readonly #resolve: ((iss: string, req: unknown) => Promise<ResolvedOptions | undefined>) | undefined;
  readonly #resolved: LRUCache<string, Resolved> | undefined;
  readonly #ttl: number;
  readonly #pending = new Map<string, Promise<Verifier | undefined>>();
  readonly #refetches = new KidRefetches();
  readonly #configured: string;
  /** The one issuer whose introspection takes opaque tokens (which carry no `iss` to choose by). */
  readonly #opaque: Verifier | undefined;

  constructor(
    config: GuardConfig,
    private readonly invalidToken: TokenErrorFactory,
    private readonly log: GuardLog,
  ) {
    this.#ttl = config.issuerCacheTtlMs;
    this.#configured = typeof config.issuers === 'function' ? '' : describeIssuers(config.issuers.map((i) => i.issuer));
    if (typeof config.issuers === 'function') {
      this.#resolve = config.issuers;
      this.#resolved = new LRUCache({
        max: MAX_RESOLVED_ISSUERS,
        // Expired, evicted or replaced: results it verified must stop counting in the verified-token
        // cache, or a tenant removed from the resolver would keep its cached tokens working.
        dispose: (entry) => entry.verifier.keys.retire(),
      });
    } else {
      for (const issuer of config.issuers) this.#byIssuer.set(issuer.issuer, new Verifier(issuer, invalidToken, log, this.#refetches));
    }
    // resolve-options.ts allows at most one: sending a token to another IdP's endpoint would hand it over.
    this.#opaque = [...this.#byIssuer.values()].find((v) => v.introspector !== undefined && v.introspector.tokens !== 'jwt');
  }

  /** The introspection of the issuer that takes opaque tokens, if any (the guard's hot path asks its cache first). */
  get introspector(): Introspector | undefined {
    return this.#opaque?.introspector;
  }

  /** The verifier for this token's issuer; throws 401 invalid_token for an issuer not accepted. */
  select(token: string, req: unknown): Verifier | Promise<Verifier> {
    const problem = formatProblem(token);
    if (problem !== undefined) {
      if (this.#opaque !== undefined) return this.#opaque;
      throw this.invalidToken(problem);
    }
    // Unverified, only to choose the keys; the verification that follows reuses this parse.
    const claims = unverifiedClaims(token);
    if (claims === undefined) throw this.invalidToken('The token payload is not a valid JWT claims set');
    const iss = claims.iss;
    if (typeof iss !== 'string') throw this.invalidToken('The token has no "iss" claim, which this API requires');
    const listed = this.#byIssuer.get(iss) ?? this.#cached(iss);
    if (listed !== undefined) return listed;
    if (this.#resolve === undefined) throw this.#unlisted(iss, `is not ${this.#configured}`);
    return this.#resolveIssuer(iss, req);
  }

  #cached(iss: string): Verifier | undefined {
    const entry = this.#resolved?.get(iss);
    if (entry === undefined) return undefined;
    if (clock.now() - entry.at < this.#ttl) return entry.verifier;
    // Past issuerCacheTtlMs: ask the resolver again (the tenant may have been removed).
    this.#resolved!.delete(iss);
    return undefined;
  }

  async #resolveIssuer(iss: string, req: unknown): Promise<Verifier> {
    let pending = this.#pending.get(iss);
    if (pending === undefined) {
      pending = this.#resolve!(iss, req).then((resolved) => {
        // Only accepted issuers are remembered: a flood of made-up ones leaves nothing behind.
        if (resolved === undefined) return undefined;
        const verifier = new Verifier(resolved, this.invalidToken, this.log, this.#refetches);
        const at = clock.now();
        verifier.keys.retire(at + this.#ttl);
        this.#resolved!.set(iss, { verifier, at });
        return verifier;
      });
      const forget = () => this.#pending.delete(iss);
      pending.then(forget, forget);
      this.#pending.set(iss, pending);
    }
    let verifier: Verifier | undefined;
    try {
      verifier = await pending;
    } catch (err) {
      // The resolver is the application's code (a tenant database, say): its failure is an outage.
      const error = err instanceof OAuthError ? err : new TemporarilyUnavailableError(`The issuers resolver failed for "${forLog(iss)}"`, { cause: err });
      // The resolver was asked about an `iss` the client chose: however wrong its settings, a client
      // must not be able to write an error-level "fix the configuration" line (it pages someone),
      // nor a line per made-up issuer while the resolver is down.
      this.log.report(error, true);
      throw error;
    }
    if (verifier === undefined) throw this.#unlisted(iss, 'refused by the issuers resolver');
    return verifier;
  }

  /** The refusal, with a line for the operator (a trailing slash is the usual culprit). */
  #unlisted(iss: string, why: string): InvalidTokenError {
    this.log.refusal(`refused a token from issuer "${forLog(iss)}": ${why}`);
    return this.invalidToken('The token was issued by another issuer');
  }
}

/** The configured issuers, for a refusal line. */
function describeIssuers(issuers: string[]): string {
  if (issuers.length === 1) return `the configured issuer "${forLog(issuers[0])}"`;
  const shown = issuers.slice(0, ISSUERS_SHOWN).map((i) => `"${forLog(i)}"`).join(', ');
  return `one of the ${issuers.length} configured issuers (${shown}${issuers.length > ISSUERS_SHOWN ? ', …' : ''})`;
}
