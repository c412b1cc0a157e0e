/**
 * An MCP server (Streamable HTTP, the official SDK's transport) protected by this package, with the
 * local mock IdP as its authorization server: `npm run demo:mcp`, then point an MCP client at the
 * printed URL (`npm run demo:mcp -- --client` runs the SDK's own client against it).
 *
 * What a client sees: POST /mcp without a token → 401 whose challenge names
 * /.well-known/oauth-protected-resource/mcp; that document names the IdP; the IdP's metadata gives
 * the token endpoint; a client_credentials token asked for with `resource=<this server>/mcp` is
 * accepted, and the tools see who called (req.auth is the SDK's AuthInfo).
 */
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { oauthErrorHandler, protectedResourceMetadata, requireAuth, requireScopes } from '../../lib/index.js';
import { DEFAULT_CLIENTS, startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { listen, type Listening } from '../../fixtures/listen.js';

/** The MCP client the mock IdP knows: client_credentials only, the tool scopes only. */
export const MCP_CLIENT = { clientId: 'mcp-agent', clientSecret: 'mcp-agent-secret', scopes: ['mcp:tools', 'mcp:admin'] } as const;

export interface McpExample {
  /** The MCP endpoint, which is also the resource identifier: `http://127.0.0.1:<port>/mcp`. */
  url: string;
  idp: MockIdp;
  close(): Promise<void>;
}

/** Builds one MCP server per request (the SDK's stateless mode): nothing is shared between callers. */
function mcpServer(): McpServer {
  const server = new McpServer({ name: 'express-oauth-kit-example', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who the access token says is calling' }, ({ authInfo }) => ({
    content: [{ type: 'text', text: JSON.stringify({ clientId: authInfo?.clientId, scopes: authInfo?.scopes, expiresAt: authInfo?.expiresAt, resource: authInfo?.resource?.href }) }],
  }));
  return server;
}

export async function startMcpExample(options: { port?: number; idpPort?: number; log?: (line: string) => void } = {}): Promise<McpExample> {
  const log = options.log ?? (() => {});
  // The resource is this server's URL, so its port is taken first and the IdP told about it.
  const http: Listening = await listen(undefined, { port: options.port ?? 0 });
  const url = `${http.url}/mcp`;
  const idp = await startMockIdp({
    port: options.idpPort ?? 0,
    clients: [...DEFAULT_CLIENTS, { clientId: MCP_CLIENT.clientId, clientSecret: MCP_CLIENT.clientSecret, grants: ['client_credentials'], scopes: [...MCP_CLIENT.scopes], audience: url }],
    logger: (line) => log(`[idp] ${line}`),
  });

  const auth = requireAuth({
    issuer: idp.issuer,
    audience: url,
    // resource defaults to the audience and authorizationServers to the issuer.
    resourceMetadata: { scopesSupported: ['mcp:tools'], resourceName: 'express-oauth-kit example MCP server' },
  });
  const app = express();
  app.disable('x-powered-by');
  app.use(protectedResourceMetadata(auth)); // GET /.well-known/oauth-protected-resource/mcp
  // The guard first: a request without a valid token is challenged before its body is read.
  app.post('/mcp', auth, requireScopes('mcp:tools'), express.json({ limit: '1mb' }), async (req, res, next) => {
    try {
      const server = mcpServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body); // req.auth is an AuthInfo as it is
    } catch (err) {
      next(err);
    }
  });
  // Stateless: no server-to-client stream and no session to delete.
  app.all('/mcp', auth, (_req, res) => {
    res.set('Allow', 'POST').status(405).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed' }, id: null });
  });
  app.use(oauthErrorHandler());
  http.server.on('request', app);

  return {
    url,
    idp,
    close: async () => {
      await http.close();
      await idp.close();
    },
  };
}
