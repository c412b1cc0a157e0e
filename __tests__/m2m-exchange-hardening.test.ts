/**
 * Hostile review #19, points 9, 10, 11 and 17, on real loopback servers:
 * - token exchange errors redact the user's tokens in every encoding an IdP may echo them in;
 * - exchange() uses the client's retry loop (Retry-After honoured) and fetchAsUser its
 *   one-renewal-per-token 401 policy (a downstream that always says 401 costs two exchanges, not
 *   one per call);
 * - exchange() argument errors are request-time 400 invalid_request, not start-up ConfigErrors;
 * - a DPoP call that is redirected to another origin sends neither Authorization nor DPoP there,
 *   and a DPoP-Nonce is filed under the origin that sent it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { jest } from '@jest/globals';
import express from 'express';
import { decodeJwt, EmbeddedJWK, jwtVerify } from 'jose';
import { createM2MClient, InvalidRequestError, oauthErrorHandler, type AuthResult, type M2MClientOptions } from '../lib/index.js';
import { listen, startScriptedIdp, type Listening, type ScriptedIdp, type TokenAnswer } from './support/m2m.js';

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
  createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'api', clientSecret: 'api-secret-value', retry: false, idpBackoff: 0, ...extra } as M2MClientOptions);

async function serve(app: express.Express): Promise<Listening> {
  const l = await listen(createServer(app));
  servers.push(l);
  return l;
}

describe('point 9: exchange errors redact the user tokens in every encoding', () => {
  // '+', '/', '=' and '.' all change under form or JSON encoding; "S3cretUser" is the trace looked for.
  const subject = 'S3cretUser.tok+en/with+slash/es.and.dots==';
  const actor = 'Act0rS3cret+x/y.z=';
  const formEncode = (v: string) => new URLSearchParams([['', v]]).toString().slice(1);

  test.each([
    ['form-encoded (application/x-www-form-urlencoded)', (t: string) => `bad request body: subject_token=${formEncode(t)}&x=1`],
    ['percent-encoded, lower-case hex', (t: string) => `bad subject ${encodeURIComponent(t).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`],
    ['JSON-escaped ("/" as "\\/")', (t: string) => `bad {"subject_token":"${t.replace(/\//g, '\\/')}"}`],
    ['raw', (t: string) => `bad subject_token ${t}`],
  ])('%s in error_description: no trace in err.message or idpErrorDescription', async (_name, echo) => {
    idp.answers = [{ status: 400, body: { error: 'invalid_request', error_description: `${echo(subject)} actor ${echo(actor)}` } }];
    const err = (await client()
      .exchange(subject, { audience: 'inventory', actorToken: actor, actorTokenType: 'urn:ietf:params:oauth:token-type:access_token' })
      .catch((e: unknown) => e)) as { message: string; idpErrorDescription?: string };
    expect(idp.requests).toHaveLength(1);
    expect(err.message).toMatch(/\[redacted\].*actor .*\[redacted\]/);
    for (const text of [err.message, err.idpErrorDescription ?? '']) {
      expect(text).not.toMatch(/S3cretUser|Act0rS3cret/);
    }
  });
});

describe('point 10: the client retry loop and 401 policy', () => {
  test('exchange() waits at least the Retry-After the IdP asked for (here 2 s, within retry.maxDelay)', async () => {
    idp.answers = [{ status: 503, headers: { 'retry-after': '2' }, body: { error: 'temporarily_unavailable' } }, exchanged()];
    const m2m = client({ retry: { attempts: 2, baseDelay: 10, maxDelay: 5000 } });
    const token = await m2m.exchange(userToken(), { audience: 'inventory' });
    expect(token.accessToken).toMatch(/^xchg-/);
    expect(idp.requests).toHaveLength(2);
    // A lower bound only (a slow machine waits longer, never shorter); the 10 ms of slack covers
    // timer rounding between the event loop's clock and Date.now().
    expect(idp.requests[1]!.at - idp.requests[0]!.at).toBeGreaterThanOrEqual(2000 - 10);
  });

  test('a Retry-After beyond retry.maxDelay fails now with the IdP error instead of hanging', async () => {
    idp.answers = [{ status: 503, headers: { 'retry-after': '60' }, body: { error: 'temporarily_unavailable' } }, exchanged()];
    const m2m = client({ retry: { attempts: 3, baseDelay: 10, maxDelay: 2000 } });
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

describe('point 11: exchange() argument errors are request-time errors', () => {
  test('bad per-call options reject with InvalidRequestError, which oauthErrorHandler renders as 400 invalid_request', async () => {
    const m2m = client();
    const unexpected = jest.fn();
    const app = express();
    app.get('/x', async (_req, res, next) => {
      try {
        res.json(await m2m.exchange(userToken(), { audience: 'inventory', scope: 'a\nb' }));
      } catch (err) {
        next(err);
      }
    });
    app.use(oauthErrorHandler({ onUnexpectedError: unexpected }));
    const s = await serve(app);
    const r = await fetch(`${s.url}/x`);
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/^exchange\(\): scope must not contain control characters/) });
    expect(unexpected).not.toHaveBeenCalled();
    expect(idp.requests).toHaveLength(0);

    for (const bad of [{ actorToken: 'abcd' }, { requestedTokenType: '' }, { resource: 'not a uri' }, { subjectTokenType: 'x\ny' }]) {
      const err = await m2m.exchange(userToken(), bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err).toMatchObject({ status: 400, code: 'invalid_request', message: expect.stringMatching(/^exchange\(\): /) });
    }
    await expect(m2m.exchange(userToken(), 'audience' as never)).rejects.toBeInstanceOf(InvalidRequestError);
  });
});

describe('point 17: a DPoP call redirected to another origin', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  test('the other origin sees neither Authorization nor DPoP; its DPoP-Nonce is filed under its own origin', async () => {
    idp.answers = [{ body: () => ({ access_token: `bound-${++seq}`, token_type: 'DPoP', expires_in: 300 }) }];
    const seenA: { path: string; headers: IncomingHttpHeaders }[] = [];
    const seenB: { path: string; headers: IncomingHttpHeaders }[] = [];
    const b = express();
    b.all('/{*any}', (req, res) => {
      seenB.push({ path: req.path, headers: req.headers });
      res.set('DPoP-Nonce', 'nonce-from-b').json({ at: 'b' });
    });
    const B = await serve(b);
    const a = express();
    a.all('/{*any}', (req, res) => {
      seenA.push({ path: req.path, headers: req.headers });
      if (req.path === '/away') res.redirect(307, `${B.url}/landing`);
      else if (req.path === '/here') res.redirect(307, '/final');
      else res.json({ at: 'a' });
    });
    const A = await serve(a);
    expect(new URL(A.url).origin).not.toBe(new URL(B.url).origin);
    const m2m = client({ dpop: { privateKey: key.privateKey } });
    const proofOf = async (h: IncomingHttpHeaders) => (await jwtVerify(h.dpop as string, EmbeddedJWK, { typ: 'dpop+jwt' })).payload;

    const res = await m2m.fetch(`${A.url}/away`, { method: 'POST', body: 'payload' });
    expect(await res.json()).toEqual({ at: 'b' });
    expect(seenA[0]!.headers.authorization).toMatch(/^DPoP bound-/);
    expect(seenA[0]!.headers.dpop).toEqual(expect.any(String));
    expect(seenB).toHaveLength(1);
    expect(seenB[0]!.headers.authorization).toBeUndefined();
    expect(seenB[0]!.headers.dpop).toBeUndefined();

    // B's nonce is B's: the next proof for B carries it, the next one for A does not.
    await m2m.fetch(`${B.url}/direct`);
    expect((await proofOf(seenB[1]!.headers)).nonce).toBe('nonce-from-b');
    await m2m.fetch(`${A.url}/plain`);
    expect((await proofOf(seenA[1]!.headers)).nonce).toBeUndefined();

    // A same-origin redirect keeps the credentials, with a proof for the URL actually requested.
    await m2m.fetch(`${A.url}/here`);
    const final = seenA.find((s) => s.path === '/final')!;
    expect(final.headers.authorization).toMatch(/^DPoP bound-/);
    expect((await proofOf(final.headers)).htu).toBe(`${A.url}/final`);
    expect(decodeJwt(final.headers.dpop as string).jti).not.toBe(decodeJwt(seenA.at(-2)!.headers.dpop as string).jti);
  });
});
