import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { InvalidTokenError } from '../errors/oauth-error.js';

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
  /** The OAuth client the token was issued to: `client_id` (RFC 9068 §2.2, RFC 7662 answers), else `azp`, else `''`. */
  clientId: string;
  /**
   * The token's `exp`, in seconds since the epoch: always set for a JWT (the guard requires `exp`);
   * for an introspected token, the answer's `exp`, absent when the IdP gave none (RFC 7662 makes it optional).
   */
  expiresAt?: number;
  /**
   * The configured audience the token's `aud` matched, as a URL, when that audience is an http(s)
   * URL (the RFC 8707 resource the token is for; MCP's `AuthInfo.resource`). One URL object per
   * configured audience, shared by every token for it (a URL cannot be frozen): do not change it.
   */
  resource?: URL;
  /** For MCP tool handlers, which see only `AuthInfo`: the issuer, `sub` and the verified claims. */
  extra: AuthExtra;
  /**
   * How the token was checked: `'jwt'`, its signature with the issuer's keys; `'introspection'`,
   * by asking the issuer (RFC 7662; `header` is empty and `payload` is the introspection answer).
   */
  verifiedBy: 'jwt' | 'introspection';
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
  /** Granted scopes, from `scope` (string or array) and `scp`. Frozen. */
  readonly scopes: readonly string[];
  /** `client_id`, else `azp`, else `''` (see {@link AuthResult.clientId}). */
  readonly clientId: string;
  /** The configured http(s) audience the token's `aud` matched, as a URL (see {@link AuthResult.resource}). */
  readonly resource: URL | undefined;
  /** `{ issuer, sub, payload }`, frozen (see {@link AuthResult.extra}). */
  readonly extra: AuthExtra;
  /** How the token was checked (see {@link AuthResult.verifiedBy}). */
  readonly verifiedBy: 'jwt' | 'introspection';
}

export type TokenErrorFactory = (description: string, cause?: unknown) => InvalidTokenError;
