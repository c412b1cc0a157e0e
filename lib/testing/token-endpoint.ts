import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { readBody, sendJson } from './http.js';

/** A confidential client registered with the test issuer's token endpoint. */
export interface TestClient {
  /** The `client_id` it authenticates with. */
  clientId: string;
  /** Its secret; compared as given (Basic credentials are form-urlencoded by the client, RFC 6749 §2.3.1). */
  clientSecret: string;
  /** How the client must authenticate; default: either `client_secret_basic` or `client_secret_post`. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
  /** Scope granted when the request names none (space-separated). */
  scope?: string;
  /** `aud` of its tokens when the request names no `audience` or `resource`; default: the issuer's audience. */
  audience?: string | string[];
}

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

/** What {@link TestIssuer.failNextTokenRequest} makes the token endpoint answer instead of a token. */
export interface TokenEndpointFailure {
  /** The OAuth error code (`invalid_grant`, `invalid_client`, `temporarily_unavailable` …). */
  error: string;
  /** Sent as `error_description`; default: says the failure was injected. */
  errorDescription?: string;
  /** Default: 401 for `invalid_client`, 503 for `temporarily_unavailable`, 500 for `server_error`, else 400. */
  status?: number;
  /** Sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /** How many of the next requests fail this way; default 1. */
  times?: number;
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

class OAuthFailure {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

/**
 * The mock token (RFC 6749 §3.2) and revocation (RFC 7009) endpoints: client_credentials, password
 * and refresh_token grants for `createM2MClient()` and `tokenProxy()`, client authentication checked,
 * DPoP-bound tokens when a proof comes with the request, failures on demand.
 */
export class TokenEndpoint {
  readonly requests: TestTokenRequest[] = [];
  readonly #failures: Array<{ failure: TokenEndpointFailure; left: number }> = [];
  // Refresh token → what it grants. Rotated on use, as most IdPs do; bounded so a long suite cannot grow it without end.
  readonly #refresh = new Map<string, Grant>();

  constructor(private readonly issuing: TokenIssuing) {}

  failNext(failure: TokenEndpointFailure): void {
    this.#failures.push({ failure, left: failure.times ?? 1 });
  }

  async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = await this.#form(req, res);
    if (!params) return;
    const record: RequestRecord = { grantType: params.get('grant_type') ?? undefined, clientId: undefined, clientAuth: 'none', params: publicParams(params), dpop: req.headers.dpop !== undefined };
    if (this.requests.push(record) > MAX_RECORDS) this.requests.shift();
    try {
      this.#injectedFailure();
      const client = this.#authenticate(req, params, record);
      const jkt = await this.#dpop(req);
      const body = await this.#grant(client, params, jkt);
      sendJson(res, 200, body);
    } catch (err) {
      if (!(err instanceof OAuthFailure)) throw err;
      sendJson(res, err.status, { error: err.error, error_description: err.description }, err.headers);
    }
  }

  async revoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = await this.#form(req, res);
    if (!params) return;
    try {
      const client = this.#authenticate(req, params, { clientId: undefined, clientAuth: 'none' });
      const token = params.get('token');
      if (!token) throw new OAuthFailure(400, 'invalid_request', 'token is required');
      // RFC 7009 §2.2: 200 whether or not the token was known; only the owner's token goes.
      if (this.#refresh.get(token)?.clientId === client.clientId) this.#refresh.delete(token);
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    } catch (err) {
      if (!(err instanceof OAuthFailure)) throw err;
      sendJson(res, err.status, { error: err.error, error_description: err.description }, err.headers);
    }
  }

  async #form(req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | undefined> {
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'invalid_request', error_description: 'Use POST' }, { allow: 'POST' });
      req.resume();
      return undefined;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const body = await readBody(req, res);
    if (body === undefined) return undefined;
    if (type !== 'application/x-www-form-urlencoded') {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'The body must be application/x-www-form-urlencoded' });
      return undefined;
    }
    return new URLSearchParams(body);
  }

  #injectedFailure(): void {
    const next = this.#failures[0];
    if (!next) return;
    if (--next.left <= 0) this.#failures.shift();
    const { error, errorDescription, retryAfterSeconds } = next.failure;
    const status = next.failure.status ?? (error === 'invalid_client' ? 401 : error === 'temporarily_unavailable' ? 503 : error === 'server_error' ? 500 : 400);
    const headers: Record<string, string> = {};
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
    if (status === 401) headers['www-authenticate'] = 'Basic realm="test-issuer"';
    throw new OAuthFailure(status, error, errorDescription ?? `Injected by failNextTokenRequest()`, headers);
  }

  /** RFC 6749 §2.3.1: HTTP Basic (form-urlencoded id and secret) or both in the body, never both ways. */
  #authenticate(req: IncomingMessage, params: URLSearchParams, record: Pick<RequestRecord, 'clientId' | 'clientAuth'>): TestClient {
    const unauthorized = (description: string) => new OAuthFailure(401, 'invalid_client', description, { 'www-authenticate': 'Basic realm="test-issuer"' });
    const basic = /^Basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    let id: string | undefined;
    let secret: string | undefined;
    if (basic) {
      if (params.has('client_secret')) throw new OAuthFailure(400, 'invalid_request', 'Use one client authentication method, not two');
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthorized('Malformed Basic credentials');
      try {
        id = formDecode(decoded.slice(0, colon));
        secret = formDecode(decoded.slice(colon + 1));
      } catch {
        throw unauthorized('Malformed Basic credentials');
      }
      record.clientAuth = 'client_secret_basic';
    } else if (params.has('client_secret')) {
      id = params.get('client_id') ?? undefined;
      secret = params.get('client_secret') ?? undefined;
      record.clientAuth = 'client_secret_post';
    }
    record.clientId = id ?? params.get('client_id') ?? undefined;
    if (id === undefined) throw unauthorized('Client authentication is required');
    const client = this.issuing.clients.find((c) => c.clientId === id);
    if (!client || client.clientSecret !== secret) throw unauthorized('Unknown client or wrong secret');
    if (client.authMethod && client.authMethod !== record.clientAuth) throw unauthorized(`This client must use ${client.authMethod}`);
    return client;
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

/** application/x-www-form-urlencoded decoding of one Basic credential half ("+" is a space). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function publicParams(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) if (!SECRET_PARAMS.has(k)) out[k] = v;
  return out;
}
