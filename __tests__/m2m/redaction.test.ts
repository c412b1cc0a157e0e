/**
 * createM2MClient(): no token or secret in errors, 5xx answers or hook events.
 */
import { createServer } from 'node:http';
import { inspect } from 'node:util';
import { jest } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { createM2MClient, IdpBadResponseError, oauthErrorHandler } from '../../lib/index.js';
import { fresh, listen, startDownstream, startScriptedIdp, type Downstream, type ScriptedIdp } from '../support/m2m.js';

let idp: ScriptedIdp;
let api: Downstream;

beforeAll(async () => {
  [idp, api] = await Promise.all([startScriptedIdp(), startDownstream()]);
});
afterAll(() => Promise.all([idp.close(), api.close()]));
beforeEach(() => {
  idp.answers = [fresh(3600)];
  idp.requests.length = 0;
  api.seen.length = 0;
});

const opts = () => ({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'svc-secret-value' });

describe('no token or secret in errors', () => {
  test('client.fetch and req.m2m.fetch to a dead downstream: the error and the 5xx answer hold neither', async () => {
    const dead = await listen(createServer());
    const deadUrl = dead.url;
    await dead.close();
    const client = createM2MClient(opts());
    const { accessToken } = await client.getToken();
    const err = await client.fetch(`${deadUrl}/x`).catch((e: unknown) => e);
    const seen = inspect(err, { depth: 10, showHidden: true });
    expect(seen).not.toContain(accessToken);
    expect(seen).not.toContain('svc-secret-value');

    const logs: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logs.push(args.map((x) => inspect(x)).join(' ')));
    const app = express();
    app.get('/r', client.middleware(), async (req, res, next) => {
      try {
        res.json(await (await req.m2m!.fetch(`${deadUrl}/x`)).json());
      } catch (e) {
        logs.push(inspect(e, { depth: 10, showHidden: true }));
        next(e);
      }
    });
    app.use(oauthErrorHandler());
    const r = await request(app).get('/r');
    spy.mockRestore();
    expect(r.status).toBeGreaterThanOrEqual(500);
    expect(logs.length).toBeGreaterThanOrEqual(2); // the route's own log and the error handler's
    for (const text of [r.text, JSON.stringify(r.headers), ...logs]) {
      expect(text).not.toContain(accessToken);
      expect(text).not.toContain('svc-secret-value');
    }
  });

  test('an IdP token with CR/LF never reaches a header (whose error would print it): refused first', async () => {
    idp.answers = [{ body: { access_token: 'LEAKME\r\nX-Evil: 1', token_type: 'Bearer', expires_in: 60 } }];
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const client = createM2MClient({ ...opts(), logger });
    const err = (await client.fetch(`${api.url}/x`).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain('LEAKME');
    // The operator line says why, and holds none of the token either.
    expect(lines.join('\n')).toMatch(/no token \(idp_bad_response\): .*characters RFC 6750/);
    expect(lines.join('\n')).not.toContain('LEAKME');
    expect(api.seen).toEqual([]);
  });

  test('IdP errors (even one that echoes the secret) and hook events hold neither', async () => {
    idp.answers = [{ status: 401, body: { error: 'invalid_client', error_description: 'bad secret svc-secret-value for svc' } }];
    const events: string[] = [];
    const client = createM2MClient({ ...opts(), onError: (e, ev) => events.push(inspect(e, { depth: 10 }), JSON.stringify(ev)) });
    const err = await client.getToken().catch((e: unknown) => e);
    const all = [inspect(err, { depth: 10, showHidden: true }), ...events].join('\n');
    expect(all).toMatch(/invalid_client/);
    expect(all).not.toContain('svc-secret-value');
  });
});
