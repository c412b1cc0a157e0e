/**
 * A shared store hands a token only to an instance that holds the same client credentials, and a
 * value it cannot use (garbage, another key's entry, another secret's entry) is a miss that the
 * next fetch overwrites: never an error, never a store back-off.
 */
import { createM2MClient, IdpError, MemoryTokenStore, type M2MErrorEvent, type M2MTokenFetchedEvent, type TokenStore } from '../../lib/index.js';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { fresh, sleep, startScriptedIdp, type ScriptedIdp } from '../support/m2m.js';

// Failures are asserted through hooks and results; the default console logger would only add noise here.
const svc = { clientId: 'svc-report', clientSecret: 'svc-secret', logger: false as const };
let idp: MockIdp;
let scripted: ScriptedIdp;

beforeAll(async () => {
  [idp, scripted] = await Promise.all([startMockIdp(), startScriptedIdp()]);
});
afterAll(() => Promise.all([idp.close(), scripted.close()]));
beforeEach(() => {
  idp.resetStats();
  idp.faults = { mode: 'none' };
  scripted.answers = [fresh(3600)];
  scripted.requests.length = 0;
});

/** A MemoryTokenStore that remembers the keys written, so a test can tamper with them. */
class SpyStore extends MemoryTokenStore {
  keys: string[] = [];
  raw = new Map<string, unknown>();
  override get(key: string): string | undefined {
    return this.raw.has(key) ? (this.raw.get(key) as string) : super.get(key);
  }
  override set(key: string, value: string, ttlMs: number): void {
    this.keys.push(key);
    this.raw.delete(key);
    super.set(key, value, ttlMs);
  }
  /** Puts any value (not only strings) under a key, as a foreign writer could. */
  plant(key: string, value: unknown): void {
    this.raw.set(key, value);
  }
}

test('a client with the right id and endpoint but a wrong secret gets a miss, asks the IdP itself and is refused', async () => {
  const store = new MemoryTokenStore();
  const good = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store });
  const t = await good.getToken();
  await sleep(10);
  expect(store.size).toBe(1);
  expect(idp.stats.tokenRequests).toBe(1);

  const errors: [Error, M2MErrorEvent][] = [];
  const fetched: M2MTokenFetchedEvent[] = [];
  const impostor = createM2MClient({
    tokenEndpoint: idp.ciamTokenEndpoint,
    clientId: svc.clientId,
    clientSecret: 'not-the-secret',
    store,
    onError: (e, ev) => errors.push([e, ev]),
    onTokenFetched: (e) => fetched.push(e),
  });
  const err = (await impostor.getToken().catch((e: Error) => e)) as IdpError;
  expect(err).toBeInstanceOf(IdpError);
  expect(err.idpError).toBe('invalid_client');
  expect(fetched).toEqual([]); // nothing came from the store
  expect(idp.stats.tokenRequests).toBe(2); // it went to the IdP
  expect(errors.map(([, ev]) => ev.phase)).toEqual(['fetch']); // no 'store' error: a miss is not a failure
  expect(String(err.message)).not.toContain(t.accessToken);
  // the good client's entry is still there and still serves a second good instance without the IdP
  const twin = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store });
  expect((await twin.getToken()).accessToken).toBe(t.accessToken);
  expect(idp.stats.tokenRequests).toBe(2);
});

test('two secrets both accepted by the IdP (a rotation) keep separate entries and never read each other’s', async () => {
  const store = new SpyStore();
  const a = createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, clientId: 'svc', clientSecret: 'old-secret', store });
  const b = createM2MClient({ tokenEndpoint: scripted.tokenEndpoint, clientId: 'svc', clientSecret: 'new-secret', store });
  const ta = await a.getToken();
  await sleep(10);
  const tb = await b.getToken();
  await sleep(10);
  expect(tb.accessToken).not.toBe(ta.accessToken);
  expect(scripted.requests).toHaveLength(2);
  expect(new Set(store.keys).size).toBe(2);
});

test('an entry copied under another key (another scope) or sealed by another secret does not open: a miss, then overwritten', async () => {
  const store = new SpyStore();
  const errors: Error[] = [];
  const opts = { tokenEndpoint: scripted.tokenEndpoint, clientId: 'svc', clientSecret: 's1', store, onError: (e: Error) => errors.push(e) };
  const read = createM2MClient({ ...opts, scope: 'read' });
  const write = createM2MClient({ ...opts, scope: 'write' });
  const tr = await read.getToken();
  const tw = await write.getToken();
  await sleep(10);
  const [readKey, writeKey] = store.keys;
  expect(scripted.requests).toHaveLength(2);

  // the read token's sealed entry, moved under the write key: the AAD binds it to its own key
  store.plant(writeKey!, store.get(readKey!));
  const fetched: M2MTokenFetchedEvent[] = [];
  const write2 = createM2MClient({ ...opts, scope: 'write', onTokenFetched: (e) => fetched.push(e) });
  const t2 = await write2.getToken();
  expect(t2.accessToken).not.toBe(tr.accessToken);
  expect(t2.accessToken).not.toBe(tw.accessToken);
  expect(fetched.map((e) => e.source)).toEqual(['idp']);
  expect(scripted.requests).toHaveLength(3);
  await sleep(10);
  // overwritten by the fresh token: the next instance takes it from the store
  const write3 = createM2MClient({ ...opts, scope: 'write' });
  expect((await write3.getToken()).accessToken).toBe(t2.accessToken);
  expect(scripted.requests).toHaveLength(3);

  // an entry sealed under another secret, planted under this client's key
  const other = new SpyStore();
  await createM2MClient({ ...opts, clientSecret: 's2', scope: 'write', store: other }).getToken();
  await sleep(10);
  store.plant(writeKey!, other.get(other.keys[0]!));
  const write4 = createM2MClient({ ...opts, scope: 'write' });
  const t4 = await write4.getToken();
  expect(t4.accessToken).not.toBe(t2.accessToken);
  expect(scripted.requests).toHaveLength(5);
  expect(errors).toEqual([]);
});

test.each([
  ['not json', 'not json'],
  ['[]', '[]'],
  ['null', 'null'],
  ['a plain JSON token (the old format)', JSON.stringify({ accessToken: 'eyJ.stolen', tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, issuedAt: Date.now() })],
  ['an object, not a string', { accessToken: 'eyJ.stolen', tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, issuedAt: Date.now() }],
  ['a forged v1 value', 'v1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'],
  ['a number', 42],
])('garbage in the store (%s) is a miss for that key, overwritten by the fresh token, no back-off, no error', async (_name, garbage) => {
  const store = new SpyStore();
  const errors: Error[] = [];
  const opts = { tokenEndpoint: scripted.tokenEndpoint, clientId: 'svc', clientSecret: 's1', store, onError: (e: Error) => errors.push(e) };
  await createM2MClient(opts).getToken();
  await sleep(10);
  const key = store.keys[0]!;
  store.plant(key, garbage);
  const fetched: M2MTokenFetchedEvent[] = [];
  const t = await createM2MClient({ ...opts, onTokenFetched: (e) => fetched.push(e) }).getToken();
  expect(t.accessToken).not.toBe('eyJ.stolen');
  expect(fetched.map((e) => e.source)).toEqual(['idp']);
  await sleep(10);
  expect(store.keys.filter((k) => k === key)).toHaveLength(2); // written again, right after the miss
  const next = createM2MClient(opts);
  expect((await next.getToken()).accessToken).toBe(t.accessToken);
  expect(scripted.requests).toHaveLength(2);
  expect(errors).toEqual([]);
});

test('the secret is not kept in any store key or value, and no store sees a token in the clear', async () => {
  const writes: string[] = [];
  const inner = new MemoryTokenStore();
  const store: TokenStore = {
    get: (k) => inner.get(k),
    set: (k, v, ttl) => {
      writes.push(k, typeof v === 'string' ? v : JSON.stringify(v));
      inner.set(k, v, ttl);
    },
    lock: (k, ttl) => (writes.push(k), inner.lock(k, ttl)),
    unlock: (k) => inner.unlock(k),
  };
  const t = await createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store }).getToken();
  await sleep(10);
  const all = writes.join('\n');
  expect(all).not.toContain('svc-secret');
  expect(all).not.toContain(t.accessToken);
  expect(all).not.toContain(t.accessToken.split('.')[1]!);
});
