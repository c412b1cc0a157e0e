/**
 * The adapters (nodeAuth, webAuth, requireAuth) against a hostile client and a careless operator:
 * forwarded headers that are not what they claim, request bodies that break off, options built on
 * a shared prototype. Real servers on 127.0.0.1; raw sockets where a client library would tidy
 * the request up.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { jest } from '@jest/globals';
import express from 'express';
import { SignJWT } from 'jose';
import { createGuard, createM2MClient, nodeAuth, oauthErrorHandler, requireAuth, tokenProxy, webAuth, type GuardOptions, type TokenProxyOptions } from '../../lib/index.js';
import { startMockIdp } from '../../fixtures/mock-idp/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { setClock } from '../../lib/clock.js';
import { MemoryReplayStore, ReplayStoreFullError } from '../../lib/guard/dpop/replay.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';

let idp: JwksServer;
let holder: DpopHolder;
const servers: Listening[] = [];
beforeAll(async () => {
  idp = await startJwksServer({ algs: ['ES256'] });
  holder = await dpopHolder();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await idp.close();
});

const base = (): GuardOptions => ({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false });

function proof(token: string, htu: string): Promise<string> {
  return new SignJWT({ jti: randomUUID(), htm: 'GET', htu, ath: createHash('sha256').update(token).digest('base64url') })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
    .setIssuedAt()
    .sign(holder.privateKey);
}

/** Sends exactly these bytes and resolves to the status and body of the answer. */
function raw(port: number, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (d) => (data += d.toString('utf8')));
    socket.on('end', () => {
      const head = data.slice(0, data.indexOf('\r\n\r\n'));
      let body = data.slice(head.length + 4);
      if (/\r\ntransfer-encoding: chunked/i.test(head)) body = dechunk(body);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]), body });
    });
    socket.on('error', reject);
  });
}

function dechunk(text: string): string {
  let out = '';
  for (let at = 0; ; ) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

async function serveNode(options: GuardOptions, trustProxy: boolean): Promise<Listening> {
  const auth = nodeAuth(createGuard<IncomingMessage>(options), { trustProxy });
  const s = await listen(async (req, res) => {
    const result = await auth(req, res);
    if (result === undefined) return;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ sub: result?.payload.sub ?? null }));
  });
  servers.push(s);
  return s;
}

describe('DPoP htu and a forwarded scheme that is not a scheme', () => {
  // Behind a proxy that appends to X-Forwarded-Proto (or passes the client's through), its first
  // value is the client's. Spliced into "<proto>://<host><path>", a value such as
  // "https://other.example/me?" named another origin: a proof captured for that origin (a
  // phishing endpoint the client was lured to) passed here.
  const forged = 'https://other.example/me?';

  test('nodeAuth trustProxy: X-Forwarded-Proto carrying a URL does not make a proof for another origin pass', async () => {
    const api = await serveNode(base(), true);
    const token = await idp.sign({ sub: 'bound', cnf: { jkt: holder.jkt } });
    const stolen = await proof(token, 'https://other.example/me');
    const res = await raw(api.port, `GET /me HTTP/1.1\r\nHost: api.example.test\r\nX-Forwarded-Proto: ${forged}\r\nAuthorization: DPoP ${token}\r\nDPoP: ${stolen}\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_dpop_proof' });
    // Control: the forwarded scheme proper still counts.
    const good = await proof(token, 'https://api.example.test/me');
    const ok = await raw(api.port, `GET /me HTTP/1.1\r\nHost: api.example.test\r\nX-Forwarded-Proto: https\r\nAuthorization: DPoP ${token}\r\nDPoP: ${good}\r\nConnection: close\r\n\r\n`);
    expect(ok.status).toBe(200);
  });

  test('requireAuth behind trust proxy: X-Forwarded-Proto carrying a URL does not make a proof for another origin pass', async () => {
    const app = express();
    app.set('trust proxy', true);
    app.get('/me', requireAuth(base()), (_req, res) => res.json({ ok: true }));
    app.use(oauthErrorHandler());
    const api = await listen(app);
    servers.push(api);
    const token = await idp.sign({ sub: 'bound', cnf: { jkt: holder.jkt } });
    const stolen = await proof(token, 'https://other.example/me');
    const res = await raw(api.port, `GET /me HTTP/1.1\r\nHost: api.example.test\r\nX-Forwarded-Proto: ${forged}\r\nAuthorization: DPoP ${token}\r\nDPoP: ${stolen}\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_dpop_proof' });
  });
});

describe('webAuth and a request body', () => {
  /**
   * A Node host of web handlers: the body is the request's stream, as the usual bridges pass it.
   * Each answer of webAuth is kept for the test, since a client that broke off hears none.
   */
  async function serveWeb(options: GuardOptions, outcomes: unknown[], consumeFirst = false): Promise<Listening> {
    const auth = webAuth(createGuard<Request>(options));
    const s = await listen(async (req: IncomingMessage, res: ServerResponse) => {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
        duplex: 'half',
      } as RequestInit);
      if (consumeFirst) await request.text().catch(() => undefined);
      let result: unknown;
      try {
        result = await auth(request);
      } catch (err) {
        result = err;
      }
      outcomes.push(result instanceof Response ? { status: result.status, body: await result.json() } : result);
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(result instanceof Response ? result.status : 200).end();
    });
    servers.push(s);
    return s;
  }

  /** Resolves once `outcomes` holds an answer (the server writes it whether or not the client hears it). */
  async function next(outcomes: unknown[]): Promise<unknown> {
    while (outcomes.length === 0) await new Promise((r) => setTimeout(r, 20));
    return outcomes.shift();
  }

  test('a form body the client breaks off is not a 500 (nor a console.error line per request): the request has no body token', async () => {
    const outcomes: unknown[] = [];
    const api = await serveWeb({ ...base(), tokenLocations: ['body'] }, outcomes);
    const errors = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const socket = net.connect(api.port, '127.0.0.1', () =>
        socket.write('POST /me HTTP/1.1\r\nHost: api.example.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\naccess_token=abc'),
      );
      socket.on('error', () => {});
      // The body never comes: the client goes away.
      setTimeout(() => socket.destroy(), 100);
      const outcome = await next(outcomes);
      expect(outcome).toMatchObject({ status: 401 });
      expect(errors).not.toHaveBeenCalled();
    } finally {
      errors.mockRestore();
    }
  });

  test('held: a body token counts only in a small form body; JSON, a big body or one without Content-Length is not searched; body and query together are two methods', async () => {
    const outcomes: unknown[] = [];
    const api = await serveWeb({ ...base(), tokenLocations: ['body', 'query'] }, outcomes);
    const token = await idp.sign({ sub: 'alice' });
    const post = (type: string, body: string, extra = '', target = '/me') =>
      raw(api.port, `POST ${target} HTTP/1.1\r\nHost: a\r\nContent-Type: ${type}\r\n${extra}Connection: close\r\n\r\n${body}`);
    const form = `access_token=${token}`;
    expect((await post('application/x-www-form-urlencoded', form, `Content-Length: ${form.length}\r\n`)).status).toBe(200);
    const json = JSON.stringify({ access_token: token });
    expect((await post('application/json', json, `Content-Length: ${json.length}\r\n`)).status).toBe(401);
    const big = `${form}&pad=${'x'.repeat(70_000)}`;
    expect((await post('application/x-www-form-urlencoded', big, `Content-Length: ${big.length}\r\n`)).status).toBe(401);
    const chunked = `${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n`;
    expect((await post('application/x-www-form-urlencoded', chunked, 'Transfer-Encoding: chunked\r\n')).status).toBe(401);
    expect((await post('application/x-www-form-urlencoded', form, `Content-Length: ${form.length}\r\n`, `/me?access_token=${token}`)).status).toBe(400);
  });

  test('a body the application read before the guard is its bug: a 500 that says so to the operator, not a silent 401', async () => {
    const outcomes: unknown[] = [];
    const api = await serveWeb({ ...base(), tokenLocations: ['body'] }, outcomes, true);
    const errors = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const token = await idp.sign({ sub: 'alice' });
      const body = `access_token=${token}`;
      const res = await raw(api.port, `POST /me HTTP/1.1\r\nHost: api.example.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      expect(res.status).toBe(500);
      expect(await next(outcomes)).toMatchObject({ status: 500, body: { error: 'server_error' } });
      expect(errors).toHaveBeenCalledTimes(1);
    } finally {
      errors.mockRestore();
    }
  });
});

describe('option renames and options built on a shared prototype', () => {
  // A careless but ordinary pattern: per-route options on a prototype of shared settings. An old
  // option name made renamed() copy the own keys only, and every inherited setting vanished.
  test('an old option name does not drop the inherited settings (dpop.mode required stays required)', async () => {
    const shared = { dpop: { mode: 'required' } };
    const options = Object.assign(Object.create(shared) as GuardOptions, { ...base(), clockTolerance: 5 });
    const api = await serveNode(options, false);
    const res = await raw(api.port, `GET /me HTTP/1.1\r\nHost: api.example.test\r\nAuthorization: Bearer ${await idp.sign({ sub: 'alice' })}\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token' });
  });

  test('an old option name on the prototype is read like a new one there (maxTokenAge still limits token age)', async () => {
    const shared = { maxTokenAge: 60 };
    const options = Object.assign(Object.create(shared) as GuardOptions, base());
    const api = await serveNode(options, false);
    const old = await idp.sign({ sub: 'alice', iat: Math.floor(Date.now() / 1000) - 3600 });
    const res = await raw(api.port, `GET /me HTTP/1.1\r\nHost: api.example.test\r\nAuthorization: Bearer ${old}\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(401);
  });

  test('a "__proto__" key from JSON stays an unknown option, old name or not (never becomes the prototype)', () => {
    const json = (extra: string) => JSON.parse(`{"issuer":"${idp.issuer}","audience":"${idp.audience}","jwksUri":"${idp.jwksUri}","__proto__":{"authRequired":false}${extra}}`) as GuardOptions;
    expect(() => createGuard(json(''))).toThrow(/unknown option "__proto__"/);
    expect(() => createGuard(json(',"clockTolerance":5'))).toThrow(/unknown option "__proto__"/);
    const cookie = JSON.parse('{"allowedOrigins":["https://app.example.test"],"maxAge":60,"__proto__":{"csrfHeader":"x"}}') as object;
    expect(() => tokenProxy({ tokenEndpoint: 'https://idp.example/token', clientId: 'c', clientSecret: 's', cookie } as TokenProxyOptions)).toThrow(/unknown option "cookie.__proto__"|__proto__/);
  });

  test('a frozen options object with an old name works as before', () => {
    expect(() => createGuard(Object.freeze({ ...base(), clockTolerance: 5 }) as GuardOptions)).not.toThrow();
  });

  test('old and new name, one own and one inherited, is the same ConfigError as both own', () => {
    expect(() => createGuard(Object.assign(Object.create({ maxTokenAgeSeconds: 60 }) as GuardOptions, { ...base(), maxTokenAge: 600 }))).toThrow(/both "maxTokenAge" and "maxTokenAgeSeconds"/);
    expect(() => createGuard(Object.assign(Object.create({ maxTokenAge: 600 }) as GuardOptions, { ...base(), maxTokenAgeSeconds: 60 }))).toThrow(/both "maxTokenAge" and "maxTokenAgeSeconds"/);
  });
});

describe('a careless operator and timers', () => {
  // setTimeout and AbortSignal.timeout fire after 1 ms (or throw) beyond 2^31-1 ms: "wait a very
  // long time" would mean "fail every call at once". Refused at start-up, as other timer options are.
  test('jwksTimeoutMs and storeLockWaitMs beyond a timer\'s range are ConfigErrors', () => {
    expect(() => createGuard({ ...base(), jwksTimeoutMs: 3_000_000_000 })).toThrow(/jwksTimeoutMs must be a positive integer of at most 2147483647/);
    expect(() => createGuard({ ...base(), jwksTimeoutMs: 2_147_483_647 })).not.toThrow();
    const m2m = { tokenEndpoint: 'https://idp.example/token', clientId: 'c', clientSecret: 's' };
    expect(() => createM2MClient({ ...m2m, storeLockWaitMs: 3_000_000_000 })).toThrow(/storeLockWaitMs must be a positive number of at most 2147483647/);
    expect(() => createM2MClient({ ...m2m, storeLockWaitMs: 2_147_483_647 })).not.toThrow();
  });
});

describe('held: nodeAuth against odd requests (raw bytes, as a hostile client sends them)', () => {
  let api: Listening;
  beforeAll(async () => (api = await serveNode({ ...base(), tokenLocations: ['query'] }, false)));
  const send = (lines: string[]) => raw(api.port, `${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);

  test('"authorization" and "Authorization" are two headers: 400 invalid_request', async () => {
    const t = await idp.sign();
    const res = await send(['GET /me HTTP/1.1', 'Host: a', `authorization: Bearer ${t}`, `Authorization: Bearer ${t}`]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/more than one Authorization header/) });
  });

  test('a token in the query and the header, or access_token twice: 400 invalid_request', async () => {
    const t = await idp.sign();
    expect((await send([`GET /me?access_token=${t} HTTP/1.1`, 'Host: a', `Authorization: Bearer ${t}`])).status).toBe(400);
    expect((await send([`GET /me?access_token=${t}&access_token=${t} HTTP/1.1`, 'Host: a'])).status).toBe(400);
  });

  test('an absolute-form target naming another host matches no DPoP proof, whatever the proof names', async () => {
    const token = await idp.sign({ sub: 'bound', cnf: { jkt: holder.jkt } });
    for (const htu of ['http://evil.example/me', 'http://a/me']) {
      const res = await send(['GET http://evil.example/me HTTP/1.1', 'Host: a', `Authorization: DPoP ${token}`, `DPoP: ${await proof(token, htu)}`]);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_dpop_proof' });
    }
  });

  test('without trustProxy, X-Forwarded-Proto is not believed', async () => {
    const token = await idp.sign({ sub: 'bound', cnf: { jkt: holder.jkt } });
    const res = await send(['GET /me HTTP/1.1', 'Host: a', 'X-Forwarded-Proto: https', `Authorization: DPoP ${token}`, `DPoP: ${await proof(token, 'https://a/me')}`]);
    expect(res.status).toBe(401);
  });

  test('NUL in the header value and a 20 kB header never reach the guard (Node answers 400 / 431)', async () => {
    expect((await send(['GET /me HTTP/1.1', 'Host: a', 'Authorization: Bearer a\u0000b'])).status).toBe(400);
    expect((await send(['GET /me HTTP/1.1', 'Host: a', `Authorization: Bearer ${'a'.repeat(20_000)}`])).status).toBe(431);
  });
});

describe('held: webAuth and repeated headers joined by Headers', () => {
  let api: Listening;
  beforeAll(async () => {
    const auth = webAuth(createGuard<Request>({ ...base(), tokenLocations: ['query'] }));
    api = await listen(async (req: IncomingMessage, res: ServerResponse) => {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      const result = await auth(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers }));
      res.writeHead(result instanceof Response ? result.status : 200).end(result instanceof Response ? await result.text() : '{}');
    });
    servers.push(api);
  });
  const send = (lines: string[]) => raw(api.port, `${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);

  test('Bearer twice, an empty one first, Basic then Bearer, a bare token second: each is two headers (400)', async () => {
    const t = await idp.sign();
    for (const pair of [[`Bearer ${t}`, `Bearer ${t}`], ['Basic eDp5', `Bearer ${t}`], [`Bearer ${t}`, t], [`DPoP ${t}`, `bearer ${t}`]]) {
      const res = await send(['GET /me HTTP/1.1', 'Host: a', `Authorization: ${pair[0]}`, `authorization: ${pair[1]}`]);
      expect([pair, res.status]).toEqual([pair, 400]);
    }
    // An empty first header joins as ", Bearer …": never a token.
    const res = await send(['GET /me HTTP/1.1', 'Host: a', 'Authorization:', `Authorization: Bearer ${t}`]);
    expect(res.status).not.toBe(200);
  });
});

describe('held: a logger that throws', () => {
  test('a logger whose methods turn into throwing getters after start-up never changes an answer (503 stays 503)', async () => {
    const down = await startJwksServer({ algs: ['ES256'] });
    down.mode = 'down';
    let armed = false;
    const boom = () => {
      if (armed) throw new Error('logger getter exploded');
      return () => {};
    };
    const logger = Object.defineProperties({}, { warn: { get: boom }, error: { get: boom }, debug: { get: boom } }) as never;
    try {
      const api = await serveNode({ issuer: down.issuer, audience: down.audience, jwksUri: down.jwksUri, logger }, false);
      armed = true;
      const res = await raw(api.port, `GET /me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${await down.sign()}\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      await down.close();
    }
  });
});

describe('an issuers resolver that hangs (a tenant database that accepts the connection and never answers)', () => {
  test('the wait is bounded by jwksTimeoutMs (503), and the guard recovers once the resolver answers again', async () => {
    let hang = true;
    let asked = 0;
    const api = await serveNode(
      {
        issuers: (iss: string) => {
          asked += 1;
          if (hang) return new Promise<never>(() => {});
          return Promise.resolve(iss === idp.issuer ? { issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri } : undefined);
        },
        jwksTimeoutMs: 2_000,
        logger: false,
      },
      false,
    );
    const get = async () => raw(api.port, `GET /me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${await idp.sign({ sub: 'alice' })}\r\nConnection: close\r\n\r\n`);
    const stuck = await get();
    expect(stuck.status).toBe(503);
    expect(JSON.parse(stuck.body)).toMatchObject({ error: 'temporarily_unavailable' });
    // The hung call is not shared with later requests for ever: once the database answers, so does the guard.
    hang = false;
    const ok = await get();
    expect(ok.status).toBe(200);
    expect(asked).toBe(2);
  }, 20_000);
});

describe('the default line for an unexpected error', () => {
  test('oauthErrorHandler: an error whose message carries request data (a decoded %0a) cannot forge log lines', async () => {
    const app = express();
    app.get('/orders/:id', (req) => {
      throw new Error(`no order ${req.params.id}`);
    });
    app.use(oauthErrorHandler());
    const api = await listen(app);
    servers.push(api);
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    try {
      const res = await raw(api.port, 'GET /orders/1%0a%5bexpress-oauth-kit%5d%20forged HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      expect(res.status).toBe(500);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^\[express-oauth-kit\] unexpected error: Error: no order 1 \[express-oauth-kit\] forged$/);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('held: the in-memory DPoP replay store under a flood of distinct jtis', () => {
  test('full of live ids, each new claim is refused without a scan: at most one sweep per expiry second', () => {
    let t = 1_700_000_000_000;
    setClock(() => t);
    // The sweep walks the whole map; counting map walks counts sweeps.
    const walk = Map.prototype[Symbol.iterator];
    let scans = 0;
    Map.prototype[Symbol.iterator] = function counted(this: Map<unknown, unknown>) {
      scans += 1;
      return walk.call(this);
    } as typeof walk;
    const store = new MemoryReplayStore(1_000);
    try {
      for (let i = 0; i < 1_000; i++) store.claim(`fill-${i}`, 10_000 + (i % 5) * 1_000);
      // Full, nothing expired: 20,000 distinct jtis are each refused at once.
      let refused = 0;
      for (let i = 0; i < 20_000; i++) {
        try {
          store.claim(`flood-${i}`, 10_000);
        } catch (err) {
          if (err instanceof ReplayStoreFullError) refused += 1;
        }
      }
      expect(refused).toBe(20_000);
      expect(scans).toBe(0);
      // Time passes: the first second's ids expire; the flood goes on through that second.
      t += 11_000;
      let admitted = 0;
      for (let i = 0; i < 20_000; i++) {
        try {
          if (store.claim(`later-${i}`, 10_000)) admitted += 1;
        } catch {
          // refused once full again
        }
      }
      expect(admitted).toBe(400); // the places left by the ids of the first two seconds (expiry <= now)
      expect(scans).toBe(1);
      // A live id still replays as a replay.
      expect(store.claim('fill-4', 10_000)).toBe(false);
    } finally {
      Map.prototype[Symbol.iterator] = walk;
      setClock();
    }
  });
});

describe('option renames in a nested object, on options built on a shared prototype', () => {
  test('tokenProxy: an old cookie option name does not drop the inherited grants (password stays refused)', async () => {
    const mock = await startMockIdp();
    try {
      const shared = { grants: ['refresh_token'] };
      const options = Object.assign(Object.create(shared) as TokenProxyOptions, {
        profile: 'ciam' as const,
        tokenEndpoint: mock.ciamTokenEndpoint,
        clientId: 'web-app',
        clientSecret: 'web-secret',
        logger: false as const,
        cookie: { allowedOrigins: ['https://app.example.test'], maxAge: 3600 },
      });
      const app = express();
      app.post('/auth/token', tokenProxy(options));
      const api = await listen(app);
      servers.push(api);
      const body = 'grant_type=password&username=alice&password=pw';
      const res = await raw(
        api.port,
        `POST /auth/token HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.test\r\nX-CSRF-Token: 1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      expect(JSON.parse(res.body)).toMatchObject({ error: 'unsupported_grant_type' });
      expect(res.status).toBe(400);
    } finally {
      await mock.close();
    }
  });
});

describe('operator lines a client can choose', () => {
  test('a resolver outage: tokens with made-up issuers do not write a line each (a client cannot flood the log)', async () => {
    const warn: string[] = [];
    const error: string[] = [];
    const api = await serveNode(
      {
        issuers: () => Promise.reject(new Error('tenant db down')),
        logger: { warn: (m: string) => void warn.push(m), error: (m: string) => void error.push(m) },
      },
      false,
    );
    for (let i = 0; i < 30; i++) {
      const token = await idp.sign({ iss: `https://t${i}.attacker.example` });
      const res = await raw(api.port, `GET /me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(503);
    }
    expect(error).toEqual([]);
    expect(warn.length).toBeGreaterThanOrEqual(1);
    expect(warn.length).toBeLessThanOrEqual(10);
  });
});
