/**
 * The API under test for the guard benchmark, in its own process: the same JSON route bare,
 * behind requireAuth, behind a minimal hand-written jose guard, and behind
 * express-oauth2-jwt-bearer, all against the same JWKS and tokens.
 */
import express, { type RequestHandler } from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { auth } from 'express-oauth2-jwt-bearer';
import { requireAuth } from '../lib/index.js';

const issuer = process.env.ISSUER!;
const audience = process.env.AUDIENCE!;
const jwksUri = process.env.JWKS_URI!;

const app = express();
const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};

const jwks = createRemoteJWKSet(new URL(jwksUri));
const handWritten: RequestHandler = (req, res, next) => {
  const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) {
    res.status(401).end();
    return;
  }
  jwtVerify(m[1]!, jwks, { issuer, audience, algorithms: ['RS256'] }).then(
    () => next(),
    () => res.status(401).end(),
  );
};

// CPU time of this process (main thread and crypto threadpool), for per-request cost figures.
app.get('/__cpu', (_req, res) => {
  const { user, system } = process.cpuUsage();
  res.json({ us: user + system });
});
app.get('/bare', ok);
// The price of any one middleware on this route, for a fair reading of the guard's own cost.
app.get('/noop', (_req, _res, next) => next(), ok);
app.get('/kit', requireAuth({ issuer, audience, jwksUri }), ok);
app.get('/jose', handWritten, ok);
app.get('/auth0', auth({ issuer, audience, jwksUri, tokenSigningAlg: 'RS256' }), ok);

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`PORT=${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
