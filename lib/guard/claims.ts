import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { JWTPayload } from 'jose';
import { bearerChallenge } from '../bearer/challenge.js';
import { ConfigError } from '../errors/config-error.js';
import { InsufficientScopeError, ServerError } from '../errors/oauth-error.js';
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
    throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${name}() takes one or more scope names without spaces, e.g. ${name}('orders:read')`, 'requirescopes-and-claim-helpers');
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

type JsonPrimitive = string | number | boolean | null;

/** Passes tokens whose `claim` equals `value` exactly. */
export function claimEquals(claim: string, value: JsonPrimitive): RequestHandler {
  if (typeof claim !== 'string' || claim === '') throw new ConfigError('ERR_OAUTHKIT_OPTIONS', 'claimEquals() needs a claim name', 'requirescopes-and-claim-helpers');
  return guard('claimEquals', (payload) => (payload[claim] === value ? undefined : forbidden(`The token's "${claim}" claim does not have the required value`)));
}

/** Passes tokens whose `claim` (an array, or a space-separated string) contains every one of `values`. */
export function claimIncludes(claim: string, ...values: JsonPrimitive[]): RequestHandler {
  if (typeof claim !== 'string' || claim === '' || values.length === 0) {
    throw new ConfigError('ERR_OAUTHKIT_OPTIONS', 'claimIncludes() needs a claim name and at least one value', 'requirescopes-and-claim-helpers');
  }
  return guard('claimIncludes', (payload) => {
    const raw = payload[claim];
    const have: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(' ') : [];
    return values.every((v) => have.includes(v)) ? undefined : forbidden(`The token's "${claim}" claim does not include the required values`);
  });
}

/**
 * Passes tokens for which `check(payload)` returns true. Return a string instead of false to
 * choose the error description. A check that throws is answered as a 500, not as a pass.
 */
export function claimCheck(check: (payload: JWTPayload, req: Request) => boolean | string, description = 'The token does not meet this route\'s requirements'): RequestHandler {
  if (typeof check !== 'function') throw new ConfigError('ERR_OAUTHKIT_OPTIONS', 'claimCheck() needs a function (payload) => boolean', 'requirescopes-and-claim-helpers');
  return function claimCheckGuard(req: Request, _res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth === undefined) {
      return next(new ServerError('claimCheck() found no req.auth: mount requireAuth() before it (with authRequired: true) on this route'));
    }
    let result: boolean | string;
    try {
      result = check(auth.payload, req);
    } catch (err) {
      return next(new ServerError('claimCheck() callback threw', { cause: err }));
    }
    next(result === true ? undefined : forbidden(typeof result === 'string' ? result : description));
  };
}
