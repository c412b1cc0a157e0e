/**
 * One API as a user deploys it: an Express 5 app with one route, `GET /orders`, guarded by ONE
 * guard chosen by `GUARD` (bare | kit | jose | auth0 | floor | minimal | assign; `ALG` picks express-oauth2-jwt-bearer's
 * tokenSigningAlg; `OTEL=provider` registers OpenTelemetry meter and tracer providers first).
 * Options away from the defaults, only where a case needs them: `DPOP_IAT_WINDOW` (seconds a DPoP
 * proof stays acceptable: requireAuth's dpop.iatWindowSeconds, express-oauth2-jwt-bearer's
 * dpop.iatOffset), `DPOP_REPLAY_MAX` (requireAuth's dpop.replayMaxEntries), `JWKS_MAX_AGE_MS`
 * (requireAuth's jwksCacheMaxAgeMs), `INTROSPECTION_ENDPOINT` (requireAuth's `introspection`: opaque
 * tokens checked by RFC 7662 introspection at that loopback endpoint, JWTs still verified locally).
 *
 * Run by bench/per-process.ts as plain JavaScript under plain `node` (it transpiles this file to
 * .tmp/ first), not through tsx: tsx turns on source maps and wraps per-request closures, which a
 * deployed API does not pay. So this file imports only packages and the compiled `dist/` (by a URL
 * that resolves the same from bench/ and .tmp/), nothing else from bench/ or fixtures/.
 */
import { createHash, createPublicKey, verify, type JsonWebKey, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import express, { type RequestHandler } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWK } from 'jose';
import { auth } from 'express-oauth2-jwt-bearer';

const { GUARD = 'bare', ALG = 'RS256', OTEL, ISSUER: issuer = '', AUDIENCE: audience = '', JWKS_URI: jwksUri = '' } = process.env;
const { DPOP_IAT_WINDOW, DPOP_REPLAY_MAX, JWKS_MAX_AGE_MS, INTROSPECTION_ENDPOINT } = process.env;

if (OTEL === 'provider') {
  // As an application wires the SDK: metrics read periodically, spans batched. The guard counts
  // per request (metrics) and makes a span per JWKS fetch (lib/telemetry/otel.ts idpCall).
  const { metrics, trace } = await import('@opentelemetry/api');
  const { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 10_000 })] }));
  // An exporter that drops what it is given: the cost measured is the guard's and the SDK's, not a collector's.
  const drop = { export: (_spans: unknown, done: (r: { code: number }) => void) => done({ code: 0 }), shutdown: async () => {} };
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(drop)] }));
}

const deny = (res: express.Response) => void res.status(401).end();

async function handWritten(): Promise<RequestHandler> {
  const jwks = createRemoteJWKSet(new URL(jwksUri));
  return (req, res, next) => {
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return deny(res);
    jwtVerify(m[1]!, jwks, { issuer, audience, algorithms: ['RS256', 'ES256'] }).then(
      () => next(),
      () => deny(res),
    );
  };
}

/** The JWKS's keys as KeyObjects, made once (EC keys with the JWS signature encoding). */
async function fetchKeys(): Promise<Map<string, KeyObject | VerifyKeyObjectInput>> {
  const keys = new Map<string, KeyObject | VerifyKeyObjectInput>();
  for (const jwk of ((await (await fetch(jwksUri)).json()) as { keys: JWK[] }).keys) {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    keys.set(jwk.kid!, jwk.kty === 'EC' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  }
  return keys;
}

type Claims = { iss?: string; aud?: string; exp?: number; cnf?: { jkt?: string } };
const json = (segment: string): unknown => JSON.parse(Buffer.from(segment, 'base64url').toString());

/** crypto.verify + JSON.parse + iss/aud/exp of one compact JWS: the claims, or undefined. */
function verifyCompact(keys: Map<string, KeyObject | VerifyKeyObjectInput>, token: string): Claims | undefined {
  const [h, p, s] = token.split('.');
  try {
    const key = keys.get((json(h!) as { kid: string }).kid);
    if (!key || !verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s!, 'base64url'))) return undefined;
    const claims = json(p!) as Claims;
    if (claims.iss !== issuer || claims.aud !== audience || !(typeof claims.exp === 'number' && claims.exp > Date.now() / 1000)) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

// The floor: crypto.verify on a KeyObject made once, JSON.parse, iss/aud/exp. No alg policy, no
// typ/nbf/iat, no key rotation: what a verifier costs when it does nothing else, for comparison only.
async function floor(): Promise<RequestHandler> {
  const keys = await fetchKeys();
  return (req, res, next) => {
    const value = req.headers.authorization;
    if (!value?.startsWith('Bearer ') || !verifyCompact(keys, value.slice(7))) return deny(res);
    next();
  };
}

// The least a guard that caches and checks DPoP proofs must do, for comparison only (a bound on
// how cheap any guard can be on this route, not one to deploy: no alg policy, no typ on the token,
// no size limits, no key rotation, a replay memory that never forgets). A verified token kept in a
// Map by its string, with req.auth made once; a DPoP proof: ES256 only, its key imported once per
// JWK and its thumbprint compared with cnf.jkt, signature, htm/htu/iat/ath, each jti accepted once.
async function minimal(): Promise<RequestHandler> {
  const keys = await fetchKeys();
  const iatWindow = Number(DPOP_IAT_WINDOW ?? 300);
  type Entry = { exp: number; jkt?: string; ath: string; auth: object };
  const verified = new Map<string, Entry>();
  const proofKeys = new Map<string, { key: VerifyKeyObjectInput; jkt: string }>();
  const jtis = new Set<string>();
  const b64sha256 = (v: string) => createHash('sha256').update(v).digest('base64url');
  const proofKey = (h: string) => {
    let known = proofKeys.get(h);
    if (!known) {
      const header = json(h) as { typ?: string; alg?: string; jwk?: { kty: string; crv: string; x: string; y: string } };
      if (header.typ !== 'dpop+jwt' || header.alg !== 'ES256' || header.jwk?.kty !== 'EC') return undefined;
      const { crv, kty, x, y } = header.jwk;
      const key = createPublicKey({ key: { crv, kty, x, y }, format: 'jwk' });
      known = { key: { key, dsaEncoding: 'ieee-p1363' }, jkt: b64sha256(JSON.stringify({ crv, kty, x, y })) };
      proofKeys.set(h, known);
    }
    return known;
  };
  const proofOk = (req: express.Request, entry: Entry) => {
    const proof = req.headers.dpop;
    if (typeof proof !== 'string' || entry.jkt === undefined) return false;
    const [h, p, s] = proof.split('.');
    const known = proofKey(h!);
    if (!known || known.jkt !== entry.jkt) return false;
    if (!verify('sha256', Buffer.from(`${h}.${p}`), known.key, Buffer.from(s!, 'base64url'))) return false;
    const c = json(p!) as { htm?: string; htu?: string; iat?: number; ath?: string; jti?: string };
    if (c.htm !== req.method || c.htu !== `http://${req.headers.host}${req.url}` || c.ath !== entry.ath) return false;
    if (typeof c.iat !== 'number' || Math.abs(Date.now() / 1000 - c.iat) > iatWindow) return false;
    if (typeof c.jti !== 'string' || jtis.has(c.jti)) return false;
    jtis.add(c.jti);
    return true;
  };
  return (req, res, next) => {
    const value = req.headers.authorization ?? '';
    const space = value.indexOf(' ');
    const scheme = value.slice(0, space);
    const token = value.slice(space + 1);
    let entry = verified.get(token);
    if (!entry || entry.exp <= Date.now() / 1000) {
      const claims = space > 0 ? verifyCompact(keys, token) : undefined;
      if (!claims) return deny(res);
      entry = { exp: claims.exp!, jkt: claims.cnf?.jkt, ath: b64sha256(token), auth: Object.freeze({ token, payload: Object.freeze(claims) }) };
      verified.set(token, entry);
    }
    if (scheme === 'DPoP' ? !proofOk(req, entry) : scheme !== 'Bearer' || entry.jkt !== undefined) return deny(res);
    (req as { auth?: unknown }).auth = entry.auth;
    next();
  };
}

async function guard(): Promise<RequestHandler | undefined> {
  switch (GUARD) {
    case 'bare':
      return undefined;
    case 'kit': {
      // KIT_DIST: another build of the package (a before/after comparison, see BENCH_BASELINE_DIST).
      const dist = process.env.KIT_DIST ? pathToFileURL(`${process.env.KIT_DIST}/index.js`) : new URL('../dist/index.js', import.meta.url);
      const kit = (await import(dist.href)) as typeof import('../lib/index.js');
      const dpop = DPOP_IAT_WINDOW ? { iatWindowSeconds: Number(DPOP_IAT_WINDOW), replayMaxEntries: Number(DPOP_REPLAY_MAX ?? 100_000) } : undefined;
      const introspection = INTROSPECTION_ENDPOINT ? { clientId: 'bench-api', clientSecret: 'bench-api-secret', endpoint: INTROSPECTION_ENDPOINT } : undefined;
      return kit.requireAuth({ issuer, audience, jwksUri, ...(dpop && { dpop }), ...(JWKS_MAX_AGE_MS && { jwksCacheMaxAgeMs: Number(JWKS_MAX_AGE_MS) }), ...(introspection && { introspection }) });
    }
    case 'assign': {
      // Not a guard: only what any guard that sets req.auth pays on an Express 5 request (a
      // property added to an object whose hidden class is unique to that request, see bench/README.md).
      // LOAD_KIT=1: the package loaded and a guard made (never called), to see what merely loading it costs.
      if (process.env.LOAD_KIT) {
        const kit = (await import(new URL('../dist/index.js', import.meta.url).href)) as typeof import('../lib/index.js');
        kit.requireAuth({ issuer, audience, jwksUri });
      }
      const auth = Object.freeze({ token: 'x', payload: {}, scopes: [] });
      return (req, _res, next) => {
        (req as { auth?: unknown }).auth = auth;
        next();
      };
    }
    case 'jose':
      return handWritten();
    case 'auth0':
      // DPoP is on by default in express-oauth2-jwt-bearer 1.10; only the proof window is set, like requireAuth's.
      return auth({ issuer, audience, jwksUri, tokenSigningAlg: ALG, ...(DPOP_IAT_WINDOW && { dpop: { iatOffset: Number(DPOP_IAT_WINDOW) } }) });
    case 'floor':
      return floor();
    case 'minimal':
      return minimal();
    default:
      throw new Error(`api-server: unknown GUARD ${GUARD}`);
  }
}

const app = express();
const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};
const guarded = await guard();
if (guarded) app.get('/orders', guarded, ok);
else app.get('/orders', ok);

const server = createServer(app);
server.listen(0, '127.0.0.1', () => console.log(`PORT=${(server.address() as AddressInfo).port}`));
// A normal exit, so --cpu-prof writes its profile.
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
