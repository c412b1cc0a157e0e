import { IDP_OPTION_ALIASES, IDP_OPTION_KEYS, IDP_OPTION_RENAMES, IdpClient } from '../../idp/idp-client.js';
import type { OperatorLogger } from '../../log/operator-log.js';
import { renamed } from '../../options/deprecated.js';
import { MAX_TIMER_MS, OptionChecker } from '../../options/validate.js';
import { resolveDpopKey, type DpopKey } from '../dpop/key.js';
import { deriveSealKeys, type SealKeys } from '../store/seal.js';
import type { TokenStore } from '../store/store.js';
import type { RetryPolicy } from '../request/retry.js';
import { normalizeList, normalizeScope, type SpecBase } from '../request/spec.js';
import type { M2MClientOptions, M2MHooks } from './types.js';
import { logErrors } from '../hooks/log.js';
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
  maxEntries: number;
  store: TokenStore | undefined;
  /** Only with a store: the keys that seal its entries, derived from the client credentials. */
  sealKeys: Promise<SealKeys> | undefined;
  storeTimeoutMs: number;
  storeBackoffMs: number;
  storeLockWaitMs: number;
  retryOn401: boolean;
  idpBackoffMs: number;
  hooks: M2MHooks;
  /** The DPoP proof key, when `dpop` is on. */
  dpop: DpopKey | undefined;
}

// Every M2M option on top of the IdP ones; the Record makes the compiler keep the list complete.
const M2M_KEYS = {
  scope: true, audience: true, resource: true, extraParams: true, expirySkewSeconds: true, refreshAhead: true, defaultExpiresInSeconds: true,
  retry: true, cache: true, store: true, storeTimeoutMs: true, storeBackoffMs: true, storeLockWaitMs: true, retryOn401: true,
  idpBackoffMs: true, dpop: true, onTokenFetched: true, onCacheHit: true, onError: true, onRetry: true, logger: true,
  // Old names (moved to the new ones by renamed() before the unknown-key check, so never seen there).
  expirySkew: true, defaultExpiresIn: true, storeTimeout: true, storeBackoff: true, storeLockWait: true, idpBackoff: true,
} as const satisfies Record<Exclude<keyof M2MClientOptions, (typeof IDP_OPTION_KEYS)[number]>, true>;
const KNOWN: readonly string[] = [...IDP_OPTION_KEYS, ...Object.keys(M2M_KEYS)];
const ALIASES: Record<string, string> = {
  ...IDP_OPTION_ALIASES,
  scopes: 'scope', audiences: 'audience', resources: 'resource', skew: 'expirySkewSeconds', expirySkewMs: 'expirySkewSeconds', retries: 'retry',
};

/** Old option names of createM2MClient() (CHANGELOG.md, "Option names"); each keeps its unit. */
const RENAMES: Readonly<Record<string, string>> = {
  ...IDP_OPTION_RENAMES,
  expirySkew: 'expirySkewSeconds', defaultExpiresIn: 'defaultExpiresInSeconds', storeTimeout: 'storeTimeoutMs',
  storeBackoff: 'storeBackoffMs', storeLockWait: 'storeLockWaitMs', idpBackoff: 'idpBackoffMs',
};
const RETRY_RENAMES = { baseDelay: 'baseDelayMs', maxDelay: 'maxDelayMs' } as const;
const CACHE_RENAMES = { max: 'maxEntries' } as const;

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

export function resolveOptions(given: M2MClientOptions): ResolvedOptions {
  const options = renamed(check, check.object(given, 'with clientId, clientSecret and issuer or tokenEndpoint'), RENAMES);
  check.knownKeys(options, KNOWN, ALIASES, '', RENAMES);
  const idp = new IdpClient(options, check);

  const refreshAhead = options.refreshAhead === false ? 0 : check.number(options.refreshAhead, 'refreshAhead', 0.2);
  if (refreshAhead >= 1) {
    check.fail('config_number', `refreshAhead is a fraction of the lifetime, 0 <= x < 1 (got ${refreshAhead}); false turns it off`);
  }
  let retry: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 };
  if (options.retry === false) retry = { ...retry, attempts: 1 };
  else if (options.retry !== undefined) {
    if (!options.retry || typeof options.retry !== 'object') check.fail('config_options', 'retry must be { attempts, baseDelayMs, maxDelayMs } or false');
    const r = renamed(check, options.retry, RETRY_RENAMES, 'retry.');
    check.knownKeys(r, ['attempts', 'baseDelayMs', 'maxDelayMs'], {}, 'retry.', RETRY_RENAMES);
    retry = {
      attempts: check.number(r.attempts, 'retry.attempts', 3, { positive: true, integer: true }),
      baseDelayMs: check.number(r.baseDelayMs, 'retry.baseDelayMs', 200, { max: MAX_TIMER_MS }),
      maxDelayMs: check.number(r.maxDelayMs, 'retry.maxDelayMs', 5000, { max: MAX_TIMER_MS }),
    };
  }
  let maxEntries: unknown;
  if (options.cache !== undefined) {
    if (!options.cache || typeof options.cache !== 'object') check.fail('config_options', 'cache must be an object such as { maxEntries: 500 }');
    const c = renamed(check, options.cache, CACHE_RENAMES, 'cache.');
    check.knownKeys(c, ['maxEntries'], {}, 'cache.', CACHE_RENAMES);
    maxEntries = c.maxEntries;
  }
  for (const h of ['onTokenFetched', 'onCacheHit', 'onError', 'onRetry'] as const) check.func(options[h], h);

  const logger = check.logger<OperatorLogger>(options.logger, console);
  const store = resolveStore(options.store);
  const dpop = resolveDpopKey(options.dpop);
  const resolved: ResolvedOptions = {
    idp,
    base: { endpointKey: idp.endpointKey, clientId: idp.clientId, extraParams: resolveExtraParams(options.extraParams), dpopJkt: dpop?.jkt, x5tS256: idp.tls?.x5tS256 },
    defaults: {
      scope: normalizeScope(options.scope, check),
      audience: normalizeList(options.audience, 'audience', check),
      resource: normalizeList(options.resource, 'resource', check),
    },
    expirySkewMs: check.number(options.expirySkewSeconds, 'expirySkewSeconds', 60) * 1000,
    refreshAhead,
    defaultExpiresInMs: check.number(options.defaultExpiresInSeconds, 'defaultExpiresInSeconds', 300, { positive: true }) * 1000,
    retry,
    maxEntries: check.number(maxEntries, 'cache.maxEntries', 500, { positive: true, integer: true }),
    store,
    sealKeys: undefined,
    storeTimeoutMs: check.number(options.storeTimeoutMs, 'storeTimeoutMs', 1000, { positive: true, max: MAX_TIMER_MS }),
    storeBackoffMs: check.number(options.storeBackoffMs, 'storeBackoffMs', 5000),
    storeLockWaitMs: check.number(options.storeLockWaitMs, 'storeLockWaitMs', idp.timeout, { positive: true, max: MAX_TIMER_MS }),
    retryOn401: check.boolean(options.retryOn401, 'retryOn401', true),
    idpBackoffMs: check.number(options.idpBackoffMs, 'idpBackoffMs', 2000),
    hooks: withTelemetry({
      onTokenFetched: options.onTokenFetched,
      onCacheHit: options.onCacheHit,
      // An onError hook is the caller's own error reporting: the logger does not write the same failure twice.
      onError: options.onError ?? (logger === undefined ? undefined : logErrors(logger, idp.clientId, (text) => idp.sanitize(text, 300))),
      onRetry: options.onRetry,
    }),
    dpop,
  };
  // Started only once every option is known good; it runs in the background while the app starts.
  if (store !== undefined) resolved.sealKeys = deriveSealKeys(idp.storeSecret(), idp.endpointKey, idp.clientId);
  return resolved;
}
