/**
 * RFC 6750 §3 `WWW-Authenticate: Bearer` and RFC 9449 §7.1 `DPoP` challenges, built in one place
 * for the guard and the helpers after it (requireScopes, claimCheck, requireIssuer).
 *
 * Attribute values are RFC 9110 §5.6.4 quoted-strings: '"' and '\' are backslash-escaped, so a
 * description such as `invalid "iat" claim` parses back to itself. RFC 6750 §3 asks descriptions
 * to avoid those two characters altogether; replacing them (the old behaviour) turned the message
 * into `invalid ?iat? claim`, and any RFC 9110 auth-param parser unescapes a quoted-pair. Other
 * characters outside printable ASCII (controls, which would also split a header, and non-ASCII,
 * which Node refuses in a header) cannot appear even escaped, so they are replaced with '?'.
 */
export interface ChallengeParams {
  realm?: string;
  error?: string;
  errorDescription?: string;
  scope?: readonly string[];
  /** RFC 9470 §3: the `acr` values that would do, most preferred first (step-up). */
  acrValues?: readonly string[];
  /** RFC 9470 §3: the most seconds since the user's last active authentication that would do. */
  maxAge?: number;
  /** RFC 9728 §5.1: the URL of the resource's protected-resource metadata document. */
  resourceMetadata?: string;
}

function quoted(value: string): string {
  return `"${value.replace(/[^\x20-\x7E]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

export function bearerChallenge(params: ChallengeParams): string {
  return challenge('Bearer', params);
}

/** RFC 9449 §7.1: the same attributes under the DPoP scheme, plus the proof algorithms accepted. */
export function dpopChallenge(params: ChallengeParams & { algs: string }): string {
  return challenge('DPoP', params);
}

function challenge(scheme: string, { realm, error, errorDescription, scope, acrValues, maxAge, algs, resourceMetadata }: ChallengeParams & { algs?: string }): string {
  const attrs: string[] = [];
  if (realm !== undefined) attrs.push(`realm=${quoted(realm)}`);
  if (error !== undefined) attrs.push(`error=${quoted(error)}`);
  if (errorDescription !== undefined) attrs.push(`error_description=${quoted(errorDescription)}`);
  if (scope !== undefined && scope.length > 0) attrs.push(`scope=${quoted(scope.join(' '))}`);
  // Quoted like RFC 9470's own example (max_age="5"): auth-param values may be token or quoted-string.
  if (acrValues !== undefined && acrValues.length > 0) attrs.push(`acr_values=${quoted(acrValues.join(' '))}`);
  if (maxAge !== undefined) attrs.push(`max_age=${quoted(String(maxAge))}`);
  if (algs !== undefined) attrs.push(`algs=${quoted(algs)}`);
  if (resourceMetadata !== undefined) attrs.push(`resource_metadata=${quoted(resourceMetadata)}`);
  return attrs.length ? `${scheme} ${attrs.join(', ')}` : scheme;
}

/**
 * How the requireAuth() that verified a token challenges: its realm, the DPoP proof algorithms it
 * accepts, and the URL of its protected-resource metadata when it has one.
 */
export interface ChallengeContext {
  realm: string;
  /** The proof algorithms the guard accepts, the DPoP challenge's `algs`. */
  algs: string;
  /**
   * Seconds of the issuer's `clockToleranceSeconds`, so a time check after the guard (requireAcr's
   * `maxAgeSeconds` against `auth_time`) allows the same skew as the guard's own `exp`/`iat` checks.
   */
  clockTolerance?: number;
  /** RFC 9728 §5.1 `resource_metadata`, so a 403 insufficient_scope tells the client where to look too. */
  resourceMetadata?: string;
}

/**
 * Where the guard that verified `req.auth` keeps its context: a property of the prototype of
 * `req.auth.extra` (lib/guard/verified-token.ts tokenShape), one per issuer of a guard. Not own,
 * not enumerable, so it shows nowhere the application looks; written once per guard, so nothing
 * is written per request or per verification (a WeakMap entry per request, and later per
 * verification, each cost CPU in a loaded server: bench/README.md).
 */
export const GUARD_CONTEXT: unique symbol = Symbol('express-oauth-kit guard context');

// The contexts guards made (one per issuer of a guard, so never one per token or request). Reading
// extra[GUARD_CONTEXT] runs whatever extra is: an application may have replaced it with a Proxy or
// an object with getters, which can throw or answer anything. Only a context found here is used.
const madeByGuards = new WeakSet<object>();

/** A guard's context as tokenShape() puts it behind `extra`: frozen, and known to guardContext(). */
export function sealContext(context: ChallengeContext): Readonly<ChallengeContext> {
  const sealed = Object.freeze({ ...context });
  madeByGuards.add(sealed);
  return sealed;
}

/** The context of the guard whose verification `req.auth` holds; undefined when req.auth was set by other code. */
export function guardContext(req: object): ChallengeContext | undefined {
  let context: unknown;
  try {
    const extra = (req as { auth?: { extra?: unknown } }).auth?.extra;
    if (typeof extra !== 'object' || extra === null) return undefined;
    context = (extra as { [GUARD_CONTEXT]?: unknown })[GUARD_CONTEXT];
  } catch {
    // Not the guard's extra (a revoked Proxy, a throwing getter): no context, and no 500 from a helper.
    return undefined;
  }
  // WeakSet.has() runs no code of the object it is given, a Proxy's included.
  return typeof context === 'object' && context !== null && madeByGuards.has(context) ? (context as ChallengeContext) : undefined;
}

/**
 * The challenge for a refusal after requireAuth() admitted `req`: the realm of the guard whose
 * verification `req.auth` holds, in the scheme the token came with (`req.auth.dpop` is set only
 * for `Authorization: DPoP`, RFC 9449 §7.1). Without a guard's context (req.auth set by other
 * code) a plain Bearer challenge.
 */
export function challengeFor(req: object, params: Omit<ChallengeParams, 'realm' | 'resourceMetadata'>): string {
  const context = guardContext(req);
  if (context === undefined) return bearerChallenge(params);
  const auth = (req as { auth: { dpop?: unknown } }).auth;
  const { realm, resourceMetadata } = context;
  if (auth.dpop !== undefined) return dpopChallenge({ ...params, realm, algs: context.algs, resourceMetadata });
  return bearerChallenge({ ...params, realm, resourceMetadata });
}
