/**
 * Pre-signed distinct tokens for the guard benchmark, RS256 and ES256, kept for a day in .tmp/.
 * Signed with node:crypto directly (synchronous, several times faster than SignJWT in a loop);
 * the bytes are ordinary compact JWS any verifier accepts.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { JWK } from 'jose';

export type BenchAlg = 'RS256' | 'ES256';

export interface AlgTokens {
  kid: string;
  /** Public JWK (kid, alg, use set). */
  jwk: JWK;
  tokens: string[];
}

export interface TokenFile {
  issuer: string;
  audience: string;
  exp: number;
  byAlg: Record<BenchAlg, AlgTokens>;
}

const FILE = '.tmp/bench-tokens-v2.json';
const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');

function signAll(alg: BenchAlg, issuer: string, audience: string, exp: number, count: number): AlgTokens {
  const { privateKey, publicKey } =
    alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `bench-${alg.toLowerCase()}`;
  const header = b64(JSON.stringify({ alg, kid, typ: 'at+jwt' }));
  const iat = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const payload = b64(JSON.stringify({ sub: `user-${i}`, scope: 'openid profile orders:read', client_id: 'web-app', iss: issuer, aud: audience, iat, exp }));
    const input = Buffer.from(`${header}.${payload}`);
    const signature = alg === 'RS256' ? sign('sha256', input, privateKey) : sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    tokens.push(`${header}.${payload}.${b64(signature)}`);
  }
  return { kid, jwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' }, tokens };
}

/** The token file for `issuer`/`audience`; re-signed when missing, too short, or expiring within 10 minutes. */
export function benchTokens(issuer: string, audience: string, count: number): TokenFile {
  if (existsSync(FILE)) {
    const cached = JSON.parse(readFileSync(FILE, 'utf8')) as TokenFile;
    if (cached.exp > Date.now() / 1000 + 600 && cached.byAlg.RS256.tokens.length === count && cached.byAlg.ES256.tokens.length === count) return cached;
  }
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  console.error(`signing ${count} RS256 and ${count} ES256 tokens (once a day; a few minutes)…`);
  const file: TokenFile = {
    issuer,
    audience,
    exp,
    byAlg: { RS256: signAll('RS256', issuer, audience, exp, count), ES256: signAll('ES256', issuer, audience, exp, count) },
  };
  mkdirSync('.tmp', { recursive: true });
  writeFileSync(FILE, JSON.stringify(file));
  return file;
}
