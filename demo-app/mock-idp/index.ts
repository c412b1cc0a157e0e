import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { CIAM_TOKEN_PATH, INTROSPECTION_PATH, mountCiam, REVOCATION_PATH } from './ciam.js';
import { CUSTOMER_CLIENTS, CUSTOMER_USERS, DEFAULT_CLIENTS, DEFAULT_USERS } from './clients.js';
import type { IdpContext } from './context.js';
import { EIAM_TOKEN_PATH, MFA_CHALLENGE_PATH, mountEiam } from './eiam.js';
import { parseFaults } from './faults.js';
import { SUPPORTED_GRANTS } from './grants.js';
import { BODY_LIMIT, OAuthError, sendError, sendJson } from './http.js';
import { KeyStore } from './keys.js';
import { TokenStore } from './tokens.js';
import type { MockClient, MockIdp, MockIdpOptions, MockStats, MockUser, SignTokenOptions } from './types.js';

export type * from './types.js';
export { CUSTOMER_CLIENTS, CUSTOMER_USERS, DEFAULT_CLIENTS, DEFAULT_USERS } from './clients.js';

const JWKS_PATH = '/.well-known/jwks.json';
const emptyStats = (): MockStats => ({ tokenRequests: 0, requestsByPath: {}, connections: 0 });

/** Where the customer tenant lives under the mock's origin; its issuer is `<url>/customers`. */
export const CUSTOMER_TENANT_PATH = '/customers';

/**
 * Both discovery documents point token_endpoint at the CIAM path: it is the RFC 6749 shaped one (form
 * body). The EIAM query-string endpoint is advertised under a non-standard name for clients that want it.
 * The customer tenant (CIAM only) has no EIAM endpoint and no MFA.
 */
function discovery(ctx: IdpContext, eiam: boolean): Record<string, unknown> {
  const scopes = new Set<string>();
  for (const u of ctx.users.values()) u.scopes?.forEach((s) => scopes.add(s));
  for (const c of ctx.clients.values()) c.scopes?.forEach((s) => scopes.add(s));
  const authMethods = ['client_secret_basic', 'client_secret_post'];
  return {
    issuer: ctx.issuer,
    token_endpoint: ctx.issuer + CIAM_TOKEN_PATH,
    ...(eiam ? { eiam_token_endpoint: ctx.issuer + EIAM_TOKEN_PATH, mfa_challenge_endpoint: ctx.issuer + MFA_CHALLENGE_PATH } : {}),
    revocation_endpoint: ctx.issuer + REVOCATION_PATH,
    introspection_endpoint: ctx.issuer + INTROSPECTION_PATH,
    jwks_uri: ctx.issuer + JWKS_PATH,
    grant_types_supported: SUPPORTED_GRANTS,
    // No authorization endpoint exists, so no response type can be served.
    response_types_supported: [],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: [...scopes].sort(),
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: authMethods,
  };
}

/** One tenant's endpoints; the staff tenant (EIAM and CIAM paths) sits at the root, the customer tenant under /customers. */
function tenantRouter(ctx: IdpContext, eiam: boolean): express.Router {
  const app = express.Router();
  app.use((req, _res, next) => {
    ctx.stats.requestsByPath[req.path] = (ctx.stats.requestsByPath[req.path] ?? 0) + 1;
    next();
  });
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    app.get(path, (_req, res) => sendJson(res, 200, discovery(ctx, eiam)));
  }
  app.get(JWKS_PATH, (_req, res) => sendJson(res, 200, ctx.keys.jwks()));
  if (eiam) mountEiam(app, ctx);
  mountCiam(app, ctx);
  const posts = eiam ? [EIAM_TOKEN_PATH, CIAM_TOKEN_PATH, MFA_CHALLENGE_PATH, REVOCATION_PATH, INTROSPECTION_PATH] : [CIAM_TOKEN_PATH, REVOCATION_PATH, INTROSPECTION_PATH];
  for (const path of posts) {
    app.all(path, (_req, res) => sendError(res, new OAuthError(405, 'invalid_request', 'use POST', { Allow: 'POST' })));
  }
  return app;
}

function buildApp(ctx: IdpContext, customers: IdpContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // RFC 8414 §3: the path-inserted well-known URL of the customer issuer lives at the root.
  app.get(`/.well-known/oauth-authorization-server${CUSTOMER_TENANT_PATH}`, (_req, res) => sendJson(res, 200, discovery(customers, false)));
  app.use(CUSTOMER_TENANT_PATH, tenantRouter(customers, false));
  app.use(tenantRouter(ctx, true));
  app.get('/__faults', (_req, res) => sendJson(res, 200, ctx.faults));
  app.post('/__faults', express.json({ limit: BODY_LIMIT }), (req, res) => {
    const parsed = parseFaults(req.body);
    if (typeof parsed === 'string') return sendError(res, new OAuthError(400, 'invalid_request', parsed));
    ctx.faults = parsed;
    ctx.log(`faults set to ${JSON.stringify(parsed)}`);
    sendJson(res, 200, parsed);
  });
  app.use((_req, res) => sendError(res, new OAuthError(404, 'not_found', 'no such endpoint')));
  // Only express.json() on /__faults can throw into here (malformed JSON, too large); never crash, never HTML.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number })?.status;
    if (status && status >= 400 && status < 500) return sendError(res, new OAuthError(status, 'invalid_request', 'malformed request'));
    ctx.log(`unhandled error: ${(err as Error)?.message ?? String(err)}`);
    sendError(res, new OAuthError(500, 'server_error', 'internal error'));
  });
  return app;
}

interface TenantSetup {
  audience: string;
  accessTokenTtl: number;
  mfaTokenTtl: number;
  passwordGrantRefreshToken: boolean;
  clients: MockClient[];
  users: MockUser[];
  log: (line: string) => void;
}

async function tenantContext(t: TenantSetup): Promise<IdpContext> {
  const keys = await KeyStore.create();
  const ctx: IdpContext = {
    issuer: '',
    audience: t.audience,
    accessTokenTtl: t.accessTokenTtl,
    passwordGrantRefreshToken: t.passwordGrantRefreshToken,
    clients: new Map(t.clients.map((c) => [c.clientId, c])),
    users: new Map(t.users.map((u) => [u.username, u])),
    keys,
    tokens: new TokenStore({ issuer: () => ctx.issuer, accessTokenTtl: t.accessTokenTtl, mfaTokenTtl: t.mfaTokenTtl, keys, log: t.log }),
    faults: { mode: 'none' },
    stats: emptyStats(),
    timers: new Set(),
    log: t.log,
  };
  return ctx;
}

function tokenSigner(ctx: IdpContext) {
  return async (claims: Record<string, unknown>, opts: SignTokenOptions = {}): Promise<string> => {
    const iat = typeof claims.iat === 'number' ? claims.iat : Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: ctx.issuer,
      aud: ctx.audience,
      iat,
      exp: iat + ctx.accessTokenTtl,
      jti: randomUUID(),
      ...claims,
    };
    if (opts.expiresIn !== undefined) payload.exp = iat + opts.expiresIn;
    return ctx.keys.sign(payload, opts.typ ?? 'at+jwt', opts.kid);
  };
}

export async function startMockIdp(options: MockIdpOptions = {}): Promise<MockIdp> {
  const log = options.logger ?? (() => {});
  const common = {
    audience: options.audience ?? 'https://api.example.test',
    accessTokenTtl: options.accessTokenTtl ?? 3600,
    mfaTokenTtl: options.mfaTokenTtl ?? 300,
    log,
  };
  const ctx = await tenantContext({
    ...common,
    passwordGrantRefreshToken: options.passwordGrantRefreshToken ?? false,
    clients: options.clients ?? DEFAULT_CLIENTS,
    users: options.users ?? DEFAULT_USERS,
  });
  // Own keys, clients and users: a token of one tenant never verifies as the other's.
  const customers = await tenantContext({
    ...common,
    passwordGrantRefreshToken: true,
    clients: options.customerClients ?? CUSTOMER_CLIENTS,
    users: options.customerUsers ?? CUSTOMER_USERS,
    log: (line) => log(`customers: ${line}`),
  });
  const { keys } = ctx;

  const server = createServer(buildApp(ctx, customers));
  server.on('connection', () => {
    ctx.stats.connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ctx.issuer = url;
  customers.issuer = url + CUSTOMER_TENANT_PATH;
  log(`mock IdP listening on ${url}`);

  return {
    url,
    issuer: url,
    jwksUri: url + JWKS_PATH,
    eiamTokenEndpoint: url + EIAM_TOKEN_PATH,
    ciamTokenEndpoint: url + CIAM_TOKEN_PATH,
    mfaChallengeEndpoint: url + MFA_CHALLENGE_PATH,
    revocationEndpoint: url + REVOCATION_PATH,
    introspectionEndpoint: url + INTROSPECTION_PATH,
    // Accessors rather than copies: tests may mutate these objects in place or assign new ones.
    get stats() {
      return ctx.stats;
    },
    set stats(v: MockStats) {
      ctx.stats = v;
    },
    get faults() {
      return ctx.faults;
    },
    set faults(v) {
      ctx.faults = v;
    },
    lastSmsCode: (username) => ctx.tokens.lastSmsCode(username),
    rotateKeys: (opts) => keys.rotate(opts?.removeOld ?? false),
    signToken: tokenSigner(ctx),
    isAccessTokenActive: (token) => ctx.tokens.isAccessTokenActive(token),
    resetStats: () => {
      // In place, so a reference taken before the reset keeps observing the live counters.
      Object.assign(ctx.stats, emptyStats());
      delete ctx.stats.lastRequest;
    },
    customers: {
      issuer: customers.issuer,
      jwksUri: customers.issuer + JWKS_PATH,
      tokenEndpoint: customers.issuer + CIAM_TOKEN_PATH,
      revocationEndpoint: customers.issuer + REVOCATION_PATH,
      get stats() {
        return customers.stats;
      },
      rotateKeys: (opts) => customers.keys.rotate(opts?.removeOld ?? false),
      signToken: tokenSigner(customers),
      isAccessTokenActive: (token) => customers.tokens.isAccessTokenActive(token),
    },
    close: async () => {
      for (const t of [...ctx.timers, ...customers.timers]) clearTimeout(t);
      ctx.timers.clear();
      customers.timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
