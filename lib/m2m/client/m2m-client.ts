import { LRUCache } from 'lru-cache';
import { DpopSigner } from '../dpop/proof.js';
import { checkTarget, createExchange, mountChecker } from '../exchange/exchange.js';
import type { OnBehalfOfOptions } from '../exchange/exchange-types.js';
import { onBehalfOfMiddleware } from '../exchange/exchange-middleware.js';
import { m2mMiddleware } from './middleware.js';
import { resolveOptions } from './options.js';
import { buildSpec, rawOptionsKey, specFor, type TokenSpec } from '../request/spec.js';
import { TokenCache } from '../cache/token-cache.js';
import { outboundFetch } from '../outbound/outbound.js';
import { tokenRequester } from '../request/token-request.js';
import type {
  GetTokenOptions,
  M2MClient,
  M2MClientOptions,
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

  const fetchToken = tokenRequester(o, signer);

  const cache = new TokenCache(
    {
      expirySkewMs: o.expirySkewMs,
      refreshAhead: o.refreshAhead,
      maxEntries: o.maxEntries,
      store: o.store,
      sealKeys: o.sealKeys,
      storeTimeoutMs: o.storeTimeoutMs,
      storeBackoffMs: o.storeBackoffMs,
      storeLockWaitMs: o.storeLockWaitMs,
      maxPauseMs: retry.maxDelayMs,
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

  const m2mFetch = outboundFetch({ cache, specOf, defaultSpec, signer, retryOn401: o.retryOn401, dispatcher: idp.tls?.dispatcher });

  const defaultApi = { fetch: m2mFetch, getToken };
  const exchanger = createExchange({ idp, retry, expirySkewMs: o.expirySkewMs, defaultExpiresInMs: o.defaultExpiresInMs });

  return Object.freeze({
    clientId: idp.clientId,
    exchange: exchanger.exchange,
    onBehalfOf: (target: OnBehalfOfOptions) => onBehalfOfMiddleware(exchanger, checkTarget(target, mountChecker), defaultApi, idp.tls?.dispatcher),
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
