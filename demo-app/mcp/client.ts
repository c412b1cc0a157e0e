/**
 * The official MCP SDK client against the example server, with no token to begin with: it gets
 * the 401, reads the protected-resource metadata, finds the mock IdP, gets a client_credentials
 * token for the resource and calls the `whoami` tool. Each HTTP exchange is printed.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { MCP_CLIENT } from './server.js';

export async function runMcpClient(url: string, issuer: string, log: (line: string) => void): Promise<string> {
  // SDK 1.32 puts the provider's own `scope` in a client_credentials request.
  const provider = new ClientCredentialsProvider({ clientId: MCP_CLIENT.clientId, clientSecret: MCP_CLIENT.clientSecret, expectedIssuer: issuer, scope: 'mcp:tools' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    authProvider: provider,
    fetch: async (target, init) => {
      const res = await fetch(target, init);
      log(`${(init?.method ?? 'GET').padEnd(4)} ${String(target)} → ${res.status}${res.headers.get('www-authenticate') ? `  WWW-Authenticate: ${res.headers.get('www-authenticate')}` : ''}`);
      return withAuthorizationEndpoint(target, res);
    },
  });
  const client = new Client({ name: 'express-oauth-kit-example-client', version: '1.0.0' });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const [first] = result.content as Array<{ type: string; text: string }>;
    return first!.text;
  } finally {
    await client.close();
  }
}

/**
 * SDK 1.32 refuses authorization-server metadata without `authorization_endpoint`, even for a
 * client_credentials client that never uses it. RFC 8414 §2 lets a server without such grants
 * leave it out, and the mock IdP has no /authorize, so it does. Real IdPs publish one; this shim
 * only keeps the example on the mock IdP. The endpoint it names is never called.
 */
async function withAuthorizationEndpoint(target: string | URL, res: Response): Promise<Response> {
  if (!new URL(String(target)).pathname.startsWith('/.well-known/oauth-authorization-server') || !res.ok) return res;
  const doc = (await res.json()) as Record<string, unknown>;
  doc.authorization_endpoint ??= `${String(doc.issuer)}/authorize`;
  return new Response(JSON.stringify(doc), { status: res.status, headers: res.headers });
}
