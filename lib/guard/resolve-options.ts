import { ConfigError } from '../errors/config-error.js';
import { MisconfigurationError, TemporarilyUnavailableError } from '../errors/oauth-error.js';
import { checkFetchOption } from '../idp/http.js';
import { MAX_TIMER_MS, OptionChecker } from '../options/validate.js';
import { renamed } from '../options/deprecated.js';
import { forLog, type OperatorLogger } from '../log/operator-log.js';
import { resolveDpop } from './dpop/options.js';
import { resolveResourceMetadata } from './resource-metadata.js';
import { resolveMtls } from './mtls/options.js';

import { resolveIntrospection } from './introspection/options.js';
import {
  ASYMMETRIC_ALGS,
  SYMMETRIC_ALGS,
  type GuardConfig,
  type IssuerOptions,
  type GuardOptions,
  type ResolvedOptions,
} from './options.js';

/** Longest clock skew accepted: beyond a few minutes, exp stops meaning what the IdP said. */
export const MAX_CLOCK_TOLERANCE = 300;

const ISSUER_KEYS = ['issuer', 'audience', 'jwksUri', 'jwks', 'secret', 'algorithms', 'clockToleranceSeconds', 'maxTokenAgeSeconds', 'requiredClaims', 'typ', 'introspection'] as const;
// Durations are named with their unit (CHANGELOG.md, "Option names"); the old names work for one minor version.
const ISSUER_RENAMES = { clockTolerance: 'clockToleranceSeconds', maxTokenAge: 'maxTokenAgeSeconds' } as const;
const SHARED_RENAMES = { jwksTimeout: 'jwksTimeoutMs', jwksCooldown: 'jwksCooldownMs', jwksCacheMaxAge: 'jwksCacheMaxAgeMs', jwksStaleIfError: 'jwksStaleIfErrorMs' } as const;
const SHARED_KEYS = [
  'issuers', 'issuerCacheTtlMs', 'authRequired', 'realm', 'tokenLocations', 'tokenCookie', 'getToken', 'maxTokenLength', 'cache', 'jwksTimeoutMs',
  'jwksCooldownMs', 'jwksCacheMaxAgeMs', 'jwksStaleIfErrorMs', 'allowInsecureHttp', 'logger', 'dpop', 'mtls', 'fetch', 'resourceMetadata',
] as const;

// Names other libraries use for the same thing (express-oauth2-jwt-bearer, express-jwt, jwks-rsa).
const ALIASES: Record<string, string> = {
  jwks_uri: 'jwksUri',
  jwksUrl: 'jwksUri',
  jwksURI: 'jwksUri',
  clockSkew: 'clockToleranceSeconds',
  issuerBaseURL: 'issuer',
  tokenSigningAlg: 'algorithms',
  audiences: 'audience',
  credentialsRequired: 'authRequired',
};

const check = new OptionChecker('requireAuth()', 'require-auth.md#options');
const fail = check.fail.bind(check);

type Tuning = Pick<ResolvedOptions, 'jwksTimeout' | 'jwksCooldown' | 'jwksCacheMaxAge' | 'jwksStaleIfError' | 'allowInsecureHttp' | 'fetch'>;

/** One issuer's settings; `where` names it in messages when there are several. */
export function resolveIssuer(o: IssuerOptions, tuning: Tuning, where = ''): ResolvedOptions {
  const allowHttp = tuning.allowInsecureHttp;
  if (typeof o.issuer !== 'string' || o.issuer === '') {
    fail('config_issuer', `${where}issuer is required: the exact \`iss\` value your IdP puts in access tokens`);
  }
  // Copies: arrays the caller keeps (a shared tenant record, say) must not change what was checked.
  const audience = typeof o.audience === 'string' ? [o.audience] : Array.isArray(o.audience) ? [...o.audience] : o.audience;
  if (!Array.isArray(audience) || audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) {
    fail('config_audience', `${where}audience is required: the \`aud\` value (or values) tokens for this API carry`);
  }
  const sources = [o.jwksUri !== undefined, o.jwks !== undefined, o.secret !== undefined].filter(Boolean).length;
  if (sources > 1) fail('config_keys', `${where}give only one of jwksUri, jwks or secret`);
  if (o.jwksUri !== undefined) check.url(o.jwksUri, `${where}jwksUri`, { allowHttp });
  if (sources === 0) {
    // Discovery will run against the issuer, so it must be a URL.
    check.url(o.issuer, `${where}issuer (used for discovery because no jwksUri/jwks was given)`, { allowHttp });
  }
  if (o.jwks !== undefined && (typeof o.jwks !== 'object' || o.jwks === null || !Array.isArray(o.jwks.keys))) {
    fail('config_keys', `${where}jwks must be a JSON Web Key Set: { keys: [...] }`);
  }
  let secret: Uint8Array | undefined;
  if (o.secret !== undefined) {
    secret = typeof o.secret === 'string' ? new TextEncoder().encode(o.secret) : o.secret;
    if (!(secret instanceof Uint8Array) || secret.byteLength < 32) {
      fail('config_keys', `${where}secret must be at least 32 bytes (RFC 7518 §3.2); prefer asymmetric keys with a JWKS`);
    }
  }
  const algorithms = resolveAlgorithms(o.algorithms, secret !== undefined, where);
  if (o.typ !== undefined && (typeof o.typ !== 'string' || o.typ === '')) fail('config_options', `${where}typ must be a string such as "at+jwt"`);
  if (o.requiredClaims !== undefined && (!Array.isArray(o.requiredClaims) || o.requiredClaims.some((c) => typeof c !== 'string'))) {
    fail('config_options', `${where}requiredClaims must be an array of claim names`);
  }
  return {
    issuer: o.issuer,
    audience: audience as string[],
    jwksUri: o.jwksUri,
    jwks: o.jwks,
    secret,
    algorithms,
    clockTolerance: check.number(o.clockToleranceSeconds, `${where}clockToleranceSeconds`, 5, { max: MAX_CLOCK_TOLERANCE }),
    maxTokenAge: check.number(o.maxTokenAgeSeconds, `${where}maxTokenAgeSeconds`, undefined, { positive: true }),
    requiredClaims: [...(o.requiredClaims ?? [])],
    typ: o.typ,
    introspection: o.introspection === undefined ? undefined : resolveIntrospection(o.introspection, o.issuer, tuning, check, where),
    ...tuning,
  };
}

function resolveAlgorithms(value: unknown, symmetric: boolean, where: string): string[] {
  const allowed: readonly string[] = symmetric ? SYMMETRIC_ALGS : ASYMMETRIC_ALGS;
  const algorithms = Array.isArray(value) ? [...value] : (value ?? (symmetric ? ['HS256'] : [...ASYMMETRIC_ALGS]));
  if (!Array.isArray(algorithms) || algorithms.length === 0) fail('config_algorithms', `${where}algorithms must be a non-empty array`);
  for (const alg of algorithms as unknown[]) {
    if (allowed.includes(alg as string)) continue;
    const why =
      String(alg).toLowerCase() === 'none'
        ? '"none" is never accepted (RFC 8725 §3.1)'
        : symmetric
          ? `"${String(alg)}" is not an HMAC algorithm; with a secret use ${SYMMETRIC_ALGS.join(', ')}`
          : `"${String(alg)}" is not allowed with public keys; symmetric algorithms need the secret option, and only ${ASYMMETRIC_ALGS.join(', ')} are accepted`;
    fail('config_algorithms', `${where}${why}`);
  }
  return algorithms as string[];
}

/**
 * The resolver's answer, or a 503 after `ms`: it stands between a token and its keys like
 * discovery does, so jwksTimeoutMs bounds it too. Without a bound, one call that never settles
 * (a tenant database that accepts the connection and stays silent) would hold every request for
 * that issuer for ever, since they all share the one call.
 */
function within<T>(answer: T | Promise<T>, ms: number, iss: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TemporarilyUnavailableError(`The issuers resolver did not answer within ${ms} ms (jwksTimeoutMs) for "${forLog(iss)}"`)), ms);
    timer.unref();
  });
  return Promise.race([Promise.resolve(answer), late]).finally(() => clearTimeout(timer));
}

function resolveIssuers(o: GuardOptions<never>, tuning: Tuning): GuardConfig['issuers'] {
  const topLevel = ISSUER_KEYS.filter((k) => (o as unknown as Record<string, unknown>)[k] !== undefined);
  if (o.issuers === undefined) return [resolveIssuer(o as IssuerOptions, tuning)];
  if (topLevel.length) fail('config_issuer', `give either issuers or the single-issuer options (${topLevel.join(', ')}), not both`);
  if (typeof o.issuers === 'function') {
    const resolver = o.issuers;
    return async (iss: string, req: unknown) => {
      const found = await within(resolver(iss, req as never), tuning.jwksTimeout, iss);
      if (found === undefined) return undefined;
      try {
        const settings = renamed(check, check.object(found, 'from the issuers resolver'), ISSUER_RENAMES, 'the issuers resolver: ');
        check.knownKeys(settings, ISSUER_KEYS, ALIASES, '', ISSUER_RENAMES);
        // Each answer would make an IdP client (and a store key derivation) per resolved issuer.
        if (settings.introspection !== undefined) fail('config_options', 'the issuers resolver: introspection is not supported with a resolver; list the issuer in issuers');
        const resolved = resolveIssuer(settings, tuning, 'the issuers resolver: ');
        // Both values are the client's `iss` or derived from it: cut and cleaned like any caller value.
        if (resolved.issuer !== iss) fail('config_issuer', `the issuers resolver was asked for "${forLog(iss)}" and answered settings for "${forLog(resolved.issuer)}"`);
        return resolved;
      } catch (err) {
        // Found while serving a request: a run-time error for the operator, not a ConfigError.
        throw err instanceof ConfigError ? new MisconfigurationError(err.message, { cause: err }) : err;
      }
    };
  }
  if (!Array.isArray(o.issuers) || o.issuers.length === 0) fail('config_issuer', 'issuers must be a non-empty array of { issuer, audience, ... } or a function');
  const seen = new Set<string>();
  const listed = o.issuers.map((entry, i) => {
    const settings = renamed(check, check.object(entry, `issuers[${i}]`), ISSUER_RENAMES, `issuers[${i}].`);
    check.knownKeys(settings, ISSUER_KEYS, ALIASES, '', ISSUER_RENAMES);
    const resolved = resolveIssuer(settings, tuning, `issuers[${i}].`);
    if (seen.has(resolved.issuer)) fail('config_issuer', `issuers[${i}]: "${resolved.issuer}" is listed twice`);
    seen.add(resolved.issuer);
    return resolved;
  });
  const opaque = listed.filter((r) => r.introspection !== undefined && r.introspection.tokens !== 'jwt');
  if (opaque.length > 1) {
    fail(
      'config_options',
      `only one issuer may introspect opaque tokens (${opaque.map((r) => `"${r.issuer}"`).join(', ')} do): an opaque token does not say who issued it, ` +
        "and sending it to another IdP's endpoint would hand it over; set introspection.tokens: 'jwt' on the others",
    );
  }
  return listed;
}

export function resolveOptions(options: GuardOptions<never>): GuardConfig {
  const o = renamed(check, check.object(options, 'with at least issuer and audience, or issuers'), { ...ISSUER_RENAMES, ...SHARED_RENAMES });
  check.knownKeys(o, [...ISSUER_KEYS, ...SHARED_KEYS], ALIASES, '', { ...ISSUER_RENAMES, ...SHARED_RENAMES });
  const tuning: Tuning = {
    // jose wants whole milliseconds for its timeout.
    jwksTimeout: check.number(o.jwksTimeoutMs, 'jwksTimeoutMs', 5_000, { positive: true, integer: true, max: MAX_TIMER_MS }),
    jwksCooldown: check.number(o.jwksCooldownMs, 'jwksCooldownMs', 30_000),
    jwksCacheMaxAge: check.number(o.jwksCacheMaxAgeMs, 'jwksCacheMaxAgeMs', 600_000, { positive: true }),
    jwksStaleIfError: check.number(o.jwksStaleIfErrorMs, 'jwksStaleIfErrorMs', 0),
    allowInsecureHttp: check.boolean(o.allowInsecureHttp, 'allowInsecureHttp', false),
    fetch: checkFetchOption(o.fetch, 'requireAuth()'),
  };
  const locations: GuardConfig['locations'] = ['header'];
  for (const l of o.tokenLocations ?? []) {
    if (l !== 'body' && l !== 'query') fail('config_token_location', `tokenLocations may hold 'body' and 'query' (got "${String(l)}")`);
    if (!locations.includes(l)) locations.push(l);
  }
  if (o.tokenCookie !== undefined && (typeof o.tokenCookie !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(o.tokenCookie))) {
    fail('config_token_location', 'tokenCookie must be a cookie name (RFC 6265 token characters)');
  }
  if (o.getToken !== undefined && typeof o.getToken !== 'function') fail('config_token_location', 'getToken must be a function (req) => string | undefined');
  if (o.realm !== undefined && (typeof o.realm !== 'string' || o.realm === '')) fail('config_options', 'realm must be a non-empty string');
  let cache: GuardConfig['cache'] = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 };
  if (o.cache === false) cache = false;
  else if (o.cache !== undefined) {
    if (typeof o.cache !== 'object' || o.cache === null) fail('config_options', 'cache must be false or { maxEntries, maxBytes }');
    // A misspelt size (lru-cache's `max`, say) would otherwise leave the default in force unnoticed.
    check.knownKeys(o.cache, ['maxEntries', 'maxBytes'], { max: 'maxEntries' }, 'cache.');
    cache = {
      maxEntries: check.number(o.cache.maxEntries, 'cache.maxEntries', cache.maxEntries, { positive: true, integer: true }),
      maxBytes: check.number(o.cache.maxBytes, 'cache.maxBytes', cache.maxBytes, { positive: true }),
    };
  }
  const issuers = resolveIssuers(o, tuning);
  const dpop = resolveDpop(o.dpop, check);
  const mtls = resolveMtls(o.mtls, check);
  const listed = typeof issuers === 'function' ? undefined : issuers;
  const resourceMetadata = resolveResourceMetadata(
    o.resourceMetadata,
    { audiences: listed?.flatMap((i) => i.audience), issuers: listed?.map((i) => i.issuer), locations, dpop, certificateBound: mtls.mode === 'required' || (mtls.mode === 'allowed' && mtls.header !== undefined), allowInsecureHttp: tuning.allowInsecureHttp },
    check,
  );
  return {
    issuers,
    issuersListed: o.issuers !== undefined,
    issuerCacheTtlMs: check.number(o.issuerCacheTtlMs, 'issuerCacheTtlMs', 600_000, { positive: true }),
    authRequired: check.boolean(o.authRequired, 'authRequired', true),
    realm: o.realm ?? 'api',
    locations,
    tokenCookie: o.tokenCookie,
    getToken: o.getToken,
    maxTokenLength: check.number(o.maxTokenLength, 'maxTokenLength', 16_384, { positive: true, integer: true }),
    cache,
    logger: check.logger<OperatorLogger>(o.logger, console),
    dpop,
    mtls,
    resourceMetadata,
  };
}
