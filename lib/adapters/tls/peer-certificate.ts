import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * What an adapter on a Node socket hands the guard as `clientCertificate`: a reader of the
 * certificate the client presented in the TLS handshake, or undefined on a connection without
 * TLS. The handshake itself proved the client holds the certificate's key (RFC 8705 §3), whether
 * or not the server's `ca` trusts it: `rejectUnauthorized: false` with `requestCert: true` is how
 * an API takes self-signed client certificates.
 */
export function peerCertificateReader(socket: Socket | undefined): (() => Uint8Array | undefined) | undefined {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (tls?.encrypted !== true || typeof tls.getPeerCertificate !== 'function') return undefined;
  return () => {
    // getPeerX509Certificate() is about 5x cheaper than getPeerCertificate(), which parses every
    // field into an object; both answer nothing (undefined, or {} without raw) without a certificate.
    const raw = typeof tls.getPeerX509Certificate === 'function' ? tls.getPeerX509Certificate()?.raw : (tls.getPeerCertificate!(false)?.raw as Uint8Array | undefined);
    return raw instanceof Uint8Array && raw.length > 0 ? raw : undefined;
  };
}
