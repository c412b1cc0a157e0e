import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { createSecureContext } from 'node:tls';
import type { OptionChecker } from '../options/validate.js';

/** PEM text or its bytes, as Node's `tls` options take them. */
export type PemInput = string | Buffer;

/**
 * The client certificate this server presents to the IdP (RFC 8705 §2 client authentication,
 * §3 certificate-bound tokens) and, from `createM2MClient().fetch()`, to the APIs it calls.
 * Presenting it needs the optional peer dependency `undici` (`npm install undici`).
 */
export interface ClientTlsOptions {
  /** The client certificate, PEM (with its intermediate certificates after it, if the IdP needs them). */
  cert: PemInput;
  /** Its private key, PEM. Never logged; load it from a secret store. */
  key: PemInput;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /**
   * CA certificates to trust for the IdP's and the APIs' server certificates, instead of Node's
   * bundled ones (a private CA).
   * @default Node's trusted CAs
   */
  ca?: PemInput | PemInput[];
}

/** The dispatcher that presents the certificate, and what identifies that certificate. */
export interface ResolvedClientTls {
  /** An undici `Agent` with the certificate: passed as `dispatcher` to fetch. */
  dispatcher: object;
  /** RFC 8705 §3.1 thumbprint of the certificate: what a bound token's `cnf["x5t#S256"]` holds. */
  x5tS256: string;
  /**
   * The private key's own bytes (PKCS#8 DER), whatever PEM form or encryption it was given in: what
   * a shared token store derives its sealing keys from with tls_client_auth. Not the PEM text: an
   * encrypted key's ciphertext would make the passphrase no protection for the sealed tokens, and
   * two instances holding one key in two PEM forms could not read each other's entries.
   */
  keyMaterial: Buffer;
}

type UndiciModule = { Agent: new (options: { connect: Record<string, unknown> }) => object };

const TOPIC = 'mtls.md#client-certificates';
const TLS_KEYS = ['cert', 'key', 'passphrase', 'ca'];

/**
 * undici, loaded only when a `tls` option asks for it, and synchronously so that its absence is a
 * start-up error rather than a failure on the first token request. Node's own fetch is undici
 * too, but it does not expose the `Agent` a client certificate needs.
 * `requireFrom` is for the test that proves the message when the package is missing.
 */
export function loadUndici(check: OptionChecker, requireFrom: NodeJS.Require = createRequire(import.meta.url)): UndiciModule {
  try {
    return requireFrom('undici') as UndiciModule;
  } catch (err) {
    if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    return check.fail('config_mtls', 'tls needs the optional peer dependency undici to present the client certificate: npm install undici', TOPIC);
  }
}

const isPem = (v: unknown): v is PemInput => (typeof v === 'string' && v !== '') || (Buffer.isBuffer(v) && v.length > 0);

/** Checks `tls` and builds the dispatcher; undefined when no `tls` was given. */
export function resolveClientTls(value: unknown, check: OptionChecker, requireFrom?: NodeJS.Require): ResolvedClientTls | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) check.fail('config_mtls', 'tls must be { cert, key, ca? } (PEM strings or Buffers)', TOPIC);
  check.knownKeys(value, TLS_KEYS, { certificate: 'cert', privateKey: 'key', pfx: 'cert' }, 'tls.');
  const o = value as Partial<ClientTlsOptions>;
  if (!isPem(o.cert) || !isPem(o.key)) check.fail('config_mtls', 'tls.cert and tls.key are required: the client certificate and its private key, PEM', TOPIC);
  if (o.passphrase !== undefined && typeof o.passphrase !== 'string') check.fail('config_mtls', 'tls.passphrase must be a string', TOPIC);
  if (o.ca !== undefined && !(Array.isArray(o.ca) ? o.ca.length > 0 && o.ca.every(isPem) : isPem(o.ca))) {
    check.fail('config_mtls', 'tls.ca must be a PEM certificate or a list of them', TOPIC);
  }
  const connect = { cert: o.cert, key: o.key, ...(o.passphrase === undefined ? {} : { passphrase: o.passphrase }), ...(o.ca === undefined ? {} : { ca: o.ca }) };
  let x5tS256: string;
  let keyMaterial: Buffer;
  try {
    // Fails now on a key that does not match the certificate, a wrong passphrase or unreadable PEM,
    // rather than as a handshake failure on the first request. OpenSSL's reason, never the key.
    createSecureContext(connect);
    x5tS256 = createHash('sha256').update(new X509Certificate(o.cert).raw).digest('base64url');
    keyMaterial = createPrivateKey({ key: o.key!, ...(o.passphrase === undefined ? {} : { passphrase: o.passphrase }) }).export({ format: 'der', type: 'pkcs8' });
  } catch (err) {
    const reason = (err as { message?: string }).message?.replace(/\s+/g, ' ').slice(0, 200) ?? 'unknown reason';
    return check.fail('config_mtls', `tls: Node cannot use this certificate and key (${reason})`, TOPIC);
  }
  const { Agent } = loadUndici(check, requireFrom);
  return { dispatcher: new Agent({ connect }), x5tS256, keyMaterial };
}
