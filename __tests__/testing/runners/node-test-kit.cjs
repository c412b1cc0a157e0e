/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS consumer, on purpose */
// Run by `node --test` in a consumer project (see runners.test.ts): CommonJS require() of the
// installed package (Node ≥ 20.19 loads its ES modules synchronously).
const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const express = require('express');
const { oauthErrorHandler, requireAuth } = require('express-oauth-kit');
const { createTestIssuer } = require('express-oauth-kit/testing');

let idp;
let server;
let url;

before(async () => {
  idp = await createTestIssuer({ alg: 'RS256' });
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

test('cjs: a signed token passes, a forged one does not', async () => {
  const ok = await fetch(url, { headers: { authorization: `Bearer ${await idp.sign({ sub: 'dave' })}` } });
  assert.deepEqual([ok.status, await ok.json()], [200, { sub: 'dave' }]);
  const forged = await fetch(url, { headers: { authorization: `Bearer ${await idp.wrongKey()}` } });
  assert.equal(forged.status, 401);
});
