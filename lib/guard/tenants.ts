import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import { OAuthError, TemporarilyUnavailableError, type InvalidTokenError } from '../errors/oauth-error.js';
import type { GuardConfig, ResolvedOptions } from './options.js';
import { formatProblem, Verifier, type TokenErrorFactory } from './verifier.js';

/** Resolved issuers kept for the resolver form; a new one beyond this evicts the least used. */
const MAX_RESOLVED_ISSUERS = 1_000;

/**
 * The issuers a guard accepts, each with its own verifier (keys, discovery, refetch cooldown,
 * key-set generation). A token's unverified `iss` picks one by exact match; an `iss` that is not
 * listed is refused before anything is fetched or stored, so random issuers cost nothing.
 */
export class Tenants {
  /**
   * The top-level single-issuer form: no pre-check, so every answer stays exactly what full
   * verification says (signature problems before claim problems).
   */
  readonly #single: Verifier | undefined;
  readonly #byIssuer = new Map<string, Verifier>();
  readonly #resolve: ((iss: string, req: Request | undefined) => Promise<ResolvedOptions | undefined>) | undefined;
  readonly #resolved: LRUCache<string, Verifier> | undefined;
  readonly #pending = new Map<string, Promise<Verifier | undefined>>();

  constructor(
    config: GuardConfig,
    private readonly invalidToken: TokenErrorFactory,
    private readonly report: (err: OAuthError) => void,
  ) {
    if (typeof config.issuers === 'function') {
      this.#resolve = config.issuers;
      this.#resolved = new LRUCache({ max: MAX_RESOLVED_ISSUERS });
    } else {
      for (const issuer of config.issuers) this.#byIssuer.set(issuer.issuer, new Verifier(issuer, invalidToken, report));
      if (!config.issuersListed) this.#single = this.#byIssuer.values().next().value;
    }
  }

  /** The verifier for this token's issuer; throws 401 invalid_token for an issuer not accepted. */
  select(token: string, req: Request | undefined): Verifier | Promise<Verifier> {
    if (this.#single !== undefined) return this.#single;
    const problem = formatProblem(token);
    if (problem !== undefined) throw this.invalidToken(problem);
    const iss = unverifiedIssuer(token);
    if (iss === null) throw this.invalidToken('The token payload is not a valid JWT claims set');
    if (iss === undefined) throw this.invalidToken('The token has no "iss" claim, which this API requires');
    const listed = this.#byIssuer.get(iss) ?? this.#resolved?.get(iss);
    if (listed !== undefined) return listed;
    if (this.#resolve === undefined) throw this.#unlisted();
    return this.#resolveIssuer(iss, req);
  }

  async #resolveIssuer(iss: string, req: Request | undefined): Promise<Verifier> {
    let pending = this.#pending.get(iss);
    if (pending === undefined) {
      pending = this.#resolve!(iss, req).then((resolved) => {
        // Only accepted issuers are remembered: a flood of made-up ones leaves nothing behind.
        if (resolved === undefined) return undefined;
        const verifier = new Verifier(resolved, this.invalidToken, this.report);
        this.#resolved!.set(iss, verifier);
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
      const error = err instanceof OAuthError ? err : new TemporarilyUnavailableError(`The issuers resolver failed for "${iss.slice(0, 200)}"`, { cause: err });
      this.report(error);
      throw error;
    }
    if (verifier === undefined) throw this.#unlisted();
    return verifier;
  }

  #unlisted(): InvalidTokenError {
    return this.invalidToken('The token was issued by another issuer');
  }
}

/**
 * The `iss` of a compact JWS, unverified: only to choose which keys verify it. null when the
 * payload is not a JSON object, undefined when it has no string `iss`.
 */
function unverifiedIssuer(token: string): string | null | undefined {
  const start = token.indexOf('.') + 1;
  const end = token.indexOf('.', start);
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(token.slice(start, end), 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const iss = (payload as { iss?: unknown }).iss;
  return typeof iss === 'string' ? iss : undefined;
}
