// Run by `node --test` in a consumer project (see runners.test.ts): ESM import of the installed package.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import express from 'express';
import { oauthErrorHandler, requireAuth } from 'express-oauth-kit';
import { createTestIssuer } from 'express-oauth-kit/testing';

let idp;
let server;
let url;

before(async () => {
  idp = await createTestIssuer();
  const app = express();
  app.get('/me', requireAuth({ issuer: idp.issuer, audience: idp.audience }), (req, res) => res.json({ sub: req.auth.payload.sub }));
  app.use(oauthErrorHandler());
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${server.address().port}/me`;
});

after(async () => {
  server.closeAllConnections();
  server.close();
  await idp.close();
});

test('esm: a signed token passes, a wrong-audience one does not', async () => {
  const ok = await fetch(url, { headers: { authorization: `Bearer ${await idp.sign({ sub: 'alice' })}` } });
  assert.deepEqual([ok.status, await ok.json()], [200, { sub: 'alice' }]);
  const bad = await fetch(url, { headers: { authorization: `Bearer ${await idp.wrongAudience()}` } });
  assert.equal(bad.status, 401);
});

test('esm: after rotate() a token with the new kid passes', async () => {
  await idp.rotate();
  const res = await fetch(url, { headers: { authorization: `Bearer ${await idp.sign({ sub: 'carol' })}` } });
  assert.equal(res.status, 200);
});
