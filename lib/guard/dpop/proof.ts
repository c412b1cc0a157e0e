import { createHash, createHmac, createPublicKey, hash, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { tokenKey } from '../token-key.js';
import { errors, type JWTPayload, type JWTVerifyOptions } from 'jose';
import * as clock from '../../clock.js';
import { verifyJwt, type JwtVerifyResult } from '../../jwt/index.js';
import { InvalidDpopProofError, UseDpopNonceError } from '../../errors/dpop-errors.js';
import { TemporarilyUnavailableError, type OAuthError } from '../../errors/oauth-error.js';
import type { GuardRequest } from '../../bearer/guard-request.js';
import type { ReplayStore, ResolvedDpop } from './options.js';
import { claimWithin, MemoryReplayStore, ReplayStoreFullError, ReplayStoreTimeoutError } from './replay.js';

const MAX_PROOF_LENGTH = 8_192;
const MAX_JTI_LENGTH = 256;
const PUBLIC_KTY = new Set(['EC', 'OKP', 'RSA']);
// Members that only a private (or symmetric) key has: a proof carrying one leaked its key.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
// RSA proof keys: the exponent every library generates, and the sizes clients use. A large
// exponent or modulus makes each signature check many times dearer for the server.
const RSA_EXPONENT = 'AQAB';
const RSA_MIN_BITS = 2_048;
const RSA_MAX_BITS = 4_096;
/** Seconds a jti is kept beyond the last second its proof is accepted: a replay store's round trip, sub-second clock skew. */
const REPLAY_MARGIN = 1;

/**
 * The request's URI as a proof's `htu` must name it: scheme and host as the adapter trusts them
 * (Express: `req.protocol`, trust proxy aware, and the Host header), no query or fragment.
 */
export function requestHtu(req: Pick<GuardRequest, 'url' | 'protocol' | 'host'>): string | undefined {
  const path = req.url.split(/[?#]/, 1)[0]!;
  const host = req.host;
  // The URL parser would resolve what the router does not: dot segments and backslashes (a proof
  // for /orders passing on /x/../orders, routed to /x/:a/orders), a Host header carrying "/", "?"
  // or "#" ("api.example/orders#" would move the real path into the fragment), or no Host at all
  // (HTTP/1.0: the path read as the host). Such requests match no proof. The scheme likewise: a
  // forwarded one is a header ("https://other.example/x?" would name another origin outright).
  if (!SCHEME.test(req.protocol) || host === undefined || !HOST.test(host) || !path.startsWith('/') || path.includes('\\') || DOT_SEGMENT.test(path)) return undefined;
  return normalizeHtu(`${req.protocol}://${host}${path}`);
}

const SCHEME = /^https?$/i;
const HOST = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

// Both the request's URI and each proof's htu are normalized on every DPoP request, and a client
// names the same few URLs over and over: parsing a URL costs microseconds, a lookup far less. The
// answer depends on the string alone; long strings are not kept (a client chooses them).
const htus = new LRUCache<string, string | false>({ max: 1_024 });
const HTU_KEPT_MAX_LENGTH = 2_048;

/** Scheme and host lower-cased, default port dropped, query and fragment removed (RFC 9449 §4.3). */
function normalizeHtu(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const known = htus.get(value);
  if (known !== undefined) return known === false ? undefined : known;
  let normalized: string | undefined;
  try {
    const u = new URL(value);
    if (u.protocol === 'https:' || u.protocol === 'http:') normalized = `${u.origin}${u.pathname}`;
  } catch {
    normalized = undefined;
  }
  if (value.length <= HTU_KEPT_MAX_LENGTH) htus.set(value, normalized ?? false);
  return normalized;
}

const b64 = (buf: Buffer) => buf.toString('base64url');

// A DPoP client sends the same access token with every proof until it expires: its ath (SHA-256
// over ~1,000 characters) is worked out once. It depends on the token alone; kept by the token's
// number (token-key.ts, as the verified-token cache) with the token, compared whole on a lookup.
const aths = new LRUCache<number, { token: string; ath: string }>({ max: 1_024 });
const ATH_KEPT_MAX_LENGTH = 4_096;

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII. */
export function accessTokenHash(token: string): string {
  const key = tokenKey(token);
  const known = aths.get(key);
  if (known !== undefined && known.token === token) return known.ath;
  const ath = hash('sha256', token, 'base64url');
  if (token.length <= ATH_KEPT_MAX_LENGTH) aths.set(key, { token, ath });
  return ath;
}

/**
 * Verifies DPoP proofs (RFC 9449 §4.3) with the package's verification engine. Every check a
 * failure can be reported for is an `invalid_dpop_proof` with a precise description.
 */
export class DpopProofVerifier {
  readonly algs: string;
  readonly #replay: ReplayStore;

  constructor(
    private readonly cfg: ResolvedDpop,
    private readonly challenge: (error: string, description: string) => Record<string, string>,
    private readonly report: (err: OAuthError) => void,
  ) {
    this.algs = cfg.algorithms.join(' ');
    this.#replay = cfg.replayStore ?? new MemoryReplayStore(cfg.replayMaxEntries);
    this.#verifyOptions = {
      typ: 'dpop+jwt',
      algorithms: cfg.algorithms,
      maxTokenAge: cfg.iatWindow,
      clockTolerance: cfg.iatLeeway,
      requiredClaims: ['iat', 'jti', 'htm', 'htu'],
    };
  }

  // One options object for every proof: the engine compiles its claim rules once per object.
  readonly #verifyOptions: JWTVerifyOptions;

  // A client signs every proof with the same key: its KeyObject and thumbprint are made once.
  // Keyed by the RFC 7638 members, the only ones that define the key.
  readonly #keys = new LRUCache<string, { key: KeyObject; jkt: string }>({ max: 10_000 });
  readonly #byJwk = new WeakMap<object, { key: KeyObject; jkt: string }>();

  /**
   * The proof's key, once it is known to be the key the token is bound to: the thumbprint is
   * compared before any signature check, so a proof under another key costs a hash, not a verify.
   */
  #keyOf(jwk: unknown, boundJkt: string): { key: KeyObject; jkt: string } {
    // The engine hands out one frozen header object per distinct encoded header, and a client's
    // proofs all share theirs ({ typ, alg, jwk }): its jwk object, once checked, is looked up by
    // identity, without serializing it again. Only frozen objects: their content cannot change.
    const seen = typeof jwk === 'object' && jwk !== null ? this.#byJwk.get(jwk) : undefined;
    if (seen !== undefined) {
      if (!safeEqual(seen.jkt, boundJkt)) throw new ProofKeyError(NOT_BOUND_KEY);
      return seen;
    }
    checkPublicJwk(jwk);
    const k = jwk as Record<string, unknown>;
    const id = JSON.stringify(thumbprintMembers(k));
    let known = this.#keys.get(id);
    if (known === undefined) {
      // e and n are part of the cache key, so a cached RSA key has passed this already.
      if (k.kty === 'RSA') checkRsaSize(k);
      known = { key: publicKeyOf(k), jkt: b64(createHash('sha256').update(id).digest()) };
      this.#keys.set(id, known);
    }
    if (Object.isFrozen(jwk)) this.#byJwk.set(jwk as object, known);
    if (!safeEqual(known.jkt, boundJkt)) throw new ProofKeyError(NOT_BOUND_KEY);
    return known;
  }

  #invalid(description: string, cause?: unknown): InvalidDpopProofError {
    return new InvalidDpopProofError(description, { headers: this.challenge('invalid_dpop_proof', description), cause });
  }

  /**
   * Checks `proof` for this request and `token`: the proof key's RFC 7638 thumbprint, at once when
   * the replay store answers synchronously (the in-memory one), else a promise. Throws (or rejects
   * with) OAuthErrors.
   */
  verify(req: GuardRequest, proof: string, token: string, boundJkt: string): string | Promise<string> {
    if (proof.length > MAX_PROOF_LENGTH) throw this.#invalid(`The DPoP proof is longer than ${MAX_PROOF_LENGTH} characters`);
    let jkt = '';
    let payload: JWTPayload;
    try {
      // The key comes from the proof itself, so this is synchronous: no promise per proof.
      ({ payload } = verifyJwt(proof, (header) => {
        const known = this.#keyOf(header.jwk, boundJkt);
        jkt = known.jkt;
        return known.key;
      }, this.#verifyOptions) as JwtVerifyResult);
    } catch (err) {
      throw this.#invalid(describe(err), err);
    }
    const { jti, htm, htu, ath } = payload as Record<string, unknown>;
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw this.#invalid('The DPoP proof has no usable "jti"');
    if (htm !== req.method) throw this.#invalid('The DPoP proof is for another HTTP method (htm)');
    const expected = requestHtu(req);
    if (expected === undefined || normalizeHtu(htu) !== expected) throw this.#invalid('The DPoP proof is for another URL (htu)');
    if (typeof ath !== 'string' || !safeEqual(ath, accessTokenHash(token))) throw this.#invalid('The DPoP proof is not for this access token (ath)');
    if (this.cfg.nonce !== undefined && !this.#validNonce(payload.nonce)) {
      const description = 'A DPoP proof with the server nonce is required';
      throw new UseDpopNonceError(description, { headers: { ...this.challenge('use_dpop_nonce', description), 'DPoP-Nonce': this.nonce()! } });
    }
    const once = this.#once(jkt, jti, payload.iat!);
    return once === undefined ? jkt : once.then(() => jkt);
  }

  /**
   * Each proof is accepted once; the jti is scoped to its key. It is kept until the proof could no
   * longer be accepted, counted from its own iat: claims compare whole seconds, so the last second
   * accepted is iat + iatWindow + iatLeeway (rounded down) and the jti must outlive all of it.
   */
  #once(jkt: string, jti: string, iat: number): Promise<void> | undefined {
    const key = `dpop-jti:${jkt}:${hash('sha256', jti, 'base64url')}`;
    const keepUntil = (Math.floor(iat + this.cfg.iatWindow + this.cfg.iatLeeway) + 1 + REPLAY_MARGIN) * 1000;
    let claimed: boolean | Promise<boolean>;
    try {
      claimed = claimWithin(this.#replay, key, keepUntil - clock.now(), this.cfg.replayStoreTimeoutMs);
    } catch (err) {
      this.#storeFailure(err);
      return undefined;
    }
    // A store over the network answers later; the in-memory one at once, without a promise.
    if (claimed instanceof Promise) return claimed.then((fresh) => this.#fresh(fresh), (err: unknown) => this.#storeFailure(err));
    this.#fresh(claimed);
    return undefined;
  }

  #fresh(fresh: boolean): void {
    if (!fresh) throw this.#invalid('The DPoP proof was already used (jti replay)');
  }

  /** The replay store failed: throws the 503, or (onReplayStoreError: 'open', and only for an outage) returns. */
  #storeFailure(err: unknown): void {
    // Full of live ids: forgetting one is what would let a proof replay, so never fail open here.
    if (err instanceof ReplayStoreFullError) {
      const full = new TemporarilyUnavailableError(err.message, { cause: err, retryAfterSeconds: err.retryAfterSeconds });
      this.report(full);
      throw full;
    }
    const what = err instanceof ReplayStoreTimeoutError ? err.message : 'The DPoP replay store could not be reached';
    const outage = new TemporarilyUnavailableError(
      this.cfg.failOpen ? `${what}; the proof was accepted without the replay check (dpop.onReplayStoreError: 'open')` : what,
      { cause: err },
    );
    this.report(outage);
    if (!this.cfg.failOpen) throw outage;
  }

  /** The nonce to hand out now, if nonces are on. Derived from the secret and the time: the same on every instance. */
  nonce(now = clock.now()): string | undefined {
    const n = this.cfg.nonce;
    if (n === undefined) return undefined;
    return nonceFor(n.secret, Math.floor(now / 1000 / n.rotateEvery));
  }

  #validNonce(value: unknown, now = clock.now()): boolean {
    const n = this.cfg.nonce!;
    if (typeof value !== 'string' || value.length > 128) return false;
    const epoch = Math.floor(now / 1000 / n.rotateEvery);
    return safeEqual(value, nonceFor(n.secret, epoch)) || safeEqual(value, nonceFor(n.secret, epoch - 1));
  }
}

function nonceFor(secret: Uint8Array, epoch: number): string {
  return `${epoch.toString(36)}.${b64(createHmac('sha256', secret).update(`dpop-nonce:${epoch}`).digest()).slice(0, 32)}`;
}

/**
 * Equality in time that depends only on the length (the values compared here, `ath`, `jkt` and the
 * server nonce, whose expected value is derived from the secret, have a public length). No
 * allocation and no native call: two Buffers and timingSafeEqual per comparison were a measurable
 * part of a DPoP request. Unlike comparing UTF-8 encodings, two strings with different lone
 * surrogates are not equal. Both arguments are strings: every caller checks the proof's value first.
 */
function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const NOT_BOUND_KEY = 'The DPoP proof key is not the key the token is bound to (cnf.jkt)';

/** Checked on every proof, cached key or not: a public EC, OKP or RSA JWK without private members. */
function checkPublicJwk(jwk: unknown): void {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new ProofKeyError('The DPoP proof has no "jwk" header');
  const k = jwk as Record<string, unknown>;
  if (!PUBLIC_KTY.has(k.kty as string)) throw new ProofKeyError('The DPoP proof key must be an EC, OKP or RSA public key');
  if (PRIVATE_MEMBERS.some((m) => m in k)) throw new ProofKeyError('The DPoP proof "jwk" contains private key material');
}

/** An RSA proof key must have the exponent 65537 and a 2048 to 4096-bit modulus. */
function checkRsaSize(k: Record<string, unknown>): void {
  if (k.e !== RSA_EXPONENT) throw new ProofKeyError('The DPoP proof RSA key must have the public exponent 65537 ("e": "AQAB")');
  const bits = bitLength(Buffer.from(k.n as string, 'base64url'));
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) throw new ProofKeyError(`The DPoP proof RSA key must have a ${RSA_MIN_BITS} to ${RSA_MAX_BITS}-bit modulus`);
}

function bitLength(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return i === bytes.length ? 0 : (bytes.length - i) * 8 - Math.clz32(bytes[i]!) + 24;
}

/** The RFC 7638 members in their required (lexicographic) order; their JSON is what the thumbprint hashes. */
function thumbprintMembers(k: Record<string, unknown>): Record<string, unknown> {
  const members = k.kty === 'RSA' ? { e: k.e, kty: k.kty, n: k.n } : k.kty === 'EC' ? { crv: k.crv, kty: k.kty, x: k.x, y: k.y } : { crv: k.crv, kty: k.kty, x: k.x };
  if (Object.values(members).some((v) => typeof v !== 'string')) throw new ProofKeyError('The DPoP proof "jwk" is not a valid public key');
  return members;
}

function publicKeyOf(k: Record<string, unknown>): KeyObject {
  try {
    return createPublicKey({ key: k as never, format: 'jwk' });
  } catch {
    throw new ProofKeyError('The DPoP proof "jwk" is not a valid public key');
  }
}

class ProofKeyError extends Error {}

function describe(err: unknown): string {
  if (err instanceof ProofKeyError) return err.message;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'The DPoP proof uses an algorithm this API does not accept';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'The DPoP proof signature is invalid';
  if (err instanceof errors.JWTExpired) return 'The DPoP proof is too old (iat)';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'typ') return 'The DPoP proof must have typ "dpop+jwt"';
    if (err.claim === 'iat') return err.reason === 'missing' ? 'The DPoP proof has no "iat"' : 'The DPoP proof is issued in the future (iat)';
    return err.reason === 'missing' ? `The DPoP proof has no "${err.claim}" claim` : `The DPoP proof has an invalid "${err.claim}" claim`;
  }
  return 'The DPoP proof is not a valid signed JWT';
}
