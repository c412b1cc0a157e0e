import { wantsNonce, type DpopSigner } from '../dpop/proof.js';
import { isReplayable, target, withBearer, type FetchInput } from './fetch.js';
import type { M2MFetchInit } from '../request/token-types.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Fetch's own limit (WHATWG Fetch, HTTP-redirect fetch: a 21st redirect is a network error). */
const MAX_REDIRECTS = 20;
/** Headers that describe a body: dropped with the body when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];
/** Headers fetch removes when a redirect leaves the origin (WHATWG Fetch, HTTP-redirect fetch, and undici). */
const CROSS_ORIGIN_DROPPED = ['cookie', 'proxy-authorization', 'host'];

interface Hop {
  readonly input: FetchInput;
  readonly init: M2MFetchInit | undefined;
  readonly method: string;
  readonly url: string;
}

/**
 * One request with the token and a fresh proof for its method and URL; a DPoP-Nonce in the answer
 * is filed under that URL's origin, and a resource server asking for one (RFC 9449 §9) gets one
 * more try that carries it.
 */
async function sendWithProof(signer: DpopSigner, hop: Hop, accessToken: string): Promise<Response> {
  const sentNonce = signer.nonceFor(hop.url);
  const proofed = async () => withBearer(hop.input, hop.init, accessToken, await signer.proof(hop.method, hop.url, accessToken));
  const res = await fetch(hop.input, await proofed());
  signer.learnNonce(hop.url, res.headers);
  if (!wantsNonce(res) || signer.nonceFor(hop.url) === sentNonce || !isReplayable(hop.input, hop.init)) return res;
  await res.body?.cancel().catch(() => undefined);
  const again = await fetch(hop.input, await proofed());
  signer.learnNonce(hop.url, again.headers);
  return again;
}

/** The request a redirect asks for, as fetch would make it; undefined when it cannot be made (a stream body). */
function nextHop(hop: Hop, res: Response, location: URL): Hop | undefined {
  const { input, init } = hop;
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  // Ours are added again per hop, and only while the request stays on its first origin.
  headers.delete('authorization');
  headers.delete('dpop');
  // What fetch itself drops on a cross-origin hop (undici, after CVE-2023-45143 and CVE-2024-24758):
  // the caller's cookie and proxy credentials were meant for the origin it called.
  if (location.origin !== new URL(hop.url).origin) for (const h of CROSS_ORIGIN_DROPPED) headers.delete(h);
  let method = hop.method;
  let body = init?.body;
  if ((res.status === 303 && method !== 'GET' && method !== 'HEAD') || ((res.status === 301 || res.status === 302) && method === 'POST')) {
    method = 'GET';
    body = undefined;
    for (const h of BODY_HEADERS) headers.delete(h);
  } else if (!isReplayable(input, init)) {
    return undefined;
  }
  const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  return { input: location.href, init: { ...init, method, body, headers, signal, redirect: 'manual' }, method, url: location.href };
}

/**
 * A DPoP-bound call that follows redirects itself. Node's fetch drops Authorization on a
 * cross-origin redirect but would forward the DPoP proof; and a proof names one URL (`htu`), so
 * each same-origin hop needs its own. From the first hop to another origin on, neither header is
 * sent. A DPoP-Nonce is filed under the origin that sent it, not the first request's. The answer
 * is the last hop's (`redirected` is false, `url` is that hop's). With `redirect: 'manual'` or
 * `'error'` the caller's choice stands; a stream body cannot be sent again, so a 307/308 for it
 * is returned as is.
 */
export async function dpopFetch(signer: DpopSigner, input: FetchInput, init: M2MFetchInit | undefined, accessToken: string): Promise<Response> {
  const { method, url } = target(input, init);
  const mode = init?.redirect ?? (input instanceof Request ? input.redirect : 'follow');
  if (mode !== 'follow') return sendWithProof(signer, { input, init, method, url }, accessToken);
  const origin = new URL(url).origin;
  let hop: Hop = { input, init: { ...init, redirect: 'manual' }, method, url };
  // Once off the first origin, the credentials stay off, even if a later hop comes back to it.
  let credentialed = true;
  for (let redirects = 0; ; redirects++) {
    let res: Response;
    if (credentialed) res = await sendWithProof(signer, hop, accessToken);
    else {
      res = await fetch(hop.input, hop.init);
      signer.learnNonce(hop.url, res.headers);
    }
    const location = REDIRECTS.has(res.status) ? res.headers.get('location') : null;
    if (location === null) return res;
    let to: URL;
    try {
      to = new URL(location, hop.url);
    } catch {
      return res;
    }
    if (to.protocol !== 'http:' && to.protocol !== 'https:') return res;
    if (redirects === MAX_REDIRECTS) {
      await res.body?.cancel().catch(() => undefined);
      throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
    }
    const next = nextHop(hop, res, to);
    if (next === undefined) return res;
    await res.body?.cancel().catch(() => undefined);
    if (to.origin !== origin) credentialed = false;
    hop = next;
  }
}
