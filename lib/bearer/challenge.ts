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

// Keyed by the payload object of a verification: the guard makes one per verification, every
// request answered from the cache for that token shares it, and req.auth.payload is it. So the
// entry is written once per verification, not per request (a WeakMap entry keyed by each new
// request object cost CPU on every cached request of a loaded server: bench/README.md), and
// nothing shows on req or req.auth. (Tried and undone: the context on the prototype of
// req.auth.extra, ~0.9 µs cheaper per new token, but it changed what extra is to an application
// and was lost when an application replaced extra: bench/README.md, point 10.)
const contexts = new WeakMap<object, ChallengeContext>();

/** Called by requireAuth() for each token it verifies, so the helpers after it challenge alike. */
export function rememberChallenge(payload: object, context: ChallengeContext): void {
  contexts.set(payload, context);
}

/** The context of the guard whose verification `req.auth` holds; undefined when req.auth was set by other code. */
export function guardContext(req: object): ChallengeContext | undefined {
  const payload = (req as { auth?: { payload?: unknown } }).auth?.payload;
  return typeof payload === 'object' && payload !== null ? contexts.get(payload) : undefined;
}

/**
 * The challenge for a refusal after requireAuth() admitted `req`: the realm of the guard whose
 * verification `req.auth` holds, in the scheme the token came with (`req.auth.dpop` is set only
 * for `Authorization: DPoP`, RFC 9449 §7.1). Without a guard's context (req.auth set by other
 * code) a plain Bearer challenge.
 */
export function challengeFor(req: object, params: Omit<ChallengeParams, 'realm' | 'resourceMetadata'>): string {
  const auth = (req as { auth?: { payload?: unknown; dpop?: unknown } }).auth;
  const payload = auth?.payload;
  const context = typeof payload === 'object' && payload !== null ? contexts.get(payload) : undefined;
  if (context === undefined) return bearerChallenge(params);
  const { realm, resourceMetadata } = context;
  if (auth!.dpop !== undefined) return dpopChallenge({ ...params, realm, algs: context.algs, resourceMetadata });
  return bearerChallenge({ ...params, realm, resourceMetadata });
}
