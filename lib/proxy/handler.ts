import type { Request, RequestHandler, Response } from 'express';
import { OAuthError, ServerError } from '../errors/oauth-error.js';
import { MethodNotAllowedError } from '../errors/request-errors.js';
import type { ProxyConfig, ProxyResultEvent } from './options.js';
import { errorAnswer, send, type Answer } from './respond.js';
import { proxyMetrics } from '../telemetry/otel.js';
import { observeRejection } from '../hook-result.js';
import { forLog } from '../log/operator-log.js';

/** Per-request facts a proxy learns while working, reported to `onResult`. */
export interface AuditFields {
  grantType?: string;
  username?: string;
}

export interface ProxyContext {
  req: Request;
  res: Response;
  audit: AuditFields;
}

/**
 * The frame shared by the three proxies. They are endpoints, not filters: every outcome is
 * answered here as OAuth JSON, never handed to `next()`, so the app's error handler (which may
 * render HTML or leak details) is not involved and Express 4 needs no async wrapper.
 */
export function proxyHandler(
  config: ProxyConfig,
  endpoint: ProxyResultEvent['endpoint'],
  run: (ctx: ProxyContext) => Promise<Answer>,
): RequestHandler {
  const grants = proxyMetrics().grants;
  return (req, res) => {
    const started = performance.now();
    // No abort when the caller disconnects: the IdP call is bounded by `timeoutMs` anyway, and for a
    // rotating refresh token an aborted call loses the new token exactly as an unread answer does.
    const ctx: ProxyContext = { req, res, audit: {} };

    const work: Promise<Answer> =
      req.method === 'POST' ? run(ctx) : Promise.reject(new MethodNotAllowedError());
    void work
      .catch((err: unknown): Answer => {
        if (err instanceof OAuthError) return errorAnswer(err, 'local');
        const e = err as { name?: string; message?: string } | null;
        config.log('error', `[express-oauth-kit] ${config.factory}: unexpected ${forLog(e?.name ?? 'error', 64)}: ${forLog(config.client.redact(e?.message ?? String(err)), 500)}`);
        return errorAnswer(new ServerError('Internal server error'), 'local');
      })
      .then((answer) => {
        if (res.headersSent || res.destroyed) return;
        send(res, answer);
        grants?.add(1, metricAttributes(endpoint, ctx, answer));
        report(config, endpoint, ctx, answer, started);
      })
      .catch((err: unknown) => {
        config.log('error', `[express-oauth-kit] ${config.factory}: could not send the answer: ${forLog(config.client.redact((err as Error)?.message ?? String(err)), 500)}`);
      });
  };
}

// Metric attributes must not let a caller (or an IdP) create unbounded series: only known values.
const GRANT_TYPES = new Set(['password', 'refresh_token', 'authorization_code', 'mfa_oob', 'http://auth0.com/oauth/grant-type/mfa-oob', 'urn:ietf:params:oauth:grant-type:token-exchange']);
const OAUTH_ERRORS = new Set([
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'access_denied',
  'mfa_required', 'server_error', 'temporarily_unavailable', 'slow_down', 'authorization_pending', 'expired_token', 'invalid_target',
]);

function metricAttributes(endpoint: ProxyResultEvent['endpoint'], ctx: ProxyContext, answer: Answer): Record<string, string | number> {
  const grant = ctx.audit.grantType;
  const error = answer.body.error;
  return {
    'oauthkit.proxy.endpoint': endpoint,
    'oauthkit.grant_type': grant === undefined ? 'none' : GRANT_TYPES.has(grant) ? grant : 'other',
    'oauthkit.outcome': typeof error !== 'string' ? 'success' : OAUTH_ERRORS.has(error) ? error : 'other',
    'oauthkit.source': answer.source,
    'http.response.status_code': answer.status,
  };
}

/** C0, DEL, C1, U+2028/2029: each could forge or split a line in the hook's log. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Caller-chosen text made safe for a log line: control characters become `?`, then bounded. */
function auditText(text: string, max: number): string {
  const t = text.replace(CONTROL, '?');
  return t.length > max ? t.slice(0, max) : t;
}

function report(config: ProxyConfig, endpoint: ProxyResultEvent['endpoint'], ctx: ProxyContext, answer: Answer, started: number): void {
  if (!config.onResult) return;
  const event: ProxyResultEvent = {
    endpoint,
    status: answer.status,
    source: answer.source,
    latencyMs: Math.round((performance.now() - started) * 10) / 10,
  };
  if (ctx.audit.grantType !== undefined) event.grantType = auditText(ctx.audit.grantType, 64);
  if (typeof answer.body.error === 'string') event.error = auditText(answer.body.error, 64);
  if (answer.idpStatus !== undefined) event.idpStatus = answer.idpStatus;
  if (ctx.audit.username !== undefined) event.username = auditText(ctx.audit.username, 256);
  if (typeof ctx.req.ip === 'string') event.ip = auditText(ctx.req.ip, 64);
  // Not awaited: the answer is already sent. A rejection is logged like a throw, never left unhandled.
  try {
    observeRejection(config.onResult(event), (err) => hookFailed(config, 'rejected', err));
  } catch (err) {
    hookFailed(config, 'threw', err);
  }
}

function hookFailed(config: ProxyConfig, how: 'threw' | 'rejected', err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  // config.log never throws (lib/log/operator-log.ts), so a broken logger cannot turn this into an unhandled rejection.
  config.log('warn', `[express-oauth-kit] ${config.factory}: onResult ${how}: ${forLog(config.client.redact(message), 500)}`);
}
