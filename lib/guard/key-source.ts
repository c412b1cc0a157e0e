import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwksCache,
  type CryptoKey,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type KeyObject,
} from 'jose';
import { discover } from '../idp/discovery.js';
import { assertHttpUrl } from '../idp/discovery.js';
import { JwksUnavailableError } from '../errors/oauth-error.js';
import type { ResolvedOptions } from './options.js';

type Key = CryptoKey | KeyObject | Uint8Array;
type GetKey = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<Key> | Key;
type RemoteSet = ReturnType<typeof createRemoteJWKSet>;

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
  #remotePromise: Promise<RemoteSet> | undefined;
  readonly #static: object | undefined;
  // jose writes every freshly fetched key set here (a new object per reload). Reading the field is
  // free, unlike RemoteJWKSet.jwks(), which returns a structuredClone on every call.
  readonly #fetched: { jwks?: JSONWebKeySet; uat?: number } = {};

  constructor(private readonly options: ResolvedOptions) {
    if (options.secret) {
      this.key = options.secret;
      this.#static = options.secret;
    } else if (options.jwks) {
      this.key = createLocalJWKSet(options.jwks);
      this.#static = options.jwks;
    } else {
      if (options.jwksUri) this.#remote = this.#createRemote(options.jwksUri);
      this.key = (header, token) => (this.#remote ? this.#remote(header, token) : this.#lookupDiscovered(header, token));
    }
  }

  #createRemote(uri: string): RemoteSet {
    return createRemoteJWKSet(new URL(uri), {
      timeoutDuration: this.options.jwksTimeout,
      cooldownDuration: this.options.jwksCooldown,
      cacheMaxAge: this.options.jwksCacheMaxAge,
      [jwksCache]: this.#fetched as Record<string, never>,
    });
  }

  async #lookupDiscovered(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> {
    this.#remotePromise ??= discover(this.options.issuer, { timeout: this.options.jwksTimeout }).then(
      (meta) => {
        if (typeof meta.jwks_uri !== 'string') {
          throw new JwksUnavailableError(`The issuer's discovery document has no jwks_uri; set jwksUri`);
        }
        assertHttpUrl(meta.jwks_uri, 'jwks_uri from discovery', { allowHttp: this.options.allowInsecureHttp });
        return (this.#remote = this.#createRemote(meta.jwks_uri));
      },
      (err) => {
        // Forget the failure so the next request retries (discover() itself rate-limits retries).
        this.#remotePromise = undefined;
        throw err;
      },
    );
    const remote = await this.#remotePromise;
    return remote(header, token);
  }

  /** Identity of the key set in use right now; called on every request, so it must stay O(1). */
  generation(): object | undefined {
    return this.#static ?? this.#fetched.jwks;
  }
}
