import { bearerChallenge, dpopChallenge, type ChallengeParams } from '../../bearer/challenge.js';
import { InvalidDpopProofError } from '../../errors/dpop-errors.js';
import { InvalidRequestError, InvalidTokenError, type OAuthError } from '../../errors/oauth-error.js';
import type { GuardRequest } from '../../bearer/guard-request.js';
import type { VerifiedToken } from '../verifier.js';
import type { ResolvedDpop } from './options.js';
import { DpopProofVerifier } from './proof.js';

/**
 * The key a token is bound to (RFC 9449 §6.1 `cnf.jkt`): undefined when unbound (no `cnf` object,
 * or one without `jkt`), null when `jkt` is there but is not a thumbprint. `cnf` is the IdP's JSON:
 * `null` must not throw (a 500), and a malformed `jkt` must not count as no binding (accepted as Bearer).
 */
export function boundKey(payload: VerifiedToken['payload']): string | undefined | null {
  const cnf = payload.cnf as Record<string, unknown> | null | undefined;
  if (typeof cnf !== 'object' || cnf === null || !Object.hasOwn(cnf, 'jkt')) return undefined;
  const jkt = cnf.jkt;
  return typeof jkt === 'string' && jkt !== '' ? jkt : null;
}

const MALFORMED_JKT = 'The token\'s cnf.jkt is not a key thumbprint';

/** What every challenge of one guard carries: its realm and, with resourceMetadata, the RFC 9728 §5.1 document URL. */
export type ChallengeBase = Pick<ChallengeParams, 'realm' | 'resourceMetadata'>;

/**
 * What the guard does about sender-constrained tokens: the challenges it sends, the rule that a
 * DPoP-bound token is never accepted as a plain Bearer token, and the per-request proof check.
 */
export class SenderConstraint {
  readonly mode: ResolvedDpop['mode'];
  readonly proofs: DpopProofVerifier;
  /** The challenge for a request without credentials: every scheme this guard accepts. */
  readonly missing: string;

  constructor(
    cfg: ResolvedDpop,
    private readonly base: ChallengeBase,
    report: (err: OAuthError) => void,
  ) {
    this.mode = cfg.mode;
    this.proofs = new DpopProofVerifier(cfg, (error, errorDescription) => ({ 'WWW-Authenticate': this.#dpop(error, errorDescription) }), report);
    const dpop = dpopChallenge({ ...base, algs: this.proofs.algs });
    this.missing = cfg.mode === 'disabled' ? bearerChallenge(base) : cfg.mode === 'required' ? dpop : `${bearerChallenge(base)}, ${dpop}`;
  }

  #dpop(error: string, errorDescription: string): string {
    return dpopChallenge({ ...this.base, error, errorDescription, algs: this.proofs.algs });
  }

  #invalidToken(description: string, scheme: 'bearer' | 'dpop'): InvalidTokenError {
    const challenge = scheme === 'dpop' ? this.#dpop('invalid_token', description) : bearerChallenge({ ...this.base, error: 'invalid_token', errorDescription: description });
    return new InvalidTokenError(description, { headers: { 'WWW-Authenticate': challenge } });
  }

  /** A Bearer presentation of a verified token: refused if the token is bound, or if DPoP is required. Synchronous (the cache-hit path). */
  bearer(verified: VerifiedToken): InvalidTokenError | undefined {
    if (this.mode === 'required') return this.#invalidToken('This API accepts only DPoP-bound tokens: send Authorization: DPoP with a DPoP proof', 'dpop');
    const bound = boundKey(verified.payload);
    if (bound === null) return this.#invalidToken(MALFORMED_JKT, 'bearer');
    if (bound !== undefined) return this.#invalidToken('The token is bound to a key (DPoP): send it as Authorization: DPoP with a DPoP proof', 'bearer');
    return undefined;
  }

  /**
   * A DPoP presentation: the token must be bound, and the request must carry exactly one valid
   * proof for it. The key thumbprint, at once unless the replay store answers later (then a
   * promise); refusals are thrown (or rejected) OAuthErrors.
   */
  dpop(req: GuardRequest, token: string, verified: VerifiedToken): string | Promise<string> {
    const jkt = boundKey(verified.payload);
    if (jkt === undefined) throw this.#invalidToken('The token is not bound to a key (no cnf.jkt); it cannot be used with DPoP', 'dpop');
    if (jkt === null) throw this.#invalidToken(MALFORMED_JKT, 'dpop');
    const proof = req.headers.dpop;
    // Node joins repeated unknown headers with ", "; a proof never contains one.
    if (typeof proof !== 'string' || proof === '' || proof.includes(',')) {
      const description = proof === undefined ? 'The request has no DPoP proof header' : 'The request must carry exactly one DPoP proof header';
      throw new InvalidDpopProofError(description, { headers: { 'WWW-Authenticate': this.#dpop('invalid_dpop_proof', description) } });
    }
    return this.proofs.verify(req, proof, token, jkt);
  }

  /** Answers about a DPoP presentation's token carry the DPoP challenge (RFC 9449 §7.1). */
  rechallenge(err: unknown): unknown {
    if (err instanceof InvalidTokenError && !(err.headers['WWW-Authenticate'] ?? '').startsWith('DPoP')) {
      return this.#invalidToken(err.message, 'dpop');
    }
    // The certificate check's 400 (a forwarded certificate that cannot be read) comes with the
    // Bearer challenge; a DPoP presentation gets its own scheme for every answer, as above.
    if (err instanceof InvalidRequestError && (err.headers['WWW-Authenticate'] ?? '').startsWith('Bearer')) {
      return new InvalidRequestError(err.message, { headers: { 'WWW-Authenticate': this.#dpop('invalid_request', err.message) } });
    }
    return err;
  }
}
