import { deriveSealer } from '../../idp/sealing.js';
import { isStoredToken, type StoredToken } from './store.js';

/**
 * Stored entries are sealed with AES-256-GCM under a key derived from the client's own
 * credentials, so a shared store hands a token only to an instance that could have asked the IdP
 * for it itself: knowing the client id and the token endpoint is not enough, the secret is needed.
 * This also keeps tokens unreadable at rest in Redis (dumps, replicas, a read-only ACL user).
 *
 * The construction (scrypt, HKDF, AES-256-GCM with the store key in the AAD) is the package's one
 * sealing, lib/idp/sealing.ts, shared with requireAuth's introspection cache. Format (a string,
 * versioned): `v1.<iv>.<ciphertext>.<tag>`; plaintext the JSON of a StoredToken; AAD
 * `express-oauth-kit/m2m-token/v1` + NUL + the store key, so an entry copied under another key
 * (another scope, another client) does not open.
 */
export const SEAL_VERSION = 'v1';

export interface SealKeys {
  /** Where a cache key's entry lives in the store: the cache key plus an id of the credentials. */
  storeKey(cacheKey: string): string;
  seal(token: StoredToken, storeKey: string): string;
  /** The token, or undefined for anything that is not an entry sealed by these credentials for this key. */
  unseal(value: unknown, storeKey: string): StoredToken | undefined;
}

/**
 * Starts the key derivation at once (off the event loop, in libuv's pool) so that it is usually
 * done before the first store call. The secret is not kept by this module once it is derived.
 * Salt: the token endpoint and the client id, so one secret used with two IdPs or two ids gives
 * unrelated keys.
 */
export function deriveSealKeys(secret: string | Buffer, endpointKey: string, clientId: string): Promise<SealKeys> {
  const p = deriveSealer(secret, 'm2m token store', [endpointKey, clientId], 'm2m-token').then(
    (sealer): SealKeys =>
      Object.freeze({
        storeKey: sealer.storeKey,
        seal(token: StoredToken, storeKey: string): string {
          // Only these members: whatever else the object carries never reaches the store.
          const out: StoredToken = { accessToken: token.accessToken, tokenType: token.tokenType, expiresAt: token.expiresAt, issuedAt: token.issuedAt };
          if (typeof token.scope === 'string') out.scope = token.scope;
          return sealer.seal(out, storeKey);
        },
        unseal(value: unknown, storeKey: string): StoredToken | undefined {
          const t = sealer.unseal(value, storeKey);
          return isStoredToken(t) ? t : undefined;
        },
      }),
  );
  p.catch(() => undefined); // observed where it is awaited; never an unhandled rejection
  return p;
}
