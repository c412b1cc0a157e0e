/**
 * RFC 9470 step-up: a route that needs a stronger (`acr`) or more recent (`auth_time`) sign-in
 * than the token shows answers 401 `insufficient_user_authentication`, and the challenge says what
 * would do. Framework-free: `requireAcr()` (Express) is a thin adapter over {@link acrCheck}.
 */
import { challengeFor, guardContext } from '../bearer/challenge.js';
import * as clock from '../clock.js';
import { InsufficientUserAuthenticationError } from '../errors/step-up-errors.js';
import { OptionChecker } from '../options/validate.js';
import type { AuthResult } from './types.js';

/** Options of `requireAcr()` and {@link acrCheck}. */
export interface AcrOptions {
  /**
   * Also require that the user actively authenticated at most this many seconds ago, by the
   * token's `auth_time` (RFC 9470 `max_age`). A token without a numeric `auth_time` is refused.
   * The issuer's `clockToleranceSeconds` applies, as for `exp`.
   * @default no limit: the token's `auth_time` is not read
   */
  maxAgeSeconds?: number;
}

/**
 * A compiled step-up requirement: undefined when the verified token meets it, otherwise the
 * error to answer with (its `status`, `headers` and `toJSON()` are the whole answer). No token at
 * all (`null` or `undefined`, what an adapter answers under `authRequired: false`) is refused too.
 */
export type AcrCheck = (auth: Pick<AuthResult, 'payload' | 'dpop'> | null | undefined) => InsufficientUserAuthenticationError | undefined;

const DOCS = 'require-auth.md#requireacr-step-up';

/** RFC 9470 `acr_values` is a space-separated list in a quoted-string: a value must survive it unchanged. */
const ACR_VALUE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Checks the arguments once, at start-up; `factory` names the caller in ConfigError messages. */
export function compileAcrCheck(factory: string, acrValues: unknown, options: unknown): AcrCheck {
  const check = new OptionChecker(`${factory}()`, DOCS);
  const list: unknown[] = typeof acrValues === 'string' ? [acrValues] : Array.isArray(acrValues) ? [...(acrValues as unknown[])] : [];
  if (list.length === 0 || list.some((v) => typeof v !== 'string' || !ACR_VALUE.test(v))) {
    check.fail(
      'config_options',
      `takes one or more acr values (printable ASCII, no spaces, quotes or backslashes), most preferred first, e.g. ${factory}(['urn:example:acr:mfa'])`,
    );
  }
  const accepted = Object.freeze([...new Set(list as string[])]);
  const o = check.object(options === undefined ? {} : options, `e.g. ${factory}(['urn:example:acr:mfa'], { maxAgeSeconds: 300 })`);
  check.knownKeys(o, ['maxAgeSeconds'], { maxAge: 'maxAgeSeconds', max_age: 'maxAgeSeconds' });
  const maxAge = check.number((o as AcrOptions).maxAgeSeconds, 'maxAgeSeconds', undefined, { integer: true });
  return (auth) => refusal(auth, accepted, maxAge);
}

/**
 * Why the token falls short, or undefined when it does not. Never echoes a claim's value (it is
 * the client's own data, and may be huge), and no quotes: RFC 6750 §3 keeps them out of descriptions.
 */
function shortfall(holder: { auth: Pick<AuthResult, 'payload'> }, accepted: readonly string[], maxAge: number | undefined): string | undefined {
  const payload = holder.auth.payload as Readonly<Record<string, unknown>>;
  const acr = payload.acr;
  if (typeof acr !== 'string') return 'A stronger authentication is required: the token has no acr claim, or not a string';
  if (!accepted.includes(acr)) return "A stronger authentication is required: the token's acr claim is not one this route accepts";
  if (maxAge === undefined) return undefined;
  const authTime = payload.auth_time;
  if (typeof authTime !== 'number' || !Number.isFinite(authTime)) return 'A recent authentication is required: the token has no numeric auth_time claim';
  // The skew the guard allowed for exp and iat of this token's issuer; none for an AuthResult no guard made.
  const tolerance = guardContext(holder)?.clockTolerance ?? 0;
  const now = clock.now() / 1000;
  if (authTime > now + tolerance) return "A recent authentication is required: the token's auth_time claim is in the future";
  if (now - authTime - tolerance > maxAge) return 'A more recent authentication is required';
  return undefined;
}

function refusal(auth: Pick<AuthResult, 'payload' | 'dpop'> | null | undefined, accepted: readonly string[], maxAge: number | undefined): InsufficientUserAuthenticationError | undefined {
  // challengeFor() and guardContext() read a request's `auth`: any object with one will do.
  const holder = { auth: auth ?? undefined };
  // No token (an adapter's null under authRequired: false): a step-up route never lets it through,
  // as requireAcr() never does; the challenge still says which sign-in would do.
  const description = holder.auth === undefined ? 'A stronger authentication is required: the request has no access token' : shortfall(holder as { auth: Pick<AuthResult, 'payload'> }, accepted, maxAge);
  if (description === undefined) return undefined;
  // Every requirement of the route, not only the one that failed: a client re-authenticating for
  // max_age alone could come back with a weaker acr and be refused again.
  const challenge = challengeFor(holder, { error: 'insufficient_user_authentication', errorDescription: description, acrValues: accepted, maxAge });
  return new InsufficientUserAuthenticationError(description, { acrValues: accepted, maxAgeSeconds: maxAge, headers: { 'WWW-Authenticate': challenge } });
}

/**
 * The step-up check without a framework, for {@link createGuard} with {@link webAuth},
 * {@link nodeAuth} or your own adapter: passes (undefined) only a verified token whose `acr` is one
 * of `acrValues` and, with `maxAgeSeconds`, whose `auth_time` is recent enough; otherwise the 401
 * `insufficient_user_authentication` error (RFC 9470) to answer with, its challenge in the
 * guard's realm and scheme (`DPoP` for a DPoP-bound presentation). Arguments are checked here,
 * once: a mistake throws a ConfigError.
 *
 * @param acrValues - the accepted `acr` values, most preferred first (the challenge lists them in this order).
 * @example
 * ```ts
 * import { acrCheck, createGuard, webAuth } from 'express-oauth-kit';
 *
 * const auth = webAuth(createGuard({ issuer: 'https://idp.example.com', audience: 'https://api.example.com' }));
 * const mfa = acrCheck(['urn:example:acr:mfa'], { maxAgeSeconds: 600 });
 * export async function POST(request: Request): Promise<Response> {
 *   const result = await auth(request);
 *   if (result instanceof Response) return result;
 *   const refused = mfa(result); // null (no token, under authRequired: false) is refused too
 *   if (refused) return Response.json(refused.toJSON(), { status: refused.status, headers: refused.headers });
 *   return Response.json({ paid: true });
 * }
 * ```
 */
export function acrCheck(acrValues: string | readonly string[], options?: AcrOptions): AcrCheck {
  return compileAcrCheck('acrCheck', acrValues, options);
}
