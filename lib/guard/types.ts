import type { JWTHeaderParameters, JWTPayload } from 'jose';

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
  /**
   * Set when the token is bound to a client certificate (RFC 8705 `cnf["x5t#S256"]`) and the
   * request presented that certificate; undefined for a token without that binding.
   */
  mtls?: {
    /** RFC 8705 §3.1 SHA-256 thumbprint of the client certificate (the token's `cnf["x5t#S256"]`). */
    x5tS256: string;
  };
  /** Granted scopes from `scope` (string or array) and `scp`. */
  scopes: readonly string[];
}
