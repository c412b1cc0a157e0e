import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt } from 'node:crypto';

/**
 * Sealing for entries a fleet shares through a store (Redis): AES-256-GCM under a key derived
 * from this client's own credentials (client secret, or the private key with private_key_jwt),
 * so only an instance that could have asked the IdP itself can read an entry or write one the
 * others accept. The same construction as the M2M token store (lib/m2m/store/seal.ts: scrypt,
 * then HKDF, AAD bound to the store key), generic over the JSON it carries, here below the jobs
 * so that requireAuth's introspection cache can use it too.
 *
 * Format: `v1.<iv>.<ciphertext>.<tag>`, each part base64url; iv 12 bytes, tag 16 bytes.
 */
const VERSION = 'v1';
// scrypt at its interactive-use cost (16 MiB, ~50-100 ms once per client, off the event loop): a
// weak secret must not be cheap to guess from a leaked store dump.
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/** Keys derived from one client's credentials for one purpose. */
export interface Sealer {
  /** Where entry `name` lives in the store: the name plus an id of the credentials. */
  storeKey(name: string): string;
  /** A keyed hash (HMAC-SHA-256, base64url) of `data`: names entries without revealing what they are about. */
  mac(data: string): string;
  seal(value: unknown, storeKey: string): string;
  /** The JSON value, or undefined for anything not sealed by these credentials for this key. */
  unseal(value: unknown, storeKey: string): unknown;
}

const b64 = (b: Buffer): string => b.toString('base64url');

/**
 * Starts the derivation at once (in libuv's pool), so it is usually done before the first store
 * call. `purpose` and `context` (endpoint, client id …) salt it: one secret used for two purposes
 * or two IdPs gives unrelated keys; `aadName` names the entries in their AAD (the purpose unless
 * an existing format says otherwise). A Buffer secret is wiped once scrypt has read it.
 */
export function deriveSealer(secret: string | Buffer, purpose: string, context: readonly string[], aadName = purpose): Promise<Sealer> {
  const salt = JSON.stringify([`express-oauth-kit ${purpose}`, VERSION, ...context]);
  const label = `express-oauth-kit/${aadName}/${VERSION}\0`;
  const p = new Promise<Buffer>((resolve, reject) => {
    scrypt(secret, salt, 32, SCRYPT, (err, key) => {
      if (typeof secret !== 'string') secret.fill(0);
      if (err) reject(err);
      else resolve(key);
    });
  }).then((master) => sealerFrom(master, label));
  p.catch(() => undefined); // observed where it is awaited; never an unhandled rejection
  return p;
}

function sealerFrom(master: Buffer, label: string): Sealer {
  const derive = (info: string, length: number) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, length));
  const encKey = derive('aes-256-gcm key', 32);
  const macKey = derive('entry name mac', 32);
  // From the slow KDF: no cheaper to test a guessed secret against than a ciphertext.
  const keyId = b64(derive('store key id', 12));
  master.fill(0);
  const aad = (storeKey: string): Buffer => Buffer.from(label + storeKey, 'utf8');
  return Object.freeze({
    storeKey: (name: string) => `${name}#${keyId}`,
    mac: (data: string) => createHmac('sha256', macKey).update(data, 'utf8').digest('base64url'),
    seal(value: unknown, storeKey: string): string {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', encKey, iv);
      c.setAAD(aad(storeKey));
      const ct = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
      return `${VERSION}.${b64(iv)}.${b64(ct)}.${b64(c.getAuthTag())}`;
    },
    unseal(value: unknown, storeKey: string): unknown {
      if (typeof value !== 'string') return undefined;
      const parts = value.split('.');
      if (parts.length !== 4 || parts[0] !== VERSION) return undefined;
      try {
        const iv = Buffer.from(parts[1]!, 'base64url');
        const tag = Buffer.from(parts[3]!, 'base64url');
        if (iv.length !== 12 || tag.length !== 16) return undefined;
        const d = createDecipheriv('aes-256-gcm', encKey, iv, { authTagLength: 16 });
        d.setAAD(aad(storeKey));
        d.setAuthTag(tag);
        return JSON.parse(Buffer.concat([d.update(Buffer.from(parts[2]!, 'base64url')), d.final()]).toString('utf8')) as unknown;
      } catch {
        // Wrong credentials, another key's entry, tampering, damage: all the same, a miss.
        return undefined;
      }
    },
  });
}
