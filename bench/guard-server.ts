/**
 * The API under test for the guard benchmark, in its own process: the same JSON route bare,
 * behind requireAuth (one issuer, and two issuers in one guard), behind a minimal hand-written jose guard, behind express-oauth2-jwt-bearer
 * (one route per alg: it takes a single tokenSigningAlg), and behind a "floor" guard that does only
 * what no verifier can skip, all against the same JWKS and tokens.
 */
import { createPublicKey, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWK } from 'jose';
import { auth } from 'express-oauth2-jwt-bearer';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { built } from './kit.js';
import { serveForParent } from './common.js';

const { requireAuth } = await built<typeof import('../lib/index.js')>('index.js');

const issuer = process.env.ISSUER!;
const audience = process.env.AUDIENCE!;
const jwksUri = process.env.JWKS_URI!;

const app = express();
const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};
const deny = (res: express.Response) => void res.status(401).end();

const jwks = createRemoteJWKSet(new URL(jwksUri));
const handWritten: RequestHandler = (req, res, next) => {
  const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return deny(res);
  jwtVerify(m[1]!, jwks, { issuer, audience, algorithms: ['RS256', 'ES256'] }).then(
    () => next(),
    () => deny(res),
  );
};

// The floor: crypto.verify on a KeyObject made once, JSON.parse, iss/aud/exp. No alg policy, no
// typ/nbf/iat, no key rotation: what a verifier costs when it does nothing else, for comparison only.
const floorKeys = new Map<string, KeyObject | VerifyKeyObjectInput>();
const { keys } = (await (await fetch(jwksUri)).json()) as { keys: JWK[] };
for (const jwk of keys) {
  const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  floorKeys.set(jwk.kid!, jwk.kty === 'EC' ? { key, dsaEncoding: 'ieee-p1363' } : key);
}
const floor: RequestHandler = (req, res, next) => {
  const value = req.headers.authorization;
  if (!value?.startsWith('Bearer ')) return deny(res);
  const [h, p, s] = value.slice(7).split('.');
  try {
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as { kid: string };
    const key = floorKeys.get(header.kid);
    if (!key || !verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s!, 'base64url'))) return deny(res);
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { iss?: string; aud?: string; exp?: number };
    if (claims.iss !== issuer || claims.aud !== audience || !(typeof claims.exp === 'number' && claims.exp > Date.now() / 1000)) return deny(res);
  } catch {
    return deny(res);
  }
  next();
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
// Two tenants in one guard (staff and customers): the token's iss picks the verifier before the cache.
const customers = { issuer: 'https://customers.bench', audience, jwksUri };
app.get('/kit-two', requireAuth({ issuers: [customers, { issuer, audience, jwksUri }] }), ok);
// The same guard with an OpenTelemetry meter provider registered (instruments are created when the
// factory is called, so only this route's guard records): what metrics cost on the cached path.
metrics.setGlobalMeterProvider(
  new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 10_000 })],
  }),
);
app.get('/kit-otel', requireAuth({ issuer, audience, jwksUri }), ok);
app.get('/jose', handWritten, ok);
app.get('/floor', floor, ok);
app.get('/auth0-RS256', auth({ issuer, audience, jwksUri, tokenSigningAlg: 'RS256' }), ok);
app.get('/auth0-ES256', auth({ issuer, audience, jwksUri, tokenSigningAlg: 'ES256' }), ok);

await serveForParent(app);
