/**
 * A real JWKS + discovery server on 127.0.0.1 for guard tests: keys of several algorithms,
 * rotation (add/remove keys at run time), an outage switch, and a request counter.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type TestAlg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

interface TestKey {
  kid: string;
  alg: TestAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface SignOptions {
  alg?: TestAlg;
  kid?: string | null;
  /** Seconds from now; negative for an expired token. Default 300. */
  expiresIn?: number;
  header?: Record<string, unknown>;
  omit?: Array<'exp' | 'iat' | 'iss' | 'aud'>;
}

export interface JwksServer {
  url: string;
  issuer: string;
  jwksUri: string;
  audience: string;
  keys: TestKey[];
  addKey(alg?: TestAlg): Promise<TestKey>;
  removeKey(kid: string): void;
  sign(claims?: JWTPayload, options?: SignOptions): Promise<string>;
  /** 'down' answers 500; 'hang' never answers; 'huge' serves a 2 MiB key set; 'up' serves. */
  mode: 'up' | 'down' | 'hang' | 'huge';
  /** Rewrites the discovery document before it is served (a hostile or half-configured IdP). */
  discovery?: (doc: Record<string, unknown>) => Record<string, unknown>;
  /** Milliseconds the JWKS answer is held back. */
  jwksDelay: number;
  jwksRequests: number;
  discoveryRequests: number;
  close(): Promise<void>;
}

let kidCounter = 0;

export async function startJwksServer(options: { algs?: TestAlg[]; audience?: string } = {}): Promise<JwksServer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const state: JwksServer = {
    url,
    issuer: url,
    jwksUri: `${url}/jwks.json`,
    audience: options.audience ?? 'https://api.example.test',
    keys: [],
    mode: 'up',
    jwksRequests: 0,
    discoveryRequests: 0,
    jwksDelay: 0,
    async addKey(alg: TestAlg = 'RS256') {
      const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
      const kid = `k${++kidCounter}-${alg}`;
      const key = { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
      state.keys.push(key);
      return key;
    },
    removeKey(kid: string) {
      state.keys = state.keys.filter((k) => k.kid !== kid);
    },
    async sign(claims: JWTPayload = {}, opts: SignOptions = {}) {
      const key = opts.kid ? state.keys.find((k) => k.kid === opts.kid) : state.keys.find((k) => k.alg === (opts.alg ?? 'RS256'));
      const signingKey = key ?? state.keys[0];
      if (!signingKey) throw new Error('no key to sign with');
      const header: Record<string, unknown> = { alg: signingKey.alg, typ: 'at+jwt', ...opts.header };
      if (opts.kid !== null) header.kid = signingKey.kid;
      const omit = new Set(opts.omit ?? []);
      const jwt = new SignJWT({ sub: 'user-1', scope: 'read:things', ...claims }).setProtectedHeader(header as never);
      if (!omit.has('iat') && claims.iat === undefined) jwt.setIssuedAt();
      if (!omit.has('iss') && claims.iss === undefined) jwt.setIssuer(state.issuer);
      if (!omit.has('aud') && claims.aud === undefined) jwt.setAudience(state.audience);
      if (!omit.has('exp') && claims.exp === undefined) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expiresIn ?? 300));
      return jwt.sign(signingKey.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  server.on('request', (req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/.well-known/openid-configuration') state.discoveryRequests += 1;
    if (path === '/jwks.json') state.jwksRequests += 1;
    if (state.mode === 'hang') return;
    if (state.mode === 'down') {
      res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>down</h1>');
      return;
    }
    if (path === '/.well-known/openid-configuration') {
      const doc = { issuer: state.issuer, jwks_uri: state.jwksUri, token_endpoint: `${url}/token` };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(state.discovery ? state.discovery(doc) : doc));
    } else if (path === '/jwks.json') {
      const keys = state.keys.map((k) => k.publicJwk);
      // Padding keys no token names: the answer is valid JSON, just far too big.
      if (state.mode === 'huge') for (let i = 0; i < 2_000; i++) keys.push({ kty: 'oct', kid: `pad-${i}`, k: 'A'.repeat(1_000) });
      const body = JSON.stringify({ keys });
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      }, state.jwksDelay);
    } else {
      res.writeHead(404).end();
    }
  });

  for (const alg of options.algs ?? ['RS256']) await state.addKey(alg);
  return state;
}
