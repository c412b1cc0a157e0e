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
  readonly #fetched: { jwks?: JSONWebKeySet; uat?: number } = {};
  #lastKidRefetch = -Infinity;
  #backgroundReload: Promise<void> | undefined;
  #stale: { jwks: JSONWebKeySet; set: ReturnType<typeof createLocalJWKSet> } | undefined;
  #staleRetryAt = -Infinity;
  readonly #reloads = guardMetrics().jwksReloads;
  // The key jose chose for each (alg, kid) from the key set in `#memoFor`: the same set and header
  // always select the same key, so a fresh set answers without jose's async lookup. Only lookups
  // that found one key are kept, so the size is bounded by the set (random kids find nothing).
  readonly #memo = new Map<string, Map<string | undefined, Key>>();
  #memoFor: object | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly report: (err: OAuthError) => void,
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
    if (this.#static === undefined && !(Date.now() - this.#fetched.uat! < this.options.jwksCacheMaxAge)) return undefined;
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
        if (res.status !== 200) throw new IdpError(`The JWKS at ${where} answered ${res.status}`, res.status);
        return Response.json(res.body);
      },
    });
  }

  #discoverRemote(): Promise<RemoteSet> {
    const { issuer, jwksTimeout, allowInsecureHttp, fetch } = this.options;
    if (this.#unusableMetadata !== undefined) {
      if (Date.now() < this.#unusableMetadata.retryAt) return Promise.reject(this.#unusableMetadata.error);
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
        this.#unusableMetadata ??= { error, retryAt: Date.now() + Math.min(DISCOVERY_RETRY_MS, this.options.jwksCooldown) };
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
    const loadedAt = this.#fetched.uat;
    const stale = this.#staleSet(Date.now());
    if (stale !== undefined && Date.now() < this.#staleRetryAt) return stale(header, token);
    try {
      return await remote(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) {
        // The reload failed. Within jwksStaleIfError, the last good set keeps verifying (and
        // the next reload attempt waits a moment, so an IdP that hangs does not slow every request).
        if (stale === undefined) throw err;
        this.#staleRetryAt = Date.now() + Math.min(this.options.jwksCooldown, 5_000);
        this.report(new JwksUnavailableError(`${asKeysError(err).message}; verifying with the last key set (jwksStaleIfError)`, 5, { cause: err }));
        return stale(header, token);
      }
      const now = Date.now();
      if (this.#fetched.uat !== loadedAt) {
        // jose (re)loaded the set during this lookup: that was the refetch.
        this.#lastKidRefetch = now;
        throw err;
      }
      if (!remote.reloading) {
        if (now - this.#lastKidRefetch < this.options.jwksCooldown) throw err;
        this.#lastKidRefetch = now;
      }
      await remote.reload();
      return await remote(header, token);
    }
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
   * The generation under which cached verifications may be served; called on every cache hit,
   * so it must stay O(1). Once the set is older than `jwksCacheMaxAge` it is reloaded in the
   * background; if that reload has not succeeded within one request timeout, cached results stop
   * counting (STALE) and requests go through full verification, which waits for the keys.
   */
  hitGeneration(): object | undefined {
    if (this.#static !== undefined) return this.#static;
    const { uat, jwks } = this.#fetched;
    if (uat === undefined) return jwks;
    const age = Date.now() - uat;
    if (age < this.options.jwksCacheMaxAge) return jwks;
    this.#reloadInBackground();
    const grace = Math.max(this.options.jwksTimeout, this.options.jwksStaleIfError);
    return age < this.options.jwksCacheMaxAge + grace ? jwks : STALE;
  }

  #reloadInBackground(): void {
    const remote = this.#remote;
    if (remote === undefined || this.#backgroundReload !== undefined || Date.now() < this.#staleRetryAt) return;
    this.#backgroundReload = remote.reload().then(
      () => {
        this.#backgroundReload = undefined;
      },
      (err: unknown) => {
        this.#backgroundReload = undefined;
        this.#staleRetryAt = Date.now() + Math.min(this.options.jwksCooldown, 5_000);
        this.report(asKeysError(err));
      },
    );
  }
}

/** A header whose key choice can be remembered: a string alg, and a string kid or none (jose matches nothing else). */
function memoizable(header: JWSHeaderParameters): header is JWSHeaderParameters & { alg: string; kid: string | undefined } {
  return typeof header.alg === 'string' && (header.kid === undefined || typeof header.kid === 'string');
}

/** Whatever went wrong while obtaining keys, as the OAuthError a client gets (503, or 500 for misconfiguration). */
export function asKeysError(err: unknown): OAuthError {
  if (err instanceof JwksUnavailableError || err instanceof MisconfigurationError) return err;
  if (err instanceof OAuthError) return new JwksUnavailableError(`Token keys could not be obtained: ${err.message}`, 5, { cause: err });
  const detail =
    err instanceof errors.JWKSTimeout
      ? 'the JWKS request timed out'
      : err instanceof errors.JWKSInvalid
        ? 'the JWKS endpoint did not answer a JSON Web Key Set'
        : `the JWKS endpoint could not be read (${(err as Error)?.message ?? String(err)})`;
  return new JwksUnavailableError(`Token keys are unavailable right now: ${detail}`, 5, { cause: err });
}
