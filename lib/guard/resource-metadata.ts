/**
 * RFC 9728 OAuth 2.0 Protected Resource Metadata: the document a guard publishes about itself,
 * checked and built once at start-up from the `resourceMetadata` option and what the guard really
 * does (token locations, DPoP mode). Framework-free: the Express router and the node/web helpers
 * serve the same precomputed answer.
 */
import { checkIdpUrl } from '../options/url-policy.js';
import { OptionChecker } from '../options/validate.js';
import type { ResolvedDpop } from './dpop/options.js';

/** The `resourceMetadata` option of `requireAuth()` / {@link createGuard}: turns on RFC 9728 metadata. */
export interface ResourceMetadataOptions {
  /**
   * The protected resource's identifier (RFC 9728 §1.2, RFC 8707): the URL clients call and ask
   * tokens for, e.g. `https://api.example.com/mcp`. https (http only on a loopback host), no
   * query, no fragment. Published byte for byte as configured (RFC 9728 §3.3).
   * @default the guard's audience, when it has exactly one (a ConfigError otherwise)
   */
  resource?: string;
  /**
   * Issuer identifiers of the authorization servers that issue tokens for this resource
   * (`authorization_servers`), where clients find RFC 8414 / OpenID metadata.
   * @default the configured issuers (an `issuers` resolver function has none to offer: give them here)
   */
  authorizationServers?: string[];
  /**
   * Scopes clients may request for this resource (`scopes_supported`).
   * @default none: the member is left out
   */
  scopesSupported?: string[];
  /**
   * Human-readable name of the resource (`resource_name`).
   * @default none
   */
  resourceName?: string;
  /**
   * URL of human-readable documentation for developers (`resource_documentation`).
   * @default none
   */
  resourceDocumentation?: string;
}

/**
 * The RFC 9728 §2 members the document carries. `bearer_methods_supported` lists where the guard
 * takes a token (`header`, `body`, `query`: a cookie or a `getToken` lookup is no RFC 6750 method,
 * so they are not listed); the DPoP members follow `dpop.mode`.
 */
export interface ProtectedResourceMetadataJson {
  /** The resource identifier, exactly as configured. */
  resource: string;
  /** Issuer identifiers of the authorization servers. */
  authorization_servers: string[];
  /** RFC 6750 ways to send the token that the guard accepts. */
  bearer_methods_supported: Array<'header' | 'body' | 'query'>;
  /** Scopes clients may request, when configured. */
  scopes_supported?: string[];
  /** Human-readable name, when configured. */
  resource_name?: string;
  /** Developer documentation URL, when configured. */
  resource_documentation?: string;
  /** DPoP proof algorithms accepted (absent when DPoP is disabled). */
  dpop_signing_alg_values_supported?: string[];
  /** true when only DPoP-bound tokens are accepted (`dpop.mode: 'required'`). */
  dpop_bound_access_tokens_required: boolean;
  /**
   * RFC 8705 certificate-bound tokens: true when the guard can always read the client certificate
   * (`mtls.mode: 'required'`, or a trusted `mtls.certificateHeader`); omitted (false) otherwise.
   */
  tls_client_certificate_bound_access_tokens?: boolean;
}

/**
 * A guard's protected-resource metadata, ready to serve: where ({@link ProtectedResourceMetadata.path}
 * on the resource's origin) and what (status 200, {@link ProtectedResourceMetadata.headers},
 * {@link ProtectedResourceMetadata.body}). Built once; every member is frozen.
 */
export interface ProtectedResourceMetadata {
  /** Absolute URL of the document: what every challenge of the guard names in `resource_metadata`. */
  readonly url: string;
  /** Its path on the resource's origin (RFC 9728 §3.1), e.g. `/.well-known/oauth-protected-resource/mcp`. */
  readonly path: string;
  /** The document's members. */
  readonly document: Readonly<ProtectedResourceMetadataJson>;
  /** The document as JSON text (the response body). */
  readonly body: string;
  /** Response headers of a 200: JSON, cacheable for an hour, readable from any origin. */
  readonly headers: Readonly<Record<string, string>>;
}

/** RFC 9728 §3: the well-known URI suffix. */
export const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * The document never changes while the process runs, and a client that cached a stale copy after
 * a redeploy only fetches it again when its token is refused. An hour keeps repeat discovery off
 * the server without making a change of authorization server slow to reach clients.
 */
const CACHE_CONTROL = 'public, max-age=3600';

const KEYS = ['resource', 'authorizationServers', 'scopesSupported', 'resourceName', 'resourceDocumentation'] as const;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const TOPIC = 'require-auth.md#resourcemetadata';

/** What the resolver needs from the rest of the guard's configuration. */
export interface MetadataContext {
  /** The configured audiences of every issuer, or undefined for an `issuers` resolver (unknown until run time). */
  audiences: string[] | undefined;
  /** The configured issuers, or undefined for an `issuers` resolver. */
  issuers: string[] | undefined;
  locations: ReadonlyArray<'header' | 'body' | 'query'>;
  dpop: Pick<ResolvedDpop, 'mode' | 'algorithms'>;
  /**
   * Whether the guard can always read a client certificate: `mtls.mode: 'required'` or a trusted
   * header. In 'allowed' mode without a header it depends on the server (TLS with requestCert), which
   * the guard cannot see, so the document does not promise it.
   */
  certificateBound: boolean;
  allowInsecureHttp: boolean;
}

/** Path of the document for `resource` (RFC 9728 §3.1): the suffix goes between host and path. */
export function wellKnownPath(resource: string | URL): string {
  const { pathname } = typeof resource === 'string' ? new URL(resource) : resource;
  // A path of "/" alone is no path: its terminating slash is dropped (§3.1).
  return pathname === '/' ? WELL_KNOWN : WELL_KNOWN + pathname;
}

/** Checks the option and builds the document; undefined when the option is not given. */
export function resolveResourceMetadata(value: ResourceMetadataOptions | undefined, ctx: MetadataContext, check: OptionChecker): ProtectedResourceMetadata | undefined {
  if (value === undefined) return undefined;
  const fail = (message: string): never => check.fail('config_resource_metadata', `resourceMetadata.${message}`, TOPIC);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    check.fail('config_resource_metadata', 'resourceMetadata must be an object such as { resource: "https://api.example.com/mcp" } (or {} for the defaults)', TOPIC);
  }
  check.knownKeys(value, KEYS, { resourceUri: 'resource', scopes: 'scopesSupported', authorizationServer: 'authorizationServers' }, 'resourceMetadata.');

  const url = (v: unknown, name: string, { fragment = false } = {}): URL => {
    const problem = checkIdpUrl(v, { allowHttp: ctx.allowInsecureHttp });
    if (problem !== undefined) fail(`${name} ${problem}`);
    const parsed = new URL(v as string);
    if (!fragment && (parsed.hash !== '' || (v as string).includes('#'))) fail(`${name} must not have a fragment (#…) (RFC 9728 §1.2)`);
    return parsed;
  };

  let resource = value.resource;
  if (resource === undefined) {
    const audiences = ctx.audiences === undefined ? [] : [...new Set(ctx.audiences)];
    if (ctx.audiences === undefined) fail('resource is required with an issuers resolver: set it to the URL clients call, e.g. "https://api.example.com/mcp"');
    if (audiences.length !== 1) fail(`resource is required when the guard accepts several audiences (${audiences.length}): set it to the one URL clients call`);
    resource = audiences[0]!;
    if (checkIdpUrl(resource, { allowHttp: ctx.allowInsecureHttp }) !== undefined) {
      fail(`resource defaults to the audience, which is not an https URL ("${resource.slice(0, 200)}"): set resourceMetadata.resource to the URL clients call`);
    }
  }
  const resourceUrl = url(resource, 'resource');
  if (resourceUrl.search !== '' || resource.includes('?')) fail('resource must not have a query (RFC 8707 §2): its metadata could not be found at one well-known path');

  let servers = value.authorizationServers;
  if (servers === undefined) {
    if (ctx.issuers === undefined) fail('authorizationServers is required with an issuers resolver: list the issuer URLs clients may get tokens from');
    servers = [...new Set(ctx.issuers)];
    for (const issuer of servers) {
      if (checkIdpUrl(issuer, { allowHttp: ctx.allowInsecureHttp }) !== undefined) {
        fail(`authorizationServers defaults to the issuers, and "${issuer.slice(0, 200)}" is not an https URL: list the authorization servers' issuer URLs`);
      }
    }
  }
  if (!Array.isArray(servers) || servers.length === 0) fail('authorizationServers must be a non-empty array of issuer URLs');
  servers.forEach((s, i) => {
    const u = url(s, `authorizationServers[${i}]`);
    if (u.search !== '') fail(`authorizationServers[${i}] must not have a query (an RFC 8414 issuer identifier has none)`);
  });

  const scopes = value.scopesSupported;
  if (scopes !== undefined && (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s)))) {
    fail('scopesSupported must be an array of scope names (RFC 6749 §3.3: no spaces, quotes or backslashes)');
  }
  const name = value.resourceName;
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) fail('resourceName must be a non-empty string');
  if (value.resourceDocumentation !== undefined) url(value.resourceDocumentation, 'resourceDocumentation', { fragment: true });

  const dpopOn = ctx.dpop.mode !== 'disabled';
  const document: ProtectedResourceMetadataJson = {
    resource,
    authorization_servers: [...servers],
    // DPoP tokens come only in the Authorization header; with DPoP required, a body or query token is refused.
    bearer_methods_supported: ctx.dpop.mode === 'required' ? ['header'] : [...ctx.locations],
    ...(scopes !== undefined ? { scopes_supported: [...scopes] } : {}),
    ...(name !== undefined ? { resource_name: name } : {}),
    ...(value.resourceDocumentation !== undefined ? { resource_documentation: value.resourceDocumentation } : {}),
    ...(dpopOn ? { dpop_signing_alg_values_supported: [...ctx.dpop.algorithms] } : {}),
    dpop_bound_access_tokens_required: ctx.dpop.mode === 'required',
    ...(ctx.certificateBound ? { tls_client_certificate_bound_access_tokens: true } : {}),
  };
  const path = wellKnownPath(resourceUrl);
  const body = JSON.stringify(document);
  return Object.freeze({
    url: resourceUrl.origin + path,
    path,
    document: deepFreeze(document),
    body,
    headers: Object.freeze({
      'Content-Type': 'application/json',
      'Content-Length': String(new TextEncoder().encode(body).byteLength),
      'Cache-Control': CACHE_CONTROL,
      // Public by definition, and browser-based MCP clients read it cross-origin.
      'Access-Control-Allow-Origin': '*',
      'X-Content-Type-Options': 'nosniff',
    }),
  });
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) Object.freeze(v);
  return Object.freeze(o);
}

// Guards and the middleware wrapping them → their metadata. A WeakMap rather than a property:
// nothing shows on the guard or the middleware, and nothing can be set from outside.
const registry = new WeakMap<object, ProtectedResourceMetadata>();

/** Called by createGuard() and requireAuth() for what they return. */
export function registerMetadata(owner: object, metadata: ProtectedResourceMetadata | undefined): void {
  if (metadata !== undefined) registry.set(owner, metadata);
}

/** The metadata of a guard or of requireAuth()'s middleware, if it was built with `resourceMetadata`. */
export function metadataOf(owner: unknown): ProtectedResourceMetadata | undefined {
  return (typeof owner === 'object' || typeof owner === 'function') && owner !== null ? registry.get(owner) : undefined;
}

/**
 * The RFC 9728 protected-resource metadata of a guard built with the `resourceMetadata` option
 * (what {@link createGuard} or `requireAuth()` returned), to serve it without Express: answer
 * `GET` (and `HEAD`) of {@link ProtectedResourceMetadata.path} on the resource's origin with 200,
 * its `headers` and its `body`. Throws a ConfigError for anything else, at start-up.
 *
 * @example
 * ```ts
 * import { createGuard, protectedResourceMetadataDocument } from 'express-oauth-kit';
 *
 * const guard = createGuard({
 *   issuer: 'https://idp.example.com',
 *   audience: 'https://api.example.com/mcp',
 *   resourceMetadata: { scopesSupported: ['tools:call'] },
 * });
 * const metadata = protectedResourceMetadataDocument(guard);
 * export function GET(request: Request): Response | undefined {
 *   if (new URL(request.url).pathname !== metadata.path) return undefined;
 *   return new Response(metadata.body, { headers: metadata.headers });
 * }
 * ```
 */
export function protectedResourceMetadataDocument(guard: object): ProtectedResourceMetadata {
  return metadataFor(guard, 'protectedResourceMetadataDocument()');
}

/** The metadata of `owner`, or a ConfigError naming `factory` and what to pass. */
export function metadataFor(owner: unknown, factory: string): ProtectedResourceMetadata {
  const found = metadataOf(owner);
  if (found !== undefined) return found;
  const check = new OptionChecker(factory, TOPIC);
  const isGuard = (typeof owner === 'function' || typeof owner === 'object') && owner !== null && 'verify' in owner;
  return check.fail(
    'config_resource_metadata',
    isGuard
      ? 'this guard has no resourceMetadata option: give requireAuth()/createGuard() resourceMetadata: { resource?, scopesSupported?, … }'
      : 'takes what requireAuth() or createGuard() returned (built with the resourceMetadata option)',
  );
}
