import { LRUCache } from 'lru-cache';
import { ASSERTION_LIFETIME_S, ASSERTION_TYPE, signClientAssertion, type AssertionKey } from './client-assertion.js';

/**
 * How this server authenticates as a confidential client to the IdP (RFC 6749 §2.3.1):
 * `client_secret_basic` sends an `Authorization: Basic` header (id and secret form-urlencoded
 * first, as the RFC requires); `client_secret_post` sends `client_id` and `client_secret` as
 * request parameters; `private_key_jwt` (RFC 7523 §2.2) sends a short JWT signed with the
 * client's private key as `client_assertion`, in the form body; `tls_client_auth` and
 * `self_signed_tls_client_auth` (RFC 8705 §2) send only `client_id`: the client certificate
 * presented in the TLS handshake (the `tls` option) is the credential.
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth';

/** The RFC 8705 §2 methods, where the TLS handshake authenticates the client. */
export const isTlsClientAuth = (method: ClientAuthMethod): method is 'tls_client_auth' | 'self_signed_tls_client_auth' =>
  method === 'tls_client_auth' || method === 'self_signed_tls_client_auth';

/** application/x-www-form-urlencoded encoding of one value (WHATWG serializer, RFC 6749 App. B). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * RFC 6749 §2.3.1: id and secret are form-urlencoded *before* they are joined and base64'd, so a
 * secret holding ':' '+' '%' or non-ASCII survives. Many hand-written clients skip this step.
 */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/**
 * Adds this server's client credentials to an outbound request. Anything the caller sent under
 * these names has already been dropped: the confidential client's identity is never the caller's.
 */
export function applyClientAuth(
  method: ClientAuthMethod,
  clientId: string,
  clientSecret: string,
  params: URLSearchParams,
  headers: Record<string, string>,
): void {
  if (method === 'client_secret_basic') {
    headers.authorization = basicAuthorization(clientId, clientSecret);
  } else if (isTlsClientAuth(method)) {
    // RFC 8705 §2: client_id in the request, no secret; the certificate authenticates.
    params.set('client_id', clientId);
  } else {
    params.set('client_id', clientId);
    params.set('client_secret', clientSecret);
  }
}

/**
 * private_key_jwt: one fresh assertion per request. Their signatures are remembered while the
 * assertions live, so an IdP that echoes the request in an error cannot carry one into a log,
 * an error message or a hook event (an assertion is a bearer credential until it expires).
 */
export class AssertionSigner {
  readonly #recent = new LRUCache<string, true>({ max: 512, ttl: (ASSERTION_LIFETIME_S + 60) * 1000 });

  constructor(
    readonly key: AssertionKey,
    private readonly clientId: string,
  ) {}

  async apply(params: URLSearchParams, audience: string): Promise<void> {
    const assertion = await signClientAssertion(this.key, this.clientId, audience);
    this.#recent.set(assertion.slice(assertion.lastIndexOf('.') + 1), true);
    // client_id is optional with an assertion (RFC 7523 §3.1) but names the client for IdPs that route on it.
    params.set('client_id', this.clientId);
    params.set('client_assertion_type', ASSERTION_TYPE);
    params.set('client_assertion', assertion);
  }

  /** `text` with any assertion this signer made (recognised by its signature) replaced by `[redacted]`. */
  redact(text: string): string {
    if (this.#recent.size === 0) return text;
    let out = text;
    for (const sig of this.#recent.keys()) {
      if (!out.includes(sig)) continue;
      // The whole compact JWS around the signature goes, not just the signature.
      out = out.replace(new RegExp(`[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]*\\.${sig}`, 'g'), '[redacted]').replaceAll(sig, '[redacted]');
    }
    return out;
  }
}

/** `%2b` and `%2B` are the same octet; an IdP may echo either case (the EIAM seed writes `%2b`). */
function percentInsensitive(encoded: string): string {
  return encoded
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%([0-9A-F])([0-9A-F])/gi, (_m, a: string, b: string) => `%[${a.toLowerCase()}${a.toUpperCase()}][${b.toLowerCase()}${b.toUpperCase()}]`);
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One pattern matching every form in which a client secret can come back from an IdP that
 * echoes its input: as is, form- and percent-encoded, JSON-escaped, and base64 (alone, and as the
 * whole `id:secret` Basic credential when `clientId` is given, with or without padding). Also
 * used for the user tokens a token exchange sends (lib/m2m/exchange.ts). Longest forms first, so the
 * Basic credential is redacted whole rather than leaving its id half behind.
 */
export function secretPattern(clientId: string | undefined, clientSecret: string): RegExp | undefined {
  // A very short secret would redact innocent text everywhere (and is a config problem anyway).
  if (clientSecret.length < 4) return undefined;
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64').replace(/=+$/, '');
  const json = JSON.stringify(clientSecret).slice(1, -1);
  // Java and PHP encoders also write non-ASCII as \uXXXX (either hex case) and "/" as "\/".
  const uEscape = (upper: boolean) => json.replace(/[\u007f-\uffff]/g, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
    return `\\u${upper ? hex.toUpperCase() : hex}`;
  });
  const jsonForms = [json, uEscape(false), uEscape(true)].flatMap((j) => [j, j.replace(/\//g, '\\/')]);
  const literal = new Set([
    clientSecret,
    ...jsonForms,
    b64(clientSecret),
    b64(formEncode(clientSecret)),
    // Without a client id (a user's token, not a client secret) there is no Basic credential.
    ...(clientId === undefined ? [] : [b64(`${clientId}:${clientSecret}`), b64(`${formEncode(clientId)}:${formEncode(clientSecret)}`)]),
  ]);
  const encoded = new Set([formEncode(clientSecret), encodeURIComponent(clientSecret)]);
  const sources = [...[...literal].map((s) => ({ s, re: escapeRegExp(s) })), ...[...encoded].map((s) => ({ s, re: percentInsensitive(s) }))];
  sources.sort((a, b) => b.s.length - a.s.length);
  return new RegExp(sources.map((x) => x.re).join('|'), 'g');
}
