import { IDP_OPTION_ALIASES, IDP_OPTION_KEYS, IdpClient } from '../../idp/idp-client.js';
import { MAX_TIMER_MS, OptionChecker } from '../../options/validate.js';
import { resolveDpopKey, type DpopKey } from '../dpop/key.js';
import { deriveSealKeys, type SealKeys } from '../store/seal.js';
import type { TokenStore } from '../store/store.js';
import type { RetryPolicy } from '../request/retry.js';
import { normalizeList, normalizeScope, type SpecBase } from '../request/spec.js';
import type { M2MClientOptions, M2MHooks } from './types.js';
import { withTelemetry } from '../hooks/telemetry.js';

const check: OptionChecker = new OptionChecker('createM2MClient()', 'm2m.md#options');
const STORE_TOPIC = 'm2m.md#sharing-tokens-across-instances-the-store-interface';

export interface ResolvedOptions {
  idp: IdpClient;
  base: SpecBase;
  defaults: { scope: string | undefined; audience: readonly string[]; resource: readonly string[] };
  expirySkewMs: number;
  refreshAhead: number;
  defaultExpiresInMs: number;
  retry: RetryPolicy;
  cacheMax: number;
  store: TokenStore | undefined;
  /** Only with a store: the keys that seal its entries, derived from the client credentials. */
  sealKeys: Promise<SealKeys> | undefined;
  storeTimeout: number;
  storeBackoff: number;
  storeLockWait: number;
  retryOn401: boolean;
  idpBackoffMs: number;
  hooks: M2MHooks;
  /** The DPoP proof key, when `dpop` is on. */
  dpop: DpopKey | undefined;
}

// Every M2M option on top of the IdP ones; the Record makes the compiler keep the list complete.
const M2M_KEYS = {
  scope: true, audience: true, resource: true, extraParams: true, expirySkew: true, refreshAhead: true, defaultExpiresIn: true,
  retry: true, cache: true, store: true, storeTimeout: true, storeBackoff: true, storeLockWait: true, retryOn401: true,
  idpBackoff: true, dpop: true, onTokenFetched: true, onCacheHit: true, onError: true, onRetry: true,
} as const satisfies Record<Exclude<keyof M2MClientOptions, (typeof IDP_OPTION_KEYS)[number]>, true>;
const KNOWN: readonly string[] = [...IDP_OPTION_KEYS, ...Object.keys(M2M_KEYS)];
const ALIASES: Record<string, string> = {
  ...IDP_OPTION_ALIASES,
  scopes: 'scope', audiences: 'audience', resources: 'resource', skew: 'expirySkew', expirySkewMs: 'expirySkew (seconds)', retries: 'retry',
};

/** These are set by the client itself; letting extraParams override them would change whose token this is. */
const RESERVED_PARAMS = new Set([
  'grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'scope', 'audience', 'resource',
]);

function resolveStore(store: unknown): TokenStore | undefined {
  if (store === undefined) return undefined;
  const s = store as Partial<Record<keyof TokenStore, unknown>> | null;
  if (!s || typeof s !== 'object' || typeof s.get !== 'function' || typeof s.set !== 'function') {
    check.fail('config_store', 'store must implement get(key) and set(key, value, ttlMs)', STORE_TOPIC);
  }
  if ((s.lock === undefined) !== (s.unlock === undefined) || (s.lock !== undefined && typeof s.lock !== 'function') || (s.unlock !== undefined && typeof s.unlock !== 'function')) {
    check.fail('config_store', 'store.lock and store.unlock must be given together, as functions', STORE_TOPIC);
  }
  if (s.delete !== undefined && typeof s.delete !== 'function') {
    check.fail('config_store', 'store.delete must be a function', STORE_TOPIC);
  }
  return store as TokenStore;
}

function resolveExtraParams(value: unknown): readonly (readonly [string, string])[] {
  if (value === undefined) return [];
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    check.fail('config_options', 'extraParams must be an object of string values');
  }
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (RESERVED_PARAMS.has(k)) {
      const hint = k === 'scope' || k === 'audience' || k === 'resource' ? `use the ${k} option` : 'the client sets it itself';
      check.fail('config_options', `extraParams must not contain "${k}"; ${hint}`);
    }
    if (typeof v !== 'string') check.fail('config_options', `extraParams.${k} must be a string`);
    out.push([k, v]);
  }
  return Object.freeze(out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

export function resolveOptions(options: M2MClientOptions): ResolvedOptions {
  check.knownKeys(check.object(options, 'with clientId, clientSecret and issuer or tokenEndpoint'), KNOWN, ALIASES);
  const idp = new IdpClient(options, check);

  const refreshAhead = options.refreshAhead === false ? 0 : check.number(options.refreshAhead, 'refreshAhead', 0.2);
  if (refreshAhead >= 1) {
    check.fail('config_number', `refreshAhead is a fraction of the lifetime, 0 <= x < 1 (got ${refreshAhead}); false turns it off`);
  }
  let retry: RetryPolicy = { attempts: 3, baseDelay: 200, maxDelay: 5000 };
  if (options.retry === false) retry = { ...retry, attempts: 1 };
  else if (options.retry !== undefined) {
    if (!options.retry || typeof options.retry !== 'object') check.fail('config_options', 'retry must be { attempts, baseDelay, maxDelay } or false');
    check.knownKeys(options.retry, ['attempts', 'baseDelay', 'maxDelay'], {}, 'retry.');
    retry = {
      attempts: check.number(options.retry.attempts, 'retry.attempts', 3, { positive: true, integer: true }),
      baseDelay: check.number(options.retry.baseDelay, 'retry.baseDelay', 200, { max: MAX_TIMER_MS }),
      maxDelay: check.number(options.retry.maxDelay, 'retry.maxDelay', 5000, { max: MAX_TIMER_MS }),
    };
  }
  if (options.cache !== undefined) {
    if (!options.cache || typeof options.cache !== 'object') check.fail('config_options', 'cache must be an object such as { max: 500 }');
    check.knownKeys(options.cache, ['max'], {}, 'cache.');
  }
  for (const h of ['onTokenFetched', 'onCacheHit', 'onError', 'onRetry'] as const) check.func(options[h], h);

  const store = resolveStore(options.store);
  const dpop = resolveDpopKey(options.dpop);
  const resolved: ResolvedOptions = {
    idp,
    base: { endpointKey: idp.endpointKey, clientId: idp.clientId, extraParams: resolveExtraParams(options.extraParams), dpopJkt: dpop?.jkt },
    defaults: {
      scope: normalizeScope(options.scope, check),
      audience: normalizeList(options.audience, 'audience', check),
      resource: normalizeList(options.resource, 'resource', check),
    },
    expirySkewMs: check.number(options.expirySkew, 'expirySkew (seconds)', 60) * 1000,
    refreshAhead,
    defaultExpiresInMs: check.number(options.defaultExpiresIn, 'defaultExpiresIn (seconds)', 300, { positive: true }) * 1000,
    retry,
    cacheMax: check.number(options.cache?.max, 'cache.max', 500, { positive: true, integer: true }),
    store,
    sealKeys: undefined,
    storeTimeout: check.number(options.storeTimeout, 'storeTimeout', 1000, { positive: true, max: MAX_TIMER_MS }),
    storeBackoff: check.number(options.storeBackoff, 'storeBackoff', 5000),
    storeLockWait: check.number(options.storeLockWait, 'storeLockWait', idp.timeout, { positive: true }),
    retryOn401: check.boolean(options.retryOn401, 'retryOn401', true),
    idpBackoffMs: check.number(options.idpBackoff, 'idpBackoff', 2000),
    hooks: withTelemetry({ onTokenFetched: options.onTokenFetched, onCacheHit: options.onCacheHit, onError: options.onError, onRetry: options.onRetry }),
    dpop,
  };
  // Started only once every option is known good; it runs in the background while the app starts.
  if (store !== undefined) resolved.sealKeys = deriveSealKeys(idp.storeSecret(), idp.endpointKey, idp.clientId);
  return resolved;
}
