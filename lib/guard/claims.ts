import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { JWTPayload } from 'jose';
import { bearerChallenge } from '../bearer/challenge.js';
import { ConfigError } from '../errors/config-error.js';
import { LRUCache } from 'lru-cache';
import { InsufficientScopeError, InvalidTokenError, ServerError, TemporarilyUnavailableError } from '../errors/oauth-error.js';
import './types.js';

function forbidden(description: string, scopes: readonly string[] = []): InsufficientScopeError {
  const challenge = bearerChallenge({ error: 'insufficient_scope', errorDescription: description, scope: scopes });
  return new InsufficientScopeError(description, scopes, { 'WWW-Authenticate': challenge });
}

/**
 * Wraps a check on verified claims as middleware. Used without requireAuth() in front, it
 * answers a 500 that names the mistake rather than letting the route run unprotected.
 */
function guard(name: string, check: (payload: JWTPayload, scopes: readonly string[]) => InsufficientScopeError | undefined): RequestHandler {
  return function claimGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) {
      return next(new ServerError(`${name}() found no req.auth: mount requireAuth() before it (with authRequired: true) on this route`));
    }
    next(check(auth.payload, auth.scopes));
  };
}

function scopeList(name: string, scopes: string[]): string[] {
  if (scopes.length === 0 || scopes.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s))) {
    throw new ConfigError('config_options', `${name}() takes one or more scope names without spaces, e.g. ${name}('orders:read')`, 'require-auth.md#requirescopes-and-claim-helpers');
  }
  return scopes;
}

/** Passes only tokens granted every one of `scopes` (403 insufficient_scope otherwise). */
export function requireScopes(...scopes: string[]): RequestHandler {
  const required = scopeList('requireScopes', scopes);
  return guard('requireScopes', (_p, granted) => {
    const missing = required.filter((s) => !granted.includes(s));
    return missing.length ? forbidden(`The token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, required) : undefined;
  });
}

/** Passes tokens granted at least one of `scopes`. */
export function requireAnyScope(...scopes: string[]): RequestHandler {
  const accepted = scopeList('requireAnyScope', scopes);
  return guard('requireAnyScope', (_p, granted) =>
    accepted.some((s) => granted.includes(s)) ? undefined : forbidden(`The token needs one of the scopes ${accepted.join(', ')}`, accepted),
  );
}

/** A claim value claimEquals()/claimIncludes() compare with. */
export type JsonPrimitive = string | number | boolean | null;

/** Passes tokens whose `claim` equals `value` exactly. */
export function claimEquals(claim: string, value: JsonPrimitive): RequestHandler {
  if (typeof claim !== 'string' || claim === '') throw new ConfigError('config_options', 'claimEquals() needs a claim name', 'require-auth.md#requirescopes-and-claim-helpers');
  return guard('claimEquals', (payload) => (payload[claim] === value ? undefined : forbidden(`The token's "${claim}" claim does not have the required value`)));
}

/** Passes tokens whose `claim` (an array, or a space-separated string) contains every one of `values`. */
export function claimIncludes(claim: string, ...values: JsonPrimitive[]): RequestHandler {
  if (typeof claim !== 'string' || claim === '' || values.length === 0) {
    throw new ConfigError('config_options', 'claimIncludes() needs a claim name and at least one value', 'require-auth.md#requirescopes-and-claim-helpers');
  }
  return guard('claimIncludes', (payload) => {
    const raw = payload[claim];
    const have: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(' ') : [];
    return values.every((v) => have.includes(v)) ? undefined : forbidden(`The token's "${claim}" claim does not include the required values`);
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
   * Seconds an answer may be reused for the same token (never past its exp). A check that asks a
   * revocation list or tenant database can say how stale its answer may be.
   * @default 0 (asked on every request)
   */
  cacheFor?: number;
}

const CHECK_CACHE_ENTRIES = 10_000;

/**
 * Passes tokens for which `check(payload, req)` returns (or resolves to) true. Return a string
 * instead of false to choose the error description. A check that throws or rejects is answered
 * 503 temporarily_unavailable (its detail goes nowhere public), never as a pass and never a 500.
 * @example
 * ```ts
 * app.delete('/orders/:id', auth, claimCheck(async (claims) => !(await revoked(claims.jti)), { status: 401, cacheFor: 30 }));
 * ```
 */
export function claimCheck(
  check: (payload: Readonly<JWTPayload>, req: Request) => ClaimCheckResult | Promise<ClaimCheckResult>,
  options: string | ClaimCheckOptions = {},
): RequestHandler {
  if (typeof check !== 'function') throw new ConfigError('config_options', 'claimCheck() needs a function (payload) => boolean', 'require-auth.md#requirescopes-and-claim-helpers');
  const o = typeof options === 'string' ? { description: options } : options;
  const status = o.status ?? 403;
  if (status !== 401 && status !== 403) throw new ConfigError('config_options', 'claimCheck(): status must be 401 or 403', 'require-auth.md#requirescopes-and-claim-helpers');
  const cacheFor = o.cacheFor ?? 0;
  if (typeof cacheFor !== 'number' || !Number.isFinite(cacheFor) || cacheFor < 0) {
    throw new ConfigError('config_number', 'claimCheck(): cacheFor must be a number of seconds ≥ 0', 'require-auth.md#requirescopes-and-claim-helpers');
  }
  const fallback = o.description ?? "The token does not meet this route's requirements";
  const answers = cacheFor > 0 ? new LRUCache<string, ClaimCheckResult>({ max: CHECK_CACHE_ENTRIES, ttlAutopurge: false }) : undefined;

  const refuse = (result: ClaimCheckResult) => {
    const description = typeof result === 'string' ? result : fallback;
    if (status === 403) return forbidden(description);
    return new InvalidTokenError(description, { 'WWW-Authenticate': bearerChallenge({ error: 'invalid_token', errorDescription: description }) });
  };
  const finish = (next: NextFunction, result: unknown) => next(result === true ? undefined : refuse(typeof result === 'string' ? result : false));
  const failed = (next: NextFunction, err: unknown) => next(new TemporarilyUnavailableError('claimCheck() callback failed', { cause: err }));

  return function claimCheckGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) {
      return next(new ServerError('claimCheck() found no req.auth: mount requireAuth() before it (with authRequired: true) on this route'));
    }
    const known = answers?.get(auth.token);
    if (known !== undefined) return finish(next, known);
    let result: ClaimCheckResult | Promise<ClaimCheckResult>;
    try {
      result = check(auth.payload, req);
    } catch (err) {
      return failed(next, err);
    }
    const remember = (answer: ClaimCheckResult) => {
      if (answers === undefined || (typeof answer !== 'boolean' && typeof answer !== 'string')) return;
      const exp = typeof auth.payload.exp === 'number' ? auth.payload.exp * 1000 - Date.now() : 0;
      const ttl = Math.min(cacheFor * 1000, exp);
      if (ttl > 0) answers.set(auth.token, answer, { ttl });
    };
    if (result instanceof Promise || (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function')) {
      Promise.resolve(result).then(
        (answer) => {
          remember(answer);
          finish(next, answer);
        },
        (err) => failed(next, err),
      );
      return;
    }
    remember(result);
    finish(next, result);
  };
}

/**
 * Passes only tokens from the given issuers (for guards that accept several): e.g. staff-only
 * routes in an API that also serves customers. Others get 401 invalid_token.
 */
export function requireIssuer(...issuers: string[]): RequestHandler {
  if (issuers.length === 0 || issuers.some((i) => typeof i !== 'string' || i === '')) {
    throw new ConfigError('config_options', "requireIssuer() takes one or more issuer identifiers, e.g. requireIssuer('https://staff.example.com')", 'require-auth.md#requirescopes-and-claim-helpers');
  }
  return function requireIssuerGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) return next(new ServerError('requireIssuer() found no req.auth: mount requireAuth() before it on this route'));
    if (issuers.includes(auth.issuer)) return next();
    const description = 'Tokens from this issuer are not accepted on this route';
    next(new InvalidTokenError(description, { 'WWW-Authenticate': bearerChallenge({ error: 'invalid_token', errorDescription: description }) }));
  };
}
