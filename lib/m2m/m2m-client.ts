import { LRUCache } from 'lru-cache';
import { describeUrl } from '../idp/http.js';
import { DpopSigner, postWithDpop, wantsNonce } from './dpop.js';
import { checkTarget, createExchange } from './exchange.js';
import type { OnBehalfOfOptions } from './exchange-types.js';
import { onBehalfOfMiddleware } from './exchange-middleware.js';
import { isReplayable, newTokenMayHelp, target, withBearer } from './fetch.js';
import { emit } from './hooks.js';
import { m2mMiddleware } from './middleware.js';
import { resolveOptions } from './options.js';
import { getRetryAfter, isRetryable, retryDelay, setRetryAfter, sleep } from './retry.js';
import { buildSpec, rawOptionsKey, specFor, type TokenSpec } from './spec.js';
import type { StoredToken } from './store.js';
import { TokenCache } from './token-cache.js';
import { interpretTokenResponse, withContext } from './token-response.js';
import type {
  GetTokenOptions,
  M2MToken,
  M2MClient,
  M2MClientOptions,
  M2MFetch,
  M2MFetchInit,
  M2MGetToken,
  M2MMiddlewareOptions,
  TokenRequestOptions,
} from './types.js';

const hasTokenOptions = (o: TokenRequestOptions): boolean => o.scope !== undefined || o.audience !== undefined || o.resource !== undefined;

/**
 * Cached client_credentials tokens (RFC 6749 §4.4) for calls from this service to others.
 * Options are checked here, so a misconfiguration throws a ConfigError at start-up.
 *
 * @example
 * ```ts
 * const m2m = createM2MClient({
 *   issuer: 'https://idp.example.com',
 *   clientId: process.env.M2M_CLIENT_ID!,
 *   clientSecret: process.env.M2M_CLIENT_SECRET!,
 *   scope: 'billing:read',
 *   onError: (err, { phase }) => logger.warn({ phase, code: (err as { code?: string }).code }, err.message),
 * });
 *
 * const res = await m2m.fetch('https://billing.internal/invoices'); // Authorization: Bearer <token>
 * const { accessToken } = await m2m.getToken({ audience: 'https://reports.internal' });
 *
 * // Or per request, as req.m2m:
 * app.use('/reports', m2m.middleware({ audience: 'https://reports.internal' }));
 * ```
 */
export function createM2MClient(options: M2MClientOptions): M2MClient {
  const o = resolveOptions(options);
  const { idp, retry } = o;
  const signer = o.dpop === undefined ? undefined : new DpopSigner(o.dpop);
  const defaultSpec = buildSpec(o.base, o.defaults.scope, o.defaults.audience, o.defaults.resource);
  // Per-call options are normalized once per distinct value, not per call; bounded against dynamic scopes.
  const specs = new LRUCache<string, TokenSpec>({ max: 1000 });

  const specOf = (t: TokenRequestOptions): TokenSpec => {
    if (!hasTokenOptions(t)) return defaultSpec;
    let raw: string;
    try {
      raw = rawOptionsKey(t);
    } catch {
      return specFor(o.base, o.defaults, t, 'getToken()'); // not JSON-able (cycle, BigInt): it throws the ConfigError
    }
    let s = specs.get(raw);
    if (s === undefined) {
      s = specFor(o.base, o.defaults, t, 'getToken()');
      specs.set(raw, s);
    }
    return s;
  };

  async function fetchToken(spec: TokenSpec, background: boolean): Promise<{ token: StoredToken; attempts: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const where = describeUrl(await idp.endpointUrl('token'));
        // Lifetime counts from when we asked, not from when the answer arrived: errs on the early side.
        const issuedAt = Date.now();
        const params = new URLSearchParams(spec.params as [string, string][]);
        const res = signer === undefined ? await idp.post('token', params) : await postWithDpop(idp, signer, params);
        const token = interpretTokenResponse(res, {
          tokenType: signer === undefined ? 'Bearer' : 'DPoP',
          where,
          requestedScope: spec.info.scope,
          defaultExpiresInMs: o.defaultExpiresInMs,
          sanitize: (text) => idp.sanitize(text),
          issuedAt,
        });
        return { token, attempts: attempt };
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        const retryAfter = getRetryAfter(e);
        const delay = attempt < retry.attempts && isRetryable(e) ? retryDelay(retry, attempt, retryAfter) : undefined;
        if (delay === undefined) {
          const note =
            retryAfter !== undefined && retryAfter > retry.maxDelay && attempt < retry.attempts && isRetryable(e)
              ? `the IdP asked to retry after ${Math.ceil(retryAfter / 1000)} s, more than retry.maxDelay`
              : undefined;
          const wrapped = withContext(e, spec.label, attempt, note);
          if (retryAfter !== undefined) setRetryAfter(wrapped, retryAfter); // lengthens idpBackoff
          throw wrapped;
        }
        if (o.hooks.onRetry) emit(o.hooks.onRetry, { ...spec.info, attempt, delayMs: delay, error: e });
        await sleep(delay, !background);
      }
    }
  }

  const cache = new TokenCache(
    {
      expirySkewMs: o.expirySkewMs,
      refreshAhead: o.refreshAhead,
      cacheMax: o.cacheMax,
      store: o.store,
      sealKeys: o.sealKeys,
      storeTimeout: o.storeTimeout,
      storeBackoff: o.storeBackoff,
      storeLockWait: o.storeLockWait,
      maxPauseMs: retry.maxDelay,
      idpBackoffMs: o.idpBackoffMs,
      hooks: o.hooks,
    },
    fetchToken,
  );

  const getToken: M2MGetToken = (opts?: GetTokenOptions) => {
    if (opts === undefined) return cache.get(defaultSpec, false);
    let spec: TokenSpec;
    try {
      spec = specOf(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return cache.get(spec, opts.forceRefresh === true);
  };

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
    if (res.status !== 401 || !o.retryOn401 || cache.isReplacement(first) || !newTokenMayHelp(res)) return res;
    // The downstream rejected this token: no caller should get it again, replayable body or not.
    await cache.invalidate(spec, first.accessToken, true);
    if (!isReplayable(input, init)) return res;
    await res.body?.cancel().catch(() => undefined);
    const fresh = await cache.get(spec, false);
    return send(input, init, fresh);
  };

  const defaultApi = { fetch: m2mFetch, getToken };
  const exchanger = createExchange({ idp, retry, expirySkewMs: o.expirySkewMs, defaultExpiresInMs: o.defaultExpiresInMs });

  return Object.freeze({
    clientId: idp.clientId,
    exchange: exchanger.exchange,
    onBehalfOf: (target: OnBehalfOfOptions) => onBehalfOfMiddleware(exchanger, checkTarget(target, 'onBehalfOf()'), defaultApi),
    getToken,
    fetch: m2mFetch,
    middleware(mw?: M2MMiddlewareOptions) {
      if (mw === undefined || !hasTokenOptions(mw)) return m2mMiddleware(defaultApi);
      const defaults: TokenRequestOptions = { scope: mw.scope, audience: mw.audience, resource: mw.resource };
      specOf(defaults); // validates now: a bad mount option is a start-up error, not a per-request one
      return m2mMiddleware({
        fetch: (input, init, t) => m2mFetch(input, init, t ?? defaults),
        getToken: (g) => getToken(g === undefined ? defaults : { ...defaults, ...stripUndefined(g) }),
      });
    },
    async invalidate(inv?: TokenRequestOptions & { accessToken?: string }) {
      if (inv === undefined) return cache.clear();
      await cache.invalidate(specOf(inv), inv.accessToken);
    },
  });
}

function stripUndefined<T extends object>(v: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(v) as (keyof T)[]) if (v[k] !== undefined) out[k] = v[k];
  return out;
}
