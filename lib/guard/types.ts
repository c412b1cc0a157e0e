import type { JWTHeaderParameters, JWTPayload } from 'jose';

/**
 * A verified token and how it was presented: what `requireAuth()` puts on `req.auth`, and what the
 * other adapters return. Structurally an MCP SDK `AuthInfo` (`token`, `clientId`, `scopes`,
 * `expiresAt`, `resource`, `extra`), so `req` can go to `StreamableHTTPServerTransport.handleRequest()`
 * as it is (docs/mcp.md).
 *
 * Everything but `token` and `dpop` is computed once per verification and shared by every request
 * answered from the verified-token cache for the same token: read it, do not change it (the arrays
 * and plain objects are frozen, so a change throws).
 */
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
  /**
   * Granted scopes from `scope` (string or array) and `scp`. Typed `string[]` so it is an MCP
   * `AuthInfo`, but frozen (shared with the cache): copy it (`[...scopes]`) to change it.
   */
  scopes: string[];
  /** The OAuth client the token was issued to: `client_id` (RFC 9068 §2.2), else `azp`, else `''`. */
  clientId: string;
  /** The token's `exp`, in seconds since the epoch (always present: the guard requires it). */
  expiresAt: number;
  /**
   * The configured audience the token's `aud` matched, as a URL, when that audience is an http(s)
   * URL (the RFC 8707 resource the token is for; MCP's `AuthInfo.resource`). Shared with the cache:
   * do not change it.
   */
  resource?: URL;
  /** For MCP tool handlers, which see only `AuthInfo`: the issuer, `sub` and the verified claims. */
  extra: AuthExtra;
}

/** {@link AuthResult.extra}: what a handler that receives only an MCP `AuthInfo` may still need. Frozen. */
export interface AuthExtra {
  /** What MCP's `AuthInfo.extra` allows (`Record<string, unknown>`); the package sets only the members below. */
  [key: string]: unknown;
  /** The configured issuer the token matched. */
  readonly issuer: string;
  /** The token's `sub` when it is a string (undefined otherwise: the claim itself stays in `payload`). */
  readonly sub: string | undefined;
  /** The verified claims (the same object as {@link AuthResult.payload}). */
  readonly payload: Readonly<JWTPayload>;
}
