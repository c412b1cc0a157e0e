import type { InvalidRequestError } from '../errors/oauth-error.js';
import { isCompactJws } from '../jwt/compact.js';
import type { GuardRequest } from './guard-request.js';

export type TokenLocation = 'header' | 'body' | 'query';

export interface ExtractOptions {
  /** Where a token may come from. RFC 6750 §2: the header is the one to use; the others are opt-in. */
  locations: readonly TokenLocation[];
  /** Accept `Authorization: DPoP <token>` too (RFC 9449). */
  dpop?: boolean;
  /** A cookie that may carry the token. */
  cookie?: string;
  /** The application's own lookup, one more place. */
  getToken?: (req: never) => string | undefined;
  /** Longest token accepted before any parsing. */
  maxLength: number;
  /** Builds the error (with the realm's challenge header) for a malformed request. */
  invalidRequest: (description: string) => InvalidRequestError;
}

/**
 * RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, the scheme case-insensitive (RFC 9110
 * §11.1). The length of the scheme when the header starts with "Bearer" (or, when accepted,
 * "DPoP") followed by a space or nothing; 0 for any other scheme. Compared by character code: it
 * runs on every request, before the token is looked at.
 */
function schemeLength(header: string, dpop: boolean): number {
  const n = startsWithWord(header, 'bearer') ? 6 : dpop && startsWithWord(header, 'dpop') ? 4 : 0;
  return n > 0 && (header.length === n || header.charCodeAt(n) === 0x20) ? n : 0;
}

/** Whether `value` starts with `word` (lowercase letters only), ignoring ASCII case. */
function startsWithWord(value: string, word: string): boolean {
  if (value.length < word.length) return false;
  // For letters, setting bit 0x20 maps upper case to lower case and nothing else onto them.
  for (let i = 0; i < word.length; i++) if ((value.charCodeAt(i) | 0x20) !== word.charCodeAt(i)) return false;
  return true;
}

/** A token and how it was presented: `dpop` only for `Authorization: DPoP` (RFC 9449 §7.1). */
export interface Credentials {
  token: string;
  scheme: 'bearer' | 'dpop';
}

/** What extraction reads of a request (the test corpus passes only headers). */
type TokenSource = Pick<GuardRequest, 'headers' | 'rawHeaders' | 'query' | 'body' | 'url' | 'native'>;

function field(source: unknown, name: string): unknown {
  if (source === null || typeof source !== 'object') return undefined;
  return Object.prototype.hasOwnProperty.call(source, name) ? (source as Record<string, unknown>)[name] : undefined;
}

/**
 * Finds the token of a request and how it was presented, or undefined when none was sent. Throws
 * `invalid_request` for a malformed header, a token sent twice, or more than one method at once
 * (RFC 6750 §2). A non-Bearer Authorization header (Basic …) counts as "no bearer token"; DPoP
 * counts only when `options.dpop` is set.
 */
export function extractCredentials(req: TokenSource, options: ExtractOptions): Credentials | undefined {
  const found: string[] = [];
  let scheme: Credentials['scheme'] = 'bearer';
  let header = req.headers.authorization;
  if (typeof header !== 'string' && header !== undefined) {
    // Only an adapter that keeps repeated headers as a list gets here.
    if (header.length > 1) throw options.invalidRequest('The request has more than one Authorization header; send exactly one');
    header = header[0];
  }
  // Node keeps the first of two Authorization headers; a proxy in front may act on the other.
  if (header !== undefined && authorizationHeaders(req.rawHeaders) > 1) {
    throw options.invalidRequest('The request has more than one Authorization header; send exactly one');
  }
  const schemeEnd = header === undefined ? -1 : schemeLength(header, options.dpop === true);
  if (schemeEnd > 0) {
    let start = schemeEnd;
    while (header!.charCodeAt(start) === 0x20) start += 1;
    const token = header!.slice(start);
    if (start === schemeEnd || !isB64Token(token)) {
      throw options.invalidRequest(
        `The Authorization header is malformed: expected "${options.dpop ? 'Bearer or DPoP' : 'Bearer'} <token>" with exactly one token of base64url/b64token characters`,
      );
    }
    if (schemeEnd === 4) scheme = 'dpop';
    // Copied when more than one space follows the scheme (1*SP): a header padded with ~12 KiB of
    // spaces would otherwise be what a cached token keeps alive. The usual single space costs nothing.
    found.push(start === schemeEnd + 1 ? token : detached(token));
  }
  if (options.locations.length > 1) {
    for (const location of options.locations) {
      if (location === 'header') continue;
      const value = field(location === 'body' ? req.body : (req.query ?? queryOf(req.url)), 'access_token');
      if (value === undefined) continue;
      if (typeof value !== 'string' || value === '') {
        throw options.invalidRequest(`access_token in the ${location} must be a single non-empty value`);
      }
      if (location === 'body' && !/^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? ''))) {
        throw options.invalidRequest('A token in the body needs Content-Type: application/x-www-form-urlencoded (RFC 6750 §2.2)');
      }
      // The same b64token rule as every other place a token comes from (RFC 6750 §2.2, §2.3).
      found.push(checked(value, `the ${location}`, options));
    }
  }
  if (options.cookie !== undefined) {
    const cookie = req.headers.cookie;
    const value = cookieValue(Array.isArray(cookie) ? cookie.join('; ') : cookie, options.cookie);
    if (value !== undefined) found.push(checked(value, `the ${options.cookie} cookie`, options));
  }
  if (options.getToken !== undefined) {
    let value: unknown;
    try {
      value = options.getToken(req.native as never);
    } catch {
      throw options.invalidRequest('The token could not be read from the request');
    }
    if (value !== undefined) {
      if (typeof value !== 'string') throw options.invalidRequest('The token must be a string');
      found.push(checked(value, 'the request', options));
    }
  }
  if (found.length === 0) return undefined;
  if (found.length > 1) {
    throw options.invalidRequest('The token was sent by more than one method; use exactly one (RFC 6750 §2)');
  }
  const token = found[0]!;
  if (token.length > options.maxLength) {
    throw options.invalidRequest(`The token is longer than ${options.maxLength} characters`);
  }
  return { token, scheme };
}

/**
 * The query of a request target as an object, a name given twice as an array (as Express's
 * parser does), for adapters that hand over no parsed query.
 */
function queryOf(url: string | undefined): Record<string, string | string[]> | undefined {
  const q = url === undefined ? -1 : url.indexOf('?');
  if (q === -1) return undefined;
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(url!.slice(q + 1).split('#', 1)[0])) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Whether `value` is an RFC 6750 §2.1 b64token: the one charset a token may have, wherever it
 * comes from. A compact JWS is one; asking that first spares the verifier its own scan (the
 * answer is remembered for the same string).
 */
export const isB64Token = (value: string): boolean => isCompactJws(value) || B64TOKEN.test(value);

function checked(value: string, where: string, options: ExtractOptions): string {
  // Length first: a huge value costs nothing more than this comparison.
  if (value.length > options.maxLength) throw options.invalidRequest(`The token is longer than ${options.maxLength} characters`);
  if (!isB64Token(value)) throw options.invalidRequest(`The token in ${where} has characters a bearer token cannot have (RFC 6750 §2.1)`);
  return detached(value);
}

/**
 * A copy of `value` that shares no memory with the string it was cut from. V8 keeps a slice's
 * parent alive: a token cut from a whole Cookie header (or a long URL, or a body) would keep that
 * header in the verified-token cache for as long as the entry lives, while the cache's `maxBytes`
 * counts only the token. Only for a value that passed the b64token check (`isB64Token`): that let
 * only ASCII through, so the latin1 round trip changes nothing. Done for the Authorization header
 * only when spaces pad it: otherwise its parent is the token and "Bearer ", nothing more.
 */
export const detached = (value: string): string => Buffer.from(value, 'latin1').toString('latin1');

/** One cookie's value from a Cookie header; a name given twice is ambiguous and refused as such. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let value: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    if (value !== undefined) return '\u0000'; // fails the b64token check: sent twice
    value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return value === '' ? undefined : value;
}

/**
 * How many Authorization headers the request carried. Node keeps only the first in `headers`; a
 * scan of `rawHeaders` costs no allocation, unlike `headersDistinct`, which builds an object of
 * every header (this runs on every guarded request).
 */
function authorizationHeaders(raw: readonly string[] | undefined): number {
  if (raw === undefined) return 1;
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') n += 1;
  }
  return n;
}
