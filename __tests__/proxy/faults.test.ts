/**
 * What the browser gets when the IdP misbehaves, and what the operator gets in the log. Each IdP
 * fault mode answers an exact status and OAuth body; no secret and no query string is ever logged.
 */
import express from 'express';
import request from 'supertest';
import { startMockIdp, type FaultMode, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { tokenProxy, type TokenProxyBaseOptions } from '../../lib/index.js';
import { listen, ServerPool } from '../../fixtures/listen.js';

let idp: MockIdp;
const pool = new ServerPool();
const logs: string[] = [];
const logger = { warn: (m: string) => logs.push(`warn ${m}`), error: (m: string) => logs.push(`error ${m}`) };

beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(async () => {
  await pool.closeAll();
  await idp.close();
});
beforeEach(() => {
  logs.length = 0;
  idp.faults = { mode: 'none' };
});

async function proxyUrl(options: Partial<TokenProxyBaseOptions> & { clientSecret?: string } = {}): Promise<string> {
  const app = express();
  app.post(
    '/auth/token',
    tokenProxy({
      profile: 'eiam',
      tokenEndpoint: idp.eiamTokenEndpoint,
      clientId: 'web-app',
      clientSecret: 'web-secret',
      clientAuth: 'client_secret_post',
      timeoutMs: 400,
      logger,
      ...options,
    }),
  );
  return pool.serve(app);
}

let url: string;
beforeAll(async () => {
  url = await proxyUrl();
});

const ALICE = { grant_type: 'password', username: 'alice', password: 'alice-password' };

function expectCleanLogs(): void {
  const text = logs.join('\n');
  for (const secret of ['web-secret', 'alice-password', 'client_secret', '?']) expect(text).not.toContain(secret);
}

describe('IdP fault modes → exact status and body', () => {
  const FAULTS: { mode: FaultMode; status: number; body: Record<string, unknown>; headers?: Record<string, string> }[] = [
    { mode: 'slow', status: 504, body: { error: 'temporarily_unavailable', error_description: 'The identity provider did not answer in time' } },
    { mode: 'reset', status: 502, body: { error: 'temporarily_unavailable', error_description: 'The identity provider could not be reached' } },
    { mode: 'html', status: 502, body: { error: 'server_error', error_description: 'The identity provider sent an invalid answer' } },
    { mode: 'huge', status: 502, body: { error: 'server_error', error_description: 'The identity provider sent an invalid answer' } },
    // JSON answers of the IdP are passed through with their status; Retry-After goes along.
    { mode: 'error500', status: 500, body: { error: 'server_error', error_description: 'injected fault: internal error' } },
    { mode: 'status429', status: 429, body: { error: 'temporarily_unavailable', error_description: 'rate limited' }, headers: { 'retry-after': '7' } },
    { mode: 'status503', status: 503, body: { error: 'temporarily_unavailable', error_description: 'service unavailable' }, headers: { 'retry-after': '7' } },
  ];
  test.each(FAULTS)('$mode → $status', async ({ mode, status, body, headers }) => {
    idp.faults = { mode, count: 1, delayMs: 1500, retryAfter: 7 };
    const started = Date.now();
    const res = await request(url).post('/auth/token').type('form').send(ALICE);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(body);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    if (headers) expect(res.headers).toMatchObject(headers);
    else expect(res.headers['retry-after']).toBeUndefined();
    if (mode === 'slow') expect(Date.now() - started).toBeLessThan(1400);
    if (status === 502 || status === 504) expect(logs.join()).toMatch(/^warn \[express-oauth-kit\] tokenProxy: The IdP (at|answer from) http:\/\/127\.0\.0\.1:\d+\/auth\/oauth2\/token/);
    expectCleanLogs();
    // The next request is fine again: nothing sticky in the proxy.
    await request(url).post('/auth/token').type('form').send(ALICE).expect(200);
  });

  test('connection refused → 502 temporarily_unavailable', async () => {
    const dead = await listen();
    const { port } = dead;
    await dead.close();
    const p = await proxyUrl({ tokenEndpoint: `http://127.0.0.1:${port}/auth/oauth2/token` });
    const res = await request(p).post('/auth/token').type('form').send(ALICE).expect(502);
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The identity provider could not be reached' });
    expect(logs.join()).toMatch(/could not be reached \(ECONNREFUSED\)/);
    expectCleanLogs();
  });

  test('discovery failure → 502 server_error with a generic description', async () => {
    const p = await proxyUrl({ tokenEndpoint: undefined, profile: undefined, issuer: `${idp.url}/no-such-tenant` });
    const res = await request(p).post('/auth/token').type('form').send(ALICE).expect(502);
    expect(res.body).toEqual({ error: 'server_error', error_description: 'The server is not set up to reach the identity provider for this request' });
    expect(logs.join()).toMatch(/^error .*Discovery/);
  });
});

describe('IdP invalid_client: a server misconfiguration, not the browser\'s business', () => {
  test.each([
    ['client_secret_basic (IdP sends WWW-Authenticate: Basic)', 'client_secret_basic'],
    ['client_secret_post in the EIAM query string', 'client_secret_post'],
  ] as const)('%s → 502 server_error, no WWW-Authenticate, operator log without the secret', async (_n, clientAuth) => {
    const p = await proxyUrl({ clientSecret: 'wrong-secret', clientAuth });
    const res = await request(p).post('/auth/token').type('form').send(ALICE).expect(502);
    expect(res.body).toEqual({ error: 'server_error', error_description: 'The server could not authenticate to the identity provider' });
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^error \[express-oauth-kit\] tokenProxy: the IdP at http:\/\/127\.0\.0\.1:\d+\/auth\/oauth2\/token rejected this server's client credentials \(401 invalid_client/);
    expect(logs[0]).toMatch(/check clientId, clientSecret and clientAuth$/);
    expect(logs[0]).not.toContain('wrong-secret');
    expectCleanLogs();
  });
});

describe('connections to the IdP are reused', () => {
  test('50 requests, 5 at a time, open at most a handful of sockets', async () => {
    idp.resetStats();
    for (let round = 0; round < 10; round += 1) {
      await Promise.all(Array.from({ length: 5 }, () => request(url).post('/auth/token').type('form').send(ALICE).expect(200)));
    }
    expect(idp.stats.tokenRequests).toBe(50);
    expect(idp.stats.connections).toBeLessThanOrEqual(6);
  });
});
