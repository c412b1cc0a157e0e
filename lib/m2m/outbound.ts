import type { DpopSigner } from './dpop.js';
import { wantsNonce } from './dpop.js';
import { isReplayable, newTokenMayHelp, target, withBearer } from './fetch.js';
import type { TokenSpec } from './spec.js';
import type { TokenCache } from './token-cache.js';
import type { M2MFetch, M2MFetchInit, M2MToken, TokenRequestOptions } from './types.js';

interface Outbound {
  cache: TokenCache;
  specOf: (t: TokenRequestOptions) => TokenSpec;
  defaultSpec: TokenSpec;
  signer: DpopSigner | undefined;
  retryOn401: boolean;
}

/**
 * `client.fetch`: the downstream call with the cached token (Bearer, or DPoP with a fresh proof),
 * and the one retry a 401 may earn.
 */
export function outboundFetch({ cache, specOf, defaultSpec, signer, retryOn401 }: Outbound): M2MFetch {
  /** One send with the token (and, with DPoP, a fresh proof); a DPoP-Nonce in the answer is kept for the next proof. */
  const send = async (input: Parameters<M2MFetch>[0], init: M2MFetchInit | undefined, token: M2MToken): Promise<Response> => {
    if (signer === undefined) return fetch(input, withBearer(input, init, token.accessToken));
    const { method, url } = target(input, init);
    const sentNonce = signer.nonceFor(url);
    const res = await fetch(input, withBearer(input, init, token.accessToken, await signer.proof(method, url, token.accessToken)));
    signer.learnNonce(url, res.headers);
    // RFC 9449 §9: a resource server that wants a nonce answers 401 use_dpop_nonce; one more try carries it.
    if (!wantsNonce(res) || signer.nonceFor(url) === sentNonce || !isReplayable(input, init)) return res;
    await res.body?.cancel().catch(() => undefined);
    const again = await fetch(input, withBearer(input, init, token.accessToken, await signer.proof(method, url, token.accessToken)));
    signer.learnNonce(url, again.headers);
    return again;
  };

  const m2mFetch: M2MFetch = async (input, init?: M2MFetchInit, tokenOptions?: TokenRequestOptions) => {
    const spec = tokenOptions === undefined ? defaultSpec : specOf(tokenOptions);
    const first = await cache.get(spec, false);
    const res = await send(input, init, first);
    // A 401 for a token that already replaced a rejected one is the downstream's answer, not a stale
    // token: replacing it again would ask the IdP once per call, for as long as the downstream says no.
    if (res.status !== 401 || !retryOn401 || cache.isReplacement(first) || !newTokenMayHelp(res)) return res;
    // The downstream rejected this token: no caller should get it again, replayable body or not.
    await cache.invalidate(spec, first.accessToken, true);
    if (!isReplayable(input, init)) return res;
    await res.body?.cancel().catch(() => undefined);
    const fresh = await cache.get(spec, false);
    return send(input, init, fresh);
  };

  return m2mFetch;
}
