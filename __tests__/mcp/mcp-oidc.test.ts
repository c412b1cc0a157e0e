/**
 * An MCP server protected end to end, every party real on 127.0.0.1: the official SDK's client
 * (Client + StreamableHTTPClientTransport + ClientCredentialsProvider) against an Express app with
 * the SDK's StreamableHTTPServerTransport behind requireAuth(), and oidc-provider (resource
 * indicators, JWT access tokens) as the authorization server. The client starts with no token and
 * finds everything from the 401: resource_metadata → the RFC 9728 document → the authorization
 * server → a token for the resource → tools/call.
 */
import express from 'express';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { oauthErrorHandler, protectedResourceMetadata, requireAuth, requireScopes, type RequireAuthHandler } from '../../lib/index.js';
import { basicAuthorization } from '../../lib/idp/client-auth.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { listen, type Listening } from '../../fixtures/listen.js';

const CLIENT = { client_id: 'mcp-agent', client_secret: 'mcp-agent-secret-of-some-length', grant_types: ['client_credentials'] };

let op: RunningOidcProvider;
let mcp: Listening;
let resource: string;
let auth: RequireAuthHandler;
/** What the tool handler saw, per call. */
const seen: AuthInfo[] = [];

/** A stateless MCP server per request, as the SDK's examples do it; the tool reports what it was given. */
function mcpApp(guard: RequireAuthHandler, path: string): express.Express {
  const app = express();
  app.use(protectedResourceMetadata(guard));
  app.post(path, express.json(), guard, requireScopes('tools:call'), async (req, res, next) => {
    try {
      const server = new McpServer({ name: 'test-server', version: '1.0.0' });
      server.registerTool('whoami', { description: 'Who is calling' }, (extra) => {
        seen.push(extra.authInfo!);
        return { content: [{ type: 'text', text: extra.authInfo!.clientId }] };
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      // req.auth goes to the SDK as it is: the point of this file (strictly typed, no cast).
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      next(err);
    }
  });
  app.use(oauthErrorHandler());
  return app;
}

async function tokenFor(scope: string, forResource = resource): Promise<string> {
  const res = await fetch(op.tokenEndpoint, {
    method: 'POST',
    headers: { authorization: basicAuthorization(CLIENT.client_id, CLIENT.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: forResource }),
  });
  const body = (await res.json()) as { access_token: string };
  expect(res.status).toBe(200);
  return body.access_token;
}

const rpc = (token?: string) =>
  fetch(resource, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });

beforeAll(async () => {
  clearDiscoveryCache();
  // The MCP server's URL is the resource, so its port is taken before the IdP is told about it.
  mcp = await listen();
  resource = `${mcp.url}/mcp`;
  op = await startOidcProvider({ resource, resourceScopes: ['tools:call', 'tools:admin'], clients: [CLIENT] });
  auth = requireAuth({
    issuer: op.issuer,
    audience: resource,
    typ: 'at+jwt',
    logger: false,
    resourceMetadata: { scopesSupported: ['tools:call'], resourceName: 'Test MCP server' },
  });
  mcp.server.on('request', mcpApp(auth, '/mcp'));
});
afterAll(async () => {
  await mcp.close();
  await op.close();
});

test('the SDK client starts with no token, follows resource_metadata, gets a token for the resource and calls a tool', async () => {
  // SDK 1.32 sends the provider's own `scope` in a client_credentials request (scopes_supported and
  // the challenge's scope only steer an authorization request), so it is given here.
  const provider = new ClientCredentialsProvider({ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret, expectedIssuer: op.issuer, scope: 'tools:call' });
  const calls: string[] = [];
  const recording = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const res = await fetch(url, init);
    calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname} ${res.status}`);
    return res;
  };
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider, fetch: recording });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: CLIENT.client_id }]);
  } finally {
    await client.close();
  }
  // The discovery walk, as the client made it.
  expect(calls.slice(0, 5)).toEqual([
    'POST /mcp 401',
    'GET /.well-known/oauth-protected-resource/mcp 200',
    expect.stringMatching(/^GET \/\.well-known\/(oauth-authorization-server|openid-configuration) 200$/),
    'POST /token 200',
    'POST /mcp 200',
  ]);
  // The token the provider got was for this resource, with the scope the metadata advertised.
  const token = provider.tokens()!.access_token;
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { aud: string; exp: number; scope: string };
  expect(payload.aud).toBe(resource);
  const info = seen.at(-1)!;
  expect(info.token).toBe(token);
  expect(info.clientId).toBe(CLIENT.client_id);
  expect(info.scopes).toEqual(['tools:call']);
  expect(info.expiresAt).toBe(payload.exp);
  expect(info.resource?.href).toBe(resource);
  expect(info.extra).toMatchObject({ issuer: op.issuer, sub: CLIENT.client_id });
});

test('no token: 401 naming the metadata document, which names the resource byte for byte and the authorization server', async () => {
  const res = await rpc();
  expect(res.status).toBe(401);
  const url = `${mcp.url}/.well-known/oauth-protected-resource/mcp`;
  expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="api", resource_metadata="${url}", DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256", resource_metadata="${url}"`);
  const doc = await fetch(url);
  expect(doc.status).toBe(200);
  expect(await doc.json()).toEqual({
    resource,
    authorization_servers: [op.issuer],
    bearer_methods_supported: ['header'],
    scopes_supported: ['tools:call'],
    resource_name: 'Test MCP server',
    dpop_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'],
    dpop_bound_access_tokens_required: false,
  });
});

test('a token of this authorization server for another audience is refused by aud, with resource_metadata', async () => {
  // A guard for a second resource of the same server accepts the same issuer but another audience.
  const second = await listen();
  try {
    const secondResource = `${second.url}/other`;
    const guard = requireAuth({ issuer: op.issuer, audience: secondResource, logger: false, resourceMetadata: {} });
    second.server.on('request', mcpApp(guard, '/other'));
    const res = await fetch(secondResource, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${await tokenFor('tools:call')}` },
      body: '{}',
    });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate');
    expect(challenge).toContain('error_description="The token is not meant for this API (aud)"');
    expect(challenge).toContain(`resource_metadata="${second.url}/.well-known/oauth-protected-resource/other"`);
  } finally {
    await second.close();
  }
});

test('missing scope: 403 insufficient_scope with the scope needed and resource_metadata', async () => {
  const res = await rpc(await tokenFor('tools:admin'));
  expect(res.status).toBe(403);
  expect(res.headers.get('www-authenticate')).toBe(
    `Bearer realm="api", error="insufficient_scope", error_description="The token lacks the scope tools:call", scope="tools:call", resource_metadata="${mcp.url}/.well-known/oauth-protected-resource/mcp"`,
  );
});

test('the same token again is answered from the verified-token cache', async () => {
  const token = await tokenFor('tools:call tools:admin');
  for (let i = 0; i < 3; i++) expect((await rpc(token)).status).toBe(200);
  expect(auth.cacheStats.hits).toBeGreaterThan(0);
});
