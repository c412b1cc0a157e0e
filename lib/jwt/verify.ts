/**
 * `jwtVerify(token, key, options)`: jose's API and errors, node:crypto's speed. Compact JWS only.
 *
 * jose 6 verifies through WebCrypto (an async job and key conversions per token); here the
 * signature is one synchronous `crypto.verify` on a KeyObject prepared once per key. Key
 * selection stays with jose's key sets (createRemoteJWKSet / createLocalJWKSet), whose errors pass
 * through untouched. Checks run in jose's order, so the first failure — and so the error class a
 * caller maps — is the one jose would report; where this engine is stricter it says so below.
 */
import { isAscii } from 'node:buffer';
import { createHmac, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import { errors, type FlattenedJWSInput, type JWSHeaderParameters, type JWTHeaderParameters, type JWTPayload, type JWTVerifyOptions, type ProtectedHeaderParameters } from 'jose';
import { ALGORITHMS, prepareKey, secretBytes } from './algorithms.js';
import { decode, decodeChecked } from './base64url.js';
import { checkClaims, compileClaims } from './claims.js';
import { isCompactJws } from './compact.js';

/** What a key set returns: jose's key sets give CryptoKeys; a KeyObject or secret bytes work too. */
export type VerifyKey = CryptoKey | import('node:crypto').KeyObject | Uint8Array;
export type GetKey = (protectedHeader: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<VerifyKey> | VerifyKey;
type CryptoKey = import('node:crypto').webcrypto.CryptoKey;

export interface JwtVerifyResult<P = JWTPayload> {
  payload: P;
  protectedHeader: JWTHeaderParameters;
}

// jose decodes JSON with a fatal UTF-8 decoder (which also drops a leading BOM); so do we.
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(value: unknown): value is Record<string, unknown> {
  // JSON.parse only makes plain objects, arrays and primitives; arrays and null are refused.
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(bytes: Buffer | undefined): unknown {
  if (bytes === undefined) return undefined;
  try {
    // ASCII (nearly every JWT) is valid UTF-8 with no BOM: read it as one-byte text directly.
    return JSON.parse(isAscii(bytes) ? bytes.toString('latin1') : utf8.decode(bytes));
  } catch {
    return undefined;
  }
}

const RECOGNIZED_CRIT: Readonly<Record<string, boolean>> = Object.assign(Object.create(null) as Record<string, boolean>, { b64: true });
const allowListCache = new WeakMap<readonly string[], Set<string>>();

/** RFC 7515 §4.1.11: every listed extension must be understood and present; returns the list. */
function checkCrit(header: Record<string, unknown>, optionCrit: Record<string, boolean> | undefined): readonly unknown[] {
  const crit = header.crit;
  if (crit === undefined) return [];
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new errors.JWSInvalid('"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present');
  }
  const recognized = optionCrit === undefined ? RECOGNIZED_CRIT : Object.assign(Object.create(null) as Record<string, boolean>, optionCrit, RECOGNIZED_CRIT);
  for (const parameter of crit as string[]) {
    if (!(parameter in recognized)) throw new errors.JOSENotSupported(`Extension Header Parameter "${parameter}" is not recognized`);
    if (!Object.hasOwn(header, parameter) || header[parameter] === undefined) {
      throw new errors.JWSInvalid(`Extension Header Parameter "${parameter}" is missing`);
    }
  }
  return crit;
}

function allowList(algorithms: readonly string[] | undefined): Set<string> | undefined {
  if (algorithms === undefined) return undefined;
  let set = allowListCache.get(algorithms);
  if (set === undefined) {
    if (!Array.isArray(algorithms) || algorithms.some((a) => typeof a !== 'string')) throw new TypeError('"algorithms" option must be an array of strings');
    allowListCache.set(algorithms, (set = new Set(algorithms)));
  }
  return set;
}

const ASCII = /^[\x00-\x7f]*$/;

// Every token signed with one IdP key carries the same header, so the decoded header of the last
// few distinct ones is kept, deeply frozen (it is shared by every token that carries it). Bounded
// in count and in length: a hostile client sending random headers only cycles this small map.
const HEADERS_KEPT = 16;
const HEADER_KEPT_MAX_LENGTH = 512;
const headers = new Map<string, Record<string, unknown>>();

function headerOf(encoded: string, decodePart: (part: string) => Buffer | undefined): Record<string, unknown> {
  const known = headers.get(encoded);
  if (known !== undefined) return known;
  const header = parseJson(decodePart(encoded));
  if (!isPlainObject(header)) throw new errors.JWSInvalid('JWS Protected Header is invalid');
  if (encoded.length <= HEADER_KEPT_MAX_LENGTH) {
    if (headers.size >= HEADERS_KEPT) headers.delete(headers.keys().next().value!);
    headers.set(encoded, deepFreeze(header));
  }
  return header;
}

// JSON.parse output only: plain objects and arrays, no cycles, no accessors.
export function deepFreeze<T extends object>(value: T): T {
  if (Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'object' && v !== null) deepFreeze(v);
  }
  return value;
}

const FAILED_DECODE = Symbol('not base64url');

// The last payload segment read before verification. A guard reads a new token's unverified `iss`
// to choose its keys, then verifies it: the verification takes that parse instead of decoding the
// segment and running JSON.parse again. Keyed by the whole segment (equal segments parse to equal
// claims); one slot, handed over once: the object a verification returns is never handed to
// anyone else (two guards verifying one token each get their own payload object, which they
// freeze and key their own state on).
let pendingSegment: string | undefined;
let pendingClaims: unknown;

type Decoder = (part: string) => Buffer | undefined;

function parseClaims(segment: string, decodePart: Decoder): unknown {
  const bytes = decodePart(segment);
  return bytes === undefined ? FAILED_DECODE : parseJson(bytes);
}

/** The payload segment parsed: the pending parse if it is of this segment (taken), else a new one. */
function takeClaims(segment: string, decodePart: Decoder): unknown {
  if (segment !== pendingSegment) return parseClaims(segment, decodePart);
  const claims = pendingClaims;
  pendingSegment = pendingClaims = undefined;
  return claims;
}

/**
 * The unverified claims of a compact JWS (undefined when its payload is not a JSON object): only to
 * choose which issuer's keys verify it. Verifying the same token next reuses this parse. The object
 * is the one the verification will return, so it must not be changed.
 */
export function unverifiedClaims(jwt: string): Readonly<Record<string, unknown>> | undefined {
  const start = jwt.indexOf('.') + 1;
  const end = jwt.indexOf('.', start);
  if (start === 0 || end < 0) return undefined;
  const segment = jwt.slice(start, end);
  const claims = segment === pendingSegment ? pendingClaims : parseClaims(segment, isCompactJws(jwt) ? decodeChecked : decode);
  pendingSegment = segment;
  pendingClaims = claims;
  return isPlainObject(claims) ? claims : undefined;
}

/** A token split and its header checked: everything that comes before key selection. */
interface Parsed {
  jwt: string;
  dot2: number;
  header: Record<string, unknown>;
  alg: string;
  b64: boolean;
  asciiPayload: boolean;
  decodePart: (part: string) => Buffer | undefined;
  encodedHeader: string;
  encodedPayload: string;
  encodedSignature: string;
}

function parse(jwt: string | Uint8Array, options: JWTVerifyOptions): Parsed {
  if (jwt instanceof Uint8Array) jwt = new TextDecoder().decode(jwt);
  if (typeof jwt !== 'string') throw new errors.JWSInvalid('Compact JWS must be a string or Uint8Array');
  // Compact serialization only (RFC 7515 §7.1): three parts. Five parts is a JWE; JSON serialization never parses here.
  const dot1 = jwt.indexOf('.');
  const dot2 = dot1 < 0 ? -1 : jwt.indexOf('.', dot1 + 1);
  if (dot2 < 0 || jwt.indexOf('.', dot2 + 1) >= 0) throw new errors.JWSInvalid('Invalid Compact JWS');
  const encodedHeader = jwt.slice(0, dot1);
  const encodedPayload = jwt.slice(dot1 + 1, dot2);
  const encodedSignature = jwt.slice(dot2 + 1);
  // One pass over the whole token instead of one per part (and none at all when the guard has just
  // matched this very string): then every part is known to be base64url characters only, and only
  // each part's canonical ending is left to check. Anything else is checked part by part.
  const clean = isCompactJws(jwt);
  const decodePart = clean ? decodeChecked : decode;

  const header = headerOf(encodedHeader, decodePart);
  const crit = checkCrit(header, options.crit);
  let b64 = true;
  if (crit.includes('b64')) {
    if (typeof header.b64 !== 'boolean') throw new errors.JWSInvalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
    b64 = header.b64;
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !alg) throw new errors.JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  const allowed = allowList(options.algorithms);
  if (allowed !== undefined && !allowed.has(alg)) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  // The signing input is ASCII (RFC 7515 §5.2 step 8); jose checks an unencoded payload here, an encoded one after key selection.
  const asciiPayload = clean || ASCII.test(encodedPayload);
  if (!b64 && !asciiPayload) throw new errors.JWSInvalid('JWS Compact Serialization payload must use only ASCII characters');
  return { jwt, dot2, header, alg, b64, asciiPayload, decodePart, encodedHeader, encodedPayload, encodedSignature };
}

/** Signature, payload and claims, once the key is known. */
function finish<P>(parsed: Parsed, key: unknown, options: JWTVerifyOptions): JwtVerifyResult<P> {
  const { jwt, dot2, header, alg, b64, asciiPayload, decodePart, encodedPayload, encodedSignature } = parsed;
  const spec = ALGORITHMS[alg];
  if (spec === undefined) throw new errors.JOSENotSupported(`alg ${alg} is not supported by this verifier`);
  if (!asciiPayload) throw new errors.JWSInvalid('The payload is not a valid base64url string');
  const signature = decodePart(encodedSignature);
  if (signature === undefined) throw new errors.JWSInvalid('Failed to base64url decode the signature');
  const signingInput = Buffer.from(jwt.slice(0, dot2), 'latin1');

  let valid: boolean;
  if (spec.kind === 'hmac') {
    const secret = secretBytes(alg, spec, key);
    const mac = createHmac(spec.hash!, secret).update(signingInput).digest();
    valid = mac.length === signature.length && timingSafeEqual(mac, signature);
  } else {
    const ready = prepareKey(alg, spec, key);
    if (ready.sigLength !== undefined && signature.length !== ready.sigLength) throw new errors.JWSSignatureVerificationFailed();
    try {
      valid = cryptoVerify(spec.hash, signingInput, ready.input, signature);
    } catch (cause) {
      throw new errors.JWSSignatureVerificationFailed(undefined, { cause });
    }
  }
  if (!valid) throw new errors.JWSSignatureVerificationFailed();

  // RFC 7797 unencoded payloads are not JWTs (RFC 7519 §7.2 step 6 needs a base64url payload).
  if (!b64) throw new errors.JWTInvalid('JWTs MUST NOT use unencoded payload');
  const payload = takeClaims(encodedPayload, decodePart);
  if (payload === FAILED_DECODE) throw new errors.JWSInvalid('Failed to base64url decode the payload');
  if (!isPlainObject(payload)) throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object');
  checkClaims(header as ProtectedHeaderParameters, payload as JWTPayload, compileClaims(options));
  return { payload: payload as P, protectedHeader: header as JWTHeaderParameters };
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * The engine itself: synchronous (result returned, errors thrown) when the key, or what the key
 * function returns, is at hand; a promise only while a key function is still fetching. This is
 * what lets requireAuth answer a new token without a promise on its hot path.
 */
export function verifyJwt<P extends JWTPayload = JWTPayload>(
  jwt: string | Uint8Array,
  key: GetKey | VerifyKey,
  options: JWTVerifyOptions = {},
): JwtVerifyResult<P> | Promise<JwtVerifyResult<P>> {
  const parsed = parse(jwt, options);
  if (typeof key !== 'function') return finish<P>(parsed, key, options);
  const { header, encodedHeader, encodedPayload, encodedSignature } = parsed;
  const got = key(header as JWSHeaderParameters, { payload: encodedPayload, protected: encodedHeader, signature: encodedSignature });
  if (isThenable(got)) return Promise.resolve(got).then((resolved) => finish<P>(parsed, resolved, options));
  return finish<P>(parsed, got, options);
}

/** jose's signature: always a promise, errors as rejections. */
export async function jwtVerify<P extends JWTPayload = JWTPayload>(
  jwt: string | Uint8Array,
  key: GetKey | VerifyKey,
  options: JWTVerifyOptions = {},
): Promise<JwtVerifyResult<P>> {
  return verifyJwt<P>(jwt, key, options);
}
