/**
 * createM2MClient() against a downstream that keeps answering 401: one forced refresh per token,
 * shared by concurrent calls, never a loop.
 */
import { createServer } from 'node:http';
import { createM2MClient } from '../../lib/index.js';
import { fresh, listen, startDownstream, startScriptedIdp, type Downstream, type Listening, type ScriptedIdp } from '../support/m2m.js';

let idp: ScriptedIdp;
let api: Downstream;
let deny: Listening; // answers 401 invalid_token to everyone
let denied = 0;

beforeAll(async () => {
  [idp, api] = await Promise.all([startScriptedIdp(), startDownstream()]);
  deny = await listen(
    createServer((req, res) => {
      denied++;
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="api", error="invalid_token"', 'content-type': 'application/json' });
      res.end('{"error":"invalid_token"}');
    }),
  );
});
afterAll(() => Promise.all([idp.close(), api.close(), deny.close()]));
beforeEach(() => {
  idp.answers = [fresh(3600)];
  idp.requests.length = 0;
  api.seen.length = 0;
  denied = 0;
});

const opts = () => ({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'svc-secret-value', logger: false as const });

describe('a downstream that keeps answering 401', () => {
  test('one forced refresh per token: later 401s with the fresh token go to the caller, without the IdP', async () => {
    const client = createM2MClient(opts());
    for (let i = 0; i < 5; i++) expect((await client.fetch(`${deny.url}/x`)).status).toBe(401);
    expect(idp.requests).toHaveLength(2); // the first token and one replacement, not one per call
    expect(denied).toBe(6); // first call twice (old token, fresh token), then once each
    const res = await Promise.all(Array.from({ length: 20 }, () => client.fetch(`${deny.url}/y`, { method: 'POST', body: 'b' })));
    expect(res.every((r) => r.status === 401)).toBe(true);
    expect(idp.requests).toHaveLength(2);
  });

  test('concurrent first calls share the one replacement', async () => {
    const client = createM2MClient(opts());
    const res = await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${deny.url}/x`)));
    expect(res.map((r) => r.status)).toEqual(Array(10).fill(401));
    expect(idp.requests).toHaveLength(2);
  });

  test('a non-replayable body: the next call’s token is the replacement, and is not replaced again', async () => {
    const client = createM2MClient(opts());
    const stream = () => ({ method: 'POST', body: new Blob(['x']).stream(), duplex: 'half' as const });
    for (let i = 0; i < 4; i++) expect((await client.fetch(`${deny.url}/s`, stream())).status).toBe(401);
    expect(idp.requests).toHaveLength(2);
  });

  test('a token obtained later (refresh, forceRefresh) gets its own one forced refresh', async () => {
    const client = createM2MClient(opts());
    await client.fetch(`${deny.url}/x`);
    expect(idp.requests).toHaveLength(2);
    await client.getToken({ forceRefresh: true });
    await client.fetch(`${deny.url}/x`);
    await client.fetch(`${deny.url}/x`);
    expect(idp.requests).toHaveLength(4);
  });
});
