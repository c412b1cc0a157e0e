import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { JSONWebKeySet, JWTHeaderParameters, JWTPayload } from 'jose';
import { OptionChecker } from '../options/validate.js';
import { listenLocal, sendJson } from './http.js';
import { newDpopKey, newSigningKey, signDpopProof, signJwt, type DpopProofOptions, type SigningKey, type TestIssuerAlgorithm } from './keys.js';
import { IntrospectionEndpoint, type TestIntrospectionRequest } from './introspection-endpoint.js';
import { TokenEndpoint, type TestClient, type TestTokenRequest, type TestUser, type TokenEndpointFailure } from './token-endpoint.js';

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /** Algorithm of the signing key (and of every rotated-in key). Default `'ES256'`. */
  alg?: TestIssuerAlgorithm;
  /** `aud` of signed tokens unless the claims set one. Default `'https://api.example.test'`. */
  audience?: string | string[];
  /** Lifetime of signed tokens, in seconds, unless the claims set `exp`. Default 3600. */
  expiresInSeconds?: number;
  /** The `typ` header of access tokens; `false` for none. Default `'at+jwt'` (RFC 9068). */
  typ?: string | false;
  /** Clients the token endpoint knows. */
  clients?: TestClient[];
  /** Users the `password` grant knows. */
  users?: TestUser[];
  /**
   * The issuer's clock in milliseconds (`iat`, `exp`, DPoP `iat`). Default: the system clock, as
   * the guard reads it (fake timers do not move it).
   */
  now?: () => number;
}

/** Options of {@link TestIssuer.sign} and the helpers for invalid tokens. */
export interface TestSignOptions {
  /** Bind the token to the issuer's DPoP key (`cnf.jkt`); present it with {@link TestIssuer.dpopProof}. */
  dpop?: boolean;
  /** Lifetime in seconds when the claims set no `exp`; default the issuer's `expiresInSeconds`. */
  expiresInSeconds?: number;
  /** Header parameters to add or override (`typ`, `kid`, `crit` …); `alg` is the key's. */
  header?: Partial<Omit<JWTHeaderParameters, 'alg'>>;
}

/** A running test issuer; see {@link createTestIssuer}. */
export interface TestIssuer {
  /** `http://127.0.0.1:<port>`: the `issuer` for `requireAuth()`, and the `iss` of its tokens. */
  readonly issuer: string;
  /** The audience signed tokens carry by default. */
  readonly audience: string | string[];
  /** The key set URL, as discovery announces it. */
  readonly jwksUri: string;
  /** The token endpoint URL (also in discovery): for `createM2MClient({ tokenEndpoint })` and `tokenProxy()`. */
  readonly tokenEndpoint: string;
  /** The RFC 7009 revocation endpoint URL (also in discovery), for `revocationProxy()`. */
  readonly revocationEndpoint: string;
  /** The RFC 7662 introspection endpoint URL (also in discovery), for `requireAuth({ introspection })`. */
  readonly introspectionEndpoint: string;
  /** The public key set as served now: pass it as `requireAuth({ jwks })` to skip discovery. */
  readonly jwks: JSONWebKeySet;
  /** The `kid` of the current signing key. */
  readonly kid: string;
  /** The RFC 7638 thumbprint of the issuer's DPoP key: `cnf.jkt` of `sign(claims, { dpop: true })` tokens. */
  readonly dpopJkt: string;
  /** The requests the token endpoint received (the last 10,000), oldest first. */
  readonly tokenRequests: readonly TestTokenRequest[];
  /** The requests the introspection endpoint received (the last 10,000), oldest first. */
  readonly introspectionRequests: readonly TestIntrospectionRequest[];
  /**
   * A valid access token: `iss`, `aud`, `iat`, `exp` (1 h) and `jti` are filled in unless the claims
   * set them; a claim set to `undefined` is left out.
   */
  sign(claims?: JWTPayload, options?: TestSignOptions): Promise<string>;
  /**
   * An opaque access token (random, not a JWS) that the introspection endpoint answers as active
   * with these claims, `iss`, `aud`, `iat`, `exp` (1 h), `client_id` (`'test-client'`), `scope`
   * (`''`), `token_type` (`'Bearer'`, `'DPoP'` when bound) and `jti` filled in unless the claims set
   * them; a claim set to `undefined` is left out. `{ dpop: true }` binds it to the issuer's DPoP
   * key (`cnf.jkt`). It turns inactive when it expires, or when its `client_id` revokes it.
   */
  opaque(claims?: JWTPayload, options?: Omit<TestSignOptions, 'header'>): Promise<string>;
  /** A token whose `exp` passed an hour ago (issued two hours ago). */
  expired(claims?: JWTPayload, options?: TestSignOptions): Promise<string>;
  /** A token whose `nbf` is an hour ahead. */
  notYetValid(claims?: JWTPayload, options?: TestSignOptions): Promise<string>;
  /** A token for another audience (`https://wrong-audience.example.invalid`). */
  wrongAudience(claims?: JWTPayload, options?: TestSignOptions): Promise<string>;
  /** A token signed by a key that is not in the key set, under the current key's `kid`: a forgery. */
  wrongKey(claims?: JWTPayload, options?: TestSignOptions): Promise<string>;
  /** A DPoP proof (RFC 9449) signed with the issuer's DPoP key; `ath` is computed from `accessToken`. */
  dpopProof(options: DpopProofOptions): Promise<string>;
  /** Replaces the signing key with a new one under a new `kid`; the old key leaves the key set. */
  rotate(): Promise<void>;
  /** Makes the next token request(s) fail with this OAuth error instead of issuing a token. */
  failNextTokenRequest(failure: TokenEndpointFailure): void;
  /**
   * Makes the next introspection request(s) fail with this OAuth error, before client
   * authentication: `{ error: 'temporarily_unavailable', times: 3 }` is a 503 outage, three calls long.
   */
  failNextIntrospection(failure: TokenEndpointFailure): void;
  /** Stops the server and ends its connections, keep-alive ones included. */
  close(): Promise<void>;
}

const WRONG_AUDIENCE = 'https://wrong-audience.example.invalid';
const ALGORITHMS: readonly TestIssuerAlgorithm[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const OPTIONS = ['alg', 'audience', 'expiresInSeconds', 'typ', 'clients', 'users', 'now'];
// Read once, as the guard's clock does (lib/clock.ts): fake timers installed later move neither,
// so the tokens and the guard that checks them agree on the time.
const systemNow = Date.now;

/**
 * Starts a real issuer on 127.0.0.1: OpenID and RFC 8414 discovery, a JWKS, a token endpoint, a
 * revocation endpoint and an introspection endpoint (for {@link TestIssuer.opaque} tokens). Tokens it signs are accepted by an unmodified
 * `requireAuth({ issuer: testIssuer.issuer, audience: testIssuer.audience })`.
 *
 * @example
 * ```ts
 * const idp = await createTestIssuer();
 * app.get('/me', requireAuth({ issuer: idp.issuer, audience: idp.audience }), handler);
 * const token = await idp.sign({ sub: 'alice', scope: 'read' });
 * // …
 * await idp.close();
 * ```
 */
export async function createTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  checkOptions(options);
  const alg = options.alg ?? 'ES256';
  const audience = options.audience ?? 'https://api.example.test';
  const lifetime = options.expiresInSeconds ?? 3600;
  const typ = options.typ ?? 'at+jwt';
  const clock = options.now ?? systemNow;
  const nowSeconds = () => Math.floor(clock() / 1000);
  const clients = [...(options.clients ?? [])];
  const users = [...(options.users ?? [])];

  // `outsider` signs wrongKey() tokens: same algorithm, never published.
  const [first, outsider, dpopKey] = await Promise.all([newSigningKey(alg), newSigningKey(alg), newDpopKey()]);
  let current: SigningKey = first;

  let base = '';
  const endpoints = () => ({ jwksUri: `${base}/jwks.json`, tokenEndpoint: `${base}/token`, revocationEndpoint: `${base}/revoke`, introspectionEndpoint: `${base}/introspect` });

  const fill = (claims: JWTPayload, o: TestSignOptions, extra: JWTPayload = {}): JWTPayload => {
    const iat = nowSeconds();
    const out: JWTPayload = { iss: base, aud: audience, iat, exp: iat + (o.expiresInSeconds ?? lifetime), jti: randomUUID(), ...extra, ...claims };
    if (o.dpop) out.cnf = { ...(out.cnf as object | undefined), jkt: dpopKey.jkt };
    return out;
  };
  const header = (o: TestSignOptions): Partial<JWTHeaderParameters> => ({ ...(typ === false ? {} : { typ }), ...o.header });
  const sign = (claims: JWTPayload = {}, o: TestSignOptions = {}, extra: JWTPayload = {}, key: SigningKey = current) =>
    signJwt(fill(claims, o, extra), key, key === outsider ? { ...header(o), kid: (o.header?.kid as string | undefined) ?? current.kid } : header(o));

  const opaqueTokens = new IntrospectionEndpoint(clients, nowSeconds);
  const tokens = new TokenEndpoint({
    get tokenEndpoint() {
      return endpoints().tokenEndpoint;
    },
    audience,
    clients,
    users,
    nowSeconds,
    issue: async (claims) => ({ token: await sign(claims), expiresIn: lifetime }),
    revokeOpaque: (token, clientId) => opaqueTokens.revoke(token, clientId),
  });

  const discovery = () => ({
    issuer: base,
    jwks_uri: endpoints().jwksUri,
    token_endpoint: endpoints().tokenEndpoint,
    revocation_endpoint: endpoints().revocationEndpoint,
    introspection_endpoint: endpoints().introspectionEndpoint,
    grant_types_supported: ['client_credentials', 'password', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    response_types_supported: ['token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [alg],
    dpop_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'],
  });

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/token') return tokens.token(req, res);
    if (path === '/revoke') return tokens.revoke(req, res);
    if (path === '/introspect') return opaqueTokens.introspect(req, res);
    // The rest are reads: a body is not expected and not read.
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'invalid_request', error_description: 'Use GET' }, { allow: 'GET, HEAD' });
    if (path === '/.well-known/openid-configuration' || path === '/.well-known/oauth-authorization-server') return sendJson(res, 200, discovery());
    if (path === '/jwks.json') return sendJson(res, 200, { keys: [current.publicJwk] });
    sendJson(res, 404, { error: 'not_found' });
  };

  const server = await listenLocal((req, res) => {
    route(req, res).catch(() => {
      // A bug here must not crash the test run, nor leave the client waiting.
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });
  base = server.url;
  const { jwksUri, tokenEndpoint, revocationEndpoint, introspectionEndpoint } = endpoints();

  return {
    issuer: base,
    audience,
    jwksUri,
    tokenEndpoint,
    revocationEndpoint,
    introspectionEndpoint,
    get jwks() {
      return { keys: [{ ...current.publicJwk }] };
    },
    get kid() {
      return current.kid;
    },
    dpopJkt: dpopKey.jkt,
    tokenRequests: tokens.requests,
    introspectionRequests: opaqueTokens.requests,
    sign: (claims, o) => sign(claims, o),
    // async: a throw from fill() (none today) would reject like sign()'s, not throw.
    opaque: async (claims = {}, o = {}) =>
      opaqueTokens.issue(fill(claims, o, { client_id: 'test-client', scope: '', token_type: o.dpop ? 'DPoP' : 'Bearer' })),
    expired: (claims, o) => sign(claims, o, { iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 }),
    notYetValid: (claims, o) => sign(claims, o, { nbf: nowSeconds() + 3600 }),
    wrongAudience: (claims, o) => sign(claims, o, { aud: WRONG_AUDIENCE }),
    wrongKey: (claims, o) => sign(claims, o, {}, outsider),
    dpopProof: (o) => signDpopProof(dpopKey, o, nowSeconds()),
    async rotate() {
      current = await newSigningKey(alg);
    },
    failNextTokenRequest: (failure) => tokens.failNext(failure),
    failNextIntrospection: (failure) => opaqueTokens.failNext(failure),
    close: () => server.close(),
  };
}

/**
 * A misspelt option would fall back to a default and fail later, far from the typo (`client:` for
 * `clients:` shows up as invalid_client), so options are checked as the package's factories check theirs.
 */
function checkOptions(options: TestIssuerOptions): void {
  const check = new OptionChecker('createTestIssuer()', 'testing.md#reference');
  check.object(options, 'or nothing');
  check.knownKeys(options, OPTIONS);
  if (options.alg !== undefined && !ALGORITHMS.includes(options.alg)) check.fail('config_algorithms', `alg must be one of ${ALGORITHMS.join(', ')}`);
  check.number(options.expiresInSeconds, 'expiresInSeconds', 3600, { positive: true });
  check.func(options.now, 'now', 'a function returning epoch milliseconds');
  const strings = (v: unknown) => typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));
  if (options.audience !== undefined && !strings(options.audience)) check.fail('config_options', 'audience must be a string or a non-empty array of strings');
  if (options.typ !== undefined && options.typ !== false && typeof options.typ !== 'string') check.fail('config_options', 'typ must be a string or false');
  for (const [name, list, fields] of [['clients', options.clients, ['clientId', 'clientSecret']], ['users', options.users, ['username', 'password']]] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) check.fail('config_options', `${name} must be an array`);
    for (const entry of list as unknown[]) {
      const e = entry as Record<string, unknown> | null;
      if (!fields.every((f) => typeof e?.[f] === 'string')) check.fail('config_options', `each of ${name} needs ${fields.join(' and ')} as strings`);
    }
  }
}
