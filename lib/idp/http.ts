import { IdpBadResponseError, IdpTimeoutError, IdpUnavailableError } from '../errors/oauth-error.js';

/** What the IdP answered, parsed. Status and body are passed on untouched by the token proxy. */
export interface IdpResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export interface IdpRequestOptions {
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

async function readCapped(res: Response, maxBytes: number, where: string): Promise<string> {
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
    const { done, value } = await reader.read();
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
 * The one way this package talks HTTP to an IdP: Node's fetch (undici keeps connections alive),
 * no redirects followed, no ambient cookies or headers, a hard timeout and a size cap, and every
 * failure mapped to an OAuthError with the right status (504 timeout, 502 unreachable or garbage).
 */
export async function idpRequest(url: string, options: IdpRequestOptions): Promise<IdpResponse> {
  const where = describeUrl(url);
  const timeoutSignal = AbortSignal.timeout(options.timeout);
  const signal = options.signal ? AbortSignal.any([timeoutSignal, options.signal]) : timeoutSignal;
  let res: Response;
  try {
    res = await fetch(url, {
      method: options.method ?? 'POST',
      headers: { accept: 'application/json', ...options.headers },
      body: options.body,
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    if (isTimeout(err) || timeoutSignal.aborted) {
      throw new IdpTimeoutError(`The IdP at ${where} did not answer within ${options.timeout} ms`, { cause: err });
    }
    const code = (err as { cause?: { code?: string } })?.cause?.code;
    throw new IdpUnavailableError(`The IdP at ${where} could not be reached${code ? ` (${code})` : ''}`, { cause: err });
  }

  let text: string;
  try {
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw new IdpBadResponseError(`The IdP at ${where} answered with a redirect (${res.status}); redirects are not followed`);
    }
    text = await readCapped(res, options.maxResponseBytes, where);
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
