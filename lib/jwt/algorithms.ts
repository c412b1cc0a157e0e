/**
 * The one table of JWS algorithms this engine verifies (RFC 7518 §3, RFC 8037, RFC 9864), and
 * what each demands of its key. An algorithm missing here is refused (JOSENotSupported); a key that
 * does not fit its row is refused with a TypeError worded like jose's, so callers that already
 * handle jose's key errors (lib/guard/verifier.ts: 503, the key set is misconfigured) see no change.
 */
import { constants, KeyObject, webcrypto, type VerifyKeyObjectInput, type VerifyPublicKeyInput } from 'node:crypto';

/** Public-key JWS algorithms a guard can accept (RFC 7518, RFC 8037, RFC 9864). */
export type AsymmetricAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'Ed25519';
/** HMAC algorithms, accepted only with the `secret` option. */
export type SymmetricAlgorithm = 'HS256' | 'HS384' | 'HS512';
export const ASYMMETRIC_ALGS: readonly AsymmetricAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
export const SYMMETRIC_ALGS: readonly SymmetricAlgorithm[] = ['HS256', 'HS384', 'HS512'];

export type Hash = 'sha256' | 'sha384' | 'sha512';

export interface AlgSpec {
  readonly kind: 'rsa' | 'pss' | 'ec' | 'okp' | 'hmac';
  /** node:crypto digest name; null for EdDSA (the hash is part of the scheme). */
  readonly hash: Hash | null;
  /** What a WebCrypto key for this alg must say (jose's checkCryptoKey). */
  readonly subtle: { readonly name: string; readonly hash?: string; readonly namedCurve?: string };
  /** EC: the node curve name; OKP: the key types allowed. */
  readonly curve?: string;
  readonly okp?: readonly ('ed25519' | 'ed448')[];
  /** ECDSA: exact IEEE P1363 signature length (r‖s). */
  readonly sigLength?: number;
}

const rsa = (bits: 256 | 384 | 512): AlgSpec => ({ kind: 'rsa', hash: `sha${bits}`, subtle: { name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits}` } });
const pss = (bits: 256 | 384 | 512): AlgSpec => ({ kind: 'pss', hash: `sha${bits}`, subtle: { name: 'RSA-PSS', hash: `SHA-${bits}` } });
const ec = (bits: 256 | 384 | 512, crv: string, curve: string, sigLength: number): AlgSpec => ({
  kind: 'ec',
  hash: `sha${bits}`,
  subtle: { name: 'ECDSA', namedCurve: crv },
  curve,
  sigLength,
});
const hmac = (bits: 256 | 384 | 512): AlgSpec => ({ kind: 'hmac', hash: `sha${bits}`, subtle: { name: 'HMAC', hash: `SHA-${bits}` } });

// No prototype: an "alg" of "__proto__" or "constructor" must find nothing.
export const ALGORITHMS: Readonly<Record<string, AlgSpec | undefined>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, AlgSpec>, {
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: pss(256),
  PS384: pss(384),
  PS512: pss(512),
  ES256: ec(256, 'P-256', 'prime256v1', 64),
  ES384: ec(384, 'P-384', 'secp384r1', 96),
  ES512: ec(512, 'P-521', 'secp521r1', 132),
  // "EdDSA" (RFC 8037) names the scheme, not the curve; "Ed25519" (RFC 9864) pins the curve.
  EdDSA: { kind: 'okp', hash: null, subtle: { name: 'Ed25519' }, okp: ['ed25519', 'ed448'] },
  Ed25519: { kind: 'okp', hash: null, subtle: { name: 'Ed25519' }, okp: ['ed25519'] },
  HS256: hmac(256),
  HS384: hmac(384),
  HS512: hmac(512),
  }),
);

export const MIN_RSA_BITS = 2048;
const HASH_BYTES: Record<Hash, number> = { sha256: 32, sha384: 48, sha512: 64 };
const OKP_SIG_LENGTH = { ed25519: 64, ed448: 114 } as const;

/** A key made ready for one algorithm: what crypto.verify takes, and the exact signature length if fixed. */
export interface Prepared {
  readonly input: VerifyKeyObjectInput | VerifyPublicKeyInput | KeyObject;
  readonly sigLength?: number;
}

const isCryptoKey = (key: unknown): key is webcrypto.CryptoKey =>
  (key as { [Symbol.toStringTag]?: string } | null)?.[Symbol.toStringTag] === 'CryptoKey';

// Per key object, per alg. Keys are immutable, so a check passed once holds for the key's life;
// jose's key sets hand back the same CryptoKey for a JWK until the set is reloaded.
const prepared = new WeakMap<object, Record<string, Prepared>>();

const unusable = (what: string) => new TypeError(`CryptoKey does not support this operation, its ${what}`);

/** jose's checks on a WebCrypto key (same messages), so a key set's key is judged the same way. */
function checkCryptoKey(alg: string, spec: AlgSpec, key: webcrypto.CryptoKey, type: 'public' | 'secret' = 'public'): void {
  if (key.type !== type) throw new TypeError(`CryptoKey instances must be of type "${type}" for the ${alg} algorithm`);
  const algorithm = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string };
  // EdDSA also takes Ed448 (see the table); jose's WebCrypto path knows only Ed25519.
  const okpName = spec.kind === 'okp' && spec.okp!.includes(algorithm.name.toLowerCase() as 'ed448');
  if (algorithm.name !== spec.subtle.name && !okpName) throw unusable(`algorithm.name must be ${spec.subtle.name}`);
  if (spec.subtle.hash && algorithm.hash?.name !== spec.subtle.hash) throw unusable(`algorithm.hash must be ${spec.subtle.hash}`);
  if (spec.subtle.namedCurve && algorithm.namedCurve !== spec.subtle.namedCurve) {
    throw unusable(`algorithm.namedCurve must be ${spec.subtle.namedCurve}`);
  }
  if (!key.usages.includes('verify')) throw new TypeError('CryptoKey does not support this operation, its usages must include verify.');
}

/** The table's rules on the node key itself: type, size, curve, PSS parameters. */
function fromKeyObject(alg: string, spec: AlgSpec, key: KeyObject): Prepared {
  if (key.type !== 'public') throw new TypeError(`KeyObject instances must be of type "public" for the ${alg} algorithm`);
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  switch (spec.kind) {
    case 'rsa':
    case 'pss': {
      const pssKey = type === 'rsa-pss' && spec.kind === 'pss';
      if (type !== 'rsa' && !pssKey) throw new TypeError(`${alg} requires an RSA public key (got ${type})`);
      if (typeof details.modulusLength !== 'number' || details.modulusLength < MIN_RSA_BITS) {
        throw new TypeError(`${alg} requires key modulusLength to be ${MIN_RSA_BITS} bits or larger`);
      }
      if (spec.kind === 'rsa') return { input: key };
      const saltLength = HASH_BYTES[spec.hash!];
      // An RSA-PSS key may carry restrictions; it is only used when they are exactly this alg's.
      if (pssKey && (details.hashAlgorithm !== spec.hash || details.mgf1HashAlgorithm !== spec.hash || details.saltLength !== saltLength)) {
        throw new TypeError(`${alg} requires RSA-PSS key parameters ${spec.hash}/MGF1-${spec.hash}/salt ${saltLength} (got ${details.hashAlgorithm}/${details.mgf1HashAlgorithm}/${details.saltLength})`);
      }
      return { input: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength } };
    }
    case 'ec':
      if (type !== 'ec' || details.namedCurve !== spec.curve) {
        throw new TypeError(`${alg} requires an EC public key on ${spec.subtle.namedCurve} (got ${type}${details.namedCurve ? ` ${details.namedCurve}` : ''})`);
      }
      return { input: { key, dsaEncoding: 'ieee-p1363' }, sigLength: spec.sigLength };
    case 'okp':
      if (!spec.okp!.includes(type as 'ed25519')) throw new TypeError(`${alg} requires an ${spec.okp!.join(' or ')} public key (got ${type})`);
      return { input: key, sigLength: OKP_SIG_LENGTH[type as 'ed25519'] };
    default:
      throw new TypeError(`${alg} takes a secret, not a public key`);
  }
}

/**
 * Turns the key given for an asymmetric alg (a CryptoKey from jose's key set, or a KeyObject) into
 * a ready crypto.verify input. The result is cached per key object and alg.
 */
export function prepareKey(alg: string, spec: AlgSpec, key: unknown): Prepared {
  if (key === null || typeof key !== 'object') throw invalidKey(alg, key);
  const byAlg = prepared.get(key);
  const hit = byAlg?.[alg];
  if (hit !== undefined) return hit;
  let ready: Prepared;
  if (key instanceof KeyObject) ready = fromKeyObject(alg, spec, key);
  else if (isCryptoKey(key)) {
    checkCryptoKey(alg, spec, key);
    ready = fromKeyObject(alg, spec, KeyObject.from(key));
  } else throw invalidKey(alg, key);
  if (byAlg) byAlg[alg] = ready;
  else prepared.set(key, { __proto__: null, [alg]: ready } as Record<string, Prepared>);
  return ready;
}

/** The secret bytes for an HMAC alg: a Uint8Array, a secret KeyObject or an HMAC CryptoKey of the right hash. */
export function secretBytes(alg: string, spec: AlgSpec, key: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (key instanceof Uint8Array) bytes = key;
  else if (key instanceof KeyObject && key.type === 'secret') bytes = key.export();
  else if (isCryptoKey(key)) {
    checkCryptoKey(alg, spec, key, 'secret');
    bytes = KeyObject.from(key).export();
  } else throw invalidKey(alg, key, true);
  // An empty HMAC key verifies anything its holder signs with "" — i.e. anyone.
  if (bytes.byteLength === 0) throw new TypeError(`${alg} requires a non-empty secret`);
  return bytes;
}

function invalidKey(alg: string, actual: unknown, secret = false): TypeError {
  const kinds = secret ? 'CryptoKey, KeyObject or Uint8Array' : 'CryptoKey or KeyObject';
  const got = actual === null || actual === undefined ? String(actual) : typeof actual === 'object' ? `an instance of ${actual.constructor?.name ?? 'Object'}` : typeof actual;
  return new TypeError(`Key for the ${alg} algorithm must be of type ${kinds}. Received ${got}`);
}
