/** demo-app/mcp (npm run demo:mcp): the example MCP server on the mock IdP, driven by the SDK's client as a user would. */
import { startMcpExample, type McpExample } from '../../demo-app/mcp/server.js';
import { runMcpClient } from '../../demo-app/mcp/client.js';

let example: McpExample;
beforeAll(async () => {
  example = await startMcpExample();
});
afterAll(() => example.close());

test('the SDK client discovers the mock IdP from the 401, gets a token for the resource and calls whoami', async () => {
  const lines: string[] = [];
  const answer = JSON.parse(await runMcpClient(example.url, example.idp.issuer, (line) => lines.push(line))) as Record<string, unknown>;
  expect(answer).toEqual({ clientId: 'mcp-agent', scopes: ['mcp:tools'], expiresAt: expect.any(Number), resource: example.url });
  expect(lines[0]).toMatch(/^POST \S+\/mcp → 401 {2}WWW-Authenticate: Bearer realm="api", resource_metadata="\S+\/\.well-known\/oauth-protected-resource\/mcp"/);
  expect(lines[1]).toMatch(/^GET {2}\S+\/\.well-known\/oauth-protected-resource\/mcp → 200$/);
});

test('a token without the tool scope: 403 naming the scope', async () => {
  const res = await fetch(`${example.idp.issuer}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('mcp-agent:mcp-agent-secret').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp:admin', resource: example.url }),
  });
  const { access_token } = (await res.json()) as { access_token: string };
  const call = await fetch(example.url, { method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' }, body: '{}' });
  expect(call.status).toBe(403);
  expect(call.headers.get('www-authenticate')).toContain('scope="mcp:tools"');
});
