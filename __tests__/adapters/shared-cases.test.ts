/**
 * One case table, three adapters of the one guard core: requireAuth() in Express (with
 * oauthErrorHandler), nodeAuth() in a node:http server, and webAuth() behind a node:http server
 * that bridges to a web-standard Request/Response. Every case goes over real HTTP on 127.0.0.1,
 * and every adapter must give the same status, WWW-Authenticate, Retry-After and JSON body.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { createGuard, nodeAuth, oauthErrorHandler, requireAuth, webAuth, type AuthResult, type GuardOptions } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { createTestIssuer, type TestIssuer } from 'express-oauth-kit/testing';

type Adapter = 'express' | 'node' | 'web';
const ADAPTERS: Adapter[] = ['express', 'node', 'web'];

interface Answer {
  status: number;
  challenge: string | undefined;
  retryAfter: string | undefined;
  body: unknown;
}

let idp: TestIssuer;
// The kit's issuer is always up: the outage case keeps the fixture with a switch.
let downIdp: JwksServer;
const servers: Listening[] = [];
/** Base URL per adapter, for the normal guard and for one whose JWKS is down. */
const up = {} as Record<Adapter, string>;
const down = {} as Record<Adapter, string>;

const ok = (auth: AuthResult) => JSON.stringify({ sub: auth.payload.sub ?? null, dpop: auth.dpop ?? null });

function serve(adapter: Adapter, options: GuardOptions): Promise<Listening> {
  if (adapter === 'express') {
    const app = express();
    app.get('/me', requireAuth(options), (req, res) => res.type('json').send(ok(req.auth!)));
    app.use(oauthErrorHandler());
    return listen(app);
  }
  if (adapter === 'node') {
    const auth = nodeAuth(createGuard<IncomingMessage>(options));
    return listen(async (req, res) => {
      const result = await auth(req, res);
      if (!result) return;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(ok(result));
    });
  }
  const auth = webAuth(createGuard<Request>(options));
  return listen(async (req: IncomingMessage, res: ServerResponse) => {
    // The bridge a Node host of web handlers runs: repeated headers are appended, as fetch does.
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const result = await auth(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers }));
    if (result instanceof Response) {
      const out: Record<string, string> = {};
      result.headers.forEach((v, k) => (out[k] = v));
      res.writeHead(result.status, out).end(await result.text());
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(ok(result!));
  });
}

beforeAll(async () => {
  idp = await createTestIssuer();
  downIdp = await startJwksServer({ algs: ['ES256'] });
  downIdp.mode = 'down';
  for (const adapter of ADAPTERS) {
    const normal = await serve(adapter, { issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, tokenCookie: 'at', logger: false });
    const broken = await serve(adapter, { issuer: downIdp.issuer, audience: downIdp.audience, jwksUri: downIdp.jwksUri, logger: false });
    servers.push(normal, broken);
    up[adapter] = normal.url;
    down[adapter] = broken.url;
  }
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await idp.close();
  await downIdp.close();
});

/** GET `url` with these headers; a header given as an array is sent as that many header lines. */
function get(url: string, headers: Record<string, string | string[]>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          challenge: res.headers['www-authenticate'],
          retryAfter: res.headers['retry-after'],
          body: text === '' ? undefined : JSON.parse(text),
        }),
      );
    });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.on('error', reject);
    req.end();
  });
}

const proof = (url: string, token: string): Promise<string> => idp.dpopProof({ htm: 'GET', htu: url, accessToken: token });

interface Case {
  name: string;
  /** The headers to send, built per adapter (a DPoP proof names the adapter's own URL). */
  headers: (url: string) => Promise<Record<string, string | string[]>>;
  /** The guard whose JWKS is down. */
  jwksDown?: boolean;
  expect: (a: Answer) => void;
}

const CHALLENGE = 'Bearer realm="api", DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const CASES: Case[] = [
  {
    name: 'no token → 401 with the bare challenge',
    headers: async () => ({}),
    expect: (a) => {
      expect(a.status).toBe(401);
      expect(a.challenge).toBe(CHALLENGE);
    },
  },
  {
    name: 'malformed Authorization header → 400 invalid_request',
    headers: async () => ({ authorization: 'Bearer abc"def' }),
    expect: (a) => {
      expect(a.status).toBe(400);
      expect(a.body).toMatchObject({ error: 'invalid_request' });
      expect(a.challenge).toMatch(/^Bearer realm="api", error="invalid_request"/);
    },
  },
  {
    name: 'two Authorization headers → 400 invalid_request',
    headers: async () => ({ authorization: [`Bearer ${await idp.sign()}`, `Bearer ${await idp.sign({ sub: 'other' })}`] }),
    expect: (a) => {
      expect(a.status).toBe(400);
      expect(a.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/more than one Authorization header/) });
    },
  },
  {
    name: 'bad signature → 401 invalid_token',
    headers: async () => {
      const [h, p] = (await idp.sign({ sub: 'alice' })).split('.');
      const other = (await idp.sign({ sub: 'mallory' })).split('.')[2];
      return bearer(`${h}.${p}.${other}`);
    },
    expect: (a) => {
      expect(a.status).toBe(401);
      expect(a.body).toMatchObject({ error: 'invalid_token' });
      expect(a.challenge).toMatch(/^Bearer realm="api", error="invalid_token"/);
    },
  },
  {
    name: 'expired token → 401 invalid_token',
    headers: async () => bearer(await idp.expired()),
    expect: (a) => {
      expect(a.status).toBe(401);
      expect(a.body).toMatchObject({ error: 'invalid_token' });
    },
  },
  {
    name: 'wrong audience → 401 invalid_token',
    headers: async () => bearer(await idp.sign({ aud: 'https://someone-else.example' })),
    expect: (a) => {
      expect(a.status).toBe(401);
      expect(a.body).toMatchObject({ error: 'invalid_token' });
    },
  },
  {
    name: 'good token → 200 with its sub',
    headers: async () => bearer(await idp.sign({ sub: 'alice' })),
    expect: (a) => {
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ sub: 'alice', dpop: null });
    },
  },
  {
    name: 'DPoP-bound token sent as Bearer → 401 invalid_token',
    headers: async () => bearer(await idp.sign({ sub: 'bound' }, { dpop: true })),
    expect: (a) => {
      expect(a.status).toBe(401);
      expect(a.body).toMatchObject({ error: 'invalid_token' });
      expect(a.challenge).toMatch(/^Bearer .*error="invalid_token"/);
    },
  },
  {
    name: 'DPoP with a valid proof for the adapter\'s own URL → 200 with the key thumbprint',
    headers: async (url) => {
      const token = await idp.sign({ sub: 'bound' }, { dpop: true });
      return { authorization: `DPoP ${token}`, dpop: await proof(`${url}/me`, token) };
    },
    expect: (a) => {
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ sub: 'bound', dpop: { jkt: idp.dpopJkt } });
    },
  },
  {
    name: 'DPoP proof for another URL → 401 invalid_dpop_proof',
    headers: async () => {
      const token = await idp.sign({ sub: 'bound' }, { dpop: true });
      return { authorization: `DPoP ${token}`, dpop: await proof('http://elsewhere.example/me', token) };
    },
    expect: (a) => {
      expect(a.status).toBe(401);
      expect(a.body).toMatchObject({ error: 'invalid_dpop_proof' });
      expect(a.challenge).toMatch(/^DPoP realm="api", error="invalid_dpop_proof"/);
    },
  },
  {
    name: 'JWKS down → 503 with Retry-After',
    jwksDown: true,
    headers: async () => bearer(await downIdp.sign()),
    expect: (a) => {
      expect(a.status).toBe(503);
      expect(a.retryAfter).toMatch(/^\d+$/);
    },
  },
  {
    name: 'token in the configured cookie → 200',
    headers: async () => ({ cookie: `theme=dark; at=${await idp.sign({ sub: 'cookie-user' })}` }),
    expect: (a) => {
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ sub: 'cookie-user', dpop: null });
    },
  },
];

describe.each(CASES)('$name', (c) => {
  test('every adapter answers alike', async () => {
    const answers = {} as Record<Adapter, Answer>;
    for (const adapter of ADAPTERS) {
      const base = (c.jwksDown ? down : up)[adapter];
      answers[adapter] = await get(`${base}/me`, await c.headers(base));
    }
    c.expect(answers.express);
    expect(answers.node).toEqual(answers.express);
    expect(answers.web).toEqual(answers.express);
  });
});

describe('what the adapters hand the core', () => {
  test('nodeAuth: getToken receives the IncomingMessage; a query token is read from the URL (twice → 400)', async () => {
    const seen: unknown[] = [];
    const auth = nodeAuth(
      createGuard<IncomingMessage>({
        issuer: idp.issuer,
        audience: idp.audience,
        jwksUri: idp.jwksUri,
        tokenLocations: ['query'],
        getToken: (req) => {
          seen.push(req);
          return typeof req.headers['x-token'] === 'string' ? req.headers['x-token'] : undefined;
        },
        logger: false,
      }),
    );
    const server = await listen(async (req, res) => {
      const result = await auth(req, res);
      if (result) res.writeHead(200, { 'Content-Type': 'application/json' }).end(ok(result));
    });
    try {
      const token = await idp.sign({ sub: 'q' });
      expect((await get(`${server.url}/me?access_token=${token}`, {})).body).toEqual({ sub: 'q', dpop: null });
      expect((await get(`${server.url}/me`, { 'x-token': token })).status).toBe(200);
      const twice = await get(`${server.url}/me?access_token=${token}&access_token=${token}`, {});
      expect(twice.status).toBe(400);
      expect(twice.body).toMatchObject({ error: 'invalid_request' });
      expect(seen.length).toBeGreaterThan(0);
      for (const req of seen) expect(req).toHaveProperty('socket');
    } finally {
      await server.close();
    }
  });

  test('webAuth: authRequired false and no token → null; the issuers resolver receives the Request', async () => {
    const seen: unknown[] = [];
    const auth = webAuth(
      createGuard<Request>({
        issuers: (iss, req) => {
          seen.push(req);
          return iss === idp.issuer ? { issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri } : undefined;
        },
        authRequired: false,
        logger: false,
      }),
    );
    expect(await auth(new Request('https://api.example/me'))).toBeNull();
    const result = await auth(new Request('https://api.example/me', { headers: { authorization: `Bearer ${await idp.sign({ sub: 'w' })}` } }));
    expect(result).not.toBeInstanceOf(Response);
    expect((result as AuthResult).payload.sub).toBe('w');
    expect(seen[0]).toBeInstanceOf(Request);
  });

  test('nodeAuth trustProxy: a DPoP proof names the forwarded scheme (and the Host header); without it, the socket\'s', async () => {
    const options = { issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false as const };
    const serveWith = (trustProxy: boolean) => {
      const auth = nodeAuth(createGuard<IncomingMessage>(options), { trustProxy });
      return listen(async (req, res) => {
        const result = await auth(req, res);
        if (result) res.writeHead(200, { 'Content-Type': 'application/json' }).end(ok(result));
      });
    };
    const [trusting, plain] = await Promise.all([serveWith(true), serveWith(false)]);
    try {
      const send = async (url: string) => {
        const token = await idp.sign({ sub: 'fwd' }, { dpop: true });
        return get(`${url}/me`, {
          authorization: `DPoP ${token}`,
          dpop: await proof('https://api.example.test/me', token),
          'x-forwarded-proto': 'https',
          host: 'api.example.test',
        });
      };
      expect((await send(trusting.url)).body).toEqual({ sub: 'fwd', dpop: { jkt: idp.dpopJkt } });
      const refused = await send(plain.url);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ error: 'invalid_dpop_proof' });
    } finally {
      await Promise.all([trusting.close(), plain.close()]);
    }
  });

  test('webAuth: a form-body token is read from a clone, and the handler can still read the body', async () => {
    const auth = webAuth(createGuard<Request>({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, tokenLocations: ['body'], logger: false }));
    const token = await idp.sign({ sub: 'form' });
    const body = `access_token=${token}&note=hello`;
    const request = new Request('https://api.example/me', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) },
      body,
    });
    const result = await auth(request);
    expect((result as AuthResult).payload.sub).toBe('form');
    expect(await request.text()).toBe(body);
  });
});
