import { createHash, createHmac, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import { calculateJwkThumbprint, errors, type JWK, type JWTPayload } from 'jose';
import { jwtVerify } from '../../jwt/index.js';
import { InvalidDpopProofError, UseDpopNonceError } from '../../errors/dpop-errors.js';
import { TemporarilyUnavailableError, type OAuthError } from '../../errors/oauth-error.js';
import type { ReplayStore, ResolvedDpop } from './options.js';

const MAX_PROOF_LENGTH = 8_192;
const MAX_JTI_LENGTH = 256;
const PUBLIC_KTY = new Set(['EC', 'OKP', 'RSA']);
// Members that only a private (or symmetric) key has: a proof carrying one leaked its key.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Default replay memory: bounded, each jti forgotten once its proof could no longer be accepted. */
export class MemoryReplayStore implements ReplayStore {
  readonly #seen = new LRUCache<string, true>({ max: 100_000 });
  claim(key: string, ttlMs: number): boolean {
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, true, { ttl: ttlMs });
    return true;
  }
}

/** The request's URI as a proof's `htu` must name it: scheme from `req.protocol` (trust proxy aware), host from the Host header, no query or fragment. */
export function requestHtu(req: Request): string | undefined {
  const path = (req.originalUrl ?? req.url).split(/[?#]/, 1)[0]!;
  const host = req.get('host');
  // The URL parser would resolve what the router does not: dot segments and backslashes (a proof
  // for /orders passing on /x/../orders, routed to /x/:a/orders), a Host header carrying "/", "?"
  // or "#" ("api.example/orders#" would move the real path into the fragment), or no Host at all
  // (HTTP/1.0: the path read as the host). Such requests match no proof.
  if (host === undefined || !HOST.test(host) || !path.startsWith('/') || path.includes('\\') || DOT_SEGMENT.test(path)) return undefined;
  return normalizeHtu(`${req.protocol}://${host}${path}`);
}

const HOST = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

/** Scheme and host lower-cased, default port dropped, query and fragment removed (RFC 9449 §4.3). */
function normalizeHtu(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const u = new URL(value);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    return `${u.origin}${u.pathname}`;
  } catch {
    return undefined;
  }
}

const b64 = (buf: Buffer) => buf.toString('base64url');
export const accessTokenHash = (token: string): string => b64(createHash('sha256').update(token).digest());

/**
 * Verifies DPoP proofs (RFC 9449 §4.3) with the package's verification engine. Every check a
 * failure can be reported for is an `invalid_dpop_proof` with a precise description.
 */
export class DpopProofVerifier {
  readonly algs: string;
  readonly #replayTtl: number;
  readonly #replay: ReplayStore;

  constructor(
    private readonly cfg: ResolvedDpop,
    private readonly challenge: (error: string, description: string) => Record<string, string>,
    private readonly report: (err: OAuthError) => void,
  ) {
    this.algs = cfg.algorithms.join(' ');
    this.#replayTtl = (cfg.iatWindow + 2 * cfg.iatLeeway) * 1000;
    this.#replay = cfg.replayStore ?? new MemoryReplayStore();
  }

  // A client signs every proof with the same key: its KeyObject and thumbprint are made once.
  // Keyed by the RFC 7638 members, the only ones that define the key.
  readonly #keys = new LRUCache<string, { key: KeyObject; jkt?: string }>({ max: 10_000 });

  #keyOf(jwk: unknown): { key: KeyObject; jkt?: string } {
    checkPublicJwk(jwk);
    const k = jwk as Record<string, unknown>;
    const id = JSON.stringify(k.kty === 'RSA' ? [k.kty, k.e, k.n] : [k.kty, k.crv, k.x, k.y]);
    let known = this.#keys.get(id);
    if (known === undefined) {
      known = { key: publicKeyOf(k) };
      this.#keys.set(id, known);
    }
    return known;
  }

  #invalid(description: string, cause?: unknown): InvalidDpopProofError {
    return new InvalidDpopProofError(description, this.challenge('invalid_dpop_proof', description), { cause });
  }

  /** Checks `proof` for this request and `token`; resolves to the proof key's RFC 7638 thumbprint. */
  async verify(req: Request, proof: string, token: string, boundJkt: string): Promise<string> {
    if (proof.length > MAX_PROOF_LENGTH) throw this.#invalid(`The DPoP proof is longer than ${MAX_PROOF_LENGTH} characters`);
    let jwk: JWK | undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(proof, (header) => (jwk = header.jwk as JWK | undefined, this.#keyOf(jwk).key), {
        typ: 'dpop+jwt',
        algorithms: this.cfg.algorithms,
        maxTokenAge: this.cfg.iatWindow,
        clockTolerance: this.cfg.iatLeeway,
        requiredClaims: ['iat', 'jti', 'htm', 'htu'],
      }));
    } catch (err) {
      throw this.#invalid(describe(err), err);
    }
    const { jti, htm, htu, ath } = payload as Record<string, unknown>;
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw this.#invalid('The DPoP proof has no usable "jti"');
    if (htm !== req.method) throw this.#invalid('The DPoP proof is for another HTTP method (htm)');
    const expected = requestHtu(req);
    if (expected === undefined || normalizeHtu(htu) !== expected) throw this.#invalid('The DPoP proof is for another URL (htu)');
    if (typeof ath !== 'string' || !safeEqual(ath, accessTokenHash(token))) throw this.#invalid('The DPoP proof is not for this access token (ath)');
    const known = this.#keyOf(jwk);
    const jkt = (known.jkt ??= await calculateJwkThumbprint(jwk!, 'sha256'));
    if (!safeEqual(jkt, boundJkt)) throw this.#invalid("The DPoP proof key is not the key the token is bound to (cnf.jkt)");
    if (this.cfg.nonce !== undefined && !this.#validNonce(payload.nonce)) {
      const description = 'A DPoP proof with the server nonce is required';
      throw new UseDpopNonceError(description, { ...this.challenge('use_dpop_nonce', description), 'DPoP-Nonce': this.nonce()! });
    }
    await this.#once(jkt, jti);
    return jkt;
  }

  /** Each proof is accepted once within its window; the jti is scoped to its key. */
  async #once(jkt: string, jti: string): Promise<void> {
    const key = `dpop-jti:${jkt}:${b64(createHash('sha256').update(jti).digest())}`;
    let fresh: boolean;
    try {
      fresh = (await this.#replay.claim(key, this.#replayTtl)) === true;
    } catch (err) {
      const outage = new TemporarilyUnavailableError('The DPoP replay store could not be reached', { cause: err });
      this.report(outage);
      if (!this.cfg.failOpen) throw outage;
      return;
    }
    if (!fresh) throw this.#invalid('The DPoP proof was already used (jti replay)');
  }

  /** The nonce to hand out now, if nonces are on. Derived from the secret and the time: the same on every instance. */
  nonce(now = Date.now()): string | undefined {
    const n = this.cfg.nonce;
    if (n === undefined) return undefined;
    return nonceFor(n.secret, Math.floor(now / 1000 / n.rotateEvery));
  }

  #validNonce(value: unknown, now = Date.now()): boolean {
    const n = this.cfg.nonce!;
    if (typeof value !== 'string' || value.length > 128) return false;
    const epoch = Math.floor(now / 1000 / n.rotateEvery);
    return safeEqual(value, nonceFor(n.secret, epoch)) || safeEqual(value, nonceFor(n.secret, epoch - 1));
  }
}

function nonceFor(secret: Uint8Array, epoch: number): string {
  return `${epoch.toString(36)}.${b64(createHmac('sha256', secret).update(`dpop-nonce:${epoch}`).digest()).slice(0, 32)}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checked on every proof, cached key or not: a public EC, OKP or RSA JWK without private members. */
function checkPublicJwk(jwk: unknown): void {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new ProofKeyError('The DPoP proof has no "jwk" header');
  const k = jwk as Record<string, unknown>;
  if (!PUBLIC_KTY.has(k.kty as string)) throw new ProofKeyError('The DPoP proof key must be an EC, OKP or RSA public key');
  if (PRIVATE_MEMBERS.some((m) => m in k)) throw new ProofKeyError('The DPoP proof "jwk" contains private key material');
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
