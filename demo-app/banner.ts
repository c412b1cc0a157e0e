/**
 * What `npm run demo` prints once its servers are up: the URLs, the routes, the demo users and how to
 * call the proxy from a terminal. Kept apart from start.ts (which starts servers on import) so a test
 * can check that it describes the users and routes the demo really has.
 */
import { CUSTOMER_USERS, DEFAULT_USERS } from '../fixtures/mock-idp/index.js';
import type { MockUser } from '../fixtures/mock-idp/types.js';
import type { DemoHandle } from './demo.js';

function mfaNote(u: MockUser): string {
  // Each user's own name: the mock IdP logs "SMS to <username>: <code>".
  if (u.mfa === 'step-up') return `SMS MFA on request (GET /api/payment-methods asks for it; the code is printed below as "[idp] SMS to ${u.username}: ...")`;
  if (u.mfa) return `SMS MFA: the code is printed below as "[idp] SMS to ${u.username}: ..."`;
  return 'no MFA';
}

export function banner(demo: DemoHandle): string[] {
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
    '              GET /api/payment-methods (step-up: requireAcr, an SMS sign-in at most 10 minutes old)',
  ];
  if (demo.idp) lines.push('              GET /api/partner/orders (opaque tokens too, by introspection: see demo-app/README.md)');
  lines.push(
    '',
    '  From a terminal, /auth/* wants the headers the login page sends (else 403 "The Origin header is required"):',
    `    curl -s ${demo.apiUrl}/auth/token -H 'Origin: ${demo.apiUrl}' -H 'X-CSRF-Token: 1' \\`,
    `      -d 'grant_type=password&username=${demo.idp ? 'carol&password=carol-password' : '…&password=…'}'`,
  );
  if (demo.idp) {
    lines.push('', '  Demo users (username / password):');
    for (const u of DEFAULT_USERS) {
      const notes = [mfaNote(u), `scopes: ${u.scopes?.join(' ')}`];
      lines.push(`    ${u.username.padEnd(6)} ${u.password.padEnd(15)} ${notes.join('; ')}`);
    }
    lines.push('  (the password grant alone issues no refresh token on EIAM; after the SMS step there is one.)');
    lines.push('', `  Customer tenant (CIAM profile) ${demo.idp.customers.issuer}: POST /auth/customer/token, /auth/customer/revoke`);
    for (const u of CUSTOMER_USERS) lines.push(`    ${u.username.padEnd(6)} ${u.password.padEnd(15)} a customer: shared routes yes, /api/staff/orders 401`);
  } else {
    lines.push('', `  Using your tenant; the proxy's client is ${config.web.clientId}, the M2M client ${config.m2m.clientId}.`);
  }
  lines.push('', 'Press Ctrl+C to stop.', '');
  return lines;
}
