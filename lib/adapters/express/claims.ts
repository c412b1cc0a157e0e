import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { challengeFor } from '../../bearer/challenge.js';
import * as clock from '../../clock.js';
import { ConfigError } from '../../errors/config-error.js';
import { InsufficientScopeError, InvalidTokenError, ServerError, TemporarilyUnavailableError } from '../../errors/oauth-error.js';
import { renamed } from '../../options/deprecated.js';
import { MAX_TIMER_MS, OptionChecker } from '../../options/validate.js';
import './types.js';

// The challenges use the realm and scheme of the requireAuth() that admitted the request: a
// token presented with DPoP is answered with a DPoP challenge (RFC 9449 §7.1).
function forbidden(req: Request, description: string, scopes: readonly string[] = []): InsufficientScopeError {
  const challenge = challengeFor(req, { error: 'insufficient_scope', errorDescription: description, scope: scopes });
  return new InsufficientScopeError(description, { requiredScopes: scopes, headers: { 'WWW-Authenticate': challenge } });
}

function invalidToken(req: Request, description: string): InvalidTokenError {
  return new InvalidTokenError(description, { headers: { 'WWW-Authenticate': challengeFor(req, { error: 'invalid_token', errorDescription: description }) } });
}

/**
 * Wraps a check on verified claims as middleware. Used without requireAuth() in front, it
 * answers a 500 that names the mistake rather than letting the route run unprotected.
 */
function guard(name: string, check: (payload: JWTPayload, scopes: readonly string[], req: Request) => InsufficientScopeError | undefined): RequestHandler {
  return function claimGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) {
      return next(new ServerError(`${name}() found no req.auth: mount requireAuth() before it (with authRequired: true) on this route`));
    }
    next(check(auth.payload, auth.scopes, req));
  };
}

function scopeList(name: string, scopes: string[]): string[] {
  if (scopes.length === 0 || scopes.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s))) {
    throw new ConfigError(`${name}() takes one or more scope names without spaces, e.g. ${name}('orders:read')`, { code: 'config_options', topic: 'require-auth.md#requirescopes-and-claim-helpers' });
  }
  return scopes;
}

/** Passes only tokens granted every one of `scopes` (403 insufficient_scope otherwise). */
export function requireScopes(...scopes: string[]): RequestHandler {
  const required = scopeList('requireScopes', scopes);
  return guard('requireScopes', (_p, granted, req) => {
    const missing = required.filter((s) => !granted.includes(s));
    return missing.length ? forbidden(req, `The token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, required) : undefined;
  });
}

/** Passes tokens granted at least one of `scopes`. */
export function requireAnyScope(...scopes: string[]): RequestHandler {
  const accepted = scopeList('requireAnyScope', scopes);
  return guard('requireAnyScope', (_p, granted, req) =>
    accepted.some((s) => granted.includes(s)) ? undefined : forbidden(req, `The token needs one of the scopes ${accepted.join(', ')}`, accepted),
  );
}

/** A claim value claimEquals()/claimIncludes() compare with. */
export type JsonPrimitive = string | number | boolean | null;

/** Passes tokens whose `claim` equals `value` exactly. */
export function claimEquals(claim: string, value: JsonPrimitive): RequestHandler {
  if (typeof claim !== 'string' || claim === '') throw new ConfigError('claimEquals() needs a claim name', { code: 'config_options', topic: 'require-auth.md#requirescopes-and-claim-helpers' });
  return guard('claimEquals', (payload, _s, req) => (payload[claim] === value ? undefined : forbidden(req, `The token's "${claim}" claim does not have the required value`)));
}

/** Passes tokens whose `claim` (an array, or a space-separated string) contains every one of `values`. */
export function claimIncludes(claim: string, ...values: JsonPrimitive[]): RequestHandler {
  if (typeof claim !== 'string' || claim === '' || values.length === 0) {
    throw new ConfigError('claimIncludes() needs a claim name and at least one value', { code: 'config_options', topic: 'require-auth.md#requirescopes-and-claim-helpers' });
  }
  return guard('claimIncludes', (payload, _s, req) => {
    const raw = payload[claim];
    const have: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(' ') : [];
    return values.every((v) => have.includes(v)) ? undefined : forbidden(req, `The token's "${claim}" claim does not include the required values`);
  });
}

/** What a claim check answers: true passes; false or a string (the description) refuses. */
export type ClaimCheckResult = boolean | string;

/** Options of {@link claimCheck}. */
export interface ClaimCheckOptions {
  /** Description sent when the check answers false. */
  description?: string;
  /**
   * Status of a refusal: 403 (insufficient_scope, the token is fine but not allowed here) or 401
   * (invalid_token, e.g. a revoked token).
   * @default 403
   */
  status?: 401 | 403;
  /**
   * Seconds an answer may be reused (never past the token's exp) for the same token and the same
   * request, as `cacheKey` says what "the same request" is. A check that asks a revocation list or
   * tenant database can say how stale its answer may be.
   * @default 0 (asked on every request)
   */
  cacheForSeconds?: number;
  /** @deprecated Use cacheForSeconds. */
  cacheFor?: number;
  /**
   * With `cacheForSeconds`: the part of the request the check's answer depends on, e.g.
   * `(req) => req.params.org` for a tenant-membership check. An answer is reused only for the same
   * token and the same key. Return a string; a check that reads nothing of the request can return `''`.
   * @default the method, Host and URL (path and query): `GET api.example.com /orgs/acme/invoices?page=2`
   */
  cacheKey?: (req: Request) => string;
  /**
   * Milliseconds an async check may take. One still pending then is answered like one that
   * failed (503 temporarily_unavailable with Retry-After), never as a pass: a revocation list or
   * tenant database that hangs must not hold requests (and their sockets) for ever.
   * @default 5000
   */
  timeoutMs?: number;
}

const claimCheckOptions = new OptionChecker('claimCheck()', 'require-auth.md#requirescopes-and-claim-helpers');

/** Answers kept per guard at most: a bound on memory whatever the traffic. */
const CHECK_CACHE_ENTRIES = 10_000;

/** A cached answer and the clock time (ms) it may be used until. */
interface Answer {
  result: ClaimCheckResult;
  until: number;
}

/**
 * Everything the request part leaves out of a cached answer that could matter, short of headers
 * and body: the method (a GET answer must not let the same token DELETE), the host (tenants by
 * subdomain), and the whole URL (route parameters and query).
 */
function requestKey(req: Request): string {
  return `${req.method} ${req.headers.host ?? ''} ${req.originalUrl}`;
}

/**
 * Cache key of an answer: a SHA-256 of the token and the request part, so the cache holds no
 * token and an entry's size does not depend on what a client sends. A token is b64token
 * characters only, so the newline cannot be forged into it to make two pairs collide.
 */
function answerKey(token: string, part: string): string {
  return createHash('sha256').update(token).update('\n').update(part).digest('base64url');
}

/**
 * Passes tokens for which `check(payload, req)` returns (or resolves to) true. Return a string
 * instead of false to choose the error description. A check that throws, rejects or does not
 * settle within `timeoutMs` (5 s) is answered 503 temporarily_unavailable with Retry-After (its
 * detail goes nowhere public), never as a pass and never a 500.
 * With `cacheForSeconds`, an answer is reused for the same token and the same request (method, host and
 * URL by default; `cacheKey` to say otherwise), never for the token alone.
 * @example
 * ```ts
 * app.delete('/orders/:id', auth, claimCheck(async (claims) => !(await revoked(claims.jti)), { status: 401, cacheForSeconds: 30, cacheKey: () => '' }));
 * ```
 */
export function claimCheck(
  check: (payload: Readonly<JWTPayload>, req: Request) => ClaimCheckResult | Promise<ClaimCheckResult>,
  options: string | ClaimCheckOptions = {},
): RequestHandler {
  const docs = 'require-auth.md#requirescopes-and-claim-helpers';
  if (typeof check !== 'function') throw new ConfigError('claimCheck() needs a function (payload) => boolean', { code: 'config_options', topic: docs });
  const o: ClaimCheckOptions = typeof options === 'string' ? { description: options } : renamed(claimCheckOptions, options, { cacheFor: 'cacheForSeconds' });
  const status = o.status ?? 403;
  if (status !== 401 && status !== 403) throw new ConfigError('claimCheck(): status must be 401 or 403', { code: 'config_options', topic: docs });
  const cacheFor = o.cacheForSeconds ?? 0;
  if (typeof cacheFor !== 'number' || !Number.isFinite(cacheFor) || cacheFor < 0) {
    throw new ConfigError('claimCheck(): cacheForSeconds must be a number of seconds ≥ 0', { code: 'config_number', topic: docs });
  }
  if (o.cacheKey !== undefined && typeof o.cacheKey !== 'function') {
    throw new ConfigError('claimCheck(): cacheKey must be a function (req) => string naming what the check reads of the request', { code: 'config_options', topic: docs });
  }
  const timeoutMs = o.timeoutMs ?? 5000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
    throw new ConfigError(`claimCheck(): timeoutMs must be a number of milliseconds > 0 and at most ${MAX_TIMER_MS} (got ${String(timeoutMs)})`, { code: 'config_number', topic: docs });
  }
  const keyOf = o.cacheKey ?? requestKey;
  const fallback = o.description ?? "The token does not meet this route's requirements";
  const answers = cacheFor > 0 ? new LRUCache<string, Answer>({ max: CHECK_CACHE_ENTRIES }) : undefined;

  const refuse = (req: Request, result: ClaimCheckResult) => {
    const description = typeof result === 'string' ? result : fallback;
    return status === 403 ? forbidden(req, description) : invalidToken(req, description);
  };
  const finish = (req: Request, next: NextFunction, result: unknown) => next(result === true ? undefined : refuse(req, typeof result === 'string' ? result : false));
  const failed = (next: NextFunction, err: unknown) => next(new TemporarilyUnavailableError('claimCheck() callback failed', { cause: err }));

  return function claimCheckGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) {
      return next(new ServerError('claimCheck() found no req.auth: mount requireAuth() before it (with authRequired: true) on this route'));
    }
    let key: string | undefined;
    if (answers !== undefined) {
      let part: unknown;
      try {
        part = keyOf(req);
      } catch (err) {
        return failed(next, err);
      }
      if (typeof part !== 'string') return next(new ServerError('claimCheck(): cacheKey(req) must return a string'));
      key = answerKey(auth.token, part);
      const known = answers.get(key);
      if (known !== undefined) {
        if (clock.now() < known.until) return finish(req, next, known.result);
        answers.delete(key);
      }
    }
    let result: ClaimCheckResult | Promise<ClaimCheckResult>;
    try {
      result = check(auth.payload, req);
    } catch (err) {
      return failed(next, err);
    }
    const remember = (answer: ClaimCheckResult) => {
      if (key === undefined || (typeof answer !== 'boolean' && typeof answer !== 'string')) return;
      const now = clock.now();
      const until = Math.min(now + cacheFor * 1000, typeof auth.payload.exp === 'number' ? auth.payload.exp * 1000 : now);
      if (until > now) answers!.set(key, { result: answer, until });
    };
    if (result instanceof Promise || (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function')) {
      // Whichever comes first answers; the other is dropped (next() must run once). A late answer
      // is still remembered when caching: it is as true as a timely one, and the next request needs it.
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        next(new TemporarilyUnavailableError(`claimCheck() callback did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      Promise.resolve(result).then(
        (answer) => {
          clearTimeout(timer);
          remember(answer);
          if (settled) return;
          settled = true;
          finish(req, next, answer);
        },
        (err) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          failed(next, err);
        },
      );
      return;
    }
    remember(result);
    finish(req, next, result);
  };
}

/**
 * Passes only tokens from the given issuers (for guards that accept several): e.g. staff-only
 * routes in an API that also serves customers. Others get 401 invalid_token.
 */
export function requireIssuer(...issuers: string[]): RequestHandler {
  if (issuers.length === 0 || issuers.some((i) => typeof i !== 'string' || i === '')) {
    throw new ConfigError("requireIssuer() takes one or more issuer identifiers, e.g. requireIssuer('https://staff.example.com')", { code: 'config_options', topic: 'require-auth.md#requirescopes-and-claim-helpers' });
  }
  return function requireIssuerGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) return next(new ServerError('requireIssuer() found no req.auth: mount requireAuth() before it on this route'));
    if (issuers.includes(auth.issuer)) return next();
    const description = 'Tokens from this issuer are not accepted on this route';
    next(invalidToken(req, description));
  };
}
