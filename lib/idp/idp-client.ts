import { ConfigError } from '../errors/config-error.js';
import { MisconfigurationError, ServerError } from '../errors/oauth-error.js';
import { MAX_TIMER_MS, type OptionChecker } from '../options/validate.js';
import { keyMaterial, resolveAssertionKey, type AssertionAudience, type ClientAssertionAlgorithm, type ClientPrivateKey } from './client-assertion.js';
import { applyClientAuth, AssertionSigner, isTlsClientAuth, secretPattern, type ClientAuthMethod } from './client-auth.js';
import { resolveClientTls, type ClientTlsOptions, type ResolvedClientTls } from './tls.js';
import { checkIdpUrl, discover, type IdpMetadata } from './discovery.js';
import { checkFetchOption, idpRequest, type IdpFetch, type IdpResponse } from './http.js';
import { PROFILES, type IdpProfile, type ParamsIn } from './profiles.js';

/** C0, DEL, C1 and the Unicode line/paragraph separators: anything that could split a log line. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

export type IdpEndpoint = 'token' | 'revocation' | 'mfa_challenge' | 'introspection';

/**
 * Options shared by the proxies (`tokenProxy()`, `mfaChallengeProxy()`, `revocationProxy()`) and
 * `createM2MClient()`: where the IdP is and who this server is to it. Give `issuer`, or
 * `tokenEndpoint`, or both; explicit endpoints always win over discovery and profiles. The
 * client authenticates with `clientSecret` or with `privateKey` (private_key_jwt), never both:
 * the union makes the compiler say so, and the factories still check it at start-up.
 */
export type IdpClientOptions = IdpConnectionOptions & IdpCredentials;

/** How the client authenticates to the IdP: a secret, or a private key (private_key_jwt); one of the two. */
export type IdpCredentials = ClientSecretCredentials | PrivateKeyCredentials;

/** The client authenticates with a shared secret (`client_secret_basic` or `client_secret_post`). */
export interface ClientSecretCredentials {
  /**
   * This confidential client's secret. Required unless `privateKey` is given (checked at start-up:
   * optional here so that options can be assembled by spreading); load it from the environment.
   * Never logged, never put in an error message, redacted from IdP answers that echo it.
   */
  clientSecret?: string;
  /** Only with private_key_jwt: not used with a client secret. */
  privateKey?: never;
  /** Only with private_key_jwt: not used with a client secret. */
  kid?: never;
  /** Only with private_key_jwt: not used with a client secret. */
  alg?: never;
  /** Only with private_key_jwt: not used with a client secret. */
  assertionAudience?: never;
}

/** The client authenticates with a signed assertion (`private_key_jwt`, RFC 7523 §2.2). */
export interface PrivateKeyCredentials {
  /** Not used with private_key_jwt: the key is the credential. */
  clientSecret?: never;
  /**
   * The client's private key (PEM, private JWK, KeyObject or CryptoKey). The IdP registers its
   * public half. Never logged; load it from a secret store.
   */
  privateKey: ClientPrivateKey;
  /**
   * `kid` header of the assertions, naming the key in the client's registered JWKS.
   * @default the JWK's own `kid`, else none
   */
  kid?: string;
  /**
   * Signing algorithm of the assertions.
   * @default from the key: RS256 (RSA), PS256 (RSA-PSS), ES256/384/512 (EC), EdDSA (Ed25519)
   */
  alg?: ClientAssertionAlgorithm;
  /**
   * The assertion's `aud`, the issuer identifier or the token endpoint URL.
   * @default 'issuer' when `issuer` is set, else 'token_endpoint'
   */
  assertionAudience?: AssertionAudience;
}

/** The part of {@link IdpClientOptions} that does not depend on how the client authenticates. */
export interface IdpConnectionOptions {
  /**
   * The IdP's issuer URL. Endpoints not given explicitly come from the `profile`'s paths under it,
   * else from its OpenID discovery document (fetched on first use, then cached).
   * @default none: then `tokenEndpoint` is required
   */
  issuer?: string;
  /**
   * Token endpoint URL.
   * @default the `profile`'s path under `issuer`, else `token_endpoint` from discovery; required without `issuer`
   */
  tokenEndpoint?: string;
  /**
   * RFC 7009 revocation endpoint, used by `revocationProxy()`.
   * @default `revocation_endpoint` from the issuer's discovery document
   */
  revocationEndpoint?: string;
  /**
   * MFA challenge endpoint, used by `mfaChallengeProxy()`.
   * @default `/auth/mfa/challenge` under the issuer or token endpoint's origin with `profile: 'eiam'`, else `mfa_challenge_endpoint` from discovery
   */
  mfaChallengeEndpoint?: string;
  /**
   * Shortcut for Tencent Cloud IdPs: sets the endpoint paths, `clientAuth` and `paramsIn`
   * ({@link IdpProfile}). Explicit options still win.
   * @default 'rfc6749'
   */
  profile?: IdpProfile;
  /** This confidential client's id at the IdP. Required. */
  clientId: string;
  /**
   * How the client authenticates to the IdP (RFC 6749 §2.3.1, RFC 7523 §2.2, RFC 8705 §2).
   * `tls_client_auth` and `self_signed_tls_client_auth` need `tls` and no secret or key.
   * @default 'client_secret_basic' ('client_secret_post' with `profile: 'ciam'`; 'private_key_jwt' when only `privateKey` is given; 'tls_client_auth' when only `tls` is given)
   */
  clientAuth?: ClientAuthMethod;
  /**
   * A client certificate to present in the TLS handshake with the IdP (RFC 8705): the credential
   * with `clientAuth: 'tls_client_auth'` or `'self_signed_tls_client_auth'`, and what the IdP binds
   * certificate-bound tokens to (with any `clientAuth`). Requests then go to the IdP's
   * `mtls_endpoint_aliases` when its discovery document has them. `createM2MClient().fetch()`
   * presents it to the APIs it calls, so their bound tokens work there. Needs the optional peer
   * dependency `undici`.
   * @default none: no client certificate
   */
  tls?: ClientTlsOptions;
  /**
   * Where grant parameters go: form body (RFC 6749) or query string (Tencent EIAM).
   * @default 'body' ('query' with `profile: 'eiam'`)
   */
  paramsIn?: ParamsIn;
  /**
   * Milliseconds to wait for the IdP (also for discovery); past it the request fails with
   * {@link IdpTimeoutError} (504).
   * @default 10000
   */
  timeoutMs?: number;
  /** @deprecated Use timeoutMs (same unit, milliseconds). */
  timeout?: number;
  /**
   * Largest IdP answer accepted, in bytes; a longer one fails with {@link IdpBadResponseError}.
   * @default 262144 (256 KiB)
   */
  maxResponseBytes?: number;
  /**
   * Permit http:// IdP URLs on non-loopback hosts (inside a private network). http on
   * localhost/127.0.0.1/::1 is always allowed.
   * @default false
   */
  allowInsecureHttp?: boolean;
  /**
   * The `fetch` used for every request to the IdP (token, revocation, MFA challenge, discovery),
   * e.g. to go through an egress proxy or trust a private CA. Timeout, size cap and the
   * no-redirect policy still apply. Not used by `createM2MClient().fetch()`, which calls your own
   * services with Node's fetch (pass `dispatcher` in its `init` for those).
   * @default Node's global fetch
   * @example
   * ```ts
   * import { ProxyAgent } from 'undici';
   * const dispatcher = new ProxyAgent(process.env.HTTPS_PROXY!);
   * tokenProxy({ ...options, fetch: (url, init) => fetch(url, { ...init, dispatcher } as RequestInit) });
   * ```
   */
  fetch?: IdpFetch;
}

// Every key of IdpClientOptions, checked by the compiler: an option added to the interface but
// not here would be refused as unknown by every factory.
const IDP_KEYS = {
  issuer: true, tokenEndpoint: true, revocationEndpoint: true, mfaChallengeEndpoint: true, profile: true, clientId: true,
  clientSecret: true, clientAuth: true, paramsIn: true, timeoutMs: true, timeout: true, maxResponseBytes: true, allowInsecureHttp: true,
  fetch: true, privateKey: true, kid: true, alg: true, assertionAudience: true, tls: true,
} as const satisfies Record<keyof IdpConnectionOptions | keyof ClientSecretCredentials | keyof PrivateKeyCredentials, true>;

/** The option names of {@link IdpClientOptions}, for the factories' unknown-key checks. */
export const IDP_OPTION_KEYS = Object.keys(IDP_KEYS) as readonly (keyof IdpClientOptions)[];

/**
 * Renamed IdP options (CHANGELOG.md, "Option names"): every factory applies these with `renamed()`
 * before its unknown-key check, so the old names keep working for one minor version.
 */
export const IDP_OPTION_RENAMES: Readonly<Record<string, string>> = { timeout: 'timeoutMs' };

/** Names other libraries and the IdPs' own docs use for the same options. */
export const IDP_OPTION_ALIASES: Readonly<Record<string, string>> = {
  token_endpoint: 'tokenEndpoint', tokenUrl: 'tokenEndpoint', client_id: 'clientId', client_secret: 'clientSecret',
  issuerBaseURL: 'issuer', timeoutSeconds: 'timeoutMs (milliseconds)',
};

/**
 * The single token-endpoint client of the package. The proxy, the M2M client and the demo all
 * call the IdP through it, so client authentication, parameter placement, timeouts, size caps
 * and error mapping behave the same everywhere.
 */
export class IdpClient {
  readonly clientId: string;
  readonly clientAuth: ClientAuthMethod;
  readonly paramsIn: ParamsIn;
  readonly issuer: string | undefined;
  readonly timeout: number;
  readonly #clientSecret: string;
  readonly #signer: AssertionSigner | undefined;
  readonly #assertionAudience: AssertionAudience;
  readonly #maxResponseBytes: number;
  readonly #explicit: Partial<Record<IdpEndpoint, string>>;
  readonly #profile: IdpProfile | undefined;
  readonly #allowHttp: boolean;
  readonly #secretPattern: RegExp | undefined;
  readonly #fetch: IdpFetch | undefined;
  /** The certificate's dispatcher and thumbprint, with `tls`. */
  readonly tls: ResolvedClientTls | undefined;
  /** Every request to the IdP: `fetch`, with the certificate's dispatcher when there is one. */
  readonly #idpFetch: IdpFetch | undefined;

  /**
   * `check` is the calling factory's: errors name it and point at its options table. `endpoints`:
   * endpoints a factory takes under its own option names (requireAuth's `introspection.endpoint`).
   */
  constructor(options: IdpClientOptions, check: OptionChecker, endpoints: { introspection?: { value: string | undefined; name: string } } = {}) {
    check.object(options, 'with clientId, clientSecret and issuer or tokenEndpoint');
    const { clientId, clientSecret, profile } = options;
    // The credential helpers name the factory without its parentheses.
    const factory = check.factory.replace(/\(\)$/, '');
    if (typeof clientId !== 'string' || clientId === '') {
      check.fail('config_client', "clientId is required (the confidential client's id at the IdP)");
    }
    if (profile !== undefined && !(profile in PROFILES)) {
      check.fail('config_options', `profile must be 'eiam', 'ciam' or 'rfc6749' (got "${String(profile)}")`);
    }
    const defaults = PROFILES[profile ?? 'rfc6749'];
    const byKey = options.privateKey !== undefined && options.clientAuth === undefined && clientSecret === undefined;
    const byCertificate = options.tls !== undefined && options.privateKey === undefined && options.clientAuth === undefined && clientSecret === undefined;
    const clientAuth = options.clientAuth ?? (byKey ? 'private_key_jwt' : byCertificate ? 'tls_client_auth' : defaults.clientAuth);
    if (!CLIENT_AUTH_METHODS.includes(clientAuth)) {
      const names = CLIENT_AUTH_METHODS.map((m) => `'${m}'`);
      check.fail('config_client', `clientAuth must be ${names.slice(0, -1).join(', ')} or ${names.at(-1)!} (got "${String(clientAuth)}")`);
    }
    const paramsIn = options.paramsIn ?? defaults.paramsIn;
    if (paramsIn !== 'body' && paramsIn !== 'query') {
      check.fail('config_options', `paramsIn must be 'body' or 'query' (got "${String(paramsIn)}")`);
    }
    checkCredentials(options, clientAuth, paramsIn, factory);
    refuseSecretInUrl(clientAuth, paramsIn, profile, check);
    this.#allowHttp = check.boolean(options.allowInsecureHttp, 'allowInsecureHttp', false);
    const url = (v: string | undefined, name: string) => (v === undefined ? undefined : check.url(v, name, { allowHttp: this.#allowHttp }).href);
    this.issuer = options.issuer === undefined ? undefined : (url(options.issuer, 'issuer'), options.issuer);
    const explicit: Partial<Record<IdpEndpoint, string>> = {
      token: url(options.tokenEndpoint, 'tokenEndpoint'),
      revocation: url(options.revocationEndpoint, 'revocationEndpoint'),
      mfa_challenge: url(options.mfaChallengeEndpoint, 'mfaChallengeEndpoint'),
      introspection: endpoints.introspection && url(endpoints.introspection.value, endpoints.introspection.name),
    };
    // A profile turns a bare issuer or token endpoint into the documented paths.
    const base = this.issuer ?? explicit.token;
    if (base !== undefined) {
      const origin = new URL(base).origin;
      const issuerBase = (this.issuer ?? origin).replace(/\/$/, '');
      if (!explicit.token && defaults.tokenPath && this.issuer) explicit.token = issuerBase + defaults.tokenPath;
      if (!explicit.mfa_challenge && defaults.mfaChallengePath) explicit.mfa_challenge = issuerBase + defaults.mfaChallengePath;
      if (!explicit.revocation && defaults.revocationPath) explicit.revocation = issuerBase + defaults.revocationPath;
    }
    if (!explicit.token && !this.issuer) {
      check.fail('config_url', 'give tokenEndpoint, or issuer to discover it');
    }
    this.clientId = clientId;
    this.#clientSecret = clientSecret ?? '';
    this.#secretPattern = clientSecret === undefined ? undefined : secretPattern(clientId, clientSecret);
    this.#signer = clientAuth === 'private_key_jwt' ? new AssertionSigner(resolveAssertionKey(options, factory), clientId) : undefined;
    this.#assertionAudience = options.assertionAudience ?? (this.issuer === undefined ? 'token_endpoint' : 'issuer');
    if (this.#signer && this.#assertionAudience === 'issuer' && this.issuer === undefined) {
      check.fail('config_client', "assertionAudience 'issuer' needs the issuer option");
    }
    this.clientAuth = clientAuth;
    this.paramsIn = paramsIn;
    this.#profile = profile;
    this.#explicit = explicit;
    this.timeout = check.number(options.timeoutMs, 'timeoutMs', 10_000, { positive: true, max: MAX_TIMER_MS });
    this.#maxResponseBytes = check.number(options.maxResponseBytes, 'maxResponseBytes', 256 * 1024, { positive: true });
    this.#fetch = checkFetchOption(options.fetch, check.factory);
    if (isTlsClientAuth(clientAuth) && options.tls === undefined) {
      check.fail('config_mtls', `clientAuth '${clientAuth}' authenticates with a client certificate: give tls: { cert, key }`, 'mtls.md#client-certificates');
    }
    this.tls = resolveClientTls(options.tls, check);
    const dispatcher = this.tls?.dispatcher;
    const send = this.#fetch;
    // The same one IdP client (timeouts, size cap, no redirects): only the connection differs. A
    // custom fetch gets the dispatcher in init, as it gets the signal; it must pass init on.
    // Discovery too: tls.ca may be what makes the IdP's server certificate trusted. (Discovery is
    // then shared per client rather than per process: one more request per client at start.)
    this.#idpFetch = dispatcher === undefined ? send : (url, init) => (send ?? fetch)(url, { ...init, dispatcher } as RequestInit);
  }

  /** Identifies the token endpoint without a network call (cache keys). */
  get endpointKey(): string {
    return this.keyOf('token');
  }

  /** Identifies one of the endpoints without a network call (cache and store keys). */
  keyOf(kind: IdpEndpoint): string {
    return this.#explicit[kind] ?? `discovered:${this.issuer}`;
  }

  /**
   * IdP-supplied text (error codes, descriptions) made fit for our own messages, logs and answers:
   * this client's secret redacted in any encoding an IdP might echo it in, then one line, then
   * bounded. Redaction comes first: cutting first could leave a prefix of the secret that no
   * longer matches.
   */
  sanitize(text: string, maxLength = 200): string {
    const t = this.redact(text).replace(CONTROL_CHARS, ' ');
    return t.length > maxLength ? t.slice(0, maxLength) : t;
  }

  /** `text` with every known form of this client's secret (and any live client assertion) replaced by `[redacted]`. */
  redact(text: string): string {
    const t = this.#secretPattern ? text.replace(this.#secretPattern, '[redacted]') : text;
    return this.#signer ? this.#signer.redact(t) : t;
  }

  /**
   * What a shared token store derives its sealing keys from (through a slow KDF): the client
   * secret, or the private key's canonical bytes with private_key_jwt. Not to be kept or logged.
   */
  storeSecret(): string | Buffer {
    if (this.#signer) return keyMaterial(this.#signer.key);
    // A copy: the store's KDF wipes the buffer it is given once it has read it.
    return isTlsClientAuth(this.clientAuth) ? Buffer.from(this.tls!.keyMaterial) : this.#clientSecret;
  }

  /** True when `text` holds this client's secret in any known form. */
  containsSecret(text: string): boolean {
    return this.redact(text) !== text;
  }

  get profile(): IdpProfile | undefined {
    return this.#profile;
  }

  async endpointUrl(kind: IdpEndpoint): Promise<string> {
    const explicit = this.#explicit[kind];
    if (explicit) return explicit;
    if (!this.issuer) {
      throw new ServerError(`No ${kind.replace('_', ' ')} endpoint is configured; set ${optionName(kind)} or issuer`);
    }
    const meta: IdpMetadata = await discover(this.issuer, { timeout: this.timeout, fetch: this.#idpFetch });
    const name = `${kind}_endpoint`;
    // RFC 8705 §5: a client presenting a certificate uses the IdP's mTLS aliases where it has them.
    const aliases = this.tls === undefined ? undefined : meta.mtls_endpoint_aliases;
    const alias = aliases !== null && typeof aliases === 'object' ? (aliases as Record<string, unknown>)[name] : undefined;
    const found = alias ?? meta[name];
    const where = alias === undefined ? name : `mtls_endpoint_aliases.${name}`;
    if (typeof found !== 'string') {
      throw new ServerError(`The IdP's metadata has no ${where}; set ${optionName(kind)}`);
    }
    // Found while serving: the IdP's document is wrong for this deployment, so a 500 for the
    // operator (never a ConfigError, which means "fix your options and restart").
    const problem = checkIdpUrl(found, { allowHttp: this.#allowHttp });
    if (problem !== undefined) {
      throw new MisconfigurationError(`The ${where} from ${this.issuer}'s discovery document ${problem}`);
    }
    return new URL(found).href;
  }

  /**
   * POSTs `params` plus this client's credentials to one of the IdP's endpoints and returns the
   * parsed answer, whatever its status. Transport failures throw OAuthErrors (502/504).
   */
  async post(
    kind: IdpEndpoint,
    params: URLSearchParams,
    options: { signal?: AbortSignal; headers?: Record<string, string>; rawTypes?: readonly string[] } = {},
  ): Promise<IdpResponse> {
    const endpoint = await this.endpointUrl(kind);
    // Extra headers (a DPoP proof) first: client authentication below always wins.
    const headers: Record<string, string> = { ...options.headers };
    const outbound = new URLSearchParams(params);
    if (this.#signer) {
      await this.#signer.apply(outbound, this.#assertionAudience === 'issuer' ? this.issuer! : await this.endpointUrl('token'));
    } else {
      applyClientAuth(this.clientAuth, this.clientId, this.#clientSecret, outbound, headers);
    }
    let url = endpoint;
    let body: string | undefined;
    if (this.paramsIn === 'query') {
      const u = new URL(endpoint);
      for (const [k, v] of outbound) u.searchParams.append(k, v);
      url = u.href;
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = outbound.toString();
    }
    return idpRequest(url, {
      operation: kind,
      method: 'POST',
      headers,
      body,
      timeout: this.timeout,
      maxResponseBytes: this.#maxResponseBytes,
      signal: options.signal,
      allowEmptyBody: kind === 'revocation',
      rawTypes: options.rawTypes,
      fetch: this.#idpFetch,
    });
  }
}

const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];

/** Which credential options go with which clientAuth; a stray one is a sign of a mixed-up config. */
function checkCredentials(options: IdpClientOptions, clientAuth: ClientAuthMethod, paramsIn: ParamsIn, factory: string): void {
  const fail = (message: string): never => {
    throw new ConfigError(`${factory}(): ${message}`, { code: 'config_client' });
  };
  if (isTlsClientAuth(clientAuth)) {
    // RFC 8705 §2: the certificate is the credential; a secret or key alongside would never be sent.
    for (const k of ['clientSecret', 'privateKey', 'kid', 'alg', 'assertionAudience'] as const) {
      if (options[k] !== undefined) fail(`${k} is not used with clientAuth: '${clientAuth}' (the client certificate in tls authenticates); remove it`);
    }
    return;
  }
  if (clientAuth !== 'private_key_jwt') {
    if (typeof options.clientSecret !== 'string' || options.clientSecret === '') {
      fail('clientSecret is required; load it from the environment, not from code');
    }
    for (const k of ['privateKey', 'kid', 'alg', 'assertionAudience'] as const) {
      if (options[k] !== undefined) fail(`${k} is only used with clientAuth: 'private_key_jwt'`);
    }
    return;
  }
  if (options.clientSecret !== undefined) fail("clientSecret is not used with clientAuth: 'private_key_jwt'; remove it");
  // The assertion is a credential: it goes in the form body, never a URL that logs and proxies keep.
  if (paramsIn === 'query') fail("clientAuth: 'private_key_jwt' sends the assertion in the form body; set paramsIn: 'body'");
  const aud = options.assertionAudience;
  if (aud !== undefined && aud !== 'issuer' && aud !== 'token_endpoint') fail(`assertionAudience must be 'issuer' or 'token_endpoint' (got "${String(aud)}")`);
}

/**
 * `client_secret_post` with `paramsIn: 'query'` puts the client secret in the URL, which access
 * logs, proxies and tracing on the way keep. Only Tencent EIAM asks for that (its apps set to
 * client_secret_post take every parameter, the secret included, in the query string), so it is
 * allowed with `profile: 'eiam'` and refused everywhere else: proxies and the M2M client alike.
 * Through the factory's checker, so the error points at that factory's options table.
 */
function refuseSecretInUrl(clientAuth: ClientAuthMethod, paramsIn: ParamsIn, profile: IdpProfile | undefined, check: OptionChecker): void {
  if (paramsIn !== 'query' || clientAuth !== 'client_secret_post' || profile === 'eiam') return;
  check.fail(
    'config_client',
    "paramsIn: 'query' with clientAuth: 'client_secret_post' would put the client secret in the URL, where access logs and proxies keep it; " +
      "use clientAuth: 'client_secret_basic' (the secret goes in the Authorization header) or paramsIn: 'body'. " +
      "Tencent EIAM applications set to client_secret_post need it: say profile: 'eiam', or better, switch the application to client_secret_basic",
  );
}

function optionName(kind: IdpEndpoint): string {
  return { token: 'tokenEndpoint', revocation: 'revocationEndpoint', mfa_challenge: 'mfaChallengeEndpoint', introspection: 'introspection.endpoint' }[kind];
}
