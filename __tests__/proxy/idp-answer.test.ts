/**
 * What a front end may see of an IdP answer. The IdP here is a loopback server the test scripts,
 * so it can misbehave as real gateways do: echo the client secret (plain, encoded, as the Basic
 * header), send refresh tokens where they should not be, odd Retry-After values, a body that never ends.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import request from 'supertest';
import { tokenProxy, type ProxyResultEvent, type TokenProxyBaseOptions } from '../../lib/index.js';
import { IdpClient } from '../../lib/idp/idp-client.js';
import { proxyChecker } from '../../lib/proxy/options.js';
import { basicAuthorization } from '../../lib/idp/client-auth.js';
import { listen, ServerPool, type Listening } from '../../fixtures/listen.js';

const SECRET = 'Sup3r+s/cr=t:Wört"\\x';
const CLIENT = 'web-app';
const formEncode = (v: string): string => new URLSearchParams([['', v]]).toString().slice(1);
const b64 = (s: string): string => Buffer.from(s).toString('base64');
/** Every form in which the secret must never reach a browser or a log. */
const SECRET_FORMS = [
  SECRET,
  encodeURIComponent(SECRET),
  encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
  formEncode(SECRET),
  JSON.stringify(SECRET).slice(1, -1),
  JSON.stringify(SECRET).slice(1, -1).replace('ö', '\\u00F6').replace('/', '\\/'),
  b64(SECRET).replace(/=+$/, ''),
  basicAuthorization(CLIENT, SECRET).slice(6).replace(/=+$/, ''),
  b64(`${CLIENT}:${SECRET}`).replace(/=+$/, ''),
  SECRET.slice(0, 6), // a prefix: what truncation before redaction used to leave
];

type Reply = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let reply: Reply;
let idpUrl: string;
let idpCalls = 0;
const idpServer = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
    idpCalls += 1;
    reply(req, body, res);
  });
});
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
};
/** Answers with an echo of everything the proxy sent, the way some gateways' error pages do. */
const echo = (status: number, extra: Record<string, unknown> = {}): Reply => (req, body, res) =>
  json(res, status, {
    error: 'invalid_grant',
    error_description: `bad request ${body} auth=${req.headers.authorization ?? ''} secret=${SECRET}`,
    client_secret: SECRET,
    debug: { headers: req.headers, body, url: req.url, nested: { secret: SECRET } },
    access_token: 'leaked-at',
    refresh_token: 'leaked-rt',
    ...extra,
  });

const pool = new ServerPool();
const logs: string[] = [];
const logger = { warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
let idpListening: Listening;
beforeAll(async () => {
  idpListening = await listen(idpServer);
  idpUrl = `${idpListening.url}/token`;
});
afterAll(async () => {
  await pool.closeAll();
  await idpListening.close();
});
beforeEach(() => {
  logs.length = 0;
});

async function proxy(options: Partial<TokenProxyBaseOptions> & { clientSecret?: string } = {}): Promise<string> {
  const app = express();
  app.use('/auth/token', tokenProxy({ tokenEndpoint: idpUrl, clientId: CLIENT, clientSecret: SECRET, logger, ...options }));
  return pool.serve(app);
}
const ALICE = { grant_type: 'password', username: 'alice', password: 'pw' };

function expectNoSecret(text: string): void {
  for (const form of SECRET_FORMS) expect(text).not.toContain(form);
}

describe('IdP error answers reach the browser only as their OAuth members, secret-free', () => {
  for (const clientAuth of ['client_secret_basic', 'client_secret_post'] as const) {
    for (const paramsIn of ['body', 'query'] as const) {
      test(`${clientAuth}, params in ${paramsIn}: an echoing IdP leaks nothing`, async () => {
        reply = echo(400, { mfa_token: 'mfa-123', error_uri: 'https://idp.example/errors/invalid_grant' });
        // The secret in the query string is Tencent EIAM's convention, allowed with its profile only.
        const profile = paramsIn === 'query' && clientAuth === 'client_secret_post' ? 'eiam' : undefined;
        const res = await request(await proxy({ clientAuth, paramsIn, profile })).post('/auth/token').type('form').send(ALICE);
        expect(res.status).toBe(400);
        expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description', 'error_uri', 'mfa_token']);
        expect(res.body).toMatchObject({ error: 'invalid_grant', mfa_token: 'mfa-123', error_uri: 'https://idp.example/errors/invalid_grant' });
        expect(res.body.error_description).toContain('[redacted]');
        expect(res.body.error_description.length).toBeLessThanOrEqual(300);
        expectNoSecret(res.text);
        expectNoSecret(logs.join('\n'));
      });
    }
  }

  test('redaction comes before truncation: a secret straddling the length bound leaves no prefix', async () => {
    reply = (_q, _b, res) => json(res, 400, { error: 'invalid_grant', error_description: `${'x'.repeat(295)}${SECRET}` });
    const res = await request(await proxy()).post('/auth/token').type('form').send(ALICE);
    expect(res.body.error_description.length).toBeLessThanOrEqual(300);
    expectNoSecret(res.text);
    // The operator log path (invalid_client) cuts at 200.
    reply = (_q, _b, res) => json(res, 401, { error: 'invalid_client', error_description: `${'y'.repeat(196)}${SECRET}` });
    const res2 = await request(await proxy()).post('/auth/token').type('form').send(ALICE);
    expect(res2.status).toBe(502);
    expect(logs.join('\n')).toContain('invalid_client');
    expectNoSecret(logs.join('\n'));
    expectNoSecret(res2.text);
  });

  test('each member is one line and bounded; odd or hostile values are replaced or dropped', async () => {
    reply = (_q, _b, res) =>
      json(res, 400, {
        error: 'bad\r\nerror',
        error_description: `line1\r\nline2\u2028line3\u0000${'z'.repeat(5000)}`,
        error_uri: 'javascript:alert(1)',
        mfa_token: 'has space',
      });
    const res = await request(await proxy()).post('/auth/token').type('form').send(ALICE);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.error_description).toMatch(/^line1 line2 line3 z+$/);
    expect(res.body.error_description.length).toBeLessThanOrEqual(300);
    expect(res.body).not.toHaveProperty('error_uri');
    expect(res.body).not.toHaveProperty('mfa_token');
  });

  test('an error answer without an OAuth error gets one its status implies; a 200 naming an error is an error', async () => {
    reply = (_q, _b, res) => json(res, 503, { code: 5031, message: `maintenance ${SECRET}` }, { 'retry-after': '30' });
    const r1 = await request(await proxy()).post('/auth/token').type('form').send(ALICE);
    expect({ status: r1.status, body: r1.body, retry: r1.headers['retry-after'] }).toEqual({ status: 503, body: { error: 'temporarily_unavailable' }, retry: '30' });
    reply = (_q, _b, res) => json(res, 200, { error: 'access_denied', access_token: 'not-really', client_secret: SECRET });
    const r2 = await request(await proxy()).post('/auth/token').type('form').send(ALICE);
    expect(r2.body).toEqual({ error: 'access_denied' });
  });

  test('success answers keep their token fields', async () => {
    const ok = { access_token: 'at', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt', id_token: 'idt', scope: 'openid', custom: { a: 1 } };
    reply = (_q, _b, res) => json(res, 200, ok);
    const res = await request(await proxy()).post('/auth/token').type('form').send(ALICE).expect(200);
    expect(res.body).toEqual(ok);
  });
});

test('IdpClient.sanitize redacts every encoding of the secret, before it cuts', () => {
  const client = new IdpClient({ tokenEndpoint: idpUrl, clientId: CLIENT, clientSecret: SECRET }, proxyChecker('test'));
  for (const form of SECRET_FORMS.slice(0, -1)) {
    expect(client.sanitize(`a ${form} b`)).toBe('a [redacted] b');
    const cut = client.sanitize(`${'q'.repeat(197)}${form}`);
    expect(cut.length).toBeLessThanOrEqual(200);
    expectNoSecret(cut);
  }
  expect(client.sanitize(`Basic ${basicAuthorization(CLIENT, SECRET).slice(6)}`)).toMatch(/^Basic \[redacted\]=*$/);
  expect(client.sanitize('one\r\ntwo\u2028three\u0085four')).toBe('one two three four');
});

describe('response headers', () => {
  test('every answer carries X-Content-Type-Options: nosniff', async () => {
    reply = (_q, _b, res) => json(res, 200, { access_token: 'at', token_type: 'Bearer' });
    const url = await proxy();
    const answers = [
      await request(url).post('/auth/token').type('form').send(ALICE),
      await request(url).post('/auth/token').type('form').send({ grant_type: 'nope' }),
      await request(url).get('/auth/token'),
      await request(url).post('/auth/token').set('content-type', 'text/plain').send('x'),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 400, 405, 415]);
    for (const r of answers) expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  test.each([
    ['120', '120'],
    ['0', '0'],
    ['Wed, 21 Oct 2026 07:28:00 GMT', 'Wed, 21 Oct 2026 07:28:00 GMT'],
    ['-5', undefined],
    ['1e9', undefined],
    ['1.5', undefined],
    ['<script>alert(1)</script>', undefined],
    ['9'.repeat(300), undefined],
    ['Wed, 21 Oct 2026 07:28:00 GMT; evil', undefined],
  ])('IdP Retry-After %j → %j', async (sent, passed) => {
    reply = (_q, _b, res) => json(res, 429, { error: 'temporarily_unavailable' }, { 'retry-after': sent });
    const res = await request(await proxy()).post('/auth/token').type('form').send(ALICE);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe(passed);
  });
});

test('an IdP that sends headers and then trickles its body forever → 504 within the timeout', async () => {
  reply = (_q, _b, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"access_token":"');
    const t = setInterval(() => res.write('a'), 50);
    res.on('close', () => clearInterval(t));
  };
  const started = Date.now();
  const res = await request(await proxy({ timeoutMs: 400 })).post('/auth/token').type('form').send(ALICE);
  expect(res.status).toBe(504);
  expect(res.body.error).toBe('temporarily_unavailable');
  expect(Date.now() - started).toBeLessThan(2000);
});

describe('authorization_code: the PKCE code_verifier is checked (RFC 7636 §4.1) before any IdP call', () => {
  test.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(129)],
    ['a forbidden character', `${'a'.repeat(42)}+`],
    ['a space', `${'a'.repeat(42)} `],
  ])('%s → 400 invalid_request', async (_what, verifier) => {
    const url = await proxy({ grants: ['authorization_code'] });
    const before = idpCalls;
    const res = await request(url).post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: 'c', code_verifier: verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.error_description).toMatch(/code_verifier/);
    expect(idpCalls).toBe(before);
  });

  test('43 and 128 characters of the unreserved set are forwarded', async () => {
    reply = (_q, _b, res) => json(res, 200, { access_token: 'at', token_type: 'Bearer' });
    const url = await proxy({ grants: ['authorization_code'] });
    for (const v of ['A-._~'.repeat(8) + 'abc', 'z9'.repeat(64)]) {
      await request(url).post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: 'c', code_verifier: v }).expect(200);
    }
  });
});

test('onResult fields carry no control characters (a username cannot forge log lines)', async () => {
  reply = (_q, _b, res) => json(res, 400, { error: 'invalid_grant' });
  const events: ProxyResultEvent[] = [];
  const app = express();
  app.set('trust proxy', true);
  app.post('/auth/token', tokenProxy({ tokenEndpoint: idpUrl, clientId: CLIENT, clientSecret: SECRET, logger: false, onResult: (e) => events.push(e) }));
  const url = await pool.serve(app);
  await request(url).post('/auth/token').send({ grant_type: 'password', username: 'alice\r\n200 OK user=admin\u2028\u0000\u001b[31m', password: 'x' }).expect(400);
  await request(url).post('/auth/token').send({ grant_type: 'pass\nword' }).expect(400);
  expect(events).toHaveLength(2);
  for (const e of events) {
    for (const v of Object.values(e)) if (typeof v === 'string') expect(v).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  }
  expect(events[0]!.username).toBe('alice??200 OK user=admin???[31m');
});
