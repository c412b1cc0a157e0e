import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { IdpResponse } from '../../idp/http.js';
import type { IdpClient } from '../../idp/idp-client.js';
import type { DpopKey } from './key.js';

/** RFC 9449 §8: a nonce is opaque but printable (NQCHAR); anything else from a server is ignored. */
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]{1,512}$/;

/** `htu` (RFC 9449 §4.2): the target URI without query and fragment. */
export function htuOf(url: string | URL): { htu: string; origin: string } {
  const u = new URL(url);
  return { htu: `${u.origin}${u.pathname}`, origin: u.origin };
}

/**
 * Makes DPoP proofs for one key and remembers the nonces servers hand out, per origin (bounded:
 * a client talks to few origins, but the origins come from callers' URLs).
 */
export class DpopSigner {
  readonly #key: DpopKey;
  readonly #header: { alg: string; typ: 'dpop+jwt'; jwk: Record<string, string> };
  readonly #nonces = new LRUCache<string, string>({ max: 256 });

  constructor(key: DpopKey) {
    this.#key = key;
    this.#header = { alg: key.alg, typ: 'dpop+jwt', jwk: { ...key.publicJwk } };
  }

  get jkt(): string {
    return this.#key.jkt;
  }

  /** A fresh proof for one request; `accessToken` adds `ath` (for resource requests, not the token endpoint). */
  proof(method: string, url: string | URL, accessToken?: string): Promise<string> {
    const { htu, origin } = htuOf(url);
    const claims: Record<string, string> = { htm: method.toUpperCase(), htu, jti: randomUUID() };
    if (accessToken !== undefined) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
    const nonce = this.#nonces.get(origin);
    if (nonce !== undefined) claims.nonce = nonce;
    return new SignJWT(claims).setProtectedHeader(this.#header).setIssuedAt().sign(this.#key.privateKey);
  }

  /** The nonce the next proof for `url` will carry, if a server gave one. */
  nonceFor(url: string | URL): string | undefined {
    return this.#nonces.get(htuOf(url).origin);
  }

  /** Keeps the `DPoP-Nonce` a server sent (on any answer, RFC 9449 §8.2); true when it is new. */
  learnNonce(url: string | URL, headers: Headers): boolean {
    const value = headers.get('dpop-nonce');
    if (value === null || !NONCE.test(value)) return false;
    const { origin } = htuOf(url);
    if (this.#nonces.get(origin) === value) return false;
    this.#nonces.set(origin, value);
    return true;
  }
}

/** A resource server's 401 asking for a proof with its nonce (RFC 9449 §9). */
export function wantsNonce(res: Response): boolean {
  if (res.status !== 401) return false;
  const challenge = res.headers.get('www-authenticate');
  return challenge !== null && /(^|,)\s*DPoP\b[^]*\berror\s*=\s*"?use_dpop_nonce"?/i.test(challenge);
}

/**
 * A token request with a DPoP proof (RFC 9449 §5). An IdP that wants a nonce answers 400
 * `use_dpop_nonce` with a `DPoP-Nonce` header: the request is sent once more with it, and only
 * when the nonce is one the refused proof did not carry (so a confused IdP costs one extra request).
 */
export async function postWithDpop(idp: IdpClient, signer: DpopSigner, params: URLSearchParams): Promise<IdpResponse> {
  const endpoint = await idp.endpointUrl('token');
  for (let attempt = 1; ; attempt++) {
    const sent = signer.nonceFor(endpoint);
    const res = await idp.post('token', params, { headers: { dpop: await signer.proof('POST', endpoint) } });
    signer.learnNonce(endpoint, res.headers);
    const retry = attempt === 1 && res.status === 400 && res.body.error === 'use_dpop_nonce' && signer.nonceFor(endpoint) !== sent;
    if (!retry) return res;
  }
}
