/** The TokenStore contract: instances sharing one store, store outages, and what is stored. */
import { createM2MClient, MemoryTokenStore, TokenStoreError, type M2MErrorEvent, type M2MTokenFetchedEvent, type TokenStore } from '../../lib/index.js';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { sleep, until } from '../support/m2m.js';

// Failures are asserted through hooks and results; the default console logger would only add noise here.
const svc = { clientId: 'svc-report', clientSecret: 'svc-secret', logger: false as const };
let idp: MockIdp;

beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.resetStats();
  idp.faults = { mode: 'none' };
});

/** Adds an async hop to every call, like a network store would. */
class AsyncStore implements TokenStore {
  readonly inner = new MemoryTokenStore();
  calls: string[] = [];
  async get(key: string) {
    this.calls.push('get');
    await sleep(1);
    return this.inner.get(key);
  }
  async set(key: string, value: string, ttlMs: number) {
    this.calls.push('set');
    await sleep(1);
    this.inner.set(key, value, ttlMs);
  }
  async delete(key: string) {
    this.calls.push('delete');
    this.inner.delete(key);
  }
  async lock(key: string, ttlMs: number) {
    this.calls.push('lock');
    await sleep(1);
    return this.inner.lock(key, ttlMs);
  }
  async unlock(key: string) {
    this.calls.push('unlock');
    this.inner.unlock(key);
  }
}

test('4 instances × 250 concurrent cold calls sharing a store with a lock → exactly 1 IdP request', async () => {
  idp.faults = { mode: 'slow', delayMs: 100, count: 1 };
  const store = new AsyncStore();
  const sources: string[] = [];
  const clients = Array.from({ length: 4 }, () =>
    createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store, onTokenFetched: (e) => sources.push(e.source) }),
  );
  const tokens = await Promise.all(clients.flatMap((c) => Array.from({ length: 250 }, () => c.getToken())));
  expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
  expect(idp.stats.tokenRequests).toBe(1);
  expect(sources.sort()).toEqual(['idp', 'store', 'store', 'store']);
  // warm calls never touch the store
  const before = store.calls.length;
  await Promise.all(clients.map((c) => c.getToken()));
  expect(store.calls.length).toBe(before);
});

test('the store holds the token sealed (AES-256-GCM, versioned), with TTL = lifetime minus skew', async () => {
  const seen: { key: string; value: string; ttl: number }[] = [];
  const inner = new MemoryTokenStore();
  const store: TokenStore = {
    get: (k) => inner.get(k),
    set: (k, v, ttl) => {
      seen.push({ key: k, value: v, ttl });
      inner.set(k, v, ttl);
    },
  };
  const t = await createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store }).getToken();
  await sleep(10);
  expect(seen).toHaveLength(1);
  // v1.<iv 12 bytes>.<ciphertext>.<tag 16 bytes>, base64url: neither the token nor its expiry in the clear
  expect(seen[0]!.value).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  expect(seen[0]!.value).not.toContain(t.accessToken);
  expect(seen[0]!.value).not.toContain(t.accessToken.slice(0, 12));
  expect(seen[0]!.value).not.toContain(String(t.expiresAt));
  // the key names the client and the token wanted, plus an id of the credentials (from the slow KDF)
  expect(seen[0]!.key).toMatch(/^m2m1:\[.*"svc-report".*\]#[A-Za-z0-9_-]{16}$/);
  expect(seen[0]!.key).not.toContain('svc-secret');
  expect(seen[0]!.ttl).toBeGreaterThan(3540_000 - 1000);
  expect(seen[0]!.ttl).toBeLessThanOrEqual(3540_000);
  expect(JSON.stringify(seen)).not.toContain('svc-secret');
  const b64 = (x: string) => [Buffer.from(x).toString('base64'), Buffer.from(x).toString('base64url'), Buffer.from(x).toString('hex')];
  for (const enc of b64('svc-secret')) expect(JSON.stringify(seen)).not.toContain(enc);
});

test('a refresh by one instance is picked up by another at its refresh point, without an IdP request', async () => {
  const short = await startMockIdp({ accessTokenTtl: 2 });
  try {
    const store = new MemoryTokenStore();
    const opts = { tokenEndpoint: short.ciamTokenEndpoint, ...svc, store, refreshAhead: 0.5 };
    const fetchedA: M2MTokenFetchedEvent[] = [];
    const fetchedB: M2MTokenFetchedEvent[] = [];
    const a = createM2MClient({ ...opts, onTokenFetched: (e) => fetchedA.push(e) });
    const b = createM2MClient({ ...opts, onTokenFetched: (e) => fetchedB.push(e) });
    const t1 = await a.getToken();
    expect(await b.getToken()).toEqual(t1);
    await sleep(600);
    expect(await a.getToken()).toBe(t1); // starts A's background refresh
    await until(() => fetchedA.length === 2);
    expect(fetchedA[1]).toMatchObject({ source: 'idp', background: true, waiters: 0 });
    const t2 = await a.getToken();
    expect(t2.accessToken).not.toBe(t1.accessToken);
    expect((await b.getToken()).accessToken).toBe(t1.accessToken); // B's refresh finds t2 in the store
    await until(() => fetchedB.length === 2);
    expect((await b.getToken()).accessToken).toBe(t2.accessToken);
    expect(short.stats.tokenRequests).toBe(2);
    expect(fetchedB.map((e) => [e.source, e.background])).toEqual([
      ['store', false],
      ['store', true],
    ]);
  } finally {
    await short.close();
  }
});

test('a throwing store is reported through onError and never fails getToken', async () => {
  const errors: [Error, M2MErrorEvent][] = [];
  const broken: TokenStore = {
    get: () => {
      throw Object.assign(new Error('connect ECONNREFUSED with token eyJsecret'), { code: 'ECONNREFUSED' });
    },
    set: async () => {
      throw new Error('down');
    },
    lock: async () => {
      throw new Error('down');
    },
    unlock: async () => undefined,
  };
  const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store: broken, onError: (e, ev) => errors.push([e, ev]) });
  const t = await client.getToken();
  expect(t.accessToken).toBeTruthy();
  expect(await client.getToken()).toBe(t);
  await sleep(10);
  // one report per outage: after the failed get() the store is left alone for storeBackoff
  const ops = errors.map(([e]) => (e as TokenStoreError).operation);
  expect(ops).toEqual(['get']);
  const [first, ev] = errors[0]!;
  expect(first).toBeInstanceOf(TokenStoreError);
  expect(first.message).toMatch(/get\(\) failed \(Error ECONNREFUSED\)/);
  expect(first.message).not.toContain('eyJ');
  expect(ev).toMatchObject({ phase: 'store', clientId: 'svc-report' });
  expect(idp.stats.tokenRequests).toBe(1);
});

test('a store that hangs costs at most storeTimeout per call', async () => {
  const errors: Error[] = [];
  const hanging: TokenStore = { get: () => new Promise(() => {}), set: () => new Promise(() => {}) };
  const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store: hanging, storeTimeoutMs: 50, onError: (e) => errors.push(e) });
  const t0 = Date.now();
  await client.getToken();
  // 50 ms for the store, plus the IdP and the one-time key derivation (scrypt) of a client with a
  // store; a client that waited the default storeTimeout (1000 ms), or for ever, would fail this.
  expect(Date.now() - t0).toBeLessThan(1000);
  await sleep(80);
  expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/get\(\) did not answer within 50 ms/)]);
});

test('after an outage the store is used again once storeBackoff has passed', async () => {
  const inner = new MemoryTokenStore();
  let down = true;
  const flaky: TokenStore = {
    get: (k) => {
      if (down) throw new Error('down');
      return inner.get(k);
    },
    set: (k, v, ttl) => {
      if (down) throw new Error('down');
      inner.set(k, v, ttl);
    },
  };
  const errors: Error[] = [];
  const opts = { tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store: flaky, storeBackoffMs: 100, onError: (e: Error) => errors.push(e) };
  const a = createM2MClient(opts);
  await a.getToken();
  expect(inner.size).toBe(0);
  down = false;
  await sleep(120);
  await a.getToken({ forceRefresh: true }); // publishes to the store again
  await sleep(10);
  expect(inner.size).toBe(1);
  const b = createM2MClient(opts);
  expect((await b.getToken()).accessToken).toBe((await a.getToken()).accessToken);
  expect(idp.stats.tokenRequests).toBe(2);
  expect(errors).toHaveLength(1);
});

test('a lock holder that never publishes: the others fetch after storeLockWait', async () => {
  const store = new MemoryTokenStore();
  const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store, storeLockWaitMs: 150 });
  // someone else holds the lock for this key and dies (the store key: learnt from a probe with the same credentials)
  let key = '';
  const probeStore: TokenStore = { get: () => undefined, set: (k) => void (key = k) };
  const probe = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store: probeStore });
  await probe.getToken();
  await until(() => key !== '');
  idp.resetStats();
  store.lock(key, 60_000);
  const t0 = Date.now();
  await client.getToken();
  expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  expect(idp.stats.tokenRequests).toBe(1);
});

test('corrupt store values are ignored; a rejected token is deleted from the store', async () => {
  const store = new MemoryTokenStore();
  const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store });
  const t = await client.getToken();
  await sleep(5);
  expect(store.size).toBe(1);
  await client.invalidate({ accessToken: t.accessToken });
  expect(store.size).toBe(0);
  const other = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store: { get: () => ({ accessToken: 1 }) as never, set: () => {} } });
  expect((await other.getToken()).accessToken).toBeTruthy();
});
