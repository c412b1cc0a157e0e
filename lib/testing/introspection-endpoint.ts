import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { sendJson } from './http.js';
import { authenticateClient, FailureQueue, OAuthFailure, readForm, sendFailure, type TestClient, type TokenEndpointFailure } from './client-auth.js';

/** One request the introspection endpoint received, for assertions (neither the token nor a secret in it). */
export interface TestIntrospectionRequest {
  /** The client that authenticated, or the `client_id` it claimed. */
  readonly clientId: string | undefined;
  /** How the client authenticated (`'none'`: it did not). */
  readonly clientAuth: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** The `token_type_hint` parameter. */
  readonly tokenTypeHint: string | undefined;
  /** The answer's `active`; undefined when the request was refused (or failed on demand). */
  readonly active: boolean | undefined;
}

type RequestRecord = { -readonly [K in keyof TestIntrospectionRequest]: TestIntrospectionRequest[K] };

/** Opaque tokens remembered: the newest, so a long suite's issuer does not grow without end. */
const MAX_TOKENS = 10_000;
const MAX_RECORDS = 10_000;

/**
 * Opaque access tokens and the RFC 7662 endpoint that answers for them. A token is random bytes
 * standing for the claims kept here, which is what an opaque token is: only the issuer can say
 * what it means, and whether it still holds (expired or revoked tokens are `active: false`).
 */
export class IntrospectionEndpoint {
  readonly requests: TestIntrospectionRequest[] = [];
  readonly #tokens = new Map<string, JWTPayload>();
  readonly #failures = new FailureQueue('failNextIntrospection()');

  constructor(
    private readonly clients: readonly TestClient[],
    private readonly nowSeconds: () => number,
  ) {}

  /** A new opaque token answering with `claims` (defaults already filled in by the issuer). */
  issue(claims: JWTPayload): string {
    // No dots: never mistaken for a compact JWS, so a guard with `tokens: 'opaque'` introspects it.
    const token = randomBytes(32).toString('base64url');
    if (this.#tokens.size >= MAX_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value!);
    // A JSON round trip: claims given as undefined are left out, as sign() leaves them out.
    this.#tokens.set(token, JSON.parse(JSON.stringify(claims)) as JWTPayload);
    return token;
  }

  /** RFC 7009 for opaque tokens: only the client the token was issued to (`client_id`) revokes it. */
  revoke(token: string, clientId: string): void {
    if (this.#tokens.get(token)?.client_id === clientId) this.#tokens.delete(token);
  }

  failNext(failure: TokenEndpointFailure): void {
    this.#failures.push(failure);
  }

  async introspect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = await readForm(req, res);
    if (!params) return;
    const record: RequestRecord = { clientId: undefined, clientAuth: 'none', tokenTypeHint: params.get('token_type_hint') ?? undefined, active: undefined };
    if (this.requests.push(record) > MAX_RECORDS) this.requests.shift();
    try {
      this.#failures.throwNext();
      authenticateClient(req, params, this.clients, record);
      const token = params.get('token');
      if (!token) throw new OAuthFailure(400, 'invalid_request', 'token is required');
      const answer = this.#answer(token);
      record.active = answer.active as boolean;
      sendJson(res, 200, answer);
    } catch (err) {
      sendFailure(res, err);
    }
  }

  /** RFC 7662 §2.2: unknown, revoked, expired and not-yet-valid tokens are all just `active: false`. */
  #answer(token: string): Record<string, unknown> {
    const claims = this.#tokens.get(token);
    const now = this.nowSeconds();
    if (claims === undefined || (typeof claims.exp === 'number' && claims.exp <= now) || (typeof claims.nbf === 'number' && claims.nbf > now)) return { active: false };
    return { ...claims, active: true };
  }
}
