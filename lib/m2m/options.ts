import { ConfigError } from '../errors/config-error.js';
import { IdpClient, type IdpClientOptions } from '../idp/idp-client.js';
import { deriveSealKeys, type SealKeys } from './seal.js';
import type { TokenStore } from './store.js';
import { normalizeList, normalizeScope, type SpecBase } from './spec.js';
import type { M2MClientOptions, M2MHooks } from './types.js';

const F = 'createM2MClient()';

export interface RetryPolicy {
  attempts: number;
  baseDelay: number;
  maxDelay: number;
}

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
}

const IDP_KEYS: readonly (keyof IdpClientOptions)[] = [
  'issuer', 'tokenEndpoint', 'revocationEndpoint', 'mfaChallengeEndpoint', 'profile', 'clientId', 'clientSecret',
  'clientAuth', 'paramsIn', 'timeout', 'maxResponseBytes', 'allowInsecureHttp',
  'privateKey', 'kid', 'alg', 'assertionAudience',
];
const M2M_KEYS: readonly (keyof M2MClientOptions)[] = [
  'scope', 'audience', 'resource', 'extraParams', 'expirySkew', 'refreshAhead', 'defaultExpiresIn', 'retry', 'cache',
  'store', 'storeTimeout', 'storeBackoff', 'storeLockWait', 'retryOn401', 'idpBackoff', 'onTokenFetched', 'onCacheHit', 'onError', 'onRetry',
];
const KNOWN = new Set<string>([...IDP_KEYS, ...M2M_KEYS]);
const ALIASES: Record<string, string> = {
  scopes: 'scope', audiences: 'audience', resources: 'resource', token_endpoint: 'tokenEndpoint', client_id: 'clientId',
  client_secret: 'clientSecret', skew: 'expirySkew', expirySkewMs: 'expirySkew (seconds)', retries: 'retry',
};

/** These are set by the client itself; letting extraParams override them would change whose token this is. */
const RESERVED_PARAMS = new Set([
  'grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'scope', 'audience', 'resource',
]);

function num(value: unknown, name: string, fallback: number, { min = 0, integer = false, allowZero = true } = {}): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' && Number.isFinite(value) && value >= min && (allowZero || value > 0) && (!integer || Number.isInteger(value));
  if (!ok) {
    const what = integer ? 'an integer' : 'a number';
    throw new ConfigError('ERR_OAUTHKIT_NUMBER', `${F}: ${name} must be ${what} ${allowZero ? '>=' : '>'} ${min} (got ${String(value)})`);
  }
  return value as number;
}

function fn(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: ${name} must be a function`);
  }
}

function resolveStore(store: unknown): TokenStore | undefined {
  if (store === undefined) return undefined;
  const s = store as Partial<Record<keyof TokenStore, unknown>> | null;
  if (!s || typeof s !== 'object' || typeof s.get !== 'function' || typeof s.set !== 'function') {
    throw new ConfigError('ERR_OAUTHKIT_STORE', `${F}: store must implement get(key) and set(key, value, ttlMs)`, 'sharing-tokens-across-instances-the-store-interface');
  }
  if ((s.lock === undefined) !== (s.unlock === undefined) || (s.lock !== undefined && typeof s.lock !== 'function') || (s.unlock !== undefined && typeof s.unlock !== 'function')) {
    throw new ConfigError('ERR_OAUTHKIT_STORE', `${F}: store.lock and store.unlock must be given together, as functions`, 'sharing-tokens-across-instances-the-store-interface');
  }
  if (s.delete !== undefined && typeof s.delete !== 'function') {
    throw new ConfigError('ERR_OAUTHKIT_STORE', `${F}: store.delete must be a function`, 'sharing-tokens-across-instances-the-store-interface');
  }
  return store as TokenStore;
}

function resolveExtraParams(value: unknown): readonly (readonly [string, string])[] {
  if (value === undefined) return [];
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: extraParams must be an object of string values`);
  }
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (RESERVED_PARAMS.has(k)) {
      const hint = k === 'scope' || k === 'audience' || k === 'resource' ? `use the ${k} option` : 'the client sets it itself';
      throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: extraParams must not contain "${k}"; ${hint}`);
    }
    if (typeof v !== 'string') throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: extraParams.${k} must be a string`);
    out.push([k, v]);
  }
  return Object.freeze(out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

export function resolveOptions(options: M2MClientOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') {
    throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F} needs an options object`);
  }
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) {
      const alias = ALIASES[k];
      throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: unknown option "${k}"${alias ? `; did you mean ${alias}?` : ''}`);
    }
  }
  const idp = new IdpClient(options, 'createM2MClient');

  const refreshAhead = options.refreshAhead === false ? 0 : num(options.refreshAhead, 'refreshAhead', 0.2);
  if (refreshAhead >= 1) {
    throw new ConfigError('ERR_OAUTHKIT_NUMBER', `${F}: refreshAhead is a fraction of the lifetime, 0 <= x < 1 (got ${refreshAhead}); false turns it off`);
  }
  let retry: RetryPolicy = { attempts: 3, baseDelay: 200, maxDelay: 5000 };
  if (options.retry === false) retry = { ...retry, attempts: 1 };
  else if (options.retry !== undefined) {
    if (!options.retry || typeof options.retry !== 'object') {
      throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: retry must be { attempts, baseDelay, maxDelay } or false`);
    }
    retry = {
      attempts: num(options.retry.attempts, 'retry.attempts', 3, { min: 1, integer: true }),
      baseDelay: num(options.retry.baseDelay, 'retry.baseDelay', 200),
      maxDelay: num(options.retry.maxDelay, 'retry.maxDelay', 5000),
    };
  }
  if (options.cache !== undefined && (!options.cache || typeof options.cache !== 'object')) {
    throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: cache must be an object such as { max: 500 }`);
  }
  for (const h of ['onTokenFetched', 'onCacheHit', 'onError', 'onRetry'] as const) fn(options[h], h);
  if (options.retryOn401 !== undefined && typeof options.retryOn401 !== 'boolean') {
    throw new ConfigError('ERR_OAUTHKIT_OPTIONS', `${F}: retryOn401 must be a boolean`);
  }

  const store = resolveStore(options.store);
  const resolved: ResolvedOptions = {
    idp,
    base: { endpointKey: idp.endpointKey, clientId: idp.clientId, extraParams: resolveExtraParams(options.extraParams) },
    defaults: {
      scope: normalizeScope(options.scope, F),
      audience: normalizeList(options.audience, 'audience', F),
      resource: normalizeList(options.resource, 'resource', F),
    },
    expirySkewMs: num(options.expirySkew, 'expirySkew (seconds)', 60) * 1000,
    refreshAhead,
    defaultExpiresInMs: num(options.defaultExpiresIn, 'defaultExpiresIn (seconds)', 300, { allowZero: false }) * 1000,
    retry,
    cacheMax: num(options.cache?.max, 'cache.max', 500, { min: 1, integer: true }),
    store,
    sealKeys: undefined,
    storeTimeout: num(options.storeTimeout, 'storeTimeout', 1000, { allowZero: false }),
    storeBackoff: num(options.storeBackoff, 'storeBackoff', 5000),
    storeLockWait: num(options.storeLockWait, 'storeLockWait', idp.timeout, { allowZero: false }),
    retryOn401: options.retryOn401 ?? true,
    idpBackoffMs: num(options.idpBackoff, 'idpBackoff', 2000),
    hooks: { onTokenFetched: options.onTokenFetched, onCacheHit: options.onCacheHit, onError: options.onError, onRetry: options.onRetry },
  };
  // Started only once every option is known good; it runs in the background while the app starts.
  if (store !== undefined) resolved.sealKeys = deriveSealKeys(idp.storeSecret(), idp.endpointKey, idp.clientId);
  return resolved;
}
