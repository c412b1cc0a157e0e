/**
 * A DPoP call redirected to another origin sends neither Authorization nor DPoP there, and a
 * DPoP-Nonce is filed under the origin that sent it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import express from 'express';
import { decodeJwt, EmbeddedJWK, jwtVerify } from 'jose';
import { createM2MClient, type M2MClientOptions } from '../../lib/index.js';
import { listen, startScriptedIdp, type Listening, type ScriptedIdp } from '../support/m2m.js';

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

const client = (extra: Partial<M2MClientOptions> = {}) =>
  createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'api', clientSecret: 'api-secret-value', retry: false, idpBackoffMs: 0, ...extra } as M2MClientOptions);

async function serve(app: express.Express): Promise<Listening> {
  const l = await listen(createServer(app));
  servers.push(l);
  return l;
}

describe('a DPoP call redirected to another origin', () => {
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

  test('the other origin sees none of the caller\'s Cookie, Proxy-Authorization or Host either, as fetch itself drops them', async () => {
    idp.answers = [{ body: () => ({ access_token: `bound-${++seq}`, token_type: 'DPoP', expires_in: 300 }) }];
    const seenB: IncomingHttpHeaders[] = [];
    const b = express();
    b.all('/{*any}', (req, res) => {
      seenB.push(req.headers);
      res.json({ at: 'b' });
    });
    const B = await serve(b);
    const seenA: IncomingHttpHeaders[] = [];
    const a = express();
    a.all('/{*any}', (req, res) => {
      seenA.push(req.headers);
      res.redirect(302, `${B.url}/landing`);
    });
    const A = await serve(a);
    const m2m = client({ dpop: { privateKey: key.privateKey } });
    const headers = { cookie: 'session=caller-secret', 'proxy-authorization': 'Basic cHJveHk6c2VjcmV0', 'x-trace': 't1' };
    const res = await m2m.fetch(`${A.url}/away`, { headers });
    expect(await res.json()).toEqual({ at: 'b' });
    // The first origin was the caller's choice and gets them all.
    expect(seenA[0]!.cookie).toBe('session=caller-secret');
    expect(seenB).toHaveLength(1);
    expect(seenB[0]!.cookie).toBeUndefined();
    expect(seenB[0]!['proxy-authorization']).toBeUndefined();
    expect(seenB[0]!.host).toBe(new URL(B.url).host);
    expect(seenB[0]!['x-trace']).toBe('t1');
  });
});
