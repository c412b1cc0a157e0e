/**
 * `npm run demo:mcp`: the example MCP server and the mock IdP on 127.0.0.1. With `--client`, the
 * SDK's client then runs against them once and everything stops. Ctrl+C stops the servers.
 */
import { startMcpExample, MCP_CLIENT } from './server.js';
import { runMcpClient } from './client.js';

const example = await startMcpExample({ port: Number(process.env.MCP_PORT ?? 3100), idpPort: Number(process.env.MCP_IDP_PORT ?? 0), log: (line) => console.log(line) });
console.log(`
express-oauth-kit MCP example
  MCP endpoint (the resource)   ${example.url}
  protected-resource metadata   ${new URL(example.url).origin}/.well-known/oauth-protected-resource/mcp
  authorization server          ${example.idp.issuer}
  client (client_credentials)   ${MCP_CLIENT.clientId} / ${MCP_CLIENT.clientSecret}, scope mcp:tools
`);
if (process.argv.includes('--client')) {
  try {
    console.log(`whoami → ${await runMcpClient(example.url, example.idp.issuer, (line) => console.log(line))}`);
  } finally {
    await example.close();
  }
} else {
  console.log('Press Ctrl+C to stop.');
  process.on('SIGINT', () => void example.close().then(() => process.exit(0)));
}
