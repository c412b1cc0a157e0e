/**
 * Cookie mode against an IdP that sends refresh tokens in odd places and odd lifetimes: page
 * script never gets a refresh token, and the cookie's Max-Age is always a sane whole number.
 */
import { createServer, type ServerResponse } from 'node:http';
import express from 'express';
import request from 'supertest';
import { tokenProxy, type TokenProxyOptions } from '../../lib/index.js';
import { listen, ServerPool, type Listening } from '../../fixtures/listen.js';

const ORIGIN = 'https://app.example.test';
const BROWSER = { Origin: ORIGIN, 'X-CSRF-Token': '1' };
const ALICE = { grant_type: 'password', username: 'alice', password: 'pw' };

let answer: { status: number; body: unknown };
const idpServer = createServer((req, res: ServerResponse) => {
  req.resume().on('end', () => res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body)));
});
const pool = new ServerPool();
let url: string;
let idp: Listening;
beforeAll(async () => {
  idp = await listen(idpServer);
  const options: TokenProxyOptions = {
    tokenEndpoint: `${idp.url}/token`,
    clientId: 'web-app',
    clientSecret: 'web-secret',
    logger: false,
    cookie: { allowedOrigins: [ORIGIN] },
  };
  const app = express();
  app.post('/auth/token', tokenProxy(options));
  url = await pool.serve(app);
});
afterAll(async () => {
  await pool.closeAll();
  await idp.close();
});

const login = () => request(url).post('/auth/token').set(BROWSER).type('form').send(ALICE);
const setCookies = (res: request.Response): string[] => (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];

describe('no refresh token ever reaches page script', () => {
  test('2xx: camelCase, other spellings and nested copies are stripped; the top-level one goes to the cookie', async () => {
    answer = {
      status: 200,
      body: {
        access_token: 'at',
        token_type: 'Bearer',
        refresh_token: 'rt-main',
        refreshToken: 'rt-camel',
        'Refresh-Token': 'rt-dash',
        data: { refresh_token: 'rt-nested', list: [{ RefreshToken: 'rt-in-array', keep: 1 }] },
      },
    };
    const res = await login().expect(200);
    expect(res.text).not.toMatch(/rt-/);
    expect(res.body).toEqual({ access_token: 'at', token_type: 'Bearer', data: { list: [{ keep: 1 }] } });
    expect(setCookies(res)).toHaveLength(1);
    expect(setCookies(res)[0]).toMatch(/^__Host-oauth_refresh=rt-main;/);
  });

  test('non-2xx: a refresh token in an error answer is dropped, no cookie is set', async () => {
    answer = { status: 400, body: { error: 'invalid_grant', refresh_token: 'rt-err', refreshToken: 'rt-err2', nested: { refresh_token: 'rt-err3' } } };
    const res = await login().expect(400);
    expect(res.text).not.toMatch(/rt-err/);
    expect(res.body).toEqual({ error: 'invalid_grant' });
    expect(setCookies(res)).toEqual([]);
  });
});

describe('Max-Age from refresh_expires_in is clamped to 1 s … 400 days', () => {
  test.each([
    [3600, 'Max-Age=3600'],
    ['7200', 'Max-Age=7200'],
    [86400.9, 'Max-Age=86400'],
    [0.5, 'Max-Age=1'],
    [0, 'Max-Age=1'],
    [1e300, 'Max-Age=34560000'],
    [Number.MAX_SAFE_INTEGER, 'Max-Age=34560000'],
    ['99999999999999999999', 'Max-Age=34560000'],
    [-5, undefined],
    ['Infinity', undefined],
    ['1e300', undefined],
    ['-1', undefined],
    ['soon', undefined],
    [null, undefined],
  ])('refresh_expires_in %j → %s', async (value, maxAge) => {
    answer = { status: 200, body: { access_token: 'at', token_type: 'Bearer', refresh_token: 'rt', refresh_expires_in: value } };
    const res = await login().expect(200);
    const cookie = setCookies(res)[0]!;
    const attr = cookie.split('; ').find((a) => a.startsWith('Max-Age='));
    expect(attr).toBe(maxAge);
    expect(cookie).not.toMatch(/e\+|Infinity|NaN|Expires/);
  });

  test('maxAge option above 400 days is a configuration error', () => {
    expect(() => tokenProxy({ tokenEndpoint: 'http://127.0.0.1:1/t', clientId: 'a', clientSecret: 'bbbb', cookie: { allowedOrigins: [ORIGIN], maxAgeSeconds: 1e300 } })).toThrow(/400 days/);
  });
});
