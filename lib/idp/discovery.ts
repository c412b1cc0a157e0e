import { IdpBadResponseError, IdpError, MisconfigurationError, OAuthError } from '../errors/oauth-error.js';
import { describeUrl, idpRequest, type IdpFetch } from './http.js';
import * as clock from '../clock.js';

/** The fields of OpenID Connect Discovery / RFC 8414 metadata this package reads. */
export interface IdpMetadata {
  issuer: string;
  jwks_uri?: string;
  token_endpoint?: string;
  revocation_endpoint?: string;
  introspection_endpoint?: string;
  /** Tencent EIAM style MFA challenge endpoint, when an IdP advertises one. */
  mfa_challenge_endpoint?: string;
  token_endpoint_auth_methods_supported?: string[];
  grant_types_supported?: string[];
  [other: string]: unknown;
}

export interface DiscoveryOptions {
  timeout?: number;
  /** After a failed discovery, how long callers get the same error before the next try. */
  retryAfterMs?: number;
  /**
   * The fetch to use (proxy, CA). Results are shared per issuer *and* fetch: a document or a failure
   * obtained through one network path is not handed to a caller configured for another.
   */
  fetch?: IdpFetch;
}

/** RFC 8414 §3: the well-known segment goes between the host and the issuer's path. */
export function discoveryUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  const base = issuer.replace(/\/$/, '');
  return [`${base}/.well-known/openid-configuration`, `${u.origin}/.well-known/oauth-authorization-server${path}`];
}

async function fetchMetadata(issuer: string, timeout: number, fetch: IdpFetch | undefined): Promise<IdpMetadata> {
  let lastError: unknown;
  for (const url of discoveryUrls(issuer)) {
    let meta: IdpMetadata;
    try {
      const res = await idpRequest(url, { operation: 'discovery', method: 'GET', timeout, maxResponseBytes: 512 * 1024, fetch });
      if (res.status !== 200) {
        lastError = new IdpError(`Discovery at ${describeUrl(url)} answered ${res.status}`, { idpStatus: res.status });
        continue;
      }
      meta = res.body as IdpMetadata;
    } catch (err) {
      lastError = err;
      continue;
    }
    // RFC 8414 §3.3 / OIDC Discovery §4.3: metadata naming another issuer must not be used.
    if (meta.issuer !== issuer) {
      throw new MisconfigurationError(
        `Discovery at ${describeUrl(url)} names issuer "${String(meta.issuer)}", not the configured "${issuer}"; set issuer to exactly the IdP's value`,
      );
    }
    return meta;
  }
  throw lastError instanceof OAuthError ? lastError : new IdpBadResponseError(`Discovery for ${issuer} failed`, { cause: lastError });
}

interface Entry {
  promise: Promise<IdpMetadata>;
  failedAt?: number;
}

/** Per issuer: the entry of Node's fetch, and those of custom fetches by function identity. */
interface IssuerEntries {
  global?: Entry;
  custom: WeakMap<IdpFetch, Entry>;
}

// One cache for the process: the guard, the proxy and the M2M client of one issuer share it when
// they use the same fetch (pass the same function to share it). Keyed by fetch too because a
// failure is remembered: a job without the egress proxy that cannot reach the IdP must not make
// the job with it fail for retryAfterMs, nor should a document be reused across network paths
// that may see different hosts. The cost is one discovery request per distinct fetch.
const cache = new Map<string, IssuerEntries>();

/**
 * Metadata for `issuer`, fetched once and shared. A failure is remembered for `retryAfterMs`
 * (so a down IdP is not hammered by every request) and then retried.
 */
export function discover(issuer: string, options: DiscoveryOptions = {}): Promise<IdpMetadata> {
  const retryAfterMs = options.retryAfterMs ?? 5_000;
  let entries = cache.get(issuer);
  if (entries === undefined) cache.set(issuer, (entries = { custom: new WeakMap() }));
  const { fetch } = options;
  const hit = fetch === undefined ? entries.global : entries.custom.get(fetch);
  if (hit && (hit.failedAt === undefined || clock.now() - hit.failedAt < retryAfterMs)) return hit.promise;
  const entry: Entry = { promise: fetchMetadata(issuer, options.timeout ?? 10_000, fetch) };
  entry.promise.catch(() => {
    entry.failedAt = clock.now();
  });
  if (fetch === undefined) entries.global = entry;
  else entries.custom.set(fetch, entry);
  return entry.promise;
}

/** Forget cached metadata, for every fetch (tests, or after an IdP reconfiguration). */
export function clearDiscoveryCache(issuer?: string): void {
  if (issuer === undefined) cache.clear();
  else cache.delete(issuer);
}

// The policy lives below idp/ so that option checks can apply it without importing the IdP layer.
export { checkIdpUrl } from '../options/url-policy.js';
