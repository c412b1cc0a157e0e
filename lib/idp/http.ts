import { idpCall } from '../telemetry/otel.js';
import { ConfigError } from '../errors/config-error.js';
import { IdpBadResponseError, IdpTimeoutError, IdpUnavailableError } from '../errors/oauth-error.js';

/**
 * The `fetch` every IdP request goes through: Node's global `fetch` by default, or your own for an
 * egress proxy, a private CA or extra headers. Called as `fetch(url, init)`; pass `init` on (its
 * `signal` and `redirect: 'manual'` included). Whatever it does, the package still applies its
 * timeout, size cap and no-redirect policy to the answer.
 * @example
 * ```ts
 * const viaProxy: IdpFetch = (url, init) => fetch(url, { ...init, dispatcher } as RequestInit);
 * ```
 */
export type IdpFetch = (input: string | URL, init: RequestInit) => Promise<Response>;

/** Validates a `fetch` option at construction. */
export function checkFetchOption(value: unknown, factory: string): IdpFetch | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new ConfigError(
      `${factory}: fetch must be a function (url, init) => Promise<Response>, such as (url, init) => fetch(url, { ...init, dispatcher }) (got ${value === null ? 'null' : typeof value})`,
      { code: 'config_options' },
    );
  }
  return value as IdpFetch;
}

/** What the IdP answered, parsed. Status and body are passed on untouched by the token proxy. */
export interface IdpResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
  /** The answer as text, when its media type is one of the request's `rawTypes` (then `body` is empty). */
  raw?: string;
}

export interface IdpRequestOptions {
  /** What the call is for, in telemetry (`discovery`, `jwks`, `token`, `revocation`, `mfa_challenge`, `introspection`). */
  operation?: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Milliseconds before the request is abandoned with a 504. */
  timeout: number;
  /** Largest answer read; a bigger one is a 502 rather than a memory problem. */
  maxResponseBytes: number;
  /** Caller-side cancellation (e.g. the browser went away). */
  signal?: AbortSignal;
  /** Accept an empty 2xx answer as `{}` (RFC 7009 revocation answers 200 with no body). */
  allowEmptyBody?: boolean;
  /**
   * Media types returned as text in `raw` instead of parsed as JSON (RFC 9701 signed introspection
   * answers, `application/token-introspection+jwt`), with the same size cap and redirect policy.
   */
  rawTypes?: readonly string[];
  /** The application's fetch (proxy, CA, headers); Node's global fetch when absent. */
  fetch?: IdpFetch;
}

/**
 * The URL as it may appear in an error message: origin and path only. EIAM puts
 * `client_secret` in the query string, so a query never goes into a message or log.
 */
export function describeUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * `promise`, or a rejection with the signal's reason once it aborts. A custom fetch may ignore the
 * signal it is given (or hand back a body that does); the timeout must hold regardless.
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** What a fetch answered, checked to be a Response (another realm's, e.g. npm undici's, is fine). */
function isResponse(value: unknown): value is Response {
  const r = value as Partial<Response> | null;
  return typeof r?.status === 'number' && typeof r.headers?.get === 'function' && (r.body === null || typeof r.body?.getReader === 'function');
}

async function readCapped(res: Response, maxBytes: number, where: string, signal: AbortSignal): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new IdpBadResponseError(`The IdP answer from ${where} is larger than ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await abortable(reader.read(), signal);
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      throw err;
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new IdpBadResponseError(`The IdP answer from ${where} is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'TimeoutError';
}

/**
 * The one way this package talks HTTP to an IdP: Node's fetch (undici keeps connections alive) or
 * the application's `fetch`, no redirects followed, no ambient cookies or headers, a hard timeout
 * and a size cap, and every failure mapped to an OAuthError with the right status (504 timeout,
 * 502 unreachable or garbage). The policy is enforced on the answer, not left to the fetch: a
 * custom fetch that follows redirects or ignores the abort signal is still held to it.
 */
export function idpRequest(url: string, options: IdpRequestOptions): Promise<IdpResponse> {
  return idpCall(options.operation ?? 'idp', options.method ?? 'POST', url, () => request(url, options));
}

async function request(url: string, options: IdpRequestOptions): Promise<IdpResponse> {
  const where = describeUrl(url);
  const timeoutSignal = AbortSignal.timeout(options.timeout);
  const signal = options.signal ? AbortSignal.any([timeoutSignal, options.signal]) : timeoutSignal;
  const send = options.fetch ?? fetch;
  let res: Response;
  try {
    const answer: unknown = await abortable(
      send(url, {
        method: options.method ?? 'POST',
        headers: { accept: 'application/json', ...options.headers },
        body: options.body,
        redirect: 'manual',
        signal,
      }),
      signal,
    );
    if (!isResponse(answer)) {
      throw new IdpBadResponseError(`The fetch used for the IdP at ${where} did not return a Response`);
    }
    res = answer;
  } catch (err) {
    if (err instanceof IdpBadResponseError) throw err;
    if (isTimeout(err) || timeoutSignal.aborted) {
      throw new IdpTimeoutError(`The IdP at ${where} did not answer within ${options.timeout} ms`, { cause: err });
    }
    const code = (err as { cause?: { code?: string } })?.cause?.code;
    throw new IdpUnavailableError(`The IdP at ${where} could not be reached${code ? ` (${code})` : ''}`, { cause: err });
  }

  let text: string;
  try {
    // `redirected`: a custom fetch followed one itself, so the answer may come from anywhere.
    if ((res.status >= 300 && res.status < 400) || res.redirected === true) {
      await res.body?.cancel().catch(() => undefined);
      throw new IdpBadResponseError(`The IdP at ${where} answered with a redirect (${res.redirected === true ? 'followed by the fetch' : res.status}); redirects are not followed`);
    }
    text = await readCapped(res, options.maxResponseBytes, where, signal);
  } catch (err) {
    if (err instanceof IdpBadResponseError) throw err;
    if (isTimeout(err) || timeoutSignal.aborted) {
      throw new IdpTimeoutError(`The IdP at ${where} did not finish its answer within ${options.timeout} ms`, { cause: err });
    }
    throw new IdpUnavailableError(`The connection to the IdP at ${where} broke while reading its answer`, { cause: err });
  }

  if (text.trim() === '' && options.allowEmptyBody && res.ok) {
    return { status: res.status, body: {}, headers: res.headers };
  }
  const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== undefined && options.rawTypes?.includes(mediaType)) {
    return { status: res.status, body: {}, headers: res.headers, raw: text };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    const type = res.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    throw new IdpBadResponseError(`The IdP at ${where} answered ${res.status} with ${type}, not a JSON object`);
  }
  return { status: res.status, body: body as Record<string, unknown>, headers: res.headers };
}
