import request from 'supertest';
import { startDemo, type DemoHandle } from '../../demo-app/demo.js';

/**
 * The demo API accepts tokens from two tenants of the mock IdP: staff (EIAM profile, MFA; the
 * mock's root issuer) and customers (CIAM profile: /oauth2/token with a form body; issuer
 * `<mock>/customers`, its own keys and clients). Shared routes take both; /api/staff/orders takes
 * only staff tokens (requireIssuer). Driven through the real servers startDemo() runs, as the page does.
 */

const RANDOM_PORTS = { DEMO_API_PORT: '0', DEMO_INVENTORY_PORT: '0', DEMO_IDP_PORT: '0' };
const CUSTOMER_COOKIE = '__Secure-customer_refresh';

let demo: DemoHandle;
const logs: string[] = [];

beforeAll(async () => {
  demo = await startDemo({ env: RANDOM_PORTS, log: (line) => logs.push(line) });
});
afterAll(async () => {
  await demo?.close();
});

function proxy(path: string, params: Record<string, string>, cookie?: string) {
  const req = request(demo.apiUrl).post(path).set('Origin', demo.apiUrl).set('X-CSRF-Token', 'test').type('form');
  if (cookie !== undefined) req.set('Cookie', cookie);
  return req.send(params);
}
const bearer = (path: string, token: string) => request(demo.apiUrl).get(path).set('Authorization', `Bearer ${token}`);
const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

async function staffToken(): Promise<string> {
  const res = await proxy('/auth/token', { grant_type: 'password', username: 'alice', password: 'alice-password' });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}
async function customerLogin(): Promise<request.Response> {
  const res = await proxy('/auth/customer/token', { grant_type: 'password', username: 'dave', password: 'dave-password' });
  expect(res.status).toBe(200);
  return res;
}

test('the mock IdP serves a second, CIAM-profile tenant under its own issuer with its own keys', async () => {
  const idp = demo.idp!;
  expect(idp.customers.issuer).toBe(`${idp.url}/customers`);
  // OIDC discovery under the issuer, and RFC 8414's path-inserted form at the root: the same document.
  const oidc = await request(idp.url).get('/customers/.well-known/openid-configuration');
  const rfc8414 = await request(idp.url).get('/.well-known/oauth-authorization-server/customers');
  expect(oidc.status).toBe(200);
  expect(rfc8414.body).toEqual(oidc.body);
  expect(oidc.body).toMatchObject({ issuer: idp.customers.issuer, token_endpoint: `${idp.customers.issuer}/oauth2/token`, jwks_uri: idp.customers.jwksUri });
  expect(oidc.body.mfa_challenge_endpoint).toBeUndefined();
  const staffKeys = (await request(idp.url).get('/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
  const customerKeys = (await request(idp.url).get('/customers/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
  expect(customerKeys).toHaveLength(1);
  expect(staffKeys).not.toContain(customerKeys[0]);
  // CIAM: no EIAM query-string endpoint on this tenant, and staff users do not exist there.
  expect((await request(idp.url).post('/customers/auth/oauth2/token')).status).toBe(404);
  const staffAtCustomers = await request(idp.customers.tokenEndpoint)
    .post('')
    .auth('shop-web', 'shop-secret')
    .type('form')
    .send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
  expect(staffAtCustomers.body.error).toBe('invalid_grant');
});

test('a staff token and a customer token are both accepted on the shared routes', async () => {
  const staff = await staffToken();
  const before = demo.idp!.customers.stats.requestsByPath['/oauth2/token'] ?? 0;
  const customer = (await customerLogin()).body.access_token as string;
  // The customer proxy used the CIAM tenant's form-body endpoint.
  expect(demo.idp!.customers.stats.requestsByPath['/oauth2/token']).toBe(before + 1);
  expect(claims(staff).iss).toBe(demo.issuer);
  expect(claims(customer).iss).toBe(demo.idp!.customers.issuer);

  const meStaff = await bearer('/api/me', staff);
  const meCustomer = await bearer('/api/me', customer);
  expect([meStaff.status, meCustomer.status]).toEqual([200, 200]);
  expect(meStaff.body).toMatchObject({ sub: 'alice', iss: demo.issuer });
  expect(meCustomer.body).toMatchObject({ sub: 'dave', iss: demo.idp!.customers.issuer });

  // Each caller sees the orders of its own tenant.
  expect((await bearer('/api/orders', staff)).body).toEqual({ user: 'alice', orders: [{ id: 'A-1001', item: 'widget', qty: 3 }] });
  expect((await bearer('/api/orders', customer)).body).toEqual({ user: 'dave', orders: [{ id: 'D-3001', item: 'gizmo', qty: 2 }] });
  const report = await bearer('/api/report', customer);
  expect(report.status).toBe(200);
  expect(report.body).toMatchObject({ user: 'dave', calledAs: 'svc-report' });
});

test('only staff may call the staff route: a valid customer token gets 401 invalid_token', async () => {
  const staff = await bearer('/api/staff/orders', await staffToken());
  expect(staff.status).toBe(200);
  expect(staff.body).toEqual({ staff: 'alice', customers: { dave: [{ id: 'D-3001', item: 'gizmo', qty: 2 }] } });

  const customer = await bearer('/api/staff/orders', (await customerLogin()).body.access_token);
  expect(customer.status).toBe(401);
  expect(customer.body).toEqual({ error: 'invalid_token', error_description: 'Tokens from this issuer are not accepted on this route' });
  expect(customer.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
});

test('a tenant\'s keys vouch only for that tenant: a customer-signed token claiming the staff issuer is refused', async () => {
  const forged = await demo.idp!.customers.signToken({ sub: 'mallory', iss: demo.issuer, scope: 'orders:read' });
  for (const path of ['/api/me', '/api/staff/orders']) {
    const res = await bearer(path, forged);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  }
  // And a token from an issuer the API does not list is refused before any key is fetched.
  const stranger = await demo.idp!.customers.signToken({ sub: 'x', iss: 'https://elsewhere.example' });
  expect((await bearer('/api/me', stranger)).body).toEqual({ error: 'invalid_token', error_description: 'The token was issued by another issuer' });
  // The operator learns why, in the demo's log (not on the console).
  expect(logs.some((l) => l.startsWith('[api] guard debug: ') && l.includes('refused a token from issuer "https://elsewhere.example"'))).toBe(true);
});

test('a customer session has its own refresh cookie: refresh and logout through the customer routes', async () => {
  const login = await customerLogin();
  const raw = login.headers['set-cookie'] as unknown as string[];
  const line = raw.find((c) => c.startsWith(`${CUSTOMER_COOKIE}=`))!;
  expect(line).toMatch(/Path=\/auth\/customer/);
  expect(line).toMatch(/HttpOnly/);
  expect(login.body.refresh_token).toBeUndefined();
  const cookie = line.split(';', 1)[0]!;
  const refreshed = await proxy('/auth/customer/token', { grant_type: 'refresh_token' }, cookie);
  expect(refreshed.status).toBe(200);
  expect(claims(refreshed.body.access_token).sub).toBe('dave');
  // The staff route knows nothing of the customer cookie.
  expect((await proxy('/auth/token', { grant_type: 'refresh_token' }, cookie)).status).toBe(400);
  const rotated = (refreshed.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(`${CUSTOMER_COOKIE}=`))!.split(';', 1)[0]!;
  const out = await proxy('/auth/customer/revoke', {}, rotated);
  expect(out.status).toBe(200);
  expect((await proxy('/auth/customer/token', { grant_type: 'refresh_token' }, rotated)).status).toBe(400);
});

test('no password, secret or token of either tenant reaches the log', () => {
  const text = logs.join('\n');
  for (const secret of ['dave-password', 'shop-secret', 'alice-password', 'web-secret']) expect(text).not.toContain(secret);
});
