/**
 * Operator log lines under hostile input (issue #19): a client's `iss` reaches lines only cleaned
 * and cut, a client can never write an error-level "fix the configuration" line, each distinct line
 * is written at most once a minute, a throwing logger never changes an answer, and an issuer or
 * audience mismatch is explained to the operator. Real JWKS servers on 127.0.0.1; time moves by
 * the library clock, never by sleeping.
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth, tokenProxy, type IssuerOptions, type RequireAuthOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, ServerPool } from '../../fixtures/listen.js';
import { useTestClock } from '../support/clock.js';

const clock = useTestClock();
let idp: JwksServer;
let other: JwksServer;
beforeEach(async () => {
  clearDiscoveryCache();
  idp = await startJwksServer();
  other = await startJwksServer();
});
afterEach(async () => {
  await idp.close();
  await other.close();
});

/** Controls a line must never carry: they forge or split lines, or hide text on a terminal. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** A forged line after CR/LF, then 8 KB: what an attacker puts in `iss`. */
const HOSTILE_ISS = `https://evil.example/\r\n[express-oauth-kit] requireAuth(): FORGED (fix the configuration; retrying will not help)\u2028${'A'.repeat(8 * 1024)}`;

function capture(withDebug = false) {
  const lines: string[] = [];
  const logger = {
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
    ...(withDebug ? { debug: (m: string) => lines.push(`debug ${m}`) } : {}),
  };
  return { lines, logger };
}

function guard(options: RequireAuthOptions) {
  const auth = requireAuth(options);
  const app = express();
  app.get('/me', auth, (req, res) => res.json({ sub: req.auth!.payload.sub }));
  app.use(oauthErrorHandler());
  return (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
}

function expectSafe(lines: string[]): void {
  for (const line of lines) {
    expect(line).not.toMatch(CONTROL);
    expect(line.length).toBeLessThan(1_000);
    expect(line).not.toMatch(/^error /);
  }
}

describe('a client-chosen iss in log lines (#19 point 3)', () => {
  test('single issuer: the refusal line is clean and short, at warn', async () => {
    const { lines, logger } = capture();
    const call = guard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger });
    const res = await call(await idp.sign({ iss: HOSTILE_ISS }));
    expect(res.status).toBe(401);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn .*refused a token from issuer "https:\/\/evil\.example\/ \[express-oauth-kit\] requireAuth\(\): FORGED.*…"/);
    expectSafe(lines);
  });

  test('resolver answering settings for another issuer: still 500, but a warn line, clean and short', async () => {
    const { lines, logger } = capture();
    // A resolver that "normalizes" what it is given: an operator bug, but the iss is the client's.
    const call = guard({ issuers: (iss) => ({ issuer: iss.trim().slice(0, 30), audience: idp.audience, jwksUri: idp.jwksUri }), logger });
    const res = await call(await idp.sign({ iss: HOSTILE_ISS }));
    expect(res.status).toBe(500);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn .*the issuers resolver was asked for "https:\/\/evil\.example\/ \[express-oauth-kit\].*…" and answered settings for/);
    expectSafe(lines);
  });

  test('resolver that throws: 503, the line names the iss cleaned and cut', async () => {
    const { lines, logger } = capture();
    const call = guard({ issuers: async () => Promise.reject(new Error('tenant database down')), logger });
    const res = await call(await idp.sign({ iss: HOSTILE_ISS }));
    expect(res.status).toBe(503);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn .*The issuers resolver failed for "https:\/\/evil\.example\/ \[express-oauth-kit\]/);
    expectSafe(lines);
  });

  test('an unlisted iss in the list form: at most a warn line, clean and short', async () => {
    const { lines, logger } = capture();
    const issuers: IssuerOptions[] = [idp, other].map((s) => ({ issuer: s.issuer, audience: s.audience, jwksUri: s.jwksUri }));
    const call = guard({ issuers, logger });
    for (let i = 0; i < 3; i++) expect((await call(await idp.sign({ iss: `${HOSTILE_ISS}${i}` }))).status).toBe(401);
    expect(lines.length).toBeLessThanOrEqual(1);
    expectSafe(lines);
  });
});

describe('deduplication per distinct line (#19 point 8)', () => {
  test('two issuers whose JWKS are down, requests alternating: each line once', async () => {
    const { lines, logger } = capture();
    const issuers: IssuerOptions[] = [idp, other].map((s) => ({ issuer: s.issuer, audience: s.audience, jwksUri: s.jwksUri }));
    const call = guard({ issuers, logger });
    const tokens = [await idp.sign(), await other.sign()];
    idp.mode = 'down';
    other.mode = 'down';
    for (let i = 0; i < 6; i++) expect((await call(tokens[i % 2]!)).status).toBe(503);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(new URL(idp.jwksUri).host);
    expect(lines[1]).toContain(new URL(other.jwksUri).host);
    // A minute later the outage is worth a line again, once per issuer.
    clock.advance(61_000);
    for (let i = 0; i < 4; i++) await call(tokens[i % 2]!);
    expect(lines).toHaveLength(4);
  });
});

describe('a logger that throws (#19 point 16)', () => {
  const throwing = {
    warn: () => {
      throw new Error('log transport down');
    },
    error: () => {
      throw new Error('log transport down');
    },
    debug: () => {
      throw new Error('log transport down');
    },
  };

  test('JWKS down: still 503 jwks_unavailable with Retry-After, never a 500', async () => {
    const call = guard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: throwing });
    idp.mode = 'down';
    const res = await call(await idp.sign());
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers['retry-after']).toBe('5');
  });

  test('an issuer mismatch explained to a throwing logger: still 401', async () => {
    const call = guard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: throwing });
    expect((await call(await idp.sign({ iss: 'https://evil.example' }))).status).toBe(401);
  });

  test('proxy: an IdP outage logged to a throwing logger keeps its answer', async () => {
    const pool = new ServerPool();
    const server: Server = createServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}'));
    const { url: idpUrl, close } = await listen(server);
    try {
      const app = express();
      app.post('/token', tokenProxy({ tokenEndpoint: `${idpUrl}/token`, clientId: 'web', clientSecret: 'web-secret-0123456789', logger: throwing }));
      const res = await request(await pool.serve(app)).post('/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'r' });
      expect(res.status).toBe(503);
    } finally {
      await pool.closeAll();
      await close();
    }
  });
});

describe('issuer and audience mismatches explained to the operator (#19 point 19)', () => {
  test('iss differing by a trailing slash: one debug line naming both values, no network request', async () => {
    const { lines, logger } = capture(true);
    const call = guard({ issuer: `${idp.issuer}/`, audience: idp.audience, jwksUri: idp.jwksUri, logger });
    const res = await call(await idp.sign());
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The token was issued by another issuer');
    expect(lines).toEqual([`debug [express-oauth-kit] requireAuth(): refused a token from issuer "${idp.issuer}": is not the configured issuer "${idp.issuer}/"`]);
    expect(idp.jwksRequests).toBe(0);
  });

  test('aud differing by a trailing slash: one debug line naming both values', async () => {
    const { lines, logger } = capture(true);
    const call = guard({ issuer: idp.issuer, audience: [`${idp.audience}/`, 'https://other.example'], jwksUri: idp.jwksUri, logger });
    const res = await call(await idp.sign());
    expect(res.status).toBe(401);
    expect(lines).toEqual([
      `debug [express-oauth-kit] requireAuth(): refused a token with aud "${idp.audience}"; issuer "${idp.issuer}" expects ["${idp.audience}/", "https://other.example"]`,
    ]);
  });

  test('a logger without debug gets a warn line at most once a minute, whatever the values', async () => {
    const { lines, logger } = capture(false);
    const call = guard({ issuer: `${idp.issuer}/`, audience: idp.audience, jwksUri: idp.jwksUri, logger });
    for (let i = 0; i < 3; i++) expect((await call(await idp.sign({ iss: `https://made-up-${i}.example` }))).status).toBe(401);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn .*refused a token from issuer "https:\/\/made-up-0\.example": is not the configured issuer/);
    clock.advance(61_000);
    await call(await idp.sign());
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`"${idp.issuer}/"`);
  });

  test('a flood of distinct made-up issuers writes a bounded number of debug lines', async () => {
    const { lines, logger } = capture(true);
    const call = guard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger });
    for (let i = 0; i < 30; i++) await call(await idp.sign({ iss: `https://made-up-${i}.example` }));
    expect(lines).toHaveLength(10);
  });
});

describe('proxy log lines (#19 point 3)', () => {
  test('an onResult error message with CR/LF and 8 KB is logged clean and short', async () => {
    const pool = new ServerPool();
    const server: Server = createServer((_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}'));
    const { url: idpUrl, close } = await listen(server);
    const { lines, logger } = capture();
    try {
      const app = express();
      const onResult = () => {
        throw new Error(`bad\r\n[express-oauth-kit] tokenProxy: FORGED${'B'.repeat(8 * 1024)}`);
      };
      app.post('/token', tokenProxy({ tokenEndpoint: `${idpUrl}/token`, clientId: 'web', clientSecret: 'web-secret-0123456789', logger, onResult }));
      const res = await request(await pool.serve(app)).post('/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'r' });
      expect(res.status).toBe(400);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^warn \[express-oauth-kit\] tokenProxy: onResult threw: bad \[express-oauth-kit\] tokenProxy: FORGEDB+…$/);
      for (const line of lines) {
        expect(line).not.toMatch(CONTROL);
        expect(line.length).toBeLessThan(1_000);
      }
    } finally {
      await pool.closeAll();
      await close();
    }
  });
});
