import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwksCache,
  type CryptoKey,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type KeyObject,
} from 'jose';
import { clearDiscoveryCache, discover, checkIdpUrl } from '../idp/discovery.js';
import { describeUrl, idpRequest } from '../idp/http.js';
import { IdpError, JwksUnavailableError, MisconfigurationError, OAuthError } from '../errors/oauth-error.js';
import type { ResolvedOptions } from './options.js';
import { guardMetrics } from '../telemetry/otel.js';
import * as clock from '../clock.js';
import type { KidRefetches } from './kid-refetches.js';

type Key = CryptoKey | KeyObject | Uint8Array;
export type GetKey = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<Key> | Key;
type RemoteSet = ReturnType<typeof createRemoteJWKSet>;

/** A JWKS is a handful of keys; anything near this size is an attack or a wrong URL. */
const MAX_JWKS_BYTES = 512 * 1024;
/** After discovery gave no usable jwks_uri, callers get the same error for at most this long before a retry. */
const DISCOVERY_RETRY_MS = 5_000;

/** A generation no cache entry carries: returned while cached verifications must not be trusted. */
const STALE: object = Object.freeze({});

/**
 * Where verification keys come from: a secret, a local JWKS, a JWKS URL, or the URL named by
 * the issuer's discovery document (resolved on first use, retried after failure).
 *
 * `generation()` changes whenever the key set changes, so the verified-token cache can drop
 * entries verified under a key set that has since been replaced (a removed key stops working).
 */
export class KeySource {
  readonly key: GetKey | Uint8Array;
  #remote: RemoteSet | undefined;
  #unusableMetadata: { error: OAuthError; retryAt: number } | undefined;
  readonly #static: object | undefined;
  // jose writes every freshly fetched key set here (a new object per reload) with its time. Reading
  // the fields is free, unlike RemoteJWKSet.jwks(), which returns a structuredClone on every call.
  readonly #fetched = loadedSet();
  #backgroundReload: Promise<void> | undefined;
  #stale: { jwks: JSONWebKeySet; set: ReturnType<typeof createLocalJWKSet> } | undefined;
  #staleRetryAt = -Infinity;
  /** Why the last reload failed, while the stale set stands in (see #fromStale). */
  #staleOutage: OAuthError | undefined;
  /** From this time (library clock) on, no cached result of this source counts. */
  #retiresAt = Infinity;
  readonly #reloads = guardMetrics().jwksReloads;
  // The key jose chose for each (alg, kid) from the key set in `#memoFor`: the same set and header
  // always select the same key, so a fresh set answers without jose's async lookup. Only lookups
  // that found one key are kept, so the size is bounded by the set (random kids find nothing).
  readonly #memo = new Map<string, Map<string | undefined, Key>>();
  #memoFor: object | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly report: (err: OAuthError) => void,
    private readonly refetches: KidRefetches,
  ) {
    if (options.secret) {
      this.key = options.secret;
      this.#static = options.secret;
    } else if (options.jwks) {
      const local = createLocalJWKSet(options.jwks);
      this.#static = options.jwks;
      this.key = (header, token) => this.#memoized(header) ?? this.#remember(header, local(header, token));
    } else {
      if (options.jwksUri) this.#remote = this.#createRemote(options.jwksUri);
      this.key = (header, token) => this.#memoized(header) ?? this.#remember(header, this.#lookup(header, token));
    }
  }

  async #lookup(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> {
    return this.#getKey(this.#remote ?? (await this.#discoverRemote()), header, token);
  }

  /** The key already chosen for this header from the current, fresh key set; undefined otherwise. */
  #memoized(header: JWSHeaderParameters): Key | undefined {
    const set = this.generation();
    if (set === undefined || set !== this.#memoFor) return undefined;
    // Past max age the set must go through jose again, which reloads it (or the stale-if-error path).
    if (this.#static === undefined && !(clock.now() - this.#fetched.uat! < this.options.jwksCacheMaxAge)) return undefined;
    return memoizable(header) ? this.#memo.get(header.alg)?.get(header.kid) : undefined;
  }

  /** Keeps the key a lookup found, if no reload replaced the set while it ran. */
  async #remember(header: JWSHeaderParameters, lookup: Promise<Key>): Promise<Key> {
    const before = this.generation();
    const key = await lookup;
    const set = this.generation();
    if (set !== undefined && set === before && memoizable(header)) {
      if (this.#memoFor !== set) {
        this.#memo.clear();
        this.#memoFor = set;
      }
      let byKid = this.#memo.get(header.alg);
      if (byKid === undefined) this.#memo.set(header.alg, (byKid = new Map()));
      byKid.set(header.kid, key);
    }
    return key;
  }

  #createRemote(uri: string): RemoteSet {
    const where = describeUrl(uri);
    return createRemoteJWKSet(new URL(uri), {
      timeoutDuration: this.options.jwksTimeout,
      cooldownDuration: this.options.jwksCooldown,
      cacheMaxAge: this.options.jwksCacheMaxAge,
      [jwksCache]: this.#fetched as Record<string, never>,
      // The package's one HTTP path to an IdP: size cap, timeout, no redirects, errors with the URL.
      [customFetch]: async (url: string) => {
        let res;
        try {
          res = await idpRequest(url, { operation: 'jwks', method: 'GET', timeout: this.options.jwksTimeout, maxResponseBytes: MAX_JWKS_BYTES, fetch: this.options.fetch });
        } catch (err) {
          this.#reloads?.add(1, { outcome: 'error' });
          throw err;
        }
        this.#reloads?.add(1, { outcome: res.status === 200 ? 'ok' : 'error' });
        if (res.status !== 200) throw new IdpError(`The JWKS at ${where} answered ${res.status}`, { idpStatus: res.status });
        return Response.json(res.body);
      },
    });
  }

  #discoverRemote(): Promise<RemoteSet> {
    const { issuer, jwksTimeout, allowInsecureHttp, fetch } = this.options;
    if (this.#unusableMetadata !== undefined) {
      if (clock.now() < this.#unusableMetadata.retryAt) return Promise.reject(this.#unusableMetadata.error);
      // Back off, then ask again: the document may have been published half-way (no jwks_uri yet).
      this.#unusableMetadata = undefined;
      clearDiscoveryCache(issuer);
    }
    // discover() shares one request per issuer and backs off after transport failures itself.
    return discover(issuer, { timeout: jwksTimeout, fetch }).then((meta) => {
      if (this.#remote !== undefined) return this.#remote;
      const where = `The discovery document of ${describeUrl(issuer)}`;
      let error: OAuthError | undefined;
      if (typeof meta.jwks_uri !== 'string' || meta.jwks_uri === '') {
        // Possibly a document caught half-published: an outage, retried after the back-off.
        error = new JwksUnavailableError(`${where} has no jwks_uri (set jwksUri if the IdP never publishes one)`);
      } else {
        const urlProblem = checkIdpUrl(meta.jwks_uri, { allowHttp: allowInsecureHttp });
        if (urlProblem !== undefined) error = new MisconfigurationError(`${where} names a jwks_uri that ${urlProblem}`);
      }
      if (error !== undefined) {
        this.#unusableMetadata ??= { error, retryAt: clock.now() + Math.min(DISCOVERY_RETRY_MS, this.options.jwksCooldown) };
        throw error;
      }
      return (this.#remote = this.#createRemote(meta.jwks_uri as string));
    });
  }

  /**
   * jose's key lookup, except that its refetch cooldown starts at every fetch, routine ones too,
   * so a key the IdP rotated in just after a routine reload would be refused for the whole
   * cooldown. Here the cooldown spaces out refetches caused by unknown `kid`s only.
   */
  async #getKey(remote: RemoteSet, header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> {
    const { issuer, jwksCacheMaxAge, jwksCooldown } = this.options;
    const loadedAt = this.#fetched.uat;
    const now = clock.now();
    const stale = this.#staleSet(now);
    if (stale !== undefined && now < this.#staleRetryAt) return this.#fromStale(stale, header, token);
    if (loadedAt === undefined) this.#refuseKnownMiss(header, now);
    try {
      // Due by the library's clock: reload here rather than leave it to jose, whose own check reads
      // Date.now() (the same thing in production; tests move only the library's clock).
      if (loadedAt !== undefined && now - loadedAt >= jwksCacheMaxAge) await remote.reload();
      return await remote(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) {
        // The reload failed. Within jwksStaleIfError, the last good set keeps verifying (and
        // the next reload attempt waits a moment, so an IdP that hangs does not slow every request).
        if (stale === undefined) throw err;
        this.#staleRetryAt = now + Math.min(jwksCooldown, 5_000);
        this.#staleOutage = asKeysError(err);
        this.report(new JwksUnavailableError(`${this.#staleOutage.message}; verifying with the last key set (jwksStaleIfError)`, { retryAfterSeconds: 5, cause: err }));
        return this.#fromStale(stale, header, token);
      }
      if (this.#fetched.uat !== loadedAt) {
        // jose (re)loaded the set during this lookup: that was the refetch.
        this.refetches.set(issuer, now, this.#fetched.jwks);
        throw err;
      }
      if (!remote.reloading) {
        if (now - (this.refetches.get(issuer)?.at ?? -Infinity) < jwksCooldown) throw err;
        this.refetches.set(issuer, now, undefined);
      }
      await remote.reload();
      this.refetches.set(issuer, now, this.#fetched.jwks);
      return await remote(header, token);
    }
  }

  /**
   * A key from the last good set while the JWKS cannot be reloaded. A `kid` that set lacks is an
   * outage too, never a 401: the IdP may have rotated that key in while it was unreachable.
   */
  async #fromStale(stale: ReturnType<typeof createLocalJWKSet>, header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> {
    try {
      return await stale(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) throw this.#staleOutage ?? asKeysError(err);
      throw err;
    }
  }

  /**
   * Before this source's first load: a `kid` missing from the set this issuer's last unknown-kid
   * refetch brought, within the cooldown, is refused without a fetch (see KidRefetches).
   */
  #refuseKnownMiss(header: JWSHeaderParameters, now: number): void {
    const last = this.refetches.get(this.options.issuer);
    if (last?.kids === undefined || typeof header.kid !== 'string' || now - last.at >= this.options.jwksCooldown) return;
    if (!last.kids.includes(header.kid)) throw new errors.JWKSNoMatchingKey();
  }

  /** The last good key set as a local set, while it is past max age but within jwksStaleIfError. */
  #staleSet(now: number): ReturnType<typeof createLocalJWKSet> | undefined {
    const { uat, jwks } = this.#fetched;
    const { jwksCacheMaxAge, jwksStaleIfError } = this.options;
    if (jwksStaleIfError === 0 || uat === undefined || jwks === undefined) return undefined;
    const age = now - uat;
    if (age < jwksCacheMaxAge || age >= jwksCacheMaxAge + jwksStaleIfError) return undefined;
    if (this.#stale?.jwks !== jwks) this.#stale = { jwks, set: createLocalJWKSet(jwks) };
    return this.#stale.set;
  }

  /** Identity of the key set in use right now. */
  generation(): object | undefined {
    return this.#static ?? this.#fetched.jwks;
  }

  /**
   * From `at` on (now by default), this source's issuer is no longer known to be accepted (the
   * resolver's answer expired or was dropped): no cached result of it counts, so a removed tenant's
   * tokens are verified again, and refused, instead of being served from the verified-token cache.
   */
  retire(at = -Infinity): void {
    this.#retiresAt = Math.min(this.#retiresAt, at);
  }

  /**
   * The generation under which cached verifications may be served; called on every cache hit,
   * so it must stay O(1). Once the set is older than `jwksCacheMaxAge` it is reloaded in the
   * background; if that reload has not succeeded within one request timeout, cached results stop
   * counting (STALE) and requests go through full verification, which waits for the keys.
   */
  hitGeneration(): object | undefined {
    if (this.#retiresAt !== Infinity && clock.now() >= this.#retiresAt) return STALE;
    if (this.#static !== undefined) return this.#static;
    const { uat, jwks } = this.#fetched;
    if (uat === undefined) return jwks;
    const age = clock.now() - uat;
    if (age < this.options.jwksCacheMaxAge) return jwks;
    this.#reloadInBackground();
    const grace = Math.max(this.options.jwksTimeout, this.options.jwksStaleIfError);
    return age < this.options.jwksCacheMaxAge + grace ? jwks : STALE;
  }

  #reloadInBackground(): void {
    const remote = this.#remote;
    if (remote === undefined || this.#backgroundReload !== undefined || clock.now() < this.#staleRetryAt) return;
    this.#backgroundReload = remote.reload().then(
      () => {
        this.#backgroundReload = undefined;
      },
      (err: unknown) => {
        this.#backgroundReload = undefined;
        this.#staleRetryAt = clock.now() + Math.min(this.options.jwksCooldown, 5_000);
        this.#staleOutage = asKeysError(err);
        this.report(this.#staleOutage);
      },
    );
  }
}

/**
 * jose's key-set cache slot. jose stamps each load with Date.now(); the setter takes the library
 * clock instead, so every age this source computes is measured on one clock (tests shift it).
 */
function loadedSet(): { jwks?: JSONWebKeySet; uat?: number } {
  let at: number | undefined;
  return {
    jwks: undefined,
    get uat() {
      return at;
    },
    set uat(_joseTime: number | undefined) {
      at = clock.now();
    },
  };
}

/** A header whose key choice can be remembered: a string alg, and a string kid or none (jose matches nothing else). */
function memoizable(header: JWSHeaderParameters): header is JWSHeaderParameters & { alg: string; kid: string | undefined } {
  return typeof header.alg === 'string' && (header.kid === undefined || typeof header.kid === 'string');
}

/** Whatever went wrong while obtaining keys, as the OAuthError a client gets (503, or 500 for misconfiguration). */
export function asKeysError(err: unknown): OAuthError {
  if (err instanceof JwksUnavailableError || err instanceof MisconfigurationError) return err;
  if (err instanceof OAuthError) return new JwksUnavailableError(`Token keys could not be obtained: ${err.message}`, { retryAfterSeconds: 5, cause: err });
  const detail =
    err instanceof errors.JWKSTimeout
      ? 'the JWKS request timed out'
      : err instanceof errors.JWKSInvalid
        ? 'the JWKS endpoint did not answer a JSON Web Key Set'
        : `the JWKS endpoint could not be read (${(err as Error)?.message ?? String(err)})`;
  return new JwksUnavailableError(`Token keys are unavailable right now: ${detail}`, { retryAfterSeconds: 5, cause: err });
}
