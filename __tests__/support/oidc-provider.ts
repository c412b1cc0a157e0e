/**
 * node `oidc-provider` (a certified OpenID provider) started in-process on 127.0.0.1, so the
 * package is proven against an IdP it did not write. Clients, resource server and TTLs are
 * parameters; the signing keys are generated per start.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors as oidcErrors } from 'oidc-provider';
import { registerTokenExchange, TOKEN_EXCHANGE } from './token-exchange.js';

export interface OidcClientConfig {
  client_id: string;
  /** Absent for private_key_jwt clients. */
  client_secret?: string;
  grant_types?: string[];
  redirect_uris?: string[];
  response_types?: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** The public keys of a private_key_jwt client. */
  jwks?: { keys: Record<string, unknown>[] };
  scope?: string;
}

export interface StartOidcProviderOptions {
  clients?: OidcClientConfig[];
  /** RFC 8707 resource (audience) of the JWT access tokens. */
  resource?: string;
  /** Scopes the resource server knows. */
  resourceScopes?: string[];
  accessTokenTtl?: number;
  /** Merged into features.dPoP (e.g. { nonceSecret, requireNonce }). */
  dPoP?: Record<string, unknown>;
  /** enabledJWA.dPoPSigningAlgValues (oidc-provider's default: ES256, Ed25519, EdDSA). */
  dPoPSigningAlgValues?: string[];
  /** Register an RFC 8693 token exchange grant (see token-exchange.ts); clients need it in grant_types. */
  tokenExchange?: boolean;
}

export interface RunningOidcProvider {
  issuer: string;
  url: string;
  jwksUri: string;
  tokenEndpoint: string;
  revocationEndpoint: string;
  resource: string;
  provider: Provider;
  /** TCP connections accepted, for keep-alive assertions. */
  connections: () => number;
  close: () => Promise<void>;
}

export { TOKEN_EXCHANGE };
export const OIDC_RESOURCE = 'https://api.oidc.example.test';

export async function startOidcProvider(options: StartOidcProviderOptions = {}): Promise<RunningOidcProvider> {
  const resource = options.resource ?? OIDC_RESOURCE;
  const resourceScopes = options.resourceScopes ?? ['api:read', 'api:write'];
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'oidc-test-key', alg: 'RS256', use: 'sig' };

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });

  const clients = options.clients ?? [
    {
      client_id: 'oidc-m2m',
      client_secret: 'oidc-m2m-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
  ];

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: ['openid', 'offline_access', ...resourceScopes].join(' '),
      ...c,
      // oidc-provider structuredClone()s static metadata, which under jest's VM makes objects its
      // `constructor === Object` check refuses; a jwks_uri (served below) is read in its own realm.
      ...(c.jwks ? { jwks: undefined, jwks_uri: `${issuer}/_client_jwks/${encodeURIComponent(c.client_id)}` } : {}),
    })),
    jwks: { keys: [jwk as never] },
    ...(options.dPoPSigningAlgValues ? { enabledJWA: { dPoPSigningAlgValues: options.dPoPSigningAlgValues } } : {}),
    scopes: ['openid', 'offline_access', ...resourceScopes],
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      ...(options.dPoP ? { dPoP: { enabled: true, ...options.dPoP } } : {}),
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
          if (indicator !== resource) throw new oidcErrors.InvalidTarget();
          return {
            scope: resourceScopes.join(' '),
            audience: resource,
            accessTokenTTL: options.accessTokenTtl ?? 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Rotation on every use, as the seeds' IdPs do (RFC 9700 §4.14.2).
    rotateRefreshToken: true,
    pkce: { required: () => false },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed: (g: string) => boolean }) => client.grantTypeAllowed('refresh_token'),
    ttl: { ClientCredentials: options.accessTokenTtl ?? 600, AccessToken: options.accessTokenTtl ?? 600 },
  } as never);
  provider.proxy = false;
  if (options.tokenExchange) registerTokenExchange(provider, { issuer, resource, scopes: resourceScopes, signingKey: privateKey, kid: jwk.kid });
  // oidc-provider logs every grant error to the console through its 'server_error' events only;
  // keep tests quiet but visible when something really breaks.
  provider.on('server_error', (_ctx: unknown, err: Error) => console.error('oidc-provider server_error', err.message));

  const callback = provider.callback();
  const clientJwks = new Map(clients.filter((c) => c.jwks).map((c) => [`/_client_jwks/${encodeURIComponent(c.client_id)}`, JSON.stringify(c.jwks)]));
  server.on('request', (req, res) => {
    const jwks = clientJwks.get(req.url ?? '');
    if (jwks === undefined) return callback(req, res);
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });

  return {
    issuer,
    url: issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    revocationEndpoint: `${issuer}/token/revocation`,
    resource,
    provider,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
