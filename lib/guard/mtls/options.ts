import type { OptionChecker } from '../../options/validate.js';

/**
 * Where a TLS-terminating proxy in front puts the client certificate it received, and in which
 * form. Name it only when that proxy sets the header on every request and removes any copy the
 * client sent: the guard then believes it, and reads the certificate nowhere else.
 */
export interface CertificateHeaderOptions {
  /** The header's name, e.g. `'client-cert'` (RFC 9440) or `'x-ssl-client-cert'`. Case does not matter. */
  name: string;
  /**
   * - `'rfc9440'`: the `Client-Cert` form of RFC 9440 §2.2, the DER certificate as a structured-field
   *   byte sequence `:<base64>:` (HAProxy: `:%[ssl_c_der,base64]:`).
   * - `'pem-urlencoded'`: the PEM certificate, URL-encoded, as nginx's `$ssl_client_escaped_cert`
   *   forwards it.
   */
  format: 'rfc9440' | 'pem-urlencoded';
}

/** How requireAuth treats certificate-bound access tokens (RFC 8705 §3: `cnf["x5t#S256"]`). */
export interface MtlsOptions {
  /**
   * - `'allowed'`: a token bound to a certificate is accepted only on a request whose client
   *   certificate has that thumbprint; unbound tokens are accepted as usual.
   * - `'required'`: only certificate-bound tokens, each with its certificate.
   * - `'disabled'`: the client certificate is never read, and a certificate-bound token is refused
   *   (it could not be checked, and accepting it unchecked would undo the binding).
   * @default 'allowed'
   */
  mode?: 'allowed' | 'required' | 'disabled';
  /**
   * Read the client certificate from this request header, set by the TLS-terminating proxy in
   * front, instead of from the TLS connection (which, behind a proxy, is the proxy's). Without it
   * no header is ever read, so a client cannot claim a certificate by sending one.
   * @default none: the certificate of the TLS connection (an `https` server with `requestCert: true`)
   */
  certificateHeader?: CertificateHeaderOptions;
}

export interface ResolvedMtls {
  mode: 'allowed' | 'required' | 'disabled';
  /** Lower-case header name and its format; undefined: the TLS connection's certificate. */
  header: { name: string; format: CertificateHeaderOptions['format'] } | undefined;
}

const TOPIC = 'mtls.md#options';
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Headers with a meaning of their own: naming one is a mistake that would also let clients choose the value.
const RESERVED = new Set(['authorization', 'cookie', 'host', 'dpop', 'content-type', 'content-length', 'transfer-encoding', 'connection']);

/** Checks and fills in `mtls` options (called by requireAuth's option resolver). */
export function resolveMtls(value: MtlsOptions | undefined, check: OptionChecker): ResolvedMtls {
  if (value === undefined) return { mode: 'allowed', header: undefined };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) check.fail('config_mtls', "mtls must be an object such as { mode: 'allowed' }", TOPIC);
  check.knownKeys(value, ['mode', 'certificateHeader'], { header: 'certificateHeader', clientCertHeader: 'certificateHeader' }, 'mtls.');
  const mode = value.mode ?? 'allowed';
  if (mode !== 'allowed' && mode !== 'required' && mode !== 'disabled') check.fail('config_mtls', "mtls.mode must be 'allowed', 'required' or 'disabled'", TOPIC);
  const h = value.certificateHeader;
  if (h === undefined) return { mode, header: undefined };
  if (mode === 'disabled') check.fail('config_mtls', "mtls.certificateHeader is never read with mode 'disabled'; remove one of them", TOPIC);
  if (typeof h !== 'object' || h === null || Array.isArray(h)) {
    check.fail('config_mtls', "mtls.certificateHeader must be { name, format: 'rfc9440' | 'pem-urlencoded' }", TOPIC);
  }
  check.knownKeys(h, ['name', 'format'], {}, 'mtls.certificateHeader.');
  if (typeof h.name !== 'string' || !HEADER_NAME.test(h.name)) check.fail('config_mtls', 'mtls.certificateHeader.name must be a header name such as "client-cert"', TOPIC);
  const name = h.name.toLowerCase();
  if (RESERVED.has(name)) check.fail('config_mtls', `mtls.certificateHeader.name cannot be "${name}", a header with a meaning of its own`, TOPIC);
  if (h.format !== 'rfc9440' && h.format !== 'pem-urlencoded') {
    check.fail('config_mtls', "mtls.certificateHeader.format must be 'rfc9440' (Client-Cert: :base64 DER:) or 'pem-urlencoded' (nginx $ssl_client_escaped_cert)", TOPIC);
  }
  return { mode, header: { name, format: h.format } };
}
