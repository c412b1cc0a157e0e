import type { IdpClient } from '../idp/idp-client.js';

/**
 * Shaping of IdP answers before a front end sees them. The proxies are anonymous endpoints, so
 * whatever the IdP says reaches any browser; an error answer that echoes the request (some
 * gateways do, client_secret included) must not.
 */

// RFC 6749 §5.2: error = 1*( %x20-21 / %x23-5B / %x5D-7E ).
const ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
// RFC 6749 §4.1 / §10.10 style VSCHAR token, as an mfa_token needs no more.
const TOKEN_VALUE = /^[\x21-\x7e]{1,4096}$/;

/**
 * Error answers carry only the RFC 6749 §5.2 members plus `mfa_token` (the EIAM / Auth0
 * `mfa_required` answer needs it for the MFA challenge), each one line, bounded and with this
 * server's client secret redacted. Anything else the IdP sent (echoed parameters, debug data,
 * tokens) is dropped. A missing or malformed `error` becomes one the status implies.
 */
export function publicErrorBody(client: IdpClient, status: number, body: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const error = typeof body.error === 'string' ? body.error : undefined;
  out.error = error !== undefined && ERROR_CODE.test(error) && !client.containsSecret(error) ? error : fallbackError(status);
  if (typeof body.error_description === 'string') {
    const d = client.sanitize(body.error_description, 300).trim();
    if (d !== '') out.error_description = d;
  }
  if (typeof body.error_uri === 'string' && body.error_uri.length <= 512 && !client.containsSecret(body.error_uri)) {
    // Only a web page: a front end may render it as a link, and a javascript: URI there is script.
    try {
      const u = new URL(body.error_uri);
      if ((u.protocol === 'https:' || u.protocol === 'http:') && !/[\s\x00-\x1f\x7f]/.test(body.error_uri)) out.error_uri = body.error_uri;
    } catch {
      // not a URL: dropped
    }
  }
  // A token is either whole or useless, so an oversized or odd one is dropped, never cut.
  const mfa = body.mfa_token;
  if (typeof mfa === 'string' && TOKEN_VALUE.test(mfa) && !client.containsSecret(mfa)) out.mfa_token = mfa;
  return out;
}

function fallbackError(status: number): string {
  if (status === 429 || status === 503) return 'temporarily_unavailable';
  if (status >= 500) return 'server_error';
  if (status === 401) return 'invalid_client';
  return 'invalid_request';
}

/** An answer is an error when its status says so or when it names an `error` (some IdPs answer 200). */
export function isErrorAnswer(status: number, body: Record<string, unknown>): boolean {
  return status < 200 || status >= 300 || body.error !== undefined;
}

// RFC 9110 §10.2.3: delay-seconds / HTTP-date (IMF-fixdate, the form senders must use).
const DELAY_SECONDS = /^\d{1,9}$/;
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** The IdP's Retry-After when it is one a client can act on, else undefined (not passed on). */
export function validRetryAfter(value: string | null): string | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (DELAY_SECONDS.test(v)) return v;
  if (IMF_FIXDATE.test(v) && !Number.isNaN(Date.parse(v))) return v;
  return undefined;
}
