import { createPrivateKey, KeyObject, randomBytes } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { ConfigError } from '../errors/config-error.js';

/**
 * private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9): the client proves who it is with a
 * short JWT signed by its own private key; the IdP holds only the public half. No shared secret
 * travels or sits in the IdP's database.
 */

/** Signing algorithms for client assertions: asymmetric only (a shared-key HS256 would be client_secret_jwt). */
export type ClientAssertionAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** A private key as PEM (PKCS#8, PKCS#1 or SEC1, unencrypted), a private JWK, a Node KeyObject or a WebCrypto CryptoKey. */
export type ClientPrivateKey = string | JWK | KeyObject | CryptoKey;

/** What the assertion's `aud` is: the issuer identifier (the IETF's current advice) or the token endpoint URL. */
export type AssertionAudience = 'issuer' | 'token_endpoint';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Seconds an assertion is valid. Short: it is a bearer credential while it lives (the IdP also refuses a replayed jti). */
export const ASSERTION_LIFETIME_S = 60;

const CURVE_ALG: Record<string, ClientAssertionAlgorithm> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const ALGS: readonly ClientAssertionAlgorithm[] = ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface AssertionKey {
  readonly key: KeyObject;
  readonly alg: ClientAssertionAlgorithm;
  readonly kid: string | undefined;
}

function bad(factory: string, message: string): never {
  // The key itself never appears in a message: only what kind of value was wrong.
  throw new ConfigError(`${factory}(): ${message}`, { code: 'config_client' });
}

function toKeyObject(input: unknown, factory: string): { key: KeyObject; jwk?: JWK } {
  if (input instanceof KeyObject) return { key: input };
  if (typeof CryptoKey !== 'undefined' && input instanceof CryptoKey) return { key: KeyObject.from(input) };
  if (typeof input === 'string') {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(input)) {
      bad(factory, 'privateKey must be a PEM private key ("-----BEGIN PRIVATE KEY-----"), a private JWK, a KeyObject or a CryptoKey');
    }
    if (/ENCRYPTED/.test(input)) bad(factory, 'privateKey is an encrypted PEM; decrypt it first (crypto.createPrivateKey({ key, passphrase }))');
    try {
      return { key: createPrivateKey(input) };
    } catch {
      bad(factory, 'privateKey is not a readable PEM private key');
    }
  }
  if (input && typeof input === 'object' && typeof (input as JWK).kty === 'string') {
    const jwk = input as JWK;
    if (typeof jwk.d !== 'string') bad(factory, 'privateKey is a public JWK; private_key_jwt needs the private key (with "d")');
    try {
      return { key: createPrivateKey({ key: jwk as never, format: 'jwk' }), jwk };
    } catch {
      bad(factory, 'privateKey is not a usable private JWK');
    }
  }
  return bad(factory, 'privateKey is required with clientAuth: private_key_jwt (PEM string, private JWK, KeyObject or CryptoKey)');
}

/** The algorithm a key type implies, and whether an explicit one fits the key. */
function algorithmFor(key: KeyObject, wanted: unknown, factory: string): ClientAssertionAlgorithm {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if ((type === 'rsa' || type === 'rsa-pss') && (details.modulusLength ?? 0) < 2048) {
    bad(factory, 'privateKey is an RSA key shorter than 2048 bits');
  }
  const implied: ClientAssertionAlgorithm | undefined =
    type === 'rsa' ? 'RS256' : type === 'rsa-pss' ? 'PS256' : type === 'ed25519' ? 'EdDSA' : type === 'ec' ? CURVE_ALG[details.namedCurve ?? ''] : undefined;
  if (implied === undefined) bad(factory, `privateKey has an unsupported key type (${String(type)}${details.namedCurve ? ` ${details.namedCurve}` : ''}); use RSA, EC P-256/384/521 or Ed25519`);
  if (wanted === undefined) return implied;
  if (typeof wanted !== 'string' || !(ALGS as readonly string[]).includes(wanted)) {
    bad(factory, `alg must be one of ${ALGS.join(', ')} (got "${String(wanted)}")`);
  }
  const fits = wanted === implied || (type === 'rsa' && wanted === 'PS256');
  if (!fits) bad(factory, `alg ${wanted} does not fit the ${type} privateKey (use ${implied})`);
  return wanted as ClientAssertionAlgorithm;
}

/** Checks the key options once, at start-up, so a wrong key type fails before the first request. */
export function resolveAssertionKey(options: { privateKey?: unknown; kid?: unknown; alg?: unknown }, factory: string): AssertionKey {
  const { key, jwk } = toKeyObject(options.privateKey, factory);
  if (key.type !== 'private') bad(factory, 'privateKey is a public key; private_key_jwt needs the private key');
  const kid = options.kid ?? jwk?.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > 256)) bad(factory, 'kid must be a non-empty string');
  const alg = algorithmFor(key, options.alg ?? jwk?.alg, factory);
  return Object.freeze({ key, alg, kid: kid as string | undefined });
}

/**
 * The signed assertion for one request. A new `jti` every time: IdPs refuse a replayed one, so
 * a retried request gets its own assertion rather than the rejected one's.
 */
export function signClientAssertion(k: AssertionKey, clientId: string, audience: string): Promise<string> {
  // Real time, not lib/clock.ts: the IdP checks iat/exp against its own clock, which a test clock does not move.
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader(k.kid === undefined ? { alg: k.alg } : { alg: k.alg, kid: k.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setJti(randomBytes(18).toString('base64url'))
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_LIFETIME_S)
    .sign(k.key);
}

/**
 * Bytes that identify the private key whatever form it was given in (PEM, JWK, KeyObject): its
 * private JWK members in a fixed order. Only ever fed to the store's slow KDF, never kept or logged.
 */
export function keyMaterial(k: AssertionKey): Buffer {
  let jwk: JWK;
  try {
    jwk = k.key.export({ format: 'jwk' }) as JWK;
  } catch {
    throw new ConfigError('createM2MClient(): a shared store needs an exportable privateKey to derive its sealing keys (a non-extractable CryptoKey cannot be used with store)', {
      code: 'config_store',
    });
  }
  const members = Object.keys(jwk).filter((m) => typeof (jwk as Record<string, unknown>)[m] === 'string').sort();
  const canonical = JSON.stringify(members.map((m) => [m, (jwk as Record<string, string>)[m]]));
  return Buffer.from(`private_key_jwt\0${canonical}`, 'utf8');
}
