import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { sendJson } from './http.js';
import { authenticateClient, FailureQueue, OAuthFailure, readForm, sendFailure, type TestClient, type TokenEndpointFailure } from './client-auth.js';

export type { TestClient, TokenEndpointFailure };

/** A resource owner for the `password` grant. */
export interface TestUser {
  /** The `username` of the password grant. */
  username: string;
  /** The `password` of the password grant. */
  password: string;
  /** `sub` of the user's tokens; default: the username. */
  sub?: string;
  /** More claims for the user's access tokens (`email`, `roles` …). */
  claims?: JWTPayload;
}

/** One request the token endpoint received, for assertions (no secret or password in it). */
export interface TestTokenRequest {
  /** The `grant_type` parameter. */
  readonly grantType: string | undefined;
  /** The client that authenticated, or the `client_id` it claimed. */
  readonly clientId: string | undefined;
  /** How the client authenticated (`'none'`: it did not, or the request failed before). */
  readonly clientAuth: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** The form parameters, credentials removed (`client_secret`, `password`, `client_assertion`, `refresh_token`, `subject_token`, `actor_token`, `assertion`, `code_verifier`). */
  readonly params: Readonly<Record<string, string>>;
  /** Whether a DPoP proof came with it. */
  readonly dpop: boolean;
}

/** The record while the request is handled: filled in as client authentication proceeds. */
type RequestRecord = { -readonly [K in keyof TestTokenRequest]: TestTokenRequest[K] };

/** What the endpoint needs from the issuer it belongs to. */
export interface TokenIssuing {
  readonly tokenEndpoint: string;
  readonly audience: string | string[];
  readonly clients: readonly TestClient[];
  readonly users: readonly TestUser[];
  nowSeconds(): number;
  /** Signs an access token with the current key, defaults filled as by `sign()`. */
  issue(claims: JWTPayload): Promise<{ token: string; expiresIn: number }>;
  /** Revokes an opaque access token issued to this client (RFC 7009); anything else is left alone. */
  revokeOpaque(token: string, clientId: string): void;
}

// Credentials are left out of the records tests assert on (and print when an assertion fails):
// secrets, and tokens that work as credentials — refresh tokens, and the tokens of a token exchange.
const SECRET_PARAMS = new Set(['client_secret', 'password', 'client_assertion', 'refresh_token', 'subject_token', 'actor_token', 'assertion', 'code_verifier']);
const MAX_REFRESH_TOKENS = 10_000;
/** Token requests remembered for assertions: the newest, so a long suite's issuer does not grow without end. */
const MAX_RECORDS = 10_000;

interface Grant {
  clientId: string;
  sub: string;
  scope: string | undefined;
  claims: JWTPayload;
}

/**
 * The mock token (RFC 6749 §3.2) and revocation (RFC 7009) endpoints: client_credentials, password
 * and refresh_token grants for `createM2MClient()` and `tokenProxy()`, client authentication checked,
 * DPoP-bound tokens when a proof comes with the request, failures on demand.
 */
export class TokenEndpoint {
  readonly requests: TestTokenRequest[] = [];
  readonly #failures = new FailureQueue('failNextTokenRequest()');
  // Refresh token → what it grants. Rotated on use, as most IdPs do; bounded so a long suite cannot grow it without end.
  readonly #refresh = new Map<string, Grant>();

  constructor(private readonly issuing: TokenIssuing) {}

  failNext(failure: TokenEndpointFailure): void {
    this.#failures.push(failure);
  }

  async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = await readForm(req, res);
    if (!params) return;
    const record: RequestRecord = { grantType: params.get('grant_type') ?? undefined, clientId: undefined, clientAuth: 'none', params: publicParams(params), dpop: req.headers.dpop !== undefined };
    if (this.requests.push(record) > MAX_RECORDS) this.requests.shift();
    try {
      this.#failures.throwNext();
      const client = authenticateClient(req, params, this.issuing.clients, record);
      const jkt = await this.#dpop(req);
      const body = await this.#grant(client, params, jkt);
      sendJson(res, 200, body);
    } catch (err) {
      sendFailure(res, err);
    }
  }

  async revoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = await readForm(req, res);
    if (!params) return;
    try {
      const client = authenticateClient(req, params, this.issuing.clients, { clientId: undefined, clientAuth: 'none' });
      const token = params.get('token');
      if (!token) throw new OAuthFailure(400, 'invalid_request', 'token is required');
      // RFC 7009 §2.2: 200 whether or not the token was known; only the owner's token goes.
      if (this.#refresh.get(token)?.clientId === client.clientId) this.#refresh.delete(token);
      this.issuing.revokeOpaque(token, client.clientId);
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    } catch (err) {
      sendFailure(res, err);
    }
  }

  /** The thumbprint of a valid DPoP proof sent with the request (RFC 9449 §5), or undefined without one. */
  async #dpop(req: IncomingMessage): Promise<string | undefined> {
    const proof = req.headers.dpop;
    if (proof === undefined) return undefined;
    const bad = (description: string) => new OAuthFailure(400, 'invalid_dpop_proof', description);
    if (typeof proof !== 'string') throw bad('One DPoP header');
    try {
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'], currentDate: new Date(this.issuing.nowSeconds() * 1000) });
      if (payload.htm !== 'POST' || payload.htu !== this.issuing.tokenEndpoint) throw bad('htm or htu does not match the token request');
      if (typeof payload.iat !== 'number' || Math.abs(payload.iat - this.issuing.nowSeconds()) > 300) throw bad('iat is not recent');
      if (typeof payload.jti !== 'string') throw bad('jti is required');
      return await calculateJwkThumbprint(protectedHeader.jwk as JWK);
    } catch (err) {
      if (err instanceof OAuthFailure) throw err;
      throw bad('The DPoP proof does not verify');
    }
  }

  async #grant(client: TestClient, params: URLSearchParams, jkt: string | undefined): Promise<Record<string, unknown>> {
    const type = params.get('grant_type');
    let grant: Grant;
    if (type === 'client_credentials') {
      grant = { clientId: client.clientId, sub: client.clientId, scope: params.get('scope') ?? client.scope, claims: {} };
    } else if (type === 'password') {
      const user = this.issuing.users.find((u) => u.username === params.get('username'));
      if (!user || user.password !== params.get('password')) throw new OAuthFailure(400, 'invalid_grant', 'Wrong username or password');
      grant = { clientId: client.clientId, sub: user.sub ?? user.username, scope: params.get('scope') ?? client.scope, claims: user.claims ?? {} };
    } else if (type === 'refresh_token') {
      const token = params.get('refresh_token') ?? '';
      const known = this.#refresh.get(token);
      if (!known || known.clientId !== client.clientId) throw new OAuthFailure(400, 'invalid_grant', 'Unknown, used or revoked refresh token');
      this.#refresh.delete(token);
      grant = { ...known, scope: params.get('scope') ?? known.scope };
    } else if (!type) {
      throw new OAuthFailure(400, 'invalid_request', 'grant_type is required');
    } else {
      throw new OAuthFailure(400, 'unsupported_grant_type', 'The test issuer supports client_credentials, password and refresh_token');
    }
    const audience = params.getAll('audience').concat(params.getAll('resource'));
    const aud = audience.length === 1 ? audience[0]! : audience.length > 1 ? audience : (client.audience ?? this.issuing.audience);
    const claims: JWTPayload = { ...grant.claims, sub: grant.sub, aud, client_id: client.clientId };
    if (grant.scope) claims.scope = grant.scope;
    if (jkt) claims.cnf = { jkt };
    const { token, expiresIn } = await this.issuing.issue(claims);
    const body: Record<string, unknown> = { access_token: token, token_type: jkt ? 'DPoP' : 'Bearer', expires_in: expiresIn };
    if (grant.scope) body.scope = grant.scope;
    if (type !== 'client_credentials') body.refresh_token = this.#newRefreshToken(grant);
    return body;
  }

  #newRefreshToken(grant: Grant): string {
    const token = randomBytes(24).toString('base64url');
    if (this.#refresh.size >= MAX_REFRESH_TOKENS) this.#refresh.delete(this.#refresh.keys().next().value!);
    this.#refresh.set(token, grant);
    return token;
  }
}

function publicParams(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) if (!SECRET_PARAMS.has(k)) out[k] = v;
  return out;
}
