import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { CIAM_TOKEN_PATH, INTROSPECTION_PATH, mountCiam, REVOCATION_PATH } from './ciam.js';
import { DEFAULT_CLIENTS, DEFAULT_USERS } from './clients.js';
import type { IdpContext } from './context.js';
import { EIAM_TOKEN_PATH, MFA_CHALLENGE_PATH, mountEiam } from './eiam.js';
import { parseFaults } from './faults.js';
import { SUPPORTED_GRANTS } from './grants.js';
import { BODY_LIMIT, OAuthError, sendError, sendJson } from './http.js';
import { KeyStore } from './keys.js';
import { TokenStore } from './tokens.js';
import type { MockIdp, MockIdpOptions, MockStats } from './types.js';

export type * from './types.js';
export { DEFAULT_CLIENTS, DEFAULT_USERS } from './clients.js';

const JWKS_PATH = '/.well-known/jwks.json';
const emptyStats = (): MockStats => ({ tokenRequests: 0, requestsByPath: {}, connections: 0 });

/**
 * Both discovery documents point token_endpoint at the CIAM path: it is the RFC 6749 shaped one (form
 * body). The EIAM query-string endpoint is advertised under a non-standard name for clients that want it.
 */
function discovery(ctx: IdpContext): Record<string, unknown> {
  const scopes = new Set<string>();
  for (const u of ctx.users.values()) u.scopes?.forEach((s) => scopes.add(s));
  for (const c of ctx.clients.values()) c.scopes?.forEach((s) => scopes.add(s));
  const authMethods = ['client_secret_basic', 'client_secret_post'];
  return {
    issuer: ctx.issuer,
    token_endpoint: ctx.issuer + CIAM_TOKEN_PATH,
    eiam_token_endpoint: ctx.issuer + EIAM_TOKEN_PATH,
    mfa_challenge_endpoint: ctx.issuer + MFA_CHALLENGE_PATH,
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

function buildApp(ctx: IdpContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((req, _res, next) => {
    ctx.stats.requestsByPath[req.path] = (ctx.stats.requestsByPath[req.path] ?? 0) + 1;
    next();
  });
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    app.get(path, (_req, res) => sendJson(res, 200, discovery(ctx)));
  }
  app.get(JWKS_PATH, (_req, res) => sendJson(res, 200, ctx.keys.jwks()));
  mountEiam(app, ctx);
  mountCiam(app, ctx);
  app.get('/__faults', (_req, res) => sendJson(res, 200, ctx.faults));
  app.post('/__faults', express.json({ limit: BODY_LIMIT }), (req, res) => {
    const parsed = parseFaults(req.body);
    if (typeof parsed === 'string') return sendError(res, new OAuthError(400, 'invalid_request', parsed));
    ctx.faults = parsed;
    ctx.log(`faults set to ${JSON.stringify(parsed)}`);
    sendJson(res, 200, parsed);
  });
  for (const path of [EIAM_TOKEN_PATH, CIAM_TOKEN_PATH, MFA_CHALLENGE_PATH, REVOCATION_PATH, INTROSPECTION_PATH]) {
    app.all(path, (_req, res) => sendError(res, new OAuthError(405, 'invalid_request', 'use POST', { Allow: 'POST' })));
  }
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

export async function startMockIdp(options: MockIdpOptions = {}): Promise<MockIdp> {
  const keys = await KeyStore.create();
  const log = options.logger ?? (() => {});
  const accessTokenTtl = options.accessTokenTtl ?? 3600;
  const ctx: IdpContext = {
    issuer: '',
    audience: options.audience ?? 'https://api.example.test',
    accessTokenTtl,
    passwordGrantRefreshToken: options.passwordGrantRefreshToken ?? false,
    clients: new Map((options.clients ?? DEFAULT_CLIENTS).map((c) => [c.clientId, c])),
    users: new Map((options.users ?? DEFAULT_USERS).map((u) => [u.username, u])),
    keys,
    tokens: new TokenStore({
      issuer: () => ctx.issuer,
      accessTokenTtl,
      mfaTokenTtl: options.mfaTokenTtl ?? 300,
      keys,
      log,
    }),
    faults: { mode: 'none' },
    stats: emptyStats(),
    timers: new Set(),
    log,
  };

  const server = createServer(buildApp(ctx));
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
    signToken: async (claims, opts = {}) => {
      const iat = typeof claims.iat === 'number' ? claims.iat : Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        iss: url,
        aud: ctx.audience,
        iat,
        exp: iat + accessTokenTtl,
        jti: randomUUID(),
        ...claims,
      };
      if (opts.expiresIn !== undefined) payload.exp = iat + opts.expiresIn;
      return keys.sign(payload, opts.typ ?? 'at+jwt', opts.kid);
    },
    isAccessTokenActive: (token) => ctx.tokens.isAccessTokenActive(token),
    resetStats: () => {
      // In place, so a reference taken before the reset keeps observing the live counters.
      Object.assign(ctx.stats, emptyStats());
      delete ctx.stats.lastRequest;
    },
    close: async () => {
      for (const t of ctx.timers) clearTimeout(t);
      ctx.timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
