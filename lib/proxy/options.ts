import { MisconfigurationError } from '../errors/oauth-error.js';
import { IDP_OPTION_ALIASES, IDP_OPTION_KEYS, IDP_OPTION_RENAMES, IdpClient, type IdpConnectionOptions, type IdpCredentials } from '../idp/idp-client.js';
import { optionsCopy, renamed } from '../options/deprecated.js';
import { OptionChecker } from '../options/validate.js';
import { DEFAULT_GRANTS, PROXY_GRANTS, RESERVED_PARAMS, type ProxyGrantType } from './grants.js';
import { COOKIE_RENAMES, resolveCookieOptions, type CookieConfig, type RefreshCookieOptions } from './cookie-mode.js';
import { forLog, operatorLog, type LogLine, type OperatorLogger } from '../log/operator-log.js';

/**
 * Where the proxies' operator lines go: the package's {@link OperatorLogger} (`console`, pino and
 * winston fit). `warn`: an IdP outage or a failing `onResult`; `error`: the IdP rejected this
 * server's client credentials, or the configuration cannot reach it.
 * @deprecated Use {@link OperatorLogger}: one logger interface for the guard, the proxies and the M2M client.
 */
export type ProxyLogger = OperatorLogger;

/** One finished proxy request, for audit logs and metrics. Never carries secrets, passwords or tokens. */
export interface ProxyResultEvent {
  /** Which proxy answered. */
  endpoint: 'token' | 'mfa_challenge' | 'revocation';
  /** The caller's grant_type (token endpoint only), cut to 64 characters. */
  grantType?: string;
  /** Status sent to the caller. */
  status: number;
  /** OAuth `error` sent to the caller, if any (the IdP's own code when passed through). */
  error?: string;
  /** `local`: refused before any IdP call; `idp`: the IdP's answer; `transport`: the IdP could not be used. */
  source: 'local' | 'idp' | 'transport';
  /** Status the IdP answered, when it answered. */
  idpStatus?: number;
  /** Milliseconds from the request reaching the proxy to the answer. */
  latencyMs: number;
  /** The `username` of a password grant. Personal data: the hook decides whether to keep it. */
  username?: string;
  /** `req.ip` as Express computed it (honours `trust proxy`). */
  ip?: string;
}

/**
 * Options every proxy accepts: the IdP connection and credentials (`clientSecret` or
 * `privateKey`, not both) plus how requests are read and reported.
 */
export type ProxyOptions = ProxyBaseOptions & IdpCredentials;

/** {@link ProxyOptions} without the credentials (which are a union: secret or private key). */
export interface ProxyBaseOptions extends IdpConnectionOptions {
  /**
   * Also read parameters from the request's query string. Off by default because passwords and
   * tokens in URLs end up in access logs, proxies and browser history. With it off, a query
   * naming an OAuth parameter is refused with 400 so the mistake is visible.
   * @default false
   */
  allowQueryParams?: boolean;
  /**
   * Largest request body read, in bytes; a larger one is refused with 413
   * ({@link RequestTooLargeError}).
   * @default 16384
   */
  bodyLimit?: number;
  /**
   * Audit hook called once per answered request. Exceptions it throws are logged and ignored.
   * @default none
   */
  onResult?: (event: ProxyResultEvent) => void;
  /**
   * Operator messages (IdP rejected our client credentials, IdP failures); `false` silences them.
   * @default console
   */
  logger?: OperatorLogger | false;
}

/**
 * Parameters the server adds to token requests: a fixed record, or a function of the grant type
 * returning the record (or undefined for none). A function's result is checked on every request;
 * a bad one answers 500 and is logged. Names the server owns (client credentials, grant_type)
 * are refused.
 */
export type ExtraParams = Record<string, string> | ((grantType: ProxyGrantType) => Record<string, string> | undefined);

/** Options of {@link tokenProxy}: the IdP connection plus which grants a front end may use. */
export type TokenProxyOptions = TokenProxyBaseOptions & IdpCredentials;

/** {@link TokenProxyOptions} without the credentials (which are a union: secret or private key). */
export interface TokenProxyBaseOptions extends ProxyBaseOptions {
  /**
   * Grants the front end may use (an allow-list); others answer 400 `unsupported_grant_type`.
   * `client_credentials` is refused at start-up: a front end must never act as this server.
   * @default ['password', 'mfa_oob', 'refresh_token']
   */
  grants?: ProxyGrantType[];
  /**
   * Extra parameters a front end may send per grant (e.g. `{ password: ['audience'] }`), on top
   * of the grant's own. Anything else the caller sends is dropped.
   * @default {} (only each grant's own parameters are forwarded)
   */
  allowParams?: Partial<Record<ProxyGrantType, string[]>>;
  /**
   * Parameters the server adds to every token request (e.g. CIAM `auth_source_id`). They win
   * over the caller's.
   * @default none
   */
  extraParams?: ExtraParams;
  /**
   * Refresh-token cookie mode: the refresh token goes into an HttpOnly cookie and the browser's
   * script never sees it.
   * @default none: refresh tokens are returned in the JSON body
   */
  cookie?: RefreshCookieOptions;
}

/**
 * Options of {@link mfaChallengeProxy}: the common proxy options. It needs `mfaChallengeEndpoint`,
 * `issuer`, or `profile: 'eiam'` to know where to send the challenge.
 */
export type MfaChallengeProxyOptions = ProxyOptions;

/**
 * Options of {@link revocationProxy}: the common proxy options, plus the cookie settings when
 * `tokenProxy` runs in cookie mode. It needs `revocationEndpoint` or `issuer`.
 */
export type RevocationProxyOptions = RevocationProxyBaseOptions & IdpCredentials;

/** {@link RevocationProxyOptions} without the credentials (which are a union: secret or private key). */
export interface RevocationProxyBaseOptions extends ProxyBaseOptions {
  /**
   * Same cookie options as `tokenProxy`: a request without `token` revokes the cookie's refresh
   * token and clears it.
   * @default none: the caller must send `token`
   */
  cookie?: RefreshCookieOptions;
}

// One options object may be shared by the three factories, so each accepts the union. The
// Record makes the compiler list every option of the three interfaces.
const PROXY_KEYS = {
  allowQueryParams: true, bodyLimit: true, onResult: true, logger: true, grants: true, allowParams: true, extraParams: true, cookie: true,
} as const satisfies Record<Exclude<keyof (TokenProxyBaseOptions & RevocationProxyBaseOptions), keyof IdpConnectionOptions>, true>;
const KNOWN_KEYS: readonly string[] = [...IDP_OPTION_KEYS, ...Object.keys(PROXY_KEYS)];

/** The checker of each proxy factory: its name in messages, the proxy options table in err.docs. */
export function proxyChecker(factory: string): OptionChecker {
  return new OptionChecker(`${factory}()`, 'token-proxy.md#options');
}

/** The validated, normalised form shared by the three proxies. */
export interface ProxyConfig {
  factory: string;
  client: IdpClient;
  allowQuery: boolean;
  bodyLimit: number;
  onResult: ((event: ProxyResultEvent) => void) | undefined;
  logger: OperatorLogger | undefined;
  /** Writes to `logger` through operatorLog(): each distinct line at most once a minute, never throws. */
  log: LogLine;
}

export interface TokenProxyConfig extends ProxyConfig {
  grants: ReadonlySet<ProxyGrantType>;
  allowParams: Partial<Record<ProxyGrantType, readonly string[]>>;
  extraParams: (grantType: ProxyGrantType) => Record<string, string> | undefined;
  cookie: CookieConfig | undefined;
}

function paramNames(check: OptionChecker, value: unknown, option: string): string[] {
  if (!Array.isArray(value) || value.some((n) => typeof n !== 'string' || n === '')) {
    check.fail('config_options', `${option} must be an array of parameter names`);
  }
  for (const name of value as string[]) {
    if (RESERVED_PARAMS.has(name)) {
      check.fail('config_options', `${option} must not name "${name}": the server sets it from its own configuration`);
    }
  }
  return value as string[];
}

function stringRecord(check: OptionChecker, value: unknown, option: string): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) check.fail('config_options', `${option} must be an object of string values`);
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') check.fail('config_options', `${option}.${k} must be a string (got ${typeof v})`);
    if (RESERVED_PARAMS.has(k)) check.fail('config_options', `${option} must not set "${k}": the server sets it from its own configuration`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * The options with old names moved to the new ones (one DeprecationWarning per old name and
 * process; both names at once is a ConfigError). Each factory calls this first, before any check.
 */
export function renamedProxyOptions<T extends ProxyOptions>(options: T, factory: string): T {
  const check: OptionChecker = proxyChecker(factory);
  const o = renamed(check, check.object(options, 'with clientId, clientSecret and issuer or tokenEndpoint'), IDP_OPTION_RENAMES);
  const cookie = (o as { cookie?: unknown }).cookie;
  if (cookie === null || typeof cookie !== 'object') return o;
  const c = renamed(check, cookie, COOKIE_RENAMES, 'cookie.');
  if (c === cookie) return o;
  // A copy that keeps o's prototype, as renamed() makes: options inherited from shared settings stay.
  const out = optionsCopy(o);
  out.cookie = c;
  return out;
}

export function resolveProxyOptions(options: ProxyOptions, factory: string): ProxyConfig {
  const check: OptionChecker = proxyChecker(factory);
  check.knownKeys(check.object(options, 'with clientId, clientSecret and issuer or tokenEndpoint'), KNOWN_KEYS, IDP_OPTION_ALIASES, '', IDP_OPTION_RENAMES);
  // IdpClient refuses the client secret in a URL (outside EIAM) for every factory.
  const client = new IdpClient(options, check);
  const logger = check.logger<OperatorLogger>(options.logger, console);
  return {
    factory,
    client,
    allowQuery: check.boolean(options.allowQueryParams, 'allowQueryParams', false),
    bodyLimit: check.number(options.bodyLimit, 'bodyLimit', 16 * 1024, { positive: true }),
    onResult: check.func<(event: ProxyResultEvent) => void>(options.onResult, 'onResult', 'a function (event) => void'),
    logger,
    log: operatorLog(logger),
  };
}

export function resolveTokenProxyOptions(options: TokenProxyOptions, factory = 'tokenProxy'): TokenProxyConfig {
  const base = resolveProxyOptions(options, factory);
  const check: OptionChecker = proxyChecker(factory);
  const grants = options.grants ?? [...DEFAULT_GRANTS];
  if (!Array.isArray(grants) || grants.length === 0) {
    check.fail('config_grants', `grants must be a non-empty array of ${PROXY_GRANTS.map((g) => `'${g}'`).join(', ')}`);
  }
  for (const g of grants as string[]) {
    if (g === 'client_credentials') {
      check.fail('config_grants', 'grants must not include client_credentials: a front end must never act as this server; use createM2MClient() for server-to-server tokens');
    }
    if (!(PROXY_GRANTS as string[]).includes(g)) {
      check.fail('config_grants', `unknown grant "${g}" in grants; supported: ${PROXY_GRANTS.join(', ')}`);
    }
  }
  const allowParams: Partial<Record<ProxyGrantType, readonly string[]>> = {};
  if (options.allowParams !== undefined) {
    if (!options.allowParams || typeof options.allowParams !== 'object' || Array.isArray(options.allowParams)) {
      check.fail('config_options', "allowParams must be an object keyed by grant, e.g. { password: ['audience'] }");
    }
    for (const [g, names] of Object.entries(options.allowParams)) {
      if (!(PROXY_GRANTS as string[]).includes(g)) check.fail('config_grants', `allowParams names unknown grant "${g}"`);
      allowParams[g as ProxyGrantType] = paramNames(check, names, `allowParams.${g}`);
    }
  }
  let extraParams: TokenProxyConfig['extraParams'] = () => undefined;
  const extra = options.extraParams;
  if (typeof extra === 'function') {
    // Its result can vary, so it is checked on each request; a bad one answers 500 and is logged.
    // Found while serving, so a MisconfigurationError: a ConfigError means "fix and restart".
    extraParams = (g) => {
      const r = extra(g);
      if (r === undefined) return undefined;
      try {
        // A promise has no own keys, so it would pass as {} and the parameters would silently go
        // missing; the proxy does not wait on it either (it is called per request).
        if (typeof (r as Partial<PromiseLike<unknown>>).then === 'function') {
          check.fail('config_options', 'extraParams() must return the parameters themselves, not a promise (it is not awaited)');
        }
        return stringRecord(check, r, 'extraParams() result');
      } catch (err) {
        const e = new MisconfigurationError((err as Error).message, { cause: err });
        base.log('error', `[express-oauth-kit] ${forLog(e.message, 500)}`);
        throw e;
      }
    };
  } else if (extra !== undefined) {
    const fixed = stringRecord(check, extra, 'extraParams');
    extraParams = () => fixed;
  }
  return {
    ...base,
    grants: new Set(grants),
    allowParams,
    extraParams,
    cookie: options.cookie === undefined ? undefined : resolveCookieOptions(options.cookie, factory),
  };
}

/** Fails at start-up rather than answering 500 on the first request. */
export function assertEndpoint(options: ProxyOptions, factory: string, option: 'mfaChallengeEndpoint' | 'revocationEndpoint'): void {
  if (options[option] !== undefined || options.issuer !== undefined) return;
  if (option === 'mfaChallengeEndpoint' && options.profile === 'eiam') return;
  proxyChecker(factory).fail('config_url', `set ${option}, or issuer to discover it${option === 'mfaChallengeEndpoint' ? ", or profile: 'eiam'" : ''}`);
}
