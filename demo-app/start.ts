/**
 * `npm run demo`: the mock IdP, the inventory service and the API on 127.0.0.1, with the URLs and
 * demo users printed. Ctrl+C closes all three. Configuration comes from the environment (and from
 * demo-app/.env when present; see .env.example); a bad value stops here with the variable's name.
 */
import { existsSync } from 'node:fs';
import { loadEnvFile } from 'node:process';
import { fileURLToPath } from 'node:url';
import { CUSTOMER_USERS, DEFAULT_USERS } from '../fixtures/mock-idp/index.js';
import { DemoConfigError } from './env.js';
import { startDemo, type DemoHandle } from './demo.js';

const ENV_FILE = fileURLToPath(new URL('./.env', import.meta.url));

function banner(demo: DemoHandle): string[] {
  const { config } = demo;
  const lines = [
    '',
    'express-oauth-kit demo',
    `  login page + API   ${demo.apiUrl}/`,
    `  inventory service  ${demo.inventoryUrl}/inventory${config.inventory.url ? ' (external)' : ' (accepts M2M tokens only)'}`,
    `  identity provider  ${demo.issuer}${demo.idp ? ` (built-in mock, ${config.idp.profile} profile)` : ` (${config.idp.profile} profile)`}`,
    '',
    '  API routes: POST /auth/token  POST /auth/mfa/challenge  POST /auth/revoke',
    '              GET /api/me  GET /api/orders (orders:read)  GET /api/report (calls inventory via M2M)',
    '              GET /api/staff/orders (staff tenant only: requireIssuer)',
  ];
  if (demo.idp) {
    lines.push('', '  Demo users (username / password):');
    for (const u of DEFAULT_USERS) {
      const notes = [u.mfa ? 'SMS MFA: the code is printed below as "[idp] SMS to bob: ..."' : 'no MFA', `scopes: ${u.scopes?.join(' ')}`];
      lines.push(`    ${u.username.padEnd(6)} ${u.password.padEnd(15)} ${notes.join('; ')}`);
    }
    lines.push('  (alice logs in with the password grant, which on EIAM issues no refresh token; bob, after MFA, gets one.)');
    lines.push('', `  Customer tenant (CIAM profile) ${demo.idp.customers.issuer}: POST /auth/customer/token, /auth/customer/revoke`);
    for (const u of CUSTOMER_USERS) lines.push(`    ${u.username.padEnd(6)} ${u.password.padEnd(15)} a customer: shared routes yes, /api/staff/orders 401`);
  } else {
    lines.push('', `  Using your tenant; the proxy's client is ${config.web.clientId}, the M2M client ${config.m2m.clientId}.`);
  }
  lines.push('', 'Press Ctrl+C to stop.', '');
  return lines;
}

async function main(): Promise<void> {
  if (existsSync(ENV_FILE)) {
    // Variables already set in the shell win over the file.
    loadEnvFile(ENV_FILE);
    console.log('loaded demo-app/.env');
  }
  let demo: DemoHandle;
  try {
    demo = await startDemo({ log: (line) => console.log(line) });
  } catch (err) {
    if (err instanceof DemoConfigError) {
      console.error(`demo: bad configuration: ${err.message}`);
      console.error('See demo-app/.env.example for every variable.');
      process.exit(1);
    }
    throw err;
  }
  for (const line of banner(demo)) console.log(line);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130); // a second Ctrl+C does not wait
    stopping = true;
    console.log(`\n${signal}: closing the API, the inventory service and the IdP...`);
    demo.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('demo: failed to start:', err);
  process.exit(1);
});
