/**
 * createM2MClient()'s token cache key: per-call options that differ never share a cached token.
 */
import { ConfigError, createM2MClient } from '../../lib/index.js';
import { fresh, startDownstream, startScriptedIdp, type Downstream, type ScriptedIdp } from '../support/m2m.js';

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

const opts = () => ({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'svc-secret-value', logger: false as const });

describe('per-call options cannot collide in the cache', () => {
  test("audience ['a\\u0002b'] and ['a', 'b'], or a NUL moving a value to resource: refused, never served another's token", async () => {
    const client = createM2MClient(opts());
    const ab = await client.getToken({ audience: ['a', 'b'] });
    for (const bad of [
      { audience: ['a\u0002b'] },
      { audience: 'a\u0000https://r.example/' },
      { audience: ['a'], resource: 'https://r.example/\u0000x' },
      { scope: 'read\twrite' },
      { scope: ['read\nwrite'] },
      { audience: 'a\u007f' },
      { resource: 'https://r.example/\u0085' },
    ]) {
      const err = (await client.getToken(bad).catch((e: Error) => e)) as ConfigError;
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(/must not contain control characters/);
      await expect(client.fetch(`${api.url}/x`, undefined, bad)).rejects.toThrow(/must not contain control characters/);
    }
    expect(api.seen).toEqual([]);
    expect(idp.requests).toHaveLength(1);
    expect(idp.requests[0]!.body.getAll('audience')).toEqual(['a', 'b']);
    // and valid spellings of one request still share one token
    expect(await client.getToken({ audience: ['b', 'a'] })).toBe(ab);
    expect(await client.getToken({ audience: ['a', 'b', 'a'] })).toBe(ab);
  });

  test('null given is not the same as not given', async () => {
    const client = createM2MClient({ ...opts(), scope: 'dflt' });
    await client.getToken({ scope: null as never, audience: 'x' });
    await client.getToken({ audience: 'x' });
    expect(idp.requests.map((r) => r.body.get('scope'))).toEqual([null, 'dflt']);
  });

  test('control characters in the client’s own options are a ConfigError at construction', () => {
    expect(() => createM2MClient({ ...opts(), audience: 'api\n' })).toThrow(ConfigError);
    expect(() => createM2MClient({ ...opts(), resource: ['https://r.example/\u0000'] })).toThrow(/control characters/);
    expect(() => createM2MClient({ ...opts(), scope: 'a\u0000b' })).toThrow(/control characters/);
    expect(() => createM2MClient(opts()).middleware({ audience: 'x\u0002' })).toThrow(ConfigError);
  });
});
