/**
 * requireAuth's DPoP replay check and proof keys under hostile conditions (issue #19): a replay
 * store that never answers (a stub, and ioredis against a loopback server that goes silent), an
 * in-memory store flooded to capacity, a jti kept exactly as long as its proof is acceptable, and
 * proof keys that are dear to verify or not the bound key. Time passes through setClock(), never
 * by sleeping.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import express from 'express';
import request from 'supertest';
import { calculateJwkThumbprint, SignJWT, type CryptoKey, type JWK } from 'jose';
import { ConfigError, oauthErrorHandler, requireAuth, type RequireAuthOptions } from '../../lib/index.js';
import { redisTokenStore } from '../../lib/redis/index.js';
import * as clock from '../../lib/clock.js';
import { setClock } from '../../lib/clock.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { redisClient } from '../../fixtures/redis-server.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';
import type { Redis } from 'ioredis';

const b64sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
const HTU = 'http://api.example.test/orders';
// Generous: the 503 comes after replayStoreTimeoutMs (500 ms); without the bound the request hangs forever.
const ANSWER_WITHIN = 10_000;

let idp: JwksServer;
let holder: DpopHolder;
beforeAll(async () => {
  idp = await startJwksServer();
  holder = await dpopHolder();
});
afterAll(() => idp.close());
afterEach(() => setClock());

interface Logged {
  warn: string[];
}

function app(dpop: RequireAuthOptions['dpop'], logged?: Logged) {
  const logger = logged && { warn: (line: string) => logged.warn.push(line), error: (line: string) => logged.warn.push(line) };
  const a = express();
  a.get('/orders', requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: logger ?? false, dpop }), (req, res) => res.json({ dpop: req.auth!.dpop ?? null }));
  a.use(oauthErrorHandler());
  return a;
}

/** Seconds on the library clock: proofs are made "now" as the guard sees it. */
const nowSeconds = () => Math.floor(clock.now() / 1000);

interface ProofParts {
  iat?: number;
  jti?: string;
  jwk?: JWK;
  alg?: string;
  key?: CryptoKey | KeyObject;
}

function proof(token: string, o: ProofParts = {}): Promise<string> {
  return new SignJWT({ htm: 'GET', htu: HTU, ath: b64sha256(token), jti: o.jti ?? randomUUID() })
    .setProtectedHeader({ alg: o.alg ?? 'ES256', typ: 'dpop+jwt', jwk: o.jwk ?? holder.jwk } as never)
    .setIssuedAt(o.iat ?? nowSeconds())
    .sign(o.key ?? holder.privateKey);
}

/** A proof whose signature is bytes of nothing: whatever checks the signature refuses it. */
function unsignedProof(token: string, jwk: JWK, alg = 'ES256'): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const payload = { htm: 'GET', htu: HTU, ath: b64sha256(token), jti: randomUUID(), iat: nowSeconds() };
  return `${enc({ alg, typ: 'dpop+jwt', jwk })}.${enc(payload)}.${randomBytes(alg === 'ES256' ? 64 : 256).toString('base64url')}`;
}

const bound = (jkt = holder.jkt) => idp.sign({ cnf: { jkt } }, { expiresIn: 3_600 });
const send = (a: express.Express, token: string, p: string) =>
  request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', p).timeout(ANSWER_WITHIN);

describe('a replay store that does not answer', () => {
  test('claim() never settles: 503 temporarily_unavailable with Retry-After after replayStoreTimeoutMs; open mode accepts and logs', async () => {
    let claims = 0;
    const frozen = { claim: () => (claims++, new Promise<boolean>(() => undefined)) };
    const token = await bound();

    const closed = await send(app({ replayStore: frozen }), token, await proof(token));
    expect(closed.status).toBe(503);
    expect(closed.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The request cannot be checked right now; try again shortly' });
    expect(closed.headers['retry-after']).toBe('5');

    const logged: Logged = { warn: [] };
    const open = await send(app({ replayStore: frozen, onReplayStoreError: 'open', replayStoreTimeoutMs: 200 }, logged), token, await proof(token));
    expect(open.status).toBe(200);
    expect(logged.warn).toEqual([
      "[express-oauth-kit] requireAuth(): The DPoP replay store did not answer within 200 ms (dpop.replayStoreTimeoutMs); the proof was accepted without the replay check (dpop.onReplayStoreError: 'open')",
    ]);
    expect(claims).toBe(2);
  });

  test('redisTokenStore() on an ioredis client whose server accepted the connection and went silent: 503, not a hung request', async () => {
    // A Redis that answered the ready check and then froze (paused, overloaded, partitioned): the
    // socket stays open, commands are written and nothing ever comes back.
    const sockets = new Set<Socket>();
    const unanswered: string[] = [];
    const server = createServer((socket) => {
      sockets.add(socket);
      let pending = '';
      let ready = false;
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        let command: string[] | undefined;
        while ((command = nextCommand()) !== undefined) {
          const name = command.slice(0, 2).join(' ').toUpperCase();
          if (ready) unanswered.push(command[0]!.toUpperCase());
          else if (name.startsWith('CLIENT SETINFO')) socket.write('+OK\r\n');
          else if (name.startsWith('INFO')) {
            const info = '# Server\r\nredis_version:7.2.0\r\nloading:0\r\n';
            socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
            ready = true;
          } else unanswered.push(command[0]!.toUpperCase());
        }
      });
      socket.on('error', () => undefined);
      /** One RESP command (an array of bulk strings) off the front of `pending`, when it is all there. */
      function nextCommand(): string[] | undefined {
        const m = /^\*(\d+)\r\n/.exec(pending);
        if (m === null) return undefined;
        let at = m[0].length;
        const parts: string[] = [];
        for (let i = 0; i < Number(m[1]); i++) {
          const len = /^\$(\d+)\r\n/.exec(pending.slice(at));
          if (len === null || pending.length < at + len[0].length + Number(len[1]) + 2) return undefined;
          at += len[0].length;
          parts.push(pending.slice(at, at + Number(len[1])));
          at += Number(len[1]) + 2;
        }
        pending = pending.slice(at);
        return parts;
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client: Redis = redisClient(`redis://127.0.0.1:${port}`);
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve);
        client.once('end', () => reject(new Error('the ioredis client never became ready')));
      });
      const token = await bound();
      const res = await send(app({ replayStore: redisTokenStore({ client, prefix: 'api:dpop:' }) }), token, await proof(token));
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(res.headers['retry-after']).toBe('5');
      expect(unanswered).toEqual(['SET']); // the SET NX was sent, and is still unanswered
    } finally {
      client.disconnect(); // not quit(): its QUIT would wait for an answer too
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test.each([
    ['{ replayStoreTimeoutMs: 0 }', { replayStoreTimeoutMs: 0 }, 'config_number', /dpop\.replayStoreTimeoutMs must be a positive number/],
    ['{ replayStoreTimeoutMs: -1 }', { replayStoreTimeoutMs: -1 }, 'config_number', /dpop\.replayStoreTimeoutMs/],
    ['{ replayStoreTimeoutMs: Number.NaN }', { replayStoreTimeoutMs: Number.NaN }, 'config_number', /dpop\.replayStoreTimeoutMs/],
    ['{ replayStoreTimeoutMs: Number.POSITIVE_INFINITY }', { replayStoreTimeoutMs: Number.POSITIVE_INFINITY }, 'config_number', /dpop\.replayStoreTimeoutMs/],
    ['{ replayStoreTimeoutMs: "500" }', { replayStoreTimeoutMs: '500' }, 'config_number', /dpop\.replayStoreTimeoutMs/],
    ['{ replayStoreTimeoutMs: 3_000_000_000 }', { replayStoreTimeoutMs: 3_000_000_000 }, 'config_number', /at most 60000/],
    ['{ replayStoreTimeout: 500 }', { replayStoreTimeout: 500 }, 'config_options', /did you mean dpop\.replayStoreTimeoutMs/],
    ['{ replayMaxEntries: 0 }', { replayMaxEntries: 0 }, 'config_number', /dpop\.replayMaxEntries must be a positive integer/],
    ['{ replayMaxEntries: 10.5 }', { replayMaxEntries: 10.5 }, 'config_number', /dpop\.replayMaxEntries/],
    ['{ replayMaxEntries: 10, replayStore: { claim } }', { replayMaxEntries: 10, replayStore: { claim: () => true } }, 'config_options', /does not apply with dpop\.replayStore/],
  ])('dpop: %s → ConfigError %s', (_label, dpop, code, message) => {
    const make = () => requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, dpop: dpop as never });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  });
});

describe('the in-memory replay store, full', () => {
  test('full of live ids: a replay is still refused, a new proof gets 503 + Retry-After (open mode too), and new proofs pass once the ids expire', async () => {
    let offset = 0;
    setClock(() => Date.now() + offset);
    const logged: Logged = { warn: [] };
    const a = app({ replayMaxEntries: 3, iatWindow: 10 }, logged);
    const token = await bound();
    const early = await proof(token);
    expect((await send(a, token, early)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await send(a, token, await proof(token))).status).toBe(200);

    const replay = await send(a, token, early);
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'The DPoP proof was already used (jti replay)' });

    const refused = await send(a, token, await proof(token));
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('temporarily_unavailable');
    // Until the earliest id expires: iat + iatWindow + iatLeeway, to the next second, + 1 s.
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10 + 5 + 2 + 1);
    expect(logged.warn).toEqual([expect.stringMatching(/holds 3 unexpired proof ids \(dpop\.replayMaxEntries\)/)]);

    // A full store is a flood, not an outage: 'open' does not let proofs through unrecorded.
    const open = app({ replayMaxEntries: 1, onReplayStoreError: 'open' });
    expect((await send(open, token, await proof(token))).status).toBe(200);
    expect((await send(open, token, await proof(token))).status).toBe(503);

    offset += (10 + 5 + 2 + 1) * 1000;
    const later = await send(a, token, await proof(token));
    expect(later.status).toBe(200);
    // The early proof is out of its window now: refused as too old, never accepted again.
    expect((await send(a, token, early)).body.error_description).toBe('The DPoP proof is too old (iat)');
  });
});

describe('how long a jti is kept', () => {
  /** A replay store that expires keys exactly when told to, on the library clock (as Redis PX does on its own). */
  function exactStore() {
    const expiries = new Map<string, number>();
    const ttls: number[] = [];
    return {
      ttls,
      claim(key: string, ttlMs: number): boolean {
        ttls.push(ttlMs);
        const held = expiries.get(key);
        if (held !== undefined && held > clock.now()) return false;
        expiries.set(key, clock.now() + ttlMs);
        return true;
      },
    };
  }

  test.each([
    ['an exact-expiry store', () => exactStore()],
    ['the in-memory store', () => undefined],
  ])('%s: a proof replayed at the last millisecond it is acceptable is refused', async (_name, makeStore) => {
    // Seconds as the claim checks count them: a proof is accepted while
    // floor(now) <= iat + iatWindow + iatLeeway, so until the last millisecond of that second.
    const s0 = Math.ceil(Date.now() / 1000) + 1;
    let t = s0 * 1000;
    setClock(() => t);
    const store = makeStore();
    const a = app({ iatWindow: 10, iatLeeway: 5, ...(store ? { replayStore: store } : {}) });
    const token = await bound();
    // Issued as far in the future as the leeway allows: its window ends latest.
    const p = await proof(token, { iat: s0 + 5 });
    expect((await send(a, token, p)).status).toBe(200);
    if (store) expect(store.ttls).toEqual([(5 + 10 + 5 + 1 + 1) * 1000]);

    t = (s0 + 5 + 10 + 5) * 1000 + 999;
    const replay = await send(a, token, p);
    expect(replay.status).toBe(401);
    expect(replay.body.error_description).toBe('The DPoP proof was already used (jti replay)');

    t += 1;
    expect((await send(a, token, p)).body.error_description).toBe('The DPoP proof is too old (iat)');
  });
});

describe('proof keys: the bound key first, and no dear RSA keys', () => {
  test('a proof under another key than cnf.jkt is refused before its signature is checked', async () => {
    const token = await bound();
    const other = await dpopHolder();
    // Garbage signature, wrong key: the key comparison answers, the signature is never looked at.
    const res = await send(app(undefined), token, unsignedProof(token, other.jwk));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_dpop_proof', error_description: 'The DPoP proof key is not the key the token is bound to (cnf.jkt)' });
    // Garbage signature, right key: then the signature is what fails.
    const own = await send(app(undefined), token, unsignedProof(token, holder.jwk));
    expect(own.body.error_description).toBe('The DPoP proof signature is invalid');
  });

  test('an RSA proof key with a public exponent other than 65537 is refused by name, even when it is the bound key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), e: Buffer.alloc(256, 0xff).toString('base64url') };
    const token = await bound(await calculateJwkThumbprint(jwk));
    const res = await send(app(undefined), token, await proof(token, { alg: 'RS256', jwk, key: privateKey }));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_dpop_proof', error_description: 'The DPoP proof RSA key must have the public exponent 65537 ("e": "AQAB")' });
    expect(res.headers['www-authenticate']).toMatch(/^DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof RSA key must have the public exponent 65537/);
  });

  test.each([
    ['1024-bit', 128],
    ['4104-bit', 513],
  ])('an RSA proof key with a %s modulus is refused by name', async (_name, bytes) => {
    const n = randomBytes(bytes);
    n[0] |= 0x80;
    const jwk: JWK = { kty: 'RSA', e: 'AQAB', n: n.toString('base64url') };
    const token = await bound(await calculateJwkThumbprint(jwk));
    const res = await send(app(undefined), token, unsignedProof(token, jwk, 'RS256'));
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The DPoP proof RSA key must have a 2048 to 4096-bit modulus');
  });

  test('an ordinary RSA 2048 proof key (e = 65537) passes', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as JWK;
    const jkt = await calculateJwkThumbprint(jwk);
    const token = await bound(jkt);
    const res = await send(app(undefined), token, await proof(token, { alg: 'PS256', jwk, key: privateKey }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ dpop: { jkt } });
  });
});
