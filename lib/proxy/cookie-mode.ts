import type { Request, Response } from 'express';
import { AccessDeniedError, InvalidRequestError } from '../errors/oauth-error.js';
import { OptionChecker } from '../options/validate.js';

/**
 * Refresh-token cookie mode. The refresh token is the long-lived credential; kept in an HttpOnly
 * cookie, script injected into the page (XSS) cannot read it, only use it through this proxy,
 * and the proxy only accepts such use from allowed origins carrying a header that a cross-site
 * form or image cannot send.
 */
export interface RefreshCookieOptions {
  /**
   * Origins of the front end allowed to use the cookie, exactly as browsers send them in `Origin`
   * (`https://app.example.com`, no path). Required: the CSRF defence depends on it.
   */
  allowedOrigins: string[];
  /**
   * Cookie path. `/` permits the `__Host-` prefix (no Domain, Secure, Path=/: a sibling subdomain
   * cannot plant or overwrite the cookie) at the price of the browser sending the cookie with
   * every request to this origin. A narrower path such as `/auth` keeps it away from other routes
   * (and their logs) but only allows the weaker `__Secure-` prefix.
   * @default '/'
   */
  path?: string;
  /**
   * Cookie name.
   * @default '__Host-oauth_refresh' with path `/`, else '__Secure-oauth_refresh'
   */
  name?: string;
  /**
   * Lifetime in seconds, 1 to 34560000 (400 days, the longest browsers keep a cookie).
   * @default the IdP's `refresh_expires_in` / `refresh_token_expires_in` (a number or a string of digits) clamped to that range, else a session cookie (gone when the browser closes)
   */
  maxAgeSeconds?: number;
  /** @deprecated Use maxAgeSeconds (same unit, seconds). */
  maxAge?: number;
  /**
   * Header a request relying on the cookie must carry (any non-empty value): a cross-site form or
   * image cannot send it.
   * @default 'x-csrf-token'
   */
  csrfHeader?: string;
}

export interface CookieConfig {
  name: string;
  path: string;
  maxAge: number | undefined;
  csrfHeader: string;
  allowedOrigins: ReadonlySet<string>;
}

/** RFC 6265bis §5.5: user agents cap Max-Age at 400 days. */
export const MAX_COOKIE_AGE = 400 * 24 * 3600;

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const COOKIE_KEYS = { allowedOrigins: true, path: true, name: true, maxAgeSeconds: true, csrfHeader: true, maxAge: true } as const satisfies Record<keyof RefreshCookieOptions, true>;

/** Old names inside `cookie` (CHANGELOG.md, "Option names"), moved by the factories before any check. */
export const COOKIE_RENAMES: Readonly<Record<string, string>> = { maxAge: 'maxAgeSeconds' };

export function resolveCookieOptions(options: RefreshCookieOptions, factory: string): CookieConfig {
  const check: OptionChecker = new OptionChecker(`${factory}()`, 'token-proxy.md#refresh-token-cookie-mode');
  const bad = (msg: string): never => check.fail('config_cookie', `cookie.${msg}`);
  if (!options || typeof options !== 'object' || Array.isArray(options)) bad("is an object such as { allowedOrigins: ['https://app.example.com'] }");
  // A misspelt maxAgeSeconds or csrfHeader would otherwise silently fall back to its default.
  check.knownKeys(options, Object.keys(COOKIE_KEYS), {}, 'cookie.', COOKIE_RENAMES);
  const origins = options.allowedOrigins;
  if (!Array.isArray(origins) || origins.length === 0) {
    bad("allowedOrigins is required: list the front end's origins, e.g. ['https://app.example.com']");
  }
  for (const o of origins) {
    let origin: string | undefined;
    try {
      origin = new URL(o).origin;
    } catch {
      origin = undefined;
    }
    if (typeof o !== 'string' || origin !== o) {
      bad(`allowedOrigins entry "${String(o)}" is not an origin; write scheme://host[:port] with no path or trailing slash`);
    }
  }
  const path = options.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/') || /[;\s\x00-\x1f\x7f]/.test(path)) {
    bad(`path must start with "/" and hold no ";", spaces or control characters (got "${String(path)}")`);
  }
  const name = options.name ?? (path === '/' ? '__Host-oauth_refresh' : '__Secure-oauth_refresh');
  if (typeof name !== 'string' || !TOKEN_CHARS.test(name)) bad(`name "${String(name)}" is not a valid cookie name`);
  if (name.startsWith('__Host-') && path !== '/') {
    bad(`name "${name}" uses the __Host- prefix, which browsers accept only with path "/"; use path "/" or a __Secure- name`);
  }
  const maxAge = options.maxAgeSeconds;
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge <= 0 || maxAge > MAX_COOKIE_AGE)) {
    bad(`maxAgeSeconds must be a whole number of seconds from 1 to ${MAX_COOKIE_AGE} (400 days) (got ${String(maxAge)})`);
  }
  const csrfHeader = options.csrfHeader ?? 'x-csrf-token';
  if (typeof csrfHeader !== 'string' || !TOKEN_CHARS.test(csrfHeader)) bad(`csrfHeader "${String(csrfHeader)}" is not a valid header name`);
  return { name, path, maxAge, csrfHeader: csrfHeader.toLowerCase(), allowedOrigins: new Set(origins) };
}

/**
 * The CSRF gate for every request in cookie mode. `Origin` is sent by browsers on every POST; a
 * custom header cannot be added cross-site without a CORS preflight this server would refuse.
 * Both are required so an old browser that omits one is still covered by the other.
 */
export function assertSameOriginRequest(req: Request, cookie: CookieConfig): void {
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || !cookie.allowedOrigins.has(origin)) {
    throw new AccessDeniedError(origin ? `Origin ${origin.slice(0, 100)} is not allowed to use this endpoint` : 'The Origin header is required');
  }
  const csrf = req.headers[cookie.csrfHeader];
  if (typeof csrf !== 'string' || csrf.trim() === '') {
    throw new AccessDeniedError(`The ${cookie.csrfHeader} header is required`);
  }
}

/** The refresh token from the cookie, or undefined when there is none. */
export function readRefreshCookie(req: Request, cookie: CookieConfig): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== cookie.name) continue;
    values.push(part.slice(eq + 1).trim());
  }
  // Two cookies of the same name mean one was planted (e.g. a broader path); using either is a guess.
  if (values.length > 1) throw new InvalidRequestError(`The ${cookie.name} cookie was sent more than once`);
  if (values.length === 0 || values[0] === '') return undefined;
  try {
    return decodeURIComponent(values[0]!);
  } catch {
    throw new InvalidRequestError(`The ${cookie.name} cookie is malformed`);
  }
}

function serialize(cookie: CookieConfig, value: string, maxAge: number | undefined): string {
  const parts = [`${cookie.name}=${value}`, `Path=${cookie.path}`, 'HttpOnly', 'Secure', 'SameSite=Strict'];
  if (maxAge !== undefined) parts.push(`Max-Age=${maxAge}`);
  if (maxAge === 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  return parts.join('; ');
}

/**
 * The cookie's Max-Age from the IdP's answer: a finite number, or a string of decimal digits,
 * floored and clamped to 1 … 400 days (never 0, which would delete the cookie at once, and never
 * an exponent form browsers do not parse). Anything else (negative, "Infinity", garbage): a session cookie.
 */
export function lifetime(cookie: CookieConfig, body: Record<string, unknown>): number | undefined {
  if (cookie.maxAge !== undefined) return cookie.maxAge;
  for (const key of ['refresh_expires_in', 'refresh_token_expires_in']) {
    const raw = body[key];
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,20}(\.\d{1,20})?$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isFinite(v) || v < 0) continue;
    return Math.min(MAX_COOKIE_AGE, Math.max(1, Math.floor(v)));
  }
  return undefined;
}

/** `refresh_token`, `refreshToken`, `Refresh-Token`…: every spelling a script could read. */
const REFRESH_KEY = /^refresh[-_]?token$/i;

/** A copy of `value` without any refresh-token member at any depth (arrays included). */
function withoutRefreshTokens(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  // A deeper structure is not a token answer; dropping it is safer than walking it forever.
  if (depth > 8) return undefined;
  if (Array.isArray(value)) return value.map((v) => withoutRefreshTokens(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (REFRESH_KEY.test(k)) continue;
    // defineProperty: a JSON "__proto__" member stays data, never the copy's prototype.
    Object.defineProperty(out, k, { value: withoutRefreshTokens(v, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Moves a refresh token from an IdP answer into the cookie and strips every other refresh-token
 * member (camelCase spellings, nested objects) from what the page receives. The top-level
 * `refresh_token` (RFC 6749 §5.1) is the one stored; the field is removed even when empty (EIAM's
 * password grant sends `""`), so the browser-visible shape is stable.
 */
export function moveRefreshTokenToCookie(res: Response, cookie: CookieConfig, body: Record<string, unknown>): Record<string, unknown> {
  const token = body.refresh_token;
  if (typeof token === 'string' && token !== '') {
    res.append('Set-Cookie', serialize(cookie, encodeURIComponent(token), lifetime(cookie, body)));
  }
  return withoutRefreshTokens(body) as Record<string, unknown>;
}

/** For answers that are not stored in the cookie (errors): the page still gets no refresh token. */
export function stripRefreshTokens(body: Record<string, unknown>): Record<string, unknown> {
  return withoutRefreshTokens(body) as Record<string, unknown>;
}

export function clearRefreshCookie(res: Response, cookie: CookieConfig): void {
  res.append('Set-Cookie', serialize(cookie, '', 0));
}
