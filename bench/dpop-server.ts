/**
 * The API under test for the DPoP benchmark, in its own process: one route, `/orders`, guarded by
 * requireAuth (dpop 'allowed', the default in-memory replay store) or by express-oauth2-jwt-bearer
 * (dpop enabled), picked per request by the `x-guard` header, so both guards see the same URL
 * and so accept the very same proofs. Both get the same proof-age window (the proofs are
 * pre-signed before the run; see bench/dpop.ts).
 */
import express, { type RequestHandler } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import { built } from './kit.js';
import { serveForParent } from './common.js';

const { requireAuth } = await built<typeof import('../lib/index.js')>('index.js');

const issuer = process.env.ISSUER!;
const audience = process.env.AUDIENCE!;
const jwksUri = process.env.JWKS_URI!;
const WINDOW = 3_600;

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};
const kit = requireAuth({ issuer, audience, jwksUri, dpop: { mode: 'allowed', iatWindowSeconds: WINDOW } });
const auth0 = auth({ issuer, audience, jwksUri, tokenSigningAlg: 'RS256', dpop: { enabled: true, iatOffset: WINDOW } });

const app = express();
app.get('/__cpu', (_req, res) => {
  const { user, system } = process.cpuUsage();
  res.json({ us: user + system });
});
app.get('/bare', ok);
app.get('/orders', (req, res, next) => (req.headers['x-guard'] === 'auth0' ? auth0 : kit)(req, res, next), ok);

await serveForParent(app);
