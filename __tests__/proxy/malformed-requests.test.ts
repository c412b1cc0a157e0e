/**
 * Every entry point of the three proxies answers malformed, hostile or oversized input with an
 * OAuth error and a 4xx status: never a 500, never a stack trace, never an HTML page.
 */
import { request as httpRequest } from 'node:http';
import express from 'express';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { mfaChallengeProxy, proxyRequestParser, revocationProxy, tokenProxy } from '../../lib/index.js';
import { ServerPool } from '../../fixtures/listen.js';

const ORIGIN = 'https://app.example.test';
let idp: MockIdp;
let url: string;
const pool = new ServerPool();
const logs: string[] = [];
const logger = { warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };

beforeAll(async () => {
  idp = await startMockIdp();
  const base = { tokenEndpoint: idp.ciamTokenEndpoint, revocationEndpoint: idp.revocationEndpoint, mfaChallengeEndpoint: idp.mfaChallengeEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger };
  const cookie = { allowedOrigins: [ORIGIN] };
  const app = express();
  app.use('/token', tokenProxy(base));
  app.use('/parsed-token', proxyRequestParser(), tokenProxy(base));
  app.use('/challenge', mfaChallengeProxy(base));
  app.use('/revoke', revocationProxy(base));
  app.use('/cookie-token', tokenProxy({ ...base, cookie }));
  app.use('/logout', revocationProxy({ ...base, cookie }));
  url = await pool.serve(app);
});
afterAll(async () => {
  await pool.closeAll();
  await idp.close();
});

interface Raw {
  method?: string;
  path?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  chunked?: Buffer[];
}

function send(path: string, raw: Raw): Promise<{ status: number; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { origin: ORIGIN, 'x-csrf-token': '1', ...raw.headers };
    if (raw.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = Buffer.byteLength(raw.body);
    const req = httpRequest(`${url}${path}${raw.path ?? ''}`, { method: raw.method ?? 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], text }));
    });
    // The server may close early on a refused oversized body.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ status: 0, type: undefined, text: '' }) : reject(err)));
    if (raw.chunked) {
      for (const c of raw.chunked) req.write(c);
      req.end();
    } else req.end(raw.body);
  });
}

const JSON_T = { 'content-type': 'application/json' };
const FORM_T = { 'content-type': 'application/x-www-form-urlencoded' };
const CASES: [string, Raw][] = [
  ['JSON array', { headers: JSON_T, body: '[1,2]' }],
  ['JSON string', { headers: JSON_T, body: '"grant_type=password"' }],
  ['JSON null', { headers: JSON_T, body: 'null' }],
  ['deeply nested JSON', { headers: JSON_T, body: `${'['.repeat(7000)}${']'.repeat(7000)}` }],
  ['__proto__ and constructor members', { headers: JSON_T, body: '{"__proto__":{"grant_type":"password"},"constructor":{"x":1},"grant_type":{"$ne":1}}' }],
  ['an out-of-range JSON number', { headers: JSON_T, body: '{"grant_type":"mfa_oob","mfa_token":"m","code":"c","binding_code":1e400}' }],
  ['a BOM before JSON', { headers: JSON_T, body: '\ufeff{"grant_type":"password"}' }],
  ['malformed percent-encoding', { headers: FORM_T, body: 'grant_type=%zz%&username=%E0%A4%A&password=%' }],
  ['2000 parameters', { headers: FORM_T, body: Array.from({ length: 2000 }, (_, i) => `p${i}=${i}`).join('&') }],
  ['invalid UTF-8', { headers: FORM_T, body: Buffer.from([0x67, 0x3d, 0xc3, 0x28, 0xff]) }],
  ['a 300-character Content-Type', { headers: { 'content-type': `application/json; x=${'a'.repeat(300)}` }, body: '{}' }],
  ['a repeated charset', { headers: { 'content-type': 'application/json; charset=utf-8; charset=utf-8' }, body: '{}' }],
  ['a non-UTF-8 charset', { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=shift_jis' }, body: 'grant_type=password' }],
  ['text/plain', { headers: { 'content-type': 'text/plain' }, body: 'grant_type=password&username=a&password=b' }],
  ['no Content-Type', { body: 'grant_type=password&username=a&password=b' }],
  ['gzip encoding', { headers: { ...FORM_T, 'content-encoding': 'gzip' }, body: 'grant_type=password' }],
  ['a Content-Length over the limit', { headers: { ...FORM_T, 'content-length': 10_000_000 }, body: 'grant_type=' }],
  ['a chunked body over the limit', { headers: FORM_T, chunked: Array.from({ length: 40 }, () => Buffer.alloc(1024, 0x61)) }],
  ['a query string full of OAuth names', { path: `?${'grant_type=password&'.repeat(300)}`, headers: FORM_T, body: '' }],
  ['a malformed refresh cookie', { headers: { ...FORM_T, cookie: '__Host-oauth_refresh=%E0%A4%A' }, body: 'grant_type=refresh_token' }],
  ['the refresh cookie twice', { headers: { ...FORM_T, cookie: '__Host-oauth_refresh=a; __Host-oauth_refresh=b' }, body: 'grant_type=refresh_token' }],
  ['a 10 kB Origin', { headers: { ...FORM_T, origin: `https://${'a'.repeat(10_000)}.test` }, body: 'grant_type=password' }],
  ['a PKCE-less authorization_code', { headers: FORM_T, body: 'grant_type=authorization_code&code=x' }],
  ['PUT', { method: 'PUT', headers: FORM_T, body: 'grant_type=password' }],
  ['DELETE', { method: 'DELETE' }],
  ['OPTIONS', { method: 'OPTIONS' }],
];
const PATHS = ['/token', '/parsed-token', '/challenge', '/revoke', '/cookie-token', '/logout'];

describe.each(PATHS)('%s', (path) => {
  test.each(CASES)('%s → a 4xx OAuth error', async (_name, raw) => {
    const res = await send(path, raw);
    if (res.status === 0) return; // connection closed by the server after a refused oversized body: not a 500 either
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(500);
    if (res.status >= 400) {
      expect(res.type).toMatch(/^application\/json/);
      const body = JSON.parse(res.text) as Record<string, unknown>;
      expect(typeof body.error).toBe('string');
      expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
  });
});

test('nothing was logged as unexpected', () => {
  expect(logs.filter((l) => /unexpected/.test(l))).toEqual([]);
});
