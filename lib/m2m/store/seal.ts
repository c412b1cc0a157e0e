import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { isStoredToken, type StoredToken } from './store.js';

/**
 * Stored entries are sealed with AES-256-GCM under a key derived from the client's own
 * credentials, so a shared store hands a token only to an instance that could have asked the IdP
 * for it itself: knowing the client id and the token endpoint is not enough, the secret is needed.
 * This also keeps tokens unreadable at rest in Redis (dumps, replicas, a read-only ACL user).
 *
 * Format (a string, versioned): `v1.<iv>.<ciphertext>.<tag>`, each part base64url; iv 12 bytes,
 * tag 16 bytes; plaintext the JSON of a StoredToken; AAD `express-oauth-kit/m2m-token/v1` + NUL +
 * the store key, so an entry copied under another key (another scope, another client) does not open.
 */
export const SEAL_VERSION = 'v1';

// scrypt at its interactive-use cost (N 2^14, r 8: 16 MiB, ~50-100 ms once per client, off the event
// loop). Client secrets are usually random, but a weak one must not be cheap to guess from a leaked
// Redis dump: every guess costs one scrypt.
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const AAD_LABEL = `express-oauth-kit/m2m-token/${SEAL_VERSION}\0`;

export interface SealKeys {
  /** Where a cache key's entry lives in the store: the cache key plus an id of the credentials. */
  storeKey(cacheKey: string): string;
  seal(token: StoredToken, storeKey: string): string;
  /** The token, or undefined for anything that is not an entry sealed by these credentials for this key. */
  unseal(value: unknown, storeKey: string): StoredToken | undefined;
}

const b64 = (b: Buffer): string => b.toString('base64url');

function deriveMaster(secret: string | Buffer, salt: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function keysFrom(master: Buffer): SealKeys {
  const encKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'aes-256-gcm key', 32));
  // Different secrets get different store keys: during a secret rotation old and new instances keep
  // apart instead of overwriting each other. The id comes from the slow KDF, so it is no cheaper
  // to test a guessed secret against it than against a ciphertext.
  const keyId = b64(Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'store key id', 12)));
  master.fill(0);
  const aad = (storeKey: string): Buffer => Buffer.from(AAD_LABEL + storeKey, 'utf8');
  return Object.freeze({
    storeKey: (cacheKey: string) => `${cacheKey}#${keyId}`,
    seal(token: StoredToken, storeKey: string): string {
      const out: StoredToken = { accessToken: token.accessToken, tokenType: token.tokenType, expiresAt: token.expiresAt, issuedAt: token.issuedAt };
      if (typeof token.scope === 'string') out.scope = token.scope;
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', encKey, iv);
      c.setAAD(aad(storeKey));
      const ct = Buffer.concat([c.update(JSON.stringify(out), 'utf8'), c.final()]);
      return `${SEAL_VERSION}.${b64(iv)}.${b64(ct)}.${b64(c.getAuthTag())}`;
    },
    unseal(value: unknown, storeKey: string): StoredToken | undefined {
      if (typeof value !== 'string') return undefined;
      const parts = value.split('.');
      if (parts.length !== 4 || parts[0] !== SEAL_VERSION) return undefined;
      try {
        const iv = Buffer.from(parts[1]!, 'base64url');
        const tag = Buffer.from(parts[3]!, 'base64url');
        if (iv.length !== 12 || tag.length !== 16) return undefined;
        const d = createDecipheriv('aes-256-gcm', encKey, iv, { authTagLength: 16 });
        d.setAAD(aad(storeKey));
        d.setAuthTag(tag);
        const plain = Buffer.concat([d.update(Buffer.from(parts[2]!, 'base64url')), d.final()]).toString('utf8');
        const t: unknown = JSON.parse(plain);
        return isStoredToken(t) ? t : undefined;
      } catch {
        // Wrong credentials, another key's entry, tampering, damage: all the same to us, a miss.
        return undefined;
      }
    },
  });
}

/**
 * Starts the key derivation at once (off the event loop, in libuv's pool) so that it is usually
 * done before the first store call. The secret is not kept by this module once it is derived.
 * Salt: the token endpoint and the client id, so one secret used with two IdPs or two ids gives
 * unrelated keys.
 */
export function deriveSealKeys(secret: string | Buffer, endpointKey: string, clientId: string): Promise<SealKeys> {
  const salt = JSON.stringify(['express-oauth-kit m2m token store', SEAL_VERSION, endpointKey, clientId]);
  // A Buffer (private key material with private_key_jwt) is wiped once scrypt has read it.
  const wipe = () => {
    if (typeof secret !== 'string') secret.fill(0);
  };
  const p = deriveMaster(secret, salt).then(
    (master) => (wipe(), keysFrom(master)),
    (err: unknown) => {
      wipe();
      throw err;
    },
  );
  p.catch(() => undefined); // observed where it is awaited; never an unhandled rejection
  return p;
}
