import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from './http.js';

/** A confidential client registered with the test issuer (token, revocation and introspection endpoints). */
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

/** What {@link TestIssuer.failNextTokenRequest} (or {@link TestIssuer.failNextIntrospection}) makes the endpoint answer instead. */
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

/** An OAuth error answer (RFC 6749 §5.2) thrown by the mock endpoints' handlers. */
export class OAuthFailure {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** How a request's client authenticated, filled in as authentication proceeds (for the records). */
export interface ClientAuthRecord {
  clientId: string | undefined;
  clientAuth: 'client_secret_basic' | 'client_secret_post' | 'none';
}

/** Answers an OAuthFailure; anything else is a bug and is thrown on. */
export function sendFailure(res: ServerResponse, err: unknown): void {
  if (!(err instanceof OAuthFailure)) throw err;
  sendJson(res, err.status, { error: err.error, error_description: err.description }, err.headers);
}

/** The form parameters of a POST, or undefined after answering 405, 400 or 413. */
export async function readForm(req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | undefined> {
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

/** RFC 6749 §2.3.1: HTTP Basic (form-urlencoded id and secret) or both in the body, never both ways. */
export function authenticateClient(req: IncomingMessage, params: URLSearchParams, clients: readonly TestClient[], record: ClientAuthRecord): TestClient {
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
  const client = clients.find((c) => c.clientId === id);
  if (!client || client.clientSecret !== secret) throw unauthorized('Unknown client or wrong secret');
  if (client.authMethod && client.authMethod !== record.clientAuth) throw unauthorized(`This client must use ${client.authMethod}`);
  return client;
}

/** application/x-www-form-urlencoded decoding of one Basic credential half ("+" is a space). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/** Failures on demand, oldest first: each throws for `times` requests, then the next one takes over. */
export class FailureQueue {
  readonly #queue: Array<{ failure: TokenEndpointFailure; left: number }> = [];

  /** @param by The method that queues them, named in the default `error_description`. */
  constructor(private readonly by: string) {}

  push(failure: TokenEndpointFailure): void {
    this.#queue.push({ failure, left: failure.times ?? 1 });
  }

  /** Throws the next queued failure, if any. */
  throwNext(): void {
    const next = this.#queue[0];
    if (!next) return;
    if (--next.left <= 0) this.#queue.shift();
    const { error, errorDescription, retryAfterSeconds } = next.failure;
    const status = next.failure.status ?? (error === 'invalid_client' ? 401 : error === 'temporarily_unavailable' ? 503 : error === 'server_error' ? 500 : 400);
    const headers: Record<string, string> = {};
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
    if (status === 401) headers['www-authenticate'] = 'Basic realm="test-issuer"';
    throw new OAuthFailure(status, error, errorDescription ?? `Injected by ${this.by}`, headers);
  }
}
