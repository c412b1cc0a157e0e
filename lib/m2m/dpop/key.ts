import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { OptionChecker } from '../../options/validate.js';

/** Proof algorithms the M2M client can sign with (RFC 9449 §4.2: asymmetric only). */
export type M2MDpopAlgorithm = 'ES256' | 'EdDSA' | 'PS256' | 'RS256';

/**
 * `dpop` option of {@link createM2MClient}. `true` generates one key pair per client (ES256).
 * Give `privateKey` to share one key across a fleet: a DPoP-bound token can only be used with the
 * key it is bound to, so instances share tokens through a store only when they share this key.
 */
export interface M2MDpopOptions {
  /**
   * The proof key: a private `KeyObject`, a private JWK (with `d`), or a `CryptoKey` (extractable
   * or not). Its public half goes into every proof; the private half is never logged or stored.
   * @default a new key pair for `alg`, generated when the client is created
   */
  privateKey?: KeyObject | CryptoKey | JsonWebKey;
  /**
   * Proof signing algorithm; must fit the key (EC P-256 for ES256, Ed25519 for EdDSA, RSA ≥ 2048 bits for PS256/RS256).
   * @default 'ES256'
   */
  alg?: M2MDpopAlgorithm;
}

/** The resolved proof key: private half for signing, public JWK for the header, RFC 7638 thumbprint. */
export interface DpopKey {
  readonly alg: M2MDpopAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicJwk: Readonly<Record<string, string>>;
  readonly jkt: string;
}

const check: OptionChecker = new OptionChecker('createM2MClient()', 'dpop.md#m2m-client');
const ALGS: readonly M2MDpopAlgorithm[] = ['ES256', 'EdDSA', 'PS256', 'RS256'];
// RFC 7638 §3.2: the required members only, in lexicographic order.
const REQUIRED: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };

function fail(message: string): never {
  return check.fail('config_keys', message);
}

/** RFC 7638 thumbprint, computed synchronously so it can be part of the cache key from the first call. */
export function jwkThumbprint(jwk: Readonly<Record<string, string>>): string {
  const members = REQUIRED[jwk.kty!];
  if (members === undefined) throw new TypeError('unsupported key type');
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

function generate(alg: M2MDpopAlgorithm): KeyObject {
  // node:crypto rather than jose's async generateKeyPair: the client is created synchronously and
  // its cache keys carry the thumbprint, so the key must exist before the constructor returns.
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519').privateKey;
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

function toPrivateKeyObject(value: unknown): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type !== 'private') fail('dpop.privateKey must be a private key (got a public or secret KeyObject)');
    return value;
  }
  if (typeof CryptoKey !== 'undefined' && value instanceof CryptoKey) {
    if (value.type !== 'private') fail('dpop.privateKey must be a private key (got a public or secret CryptoKey)');
    return KeyObject.from(value);
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const jwk = value as Record<string, unknown>;
    if (typeof jwk.d !== 'string') fail('dpop.privateKey JWK must be a private key (it has no "d")');
    try {
      return createPrivateKey({ key: jwk as never, format: 'jwk' });
    } catch {
      // The JWK holds private material: its contents never go into a message.
      fail('dpop.privateKey is not a valid private JWK');
    }
  }
  return fail('dpop.privateKey must be a private KeyObject, CryptoKey or JWK');
}

function fits(key: KeyObject, alg: M2MDpopAlgorithm): boolean {
  const d = key.asymmetricKeyDetails ?? {};
  if (alg === 'ES256') return key.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1';
  if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519';
  return (key.asymmetricKeyType === 'rsa' || (alg === 'PS256' && key.asymmetricKeyType === 'rsa-pss')) && (d.modulusLength ?? 0) >= 2048;
}

/** Checks the `dpop` option and resolves the proof key; undefined when DPoP is off. */
export function resolveDpopKey(value: unknown): DpopKey | undefined {
  if (value === undefined || value === false) return undefined;
  const o = (value === true ? {} : value) as M2MDpopOptions;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail('dpop must be true or { privateKey?, alg? }');
  for (const k of Object.keys(o)) if (k !== 'privateKey' && k !== 'alg') fail(`unknown option "dpop.${k}"`);
  const alg = o.alg ?? 'ES256';
  if (!ALGS.includes(alg)) fail(`dpop.alg must be one of ${ALGS.join(', ')}`);
  const privateKey = o.privateKey === undefined ? generate(alg) : toPrivateKeyObject(o.privateKey);
  if (!fits(privateKey, alg)) fail(`dpop.privateKey does not fit dpop.alg ${alg} (ES256: EC P-256, EdDSA: Ed25519, PS256/RS256: RSA of 2048 bits or more)`);
  const full = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, string>;
  // Only the public members go into proofs (no kid, no use, nothing the caller attached).
  const publicJwk = Object.freeze(Object.fromEntries(REQUIRED[full.kty!]!.map((m) => [m, full[m]!])));
  return Object.freeze({ alg, privateKey, publicJwk, jkt: jwkThumbprint(publicJwk) });
}
