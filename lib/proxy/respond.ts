import type { Response } from 'express';
import {
  IdpBadResponseError,
  IdpError,
  IdpTimeoutError,
  IdpUnavailableError,
  OAuthError,
} from '../errors/oauth-error.js';
import type { IdpEndpoint } from '../idp/idp-client.js';
import { describeUrl } from '../idp/http.js';
import { isErrorAnswer, publicErrorBody, validRetryAfter } from './idp-answer.js';
import type { ProxyConfig } from './options.js';
import { forLog } from '../log/operator-log.js';

/** What a proxy sends back, before it is written. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  source: 'local' | 'idp' | 'transport';
  idpStatus?: number;
}

/**
 * Every answer of a proxy carries tokens or says something about credentials: no cache may keep
 * it (RFC 6749 §5.1). Pragma is for HTTP/1.0 caches the RFC still names.
 */
export function send(res: Response, answer: Answer): void {
  // Written directly rather than through res.json(): no ETag hashing or freshness check, which an
  // uncacheable answer does not need, on the one path the benchmark cares about.
  const json = JSON.stringify(answer.body);
  res.statusCode = answer.status;
  if (answer.headers) for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  // The body holds IdP-chosen text; no browser may sniff it into HTML.
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

export function errorAnswer(err: OAuthError, source: Answer['source']): Answer {
  return { status: err.status, body: { ...err.toJSON() }, headers: { ...err.headers }, source };
}

/**
 * Calls the IdP and turns whatever happens into an Answer. Browsers get short generic
 * descriptions; the operator log gets the detail (which never holds the query string, where
 * EIAM keeps client_secret). Success answers are passed on as the IdP sent them; error answers
 * only with their OAuth members (see publicErrorBody).
 */
export async function callIdp(config: ProxyConfig, kind: IdpEndpoint, params: URLSearchParams): Promise<Answer> {
  let status: number;
  let body: Record<string, unknown>;
  let headers: Headers;
  try {
    ({ status, body, headers } = await config.client.post(kind, params));
  } catch (err) {
    return transportFailure(config, err);
  }

  const failed = isErrorAnswer(status, body);
  const shown = failed ? publicErrorBody(config.client, status, body) : body;
  if (shown.error === 'invalid_client') {
    // The front end cannot fix this and must not be told to authenticate (a WWW-Authenticate: Basic
    // from the IdP would make a browser pop a login dialog): the server's own credentials are wrong.
    const where = await config.client.endpointUrl(kind).then(describeUrl, () => kind);
    // IdP text: secrets redacted first, then cleaned and cut like any value not ours.
    const said = typeof body.error_description === 'string' ? `: ${forLog(config.client.redact(body.error_description), 200)}` : '';
    config.log(
      'error',
      `[express-oauth-kit] ${config.factory}: the IdP at ${where} rejected this server's client credentials (${status} invalid_client${said}); check clientId, clientSecret and clientAuth`,
    );
    const err = new IdpError('The server could not authenticate to the identity provider', { idpStatus: status, idpError: 'invalid_client' });
    return { ...errorAnswer(err, 'idp'), idpStatus: status };
  }
  if (status >= 500) {
    config.log('warn', `[express-oauth-kit] ${config.factory}: the IdP answered ${status}${typeof body.error === 'string' ? ` ${forLog(config.client.redact(body.error), 64)}` : ''}`);
  }
  const passed: Record<string, string> = {};
  const retryAfter = validRetryAfter(headers.get('retry-after'));
  if (retryAfter !== undefined) passed['retry-after'] = retryAfter;
  return { status, body: shown, headers: passed, source: 'idp', idpStatus: status };
}

function transportFailure(config: ProxyConfig, err: unknown): Answer {
  const detail = forLog(config.client.redact(err instanceof Error ? err.message : String(err)), 500);
  if (err instanceof IdpTimeoutError || err instanceof IdpUnavailableError || err instanceof IdpBadResponseError) {
    // `message` (IdP origin and path, never the query) is for the log; toJSON() shows the generic
    // publicDescription.
    config.log('warn', `[express-oauth-kit] ${config.factory}: ${detail}`);
    return errorAnswer(err, 'transport');
  }
  if (err instanceof OAuthError) {
    // Discovery failures (IdpError) and missing endpoints (ServerError): configuration, not the caller.
    config.log('error', `[express-oauth-kit] ${config.factory}: ${detail}`);
    const body = { error: err.error ?? 'server_error', error_description: 'The server is not set up to reach the identity provider for this request' };
    return { status: err.status, body, source: 'transport' };
  }
  throw err;
}
