export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

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
  } else {
    params.set('client_id', clientId);
    params.set('client_secret', clientSecret);
  }
}
