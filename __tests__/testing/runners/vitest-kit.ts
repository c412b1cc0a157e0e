// Copied into a consumer project as kit.test.ts and run by vitest (see runners.test.ts): the
// package as installed from its tarball, ESM, TypeScript compiled by vitest itself.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createM2MClient, oauthErrorHandler, requireAuth } from 'express-oauth-kit';
import { createTestIssuer, type TestIssuer } from 'express-oauth-kit/testing';

let idp: TestIssuer;
let server: Server;
let url: string;

beforeAll(async () => {
  idp = await createTestIssuer({ clients: [{ clientId: 'svc', clientSecret: 'secret' }] });
  const app = express();
  app.get('/me', requireAuth({ issuer: idp.issuer, audience: idp.audience }), (req, res) => {
    res.json({ sub: req.auth!.payload.sub, jkt: req.auth!.dpop?.jkt ?? null });
  });
  app.use(oauthErrorHandler());
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/me`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await idp.close();
});

test('a signed token passes requireAuth', async () => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${await idp.sign({ sub: 'alice' })}` } });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ sub: 'alice', jkt: null });
});

test('an expired token is refused', async () => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${await idp.expired()}` } });
  expect(res.status).toBe(401);
  expect((await res.json()).error_description).toBe('The access token expired');
});

test('a DPoP-bound token with its proof passes', async () => {
  const token = await idp.sign({ sub: 'bob' }, { dpop: true });
  const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await idp.dpopProof({ htm: 'GET', htu: url, accessToken: token }) } });
  expect(await res.json()).toEqual({ sub: 'bob', jkt: idp.dpopJkt });
});

test('the M2M client gets a token from the mock token endpoint', async () => {
  const m2m = createM2MClient({ issuer: idp.issuer, clientId: 'svc', clientSecret: 'secret', logger: false });
  const res = await m2m.fetch(url);
  expect(await res.json()).toEqual({ sub: 'svc', jkt: null });
});
