/**
 * exchange() argument errors are request-time 400 invalid_request, not start-up ConfigErrors.
 */
import { createServer } from 'node:http';
import { jest } from '@jest/globals';
import express from 'express';
import { createM2MClient, InvalidRequestError, oauthErrorHandler, type M2MClientOptions } from '../../lib/index.js';
import { listen, startScriptedIdp, type Listening, type ScriptedIdp } from '../support/m2m.js';

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

describe('exchange() argument errors are request-time errors', () => {
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
