import type { DpopSigner } from '../dpop/proof.js';
import { dpopFetch } from './dpop-fetch.js';
import { isReplayable, newTokenMayHelp, withBearer, type FetchInput } from './fetch.js';
import type { TokenSpec } from '../request/spec.js';
import type { TokenCache } from '../cache/token-cache.js';
import type { M2MFetch, M2MFetchInit, M2MToken, TokenRequestOptions } from '../client/types.js';

/** Where {@link fetchWithOneRenewal} gets tokens, and how it tells the source one was refused. */
export interface RenewableToken<T extends M2MToken> {
  get(): Promise<T>;
  /** True for a token that itself replaced one a downstream refused. */
  isReplacement(token: T): boolean;
  /** A downstream refused `token`: no caller gets it again, and the next one is a replacement. */
  reject(token: T): Promise<void> | void;
}

/**
 * The downstream call and the one retry a 401 may earn, for `client.fetch` and `fetchAsUser`
 * alike. A 401 for a token that already replaced a rejected one is the downstream's answer, not
 * a stale token: replacing it again would ask the IdP once per call, for as long as the
 * downstream says no. So per token lifetime: one token, and at most one forced renewal.
 */
export async function fetchWithOneRenewal<T extends M2MToken>(
  source: RenewableToken<T>,
  input: FetchInput,
  init: M2MFetchInit | undefined,
  send: (token: T) => Promise<Response>,
): Promise<Response> {
  const first = await source.get();
  const res = await send(first);
  if (res.status !== 401 || source.isReplacement(first) || !newTokenMayHelp(res)) return res;
  // The downstream rejected this token: no caller should get it again, replayable body or not.
  await source.reject(first);
  if (!isReplayable(input, init)) return res;
  await res.body?.cancel().catch(() => undefined);
  return send(await source.get());
}

interface Outbound {
  cache: TokenCache;
  specOf: (t: TokenRequestOptions) => TokenSpec;
  defaultSpec: TokenSpec;
  signer: DpopSigner | undefined;
  retryOn401: boolean;
  /** The client certificate's dispatcher (`tls`): downstream APIs see the certificate the token is bound to. */
  dispatcher: object | undefined;
}

/**
 * `client.fetch`: the downstream call with the cached token (Bearer, or DPoP with a fresh proof),
 * and the one retry a 401 may earn.
 */
export function outboundFetch({ cache, specOf, defaultSpec, signer, retryOn401, dispatcher }: Outbound): M2MFetch {
  return async (input, given?: M2MFetchInit, tokenOptions?: TokenRequestOptions) => {
    // A dispatcher the caller passes wins: they chose the connection (and then present the certificate themselves).
    const init: M2MFetchInit | undefined = dispatcher === undefined ? given : ({ dispatcher, ...given } as M2MFetchInit);
    const spec = tokenOptions === undefined ? defaultSpec : specOf(tokenOptions);
    const send = (token: M2MToken): Promise<Response> =>
      signer === undefined ? fetch(input, withBearer(input, init, token.accessToken)) : dpopFetch(signer, input, init, token.accessToken);
    const source: RenewableToken<M2MToken> = {
      get: () => cache.get(spec, false),
      // retryOn401 false: every token counts as already renewed, so a 401 is returned as is.
      isReplacement: (token) => !retryOn401 || cache.isReplacement(token),
      reject: (token) => cache.invalidate(spec, token.accessToken, true),
    };
    return fetchWithOneRenewal(source, input, init, send);
  };
}
