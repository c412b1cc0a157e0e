/**
 * exchange() uses the client's retry loop (Retry-After honoured) and fetchAsUser its
 * one-renewal-per-token 401 policy (a downstream that always says 401 costs two exchanges, not one
 * per call).
 */
import { createServer } from 'node:http';
import express from 'express';
import { createM2MClient, type AuthResult, type M2MClientOptions } from '../../lib/index.js';
import { listen, startScriptedIdp, type Listening, type ScriptedIdp, type TokenAnswer } from '../support/m2m.js';

const ISSUER = 'https://issuer.example';
let idp: ScriptedIdp;
const servers: Listening[] = [];

beforeAll(async () => {
  idp = await startScriptedIdp();
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await idp.close();
});
beforeEach(() => {
  idp.requests.length = 0;
});

let seq = 0;
/** An RFC 8693 answer with a new token each time. */
const exchanged = (ttl = 300): TokenAnswer => ({
  body: () => ({ access_token: `xchg-${++seq}`, token_type: 'Bearer', expires_in: ttl, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
});

/** A JWT-shaped user token no IdP signed: enough for the checks exchange() makes before the IdP call. */
const userToken = (claims: Record<string, unknown> = {}): string =>
  `${Buffer.from('{"alg":"RS256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600, ...claims })).toString('base64url')}.c2ln`;

const client = (extra: Partial<M2MClientOptions> = {}) =>
  createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'api', clientSecret: 'api-secret-value', retry: false, idpBackoffMs: 0, ...extra } as M2MClientOptions);

async function serve(app: express.Express): Promise<Listening> {
  const l = await listen(createServer(app));
  servers.push(l);
  return l;
}

describe('the client retry loop and 401 policy', () => {
  test('exchange() waits at least the Retry-After the IdP asked for (here 2 s, within retry.maxDelay)', async () => {
    idp.answers = [{ status: 503, headers: { 'retry-after': '2' }, body: { error: 'temporarily_unavailable' } }, exchanged()];
    const m2m = client({ retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 5000 } });
    const token = await m2m.exchange(userToken(), { audience: 'inventory' });
    expect(token.accessToken).toMatch(/^xchg-/);
    expect(idp.requests).toHaveLength(2);
    // A lower bound only (a slow machine waits longer, never shorter); the 10 ms of slack covers
    // timer rounding between the event loop's clock and Date.now().
    expect(idp.requests[1]!.at - idp.requests[0]!.at).toBeGreaterThanOrEqual(2000 - 10);
  });

  test('a Retry-After beyond retry.maxDelay fails now with the IdP error instead of hanging', async () => {
    idp.answers = [{ status: 503, headers: { 'retry-after': '60' }, body: { error: 'temporarily_unavailable' } }, exchanged()];
    const m2m = client({ retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000 } });
    await expect(m2m.exchange(userToken(), { audience: 'inventory' })).rejects.toMatchObject({ code: 'idp_error', message: expect.stringMatching(/retry after 60 s, more than retry\.maxDelay/) });
    expect(idp.requests).toHaveLength(1);
  });

  test('fetchAsUser against a downstream that always answers 401: 10 calls cost 2 exchanges (one, plus one renewal per token lifetime)', async () => {
    idp.answers = [exchanged()];
    const seen: string[] = [];
    const downstream = express();
    downstream.all('/{*any}', (req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_token"').json({ error: 'invalid_token' });
    });
    const ds = await serve(downstream);

    const m2m = client();
    const subject = userToken();
    const api = express();
    // Stands in for requireAuth(): onBehalfOf reads the verified token and its issuer.
    api.use((req, _res, next) => {
      req.auth = { token: subject, issuer: ISSUER } as AuthResult;
      next();
    });
    api.get('/call', m2m.onBehalfOf({ audience: 'inventory' }), async (req, res, next) => {
      try {
        const r = await req.m2m!.fetchAsUser!(`${ds.url}/data`);
        res.json({ status: r.status });
      } catch (err) {
        next(err);
      }
    });
    const front = await serve(api);

    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${front.url}/call`);
      expect(await r.json()).toEqual({ status: 401 });
    }
    expect(idp.requests).toHaveLength(2);
    // First call: the token, then its replacement; every later call: the replacement, once.
    expect(seen).toHaveLength(11);
    expect(new Set(seen.slice(1)).size).toBe(1);
    expect(seen[0]).not.toBe(seen[1]);
  });
});
