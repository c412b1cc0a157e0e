import { IdpClient, type IdpCredentials } from '../../idp/idp-client.js';
import type { ClientAuthMethod } from '../../idp/client-auth.js';
import type { IdpFetch } from '../../idp/http.js';
import { deriveSealer, type Sealer } from '../../idp/sealing.js';
import { MAX_TIMER_MS, type OptionChecker } from '../../options/validate.js';

/**
 * A store shared by the instances of an API, so a fleet introspects each token once per cache
 * period rather than once per instance: the same contract as the M2M client's `TokenStore` (only
 * `get` and `set` are used), so `redisTokenStore()` and `MemoryTokenStore` fit. Entries are
 * sealed with keys derived from the introspection client's credentials; keys and values say
 * nothing about the token to a reader of the store.
 */
export interface IntrospectionStore {
  /** The value `set` stored under `key`, or undefined / null once its TTL has passed. */
  get(key: string): string | undefined | null | Promise<string | undefined | null>;
  /** Stores `value` under `key` for `ttlMs` milliseconds. */
  set(key: string, value: string, ttlMs: number): void | Promise<void>;
}

/** Which tokens a guard with `introspection` sends to the introspection endpoint. */
export type IntrospectedTokens = 'opaque' | 'all' | 'jwt';

/** The settings of {@link IntrospectionOptions} apart from the client's credentials. */
export interface IntrospectionSettings {
  /** This API's client id at the IdP (the introspection endpoint authenticates its callers). Required. */
  clientId: string;
  /**
   * How this API authenticates to the introspection endpoint.
   * @default 'client_secret_basic' ('private_key_jwt' when only `privateKey` is given)
   */
  clientAuth?: ClientAuthMethod;
  /**
   * The introspection endpoint URL.
   * @default `introspection_endpoint` from the issuer's discovery document (RFC 8414)
   */
  endpoint?: string;
  /**
   * Which tokens are introspected: `'opaque'` — anything that is not a compact JWS (JWTs are still
   * verified locally with the issuer's keys); `'all'` — every token, JWTs too (to see revocations
   * of JWTs); `'jwt'` — none (JWTs only, as without this option).
   * @default 'opaque'
   */
  tokens?: IntrospectedTokens;
  /**
   * Seconds an active answer is reused before the endpoint is asked again, and so the longest a
   * revoked token is still accepted. Never past the token's `exp`.
   * @default 60
   */
  cacheTtlSeconds?: number;
  /**
   * Seconds an inactive answer (or one this API refuses: wrong audience, expired) is reused, so a
   * flood of made-up tokens costs one call per distinct token per this period.
   * @default 10
   */
  inactiveCacheTtlSeconds?: number;
  /**
   * Most answers kept in process memory (active and inactive each), at most 1000000; least
   * recently used go first.
   * @default 10000
   */
  cacheMaxEntries?: number;
  /**
   * Accept an active answer that has no `aud`. Without it such answers are refused: an answer
   * without an audience does not say the token is meant for this API.
   * @default false
   */
  allowMissingAudience?: boolean;
  /**
   * While the endpoint is down or slow, keep accepting a token whose active answer expired from the
   * cache less than this many seconds ago (never past its `exp`; logged). 0 answers 503 at once.
   * @default 0
   */
  staleIfErrorSeconds?: number;
  /** A store shared by the API's instances ({@link IntrospectionStore}), e.g. `redisTokenStore()`. */
  store?: IntrospectionStore;
  /**
   * Milliseconds any one store call may take; a slower or failing store is left alone for 5 s and
   * the endpoint is asked directly.
   * @default 250
   */
  storeTimeoutMs?: number;
  /**
   * Milliseconds to wait for the introspection endpoint; past it the request is answered 503.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Largest answer read, in bytes; a larger one is an outage (503), not a memory problem.
   * @default 65536
   */
  maxResponseBytes?: number;
  /**
   * Ask for RFC 9701 signed answers (`Accept: application/token-introspection+jwt`), verified with
   * the issuer's keys; a plain JSON answer is then an outage (503). A signed answer is accepted
   * whether asked for or not.
   * @default false
   */
  signedAnswers?: boolean;
}

/**
 * RFC 7662 token introspection for one issuer: opaque (reference) access tokens, or every token,
 * are checked by asking the IdP, with the answers cached (see docs/introspection.md). The client
 * authenticates with `clientSecret` or `privateKey` (private_key_jwt), as to the token endpoint.
 */
export type IntrospectionOptions = IntrospectionSettings & IdpCredentials;

/** {@link IntrospectionOptions}, checked. */
export interface ResolvedIntrospection {
  idp: IdpClient;
  tokens: IntrospectedTokens;
  cacheTtlMs: number;
  inactiveTtlMs: number;
  maxEntries: number;
  allowMissingAudience: boolean;
  staleIfErrorMs: number;
  store: IntrospectionStore | undefined;
  storeTimeoutMs: number;
  signedAnswers: boolean;
  /** Derived from the credentials when there is a store; started at once. */
  sealer: Promise<Sealer> | undefined;
}

/** Largest cacheMaxEntries: each of the two caches preallocates about 28 bytes per entry. */
const MAX_ENTRIES = 1_000_000;

const KEYS = [
  'clientId', 'clientSecret', 'privateKey', 'kid', 'alg', 'assertionAudience', 'clientAuth', 'endpoint', 'tokens', 'cacheTtlSeconds',
  'inactiveCacheTtlSeconds', 'cacheMaxEntries', 'allowMissingAudience', 'staleIfErrorSeconds', 'store', 'storeTimeoutMs', 'timeoutMs',
  'maxResponseBytes', 'signedAnswers',
] as const;
// The issue's and other libraries' names: durations are named with their unit here.
const ALIASES: Record<string, string> = {
  cacheTtl: 'cacheTtlSeconds', cacheDuration: 'cacheTtlSeconds', introspectionEndpoint: 'endpoint', client_id: 'clientId', client_secret: 'clientSecret',
  timeout: 'timeoutMs', staleIfError: 'staleIfErrorSeconds', audienceOptional: 'allowMissingAudience',
};

/** Checks `introspection` of one issuer at start-up; `where` names the issuer entry in messages. */
export function resolveIntrospection(
  value: unknown,
  issuer: string,
  shared: { allowInsecureHttp: boolean; fetch?: IdpFetch | undefined },
  check: OptionChecker,
  where: string,
): ResolvedIntrospection {
  const o = check.object(value as IntrospectionOptions, `${where}introspection needs { clientId, clientSecret or privateKey }`);
  check.knownKeys(o, KEYS, ALIASES, `${where}introspection.`);
  const name = (k: string) => `${where}introspection.${k}`;
  const tokens = o.tokens ?? 'opaque';
  if (tokens !== 'opaque' && tokens !== 'all' && tokens !== 'jwt') check.fail('config_options', `${name('tokens')} must be 'opaque', 'all' or 'jwt' (got "${String(tokens)}")`);
  const store = o.store;
  if (store !== undefined && (store === null || typeof store.get !== 'function' || typeof store.set !== 'function')) {
    check.fail('config_store', `${name('store')} must have get(key) and set(key, value, ttlMs), like redisTokenStore() or MemoryTokenStore`);
  }
  const { endpoint, tokens: _t, cacheTtlSeconds, inactiveCacheTtlSeconds, cacheMaxEntries, allowMissingAudience, staleIfErrorSeconds, store: _s, storeTimeoutMs, signedAnswers, ...client } = o;
  // The one IdP client: client authentication, timeouts, size caps, no redirects, the guard's fetch.
  const idp = new IdpClient(
    {
      ...client,
      issuer,
      timeoutMs: check.number(o.timeoutMs, name('timeoutMs'), 5_000, { positive: true, integer: true, max: MAX_TIMER_MS }),
      maxResponseBytes: check.number(o.maxResponseBytes, name('maxResponseBytes'), 64 * 1024, { positive: true }),
      allowInsecureHttp: shared.allowInsecureHttp,
      fetch: shared.fetch,
    } as never,
    check,
    { introspection: { value: endpoint, name: name('endpoint') } },
  );
  const cacheTtlMs = check.number(cacheTtlSeconds, name('cacheTtlSeconds'), 60, { max: 86_400 }) * 1000;
  return {
    idp,
    tokens,
    cacheTtlMs,
    inactiveTtlMs: check.number(inactiveCacheTtlSeconds, name('inactiveCacheTtlSeconds'), 10, { max: 3_600 }) * 1000,
    // lru-cache allocates its index for `max` at once: a billion would abort the process at start-up.
    maxEntries: check.number(cacheMaxEntries, name('cacheMaxEntries'), 10_000, { positive: true, integer: true, max: MAX_ENTRIES }),
    allowMissingAudience: check.boolean(allowMissingAudience, name('allowMissingAudience'), false),
    staleIfErrorMs: check.number(staleIfErrorSeconds, name('staleIfErrorSeconds'), 0, { max: 86_400 }) * 1000,
    store,
    storeTimeoutMs: check.number(storeTimeoutMs, name('storeTimeoutMs'), 250, { positive: true, max: MAX_TIMER_MS }),
    signedAnswers: check.boolean(signedAnswers, name('signedAnswers'), false),
    // Salted with the issuer, the endpoint and the client: another deployment's entries do not open.
    sealer: store === undefined ? undefined : deriveSealer(idp.storeSecret(), 'introspection cache', [issuer, idp.keyOf('introspection'), idp.clientId]),
  };
}
