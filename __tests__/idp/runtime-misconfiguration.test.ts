/**
 * ConfigError means "fix your options and restart", so it is thrown only by factories, at
 * construction. A problem found while serving (an IdP's discovery document naming a plain-http
 * endpoint, an extraParams function answering nonsense, proxyGuess() without its parser) is a
 * MisconfigurationError: 500 server_error for the caller, the detail in the operator's log.
 */
import express from 'express';
import request from 'supertest';
import {
  ConfigError,
  MisconfigurationError,
  createM2MClient,
  oauthErrorHandler,
  proxyGuess,
  tokenProxy,
  type TokenProxyOptions,
} from '../../lib/index.js';
import { ServerPool } from '../../fixtures/listen.js';

const pool = new ServerPool();
afterAll(() => pool.closeAll());

const ALICE = { grant_type: 'password', username: 'alice', password: 'pw' };

/** A real IdP on 127.0.0.1 whose discovery document names `tokenEndpoint`; counts token requests. */
async function discoveryIdp(tokenEndpoint: (base: string) => string): Promise<{ issuer: string; tokenCalls: () => number }> {
  let calls = 0;
  let base = '';
  base = await pool.serve((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: base, token_endpoint: tokenEndpoint(base) }));
      return;
    }
    calls++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 300 }));
  });
  return { issuer: base, tokenCalls: () => calls };
}

function recordingLogger(): { logs: string[]; logger: NonNullable<TokenProxyOptions['logger']> } {
  const logs: string[] = [];
  return { logs, logger: { warn: (m) => logs.push(`warn ${m}`), error: (m) => logs.push(`error ${m}`) } };
}

describe('a discovered http:// token endpoint on a remote host', () => {
  const remoteHttp = () => 'http://idp.example.test/oauth2/token';

  test('the proxy answers 500 server_error and logs why, never a ConfigError', async () => {
    const idp = await discoveryIdp(remoteHttp);
    const { logs, logger } = recordingLogger();
    // Construction succeeds: the issuer option itself is fine (loopback http).
    const app = express().post('/auth/token', tokenProxy({ issuer: idp.issuer, clientId: 'web', clientSecret: 'sec-ret-value', logger }));
    const res = await request(app).post('/auth/token').type('form').send(ALICE).expect(500);
    expect(res.body.error).toBe('server_error');
    expect(JSON.stringify(res.body)).not.toMatch(/idp\.example\.test|config_/);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^error .*tokenProxy: The token_endpoint from http:\/\/127\.0\.0\.1:\d+'s discovery document must use https:/);
    expect(logs[0]).not.toMatch(/ConfigError|config_url|unexpected/);
  });

  test('the M2M client rejects getToken() with a MisconfigurationError', async () => {
    const idp = await discoveryIdp(remoteHttp);
    const { logs, logger } = recordingLogger();
    const m2m = createM2MClient({ issuer: idp.issuer, clientId: 'svc', clientSecret: 'sec-ret-value', retry: false, logger });
    const err = await m2m.getToken().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MisconfigurationError);
    expect(err).not.toBeInstanceOf(ConfigError);
    expect((err as MisconfigurationError).status).toBe(500);
    expect((err as Error).message).toMatch(/token_endpoint from .* discovery document must use https:/);
    expect(idp.tokenCalls()).toBe(0);
    expect(logs.join('\n')).toMatch(/no token \(misconfigured\): The token_endpoint from .* must use https:/);
    expect(logs.join('\n')).not.toContain('sec-ret-value');
  });

  test('a discovered loopback endpoint is used as before', async () => {
    const idp = await discoveryIdp((base) => `${base}/token`);
    const m2m = createM2MClient({ issuer: idp.issuer, clientId: 'svc', clientSecret: 'sec-ret-value', retry: false });
    await expect(m2m.getToken()).resolves.toMatchObject({ accessToken: 'at' });
    expect(idp.tokenCalls()).toBe(1);
  });
});

test('an extraParams function answering a reserved name: 500 and a log line, the IdP not called', async () => {
  const idp = await discoveryIdp((base) => `${base}/token`);
  const { logs, logger } = recordingLogger();
  const extraParams = () => ({ client_id: 'someone-else' });
  const app = express().post('/auth/token', tokenProxy({ tokenEndpoint: `${idp.issuer}/token`, clientId: 'web', clientSecret: 'sec-ret-value', extraParams, logger }));
  const res = await request(app).post('/auth/token').type('form').send(ALICE).expect(500);
  expect(res.body.error).toBe('server_error');
  expect(idp.tokenCalls()).toBe(0);
  expect(logs).toEqual([expect.stringMatching(/^error .*tokenProxy\(\): extraParams\(\) result must not set "client_id"/)]);
  expect(logs[0]).not.toMatch(/unexpected ConfigError/);
});

test('an async extraParams function: 500 and a log line, never a request sent without its parameters', async () => {
  const idp = await discoveryIdp((base) => `${base}/token`);
  const { logs, logger } = recordingLogger();
  const extraParams = (async () => ({ auth_source_id: 'pw' })) as never;
  const app = express().post('/auth/token', tokenProxy({ tokenEndpoint: `${idp.issuer}/token`, clientId: 'web', clientSecret: 'sec-ret-value', extraParams, logger }));
  const res = await request(app).post('/auth/token').type('form').send(ALICE).expect(500);
  expect(res.body.error).toBe('server_error');
  expect(idp.tokenCalls()).toBe(0);
  expect(logs).toEqual([expect.stringMatching(/^error .*tokenProxy\(\): extraParams\(\) must return the parameters themselves, not a promise/)]);
});

test('proxyGuess() without proxyRequestParser() is a MisconfigurationError (500), not a ConfigError', async () => {
  let thrown: unknown;
  const app = express()
    .post('/auth/token', (req, res) => {
      try {
        proxyGuess(req);
      } catch (err) {
        thrown = err;
        throw err;
      }
      res.end();
    })
    .use(oauthErrorHandler());
  const res = await request(app).post('/auth/token').type('form').send(ALICE).expect(500);
  expect(res.body.error).toBe('server_error');
  expect(thrown).toBeInstanceOf(MisconfigurationError);
  expect(thrown).not.toBeInstanceOf(ConfigError);
});
