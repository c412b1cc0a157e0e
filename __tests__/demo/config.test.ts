import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { loadConfig, DemoConfigError } from '../../demo-app/config.js';
import { startDemo } from '../../demo-app/demo.js';
import { listen } from '../../fixtures/listen.js';
import { startMockIdp } from '../../fixtures/mock-idp/index.js';

const RANDOM_PORTS = { DEMO_API_PORT: '0', DEMO_INVENTORY_PORT: '0', DEMO_IDP_PORT: '0' };
const REAL = {
  OAUTH_ISSUER: 'https://tenant.example.com',
  OAUTH_CLIENT_ID: 'web',
  OAUTH_CLIENT_SECRET: 's3cret',
  API_AUDIENCE: 'https://api.example.com',
  M2M_CLIENT_ID: 'svc',
  M2M_CLIENT_SECRET: 's3cret2',
  M2M_AUDIENCE: 'https://inventory.example.com',
};

function failsNaming(env: Record<string, string>, variable: string): DemoConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DemoConfigError);
  expect((caught as DemoConfigError).variable).toBe(variable);
  expect((caught as DemoConfigError).message).toContain(variable);
  return caught as DemoConfigError;
}

test('no configuration at all means the mock IdP with its seeded clients', () => {
  const config = loadConfig({});
  expect(config.idp).toMatchObject({ mock: true, profile: 'eiam' });
  expect(config.web.clientId).toBe('web-app');
  expect(config.ports).toEqual({ api: 3000, inventory: 3001, idp: 3002 });
});

test('a real tenant takes every credential from the environment', () => {
  const config = loadConfig({ ...REAL, OAUTH_PROFILE: 'ciam', OAUTH_CLIENT_AUTH: 'client_secret_post' });
  expect(config.idp).toMatchObject({ mock: false, issuer: REAL.OAUTH_ISSUER, profile: 'ciam', clientAuth: 'client_secret_post' });
  expect(config.web).toEqual({ clientId: 'web', clientSecret: 's3cret', audience: REAL.API_AUDIENCE, sendAudience: false });
  // M2M_AUDIENCE is what the built-in inventory requires; it is sent to the IdP only with M2M_AUDIENCE_PARAM.
  expect(config.m2m).toEqual({ clientId: 'svc', clientSecret: 's3cret2', scope: 'inventory:read', audience: undefined });
  expect(config.inventory).toEqual({ url: undefined, audience: REAL.M2M_AUDIENCE });
  expect(loadConfig({ ...REAL, M2M_AUDIENCE_PARAM: 'true' }).m2m.audience).toBe(REAL.M2M_AUDIENCE);
});

test.each([
  ['OAUTH_PROFILE', 'unknown profile', { OAUTH_PROFILE: 'okta' }],
  ['OAUTH_CLIENT_AUTH', 'unsupported auth method', { OAUTH_CLIENT_AUTH: 'private_key_jwt' }],
  ['OAUTH_PARAMS_IN', 'unknown placement', { OAUTH_PARAMS_IN: 'header' }],
  ['DEMO_API_PORT', 'not a number', { DEMO_API_PORT: 'http' }],
  ['DEMO_IDP_PORT', 'out of range', { DEMO_IDP_PORT: '70000' }],
  ['DEMO_PUBLIC_ORIGINS', 'a URL with a path, not an origin', { DEMO_PUBLIC_ORIGINS: 'http://localhost:3000/' }],
  ['M2M_SCOPE', 'quotes in a scope', { M2M_SCOPE: 'inventory:read "x"' }],
  ['OAUTH_ISSUER', 'a client id without an issuer', { OAUTH_CLIENT_ID: 'web' }],
  ['OAUTH_ISSUER', 'not a URL', { OAUTH_ISSUER: 'tenant.example.com' }],
  ['OAUTH_ISSUER', 'plain http to a remote host', { ...REAL, OAUTH_ISSUER: 'http://tenant.example.com' }],
  ['OAUTH_JWKS_URI', 'not http(s)', { ...REAL, OAUTH_JWKS_URI: 'ftp://x/jwks' }],
  ['OAUTH_CLIENT_SECRET', 'missing for a real tenant', { ...REAL, OAUTH_CLIENT_SECRET: '' }],
  ['API_AUDIENCE', 'blank for a real tenant', { ...REAL, API_AUDIENCE: ' ' }],
  ['M2M_CLIENT_ID', 'missing for a real tenant', { ...REAL, M2M_CLIENT_ID: '' }],
  ['M2M_AUDIENCE', 'missing while the built-in inventory runs', { ...REAL, M2M_AUDIENCE: '' }],
  ['M2M_AUDIENCE', 'missing while M2M_AUDIENCE_PARAM asks to send it', { ...REAL, INVENTORY_URL: 'https://inv.example.com', M2M_AUDIENCE: '', M2M_AUDIENCE_PARAM: '1' }],
  ['OAUTH_ALLOW_INSECURE_HTTP', 'not a boolean', { ...REAL, OAUTH_ALLOW_INSECURE_HTTP: 'yes' }],
])('bad configuration fails naming %s (%s)', (variable, _why, env) => {
  failsNaming(env as Record<string, string>, variable);
});

test('plain http to a private-network IdP needs OAUTH_ALLOW_INSECURE_HTTP', () => {
  const config = loadConfig({ ...REAL, OAUTH_ISSUER: 'http://keycloak:8080/realms/demo', OAUTH_ALLOW_INSECURE_HTTP: 'true' });
  expect(config.idp.allowInsecureHttp).toBe(true);
});

test('a port already in use fails naming the variable', async () => {
  const blocker = await listen();
  const busy = String(blocker.port);
  try {
    await expect(startDemo({ env: { ...RANDOM_PORTS, DEMO_API_PORT: busy }, log: () => {} })).rejects.toMatchObject({
      variable: 'DEMO_API_PORT',
    });
  } finally {
    await blocker.close();
  }
});

test('npm run demo exits 1 with the variable name on bad configuration', async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'demo-app/start.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, OAUTH_PROFILE: 'okta' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(1);
  expect(stderr).toContain('OAUTH_PROFILE: must be one of eiam, ciam, rfc6749 (got "okta")');
}, 120_000);

test('the same app against an external IdP configured only through variables (CIAM profile, form bodies)', async () => {
  // Stands in for a real tenant: the demo starts no IdP of its own and must use what the variables say.
  const tenant = await startMockIdp();
  const demo = await startDemo({
    env: {
      ...RANDOM_PORTS,
      OAUTH_ISSUER: tenant.issuer,
      OAUTH_PROFILE: 'ciam',
      OAUTH_CLIENT_ID: 'web-app',
      OAUTH_CLIENT_SECRET: 'web-secret',
      API_AUDIENCE: 'https://api.example.test',
      M2M_CLIENT_ID: 'svc-report',
      M2M_CLIENT_SECRET: 'svc-secret',
      M2M_AUDIENCE: 'https://inventory.example.test',
      API_AUDIENCE_PARAM: 'true',
      M2M_AUDIENCE_PARAM: 'true',
    },
    log: () => {},
  });
  try {
    expect(demo.idp).toBeUndefined();
    const login = await request(demo.apiUrl)
      .post('/auth/token')
      .set('Origin', demo.apiUrl)
      .set('X-CSRF-Token', '1')
      .type('form')
      .send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(login.status).toBe(200);
    expect(tenant.stats.lastRequest).toMatchObject({ path: '/oauth2/token', query: {} });
    expect(tenant.stats.lastRequest!.body).toMatchObject({ client_id: 'web-app', grant_type: 'password', audience: 'https://api.example.test' });
    const report = await request(demo.apiUrl).get('/api/report').set('Authorization', `Bearer ${login.body.access_token}`);
    expect(report.status).toBe(200);
    expect(report.body.calledAs).toBe('svc-report');
    expect(tenant.stats.lastRequest!.body).toMatchObject({
      grant_type: 'client_credentials', client_id: 'svc-report', scope: 'inventory:read', audience: 'https://inventory.example.test',
    });
  } finally {
    await demo.close();
    await tenant.close();
  }
});

test('an IdP refusing the M2M client: /api/report answers 502 without internal details, the log has them', async () => {
  const tenant = await startMockIdp();
  const logs: string[] = [];
  const demo = await startDemo({
    env: {
      ...RANDOM_PORTS,
      OAUTH_ISSUER: tenant.issuer,
      OAUTH_CLIENT_ID: 'web-app',
      OAUTH_CLIENT_SECRET: 'web-secret',
      API_AUDIENCE: 'https://api.example.test',
      M2M_CLIENT_ID: 'svc-report',
      M2M_CLIENT_SECRET: 'wrong-secret',
      M2M_AUDIENCE: 'https://inventory.example.test',
    },
    log: (line) => logs.push(line),
  });
  try {
    const user = await tenant.signToken({ sub: 'alice', scope: 'openid orders:read', client_id: 'web-app' });
    const res = await request(demo.apiUrl).get('/api/report').set('Authorization', `Bearer ${user}`);
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'bad_gateway', error_description: 'The API could not get a token for the inventory service' });
    expect(logs.some((l) => l.includes('m2m fetch error for svc-report') && l.includes('invalid_client'))).toBe(true);
    expect(logs.join('\n')).not.toContain('wrong-secret');
  } finally {
    await demo.close();
    await tenant.close();
  }
});
