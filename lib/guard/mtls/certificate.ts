import { createHash, timingSafeEqual } from 'node:crypto';
import type { ResolvedMtls } from './options.js';

/**
 * Longest certificate header read, in characters. A certificate is 1–2 KiB of DER in practice;
 * URL-encoded PEM is about 1.4× that plus escapes. Node refuses requests whose headers pass
 * 16 KiB anyway, but a guard behind another server must not rely on that.
 */
export const MAX_CERTIFICATE_HEADER = 32_768;
/** Largest DER certificate accepted (a 16 KiB certificate is already extraordinary). */
const MAX_DER = 16_384;

const SF_BINARY = /^:([A-Za-z0-9+/]*={0,2}):$/;
// Markers with a space or a '+' (form encoders such as Go's url.QueryEscape write spaces so);
// the body keeps any '+', which is base64's own (a conforming encoder escaped it as %2B anyway).
const PEM = /^-----BEGIN[ +]CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END[ +]CERTIFICATE-----$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The DER certificate in a trusted header value, `undefined` when the header is absent, or
 * `null` when it is there but is not exactly one well-formed certificate (several headers, a
 * value too long, bad encoding, bytes that are not a DER SEQUENCE).
 */
export function certificateFromHeader(value: string | string[] | undefined, format: NonNullable<ResolvedMtls['header']>['format']): Uint8Array | undefined | null {
  if (value === undefined) return undefined;
  // Two headers (Node joins repeats of unknown headers with ", "): which one is the proxy's is unknowable.
  if (typeof value !== 'string' || value.length > MAX_CERTIFICATE_HEADER || value.includes(',')) return null;
  const text = value.trim();
  if (text === '') return undefined;
  let base64: string;
  if (format === 'rfc9440') {
    const m = SF_BINARY.exec(text);
    if (m === null) return null;
    base64 = m[1]!;
  } else {
    let pem: string;
    try {
      pem = decodeURIComponent(text).trim();
    } catch {
      return null;
    }
    const m = PEM.exec(pem);
    if (m === null) return null;
    base64 = m[1]!.replace(/\s+/g, '');
  }
  if (!BASE64.test(base64) || base64.length % 4 === 1) return null;
  const der = Buffer.from(base64, 'base64');
  return isDerSequence(der) ? der : null;
}

/**
 * A DER SEQUENCE whose definite length covers the bytes exactly: what an X.509 certificate is on
 * the outside. Enough to refuse garbage and trailing data; the thumbprint is of the bytes, and
 * the proxy that sent them vouches for the handshake.
 */
function isDerSequence(der: Uint8Array): boolean {
  if (der.length < 4 || der.length > MAX_DER || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 2 || der.length < 2 + octets) return false;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!;
  // DER: the shortest length form only.
  if (length < 0x80 || (octets === 2 && length < 0x100)) return false;
  return 2 + octets + length === der.length;
}

/** RFC 8705 §3.1: base64url of the SHA-256 of the DER certificate. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** Equal strings in time that does not depend on where they differ (both are 43 characters when valid). */
export function sameThumbprint(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
