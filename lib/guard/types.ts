import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { InvalidTokenError } from '../errors/oauth-error.js';

/** A verified token and how it was presented: what `requireAuth()` puts on `req.auth`, and what the other adapters return. */
export interface AuthResult {
  /** The raw access token, e.g. to forward it (token exchange) — never log it. */
  token: string;
  /** The configured issuer the token matched: tells tenants apart when there are several. */
  issuer: string;
  /** Verified protected header (`alg`, `kid`, `typ`). */
  header: Readonly<JWTHeaderParameters>;
  /** Verified claims, deeply frozen on every request (they are shared with the verified-token cache). */
  payload: Readonly<JWTPayload>;
  /**
   * Set when the token was presented with DPoP (RFC 9449) and the proof checked out: `jkt` is the
   * RFC 7638 thumbprint of the key the token is bound to. Undefined for a Bearer presentation.
   */
  dpop:
    | {
        /** RFC 7638 SHA-256 thumbprint of the proof key (the token's `cnf.jkt`). */
        jkt: string;
      }
    | undefined;
  /** Granted scopes from `scope` (string or array) and `scp`. */
  scopes: readonly string[];
  /** The client the token was issued to: `client_id` (RFC 9068 JWTs, RFC 7662 answers), else `azp`. */
  clientId: string | undefined;
  /**
   * How the token was checked: `'jwt'`, its signature with the issuer's keys; `'introspection'`,
   * by asking the issuer (RFC 7662). `header` is empty for an introspected token.
   */
  verifiedBy: 'jwt' | 'introspection';
}

/**
 * What {@link Guard.verify} resolves with: the token's verified parts, as also put on
 * `req.auth` by the middleware (without the raw token).
 */
export interface VerifiedToken {
  /** The configured issuer the token matched (its `iss`). */
  readonly issuer: string;
  /** Verified protected header (`alg`, `kid`, `typ`). */
  readonly header: Readonly<JWTHeaderParameters>;
  /** Verified claims, deeply frozen: the same object may be shared by later requests through the cache. */
  readonly payload: Readonly<JWTPayload>;
  /** Granted scopes, from `scope` (string or array) and `scp`. */
  readonly scopes: readonly string[];
  /** The client the token was issued to: `client_id` (RFC 9068, RFC 7662), else `azp`. */
  readonly clientId?: string | undefined;
  /** true when the token was checked by asking its issuer (RFC 7662 introspection) rather than by its signature. */
  readonly introspected?: boolean;
}

export type TokenErrorFactory = (description: string, cause?: unknown) => InvalidTokenError;
