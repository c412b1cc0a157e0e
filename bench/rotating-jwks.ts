/**
 * A JWKS server whose keys rotate on a timer, and tokens signed with the key current at the moment
 * they are asked for (ES256, node:crypto, synchronous: cheap enough to sign in autocannon's
 * setupRequest, on the driver's core, never the API's).
 *
 * The set holds the current key, the next two and the last ten, as an IdP that rotates publishes
 * its next key ahead of use and keeps old ones while tokens signed with them may still arrive: a
 * guard that reloads the set every period always has the key of a token, even one that waited a
 * few seconds in a queue (autocannon builds a request before it can send it), so no request is
 * refused while the keys turn over. `periodMs: 0` never rotates: the same server and the same
 * signing work, for the static baseline.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { listen } from '../fixtures/listen.js';

interface Key {
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
}

export interface RotatingJwks {
  jwksUri: string;
  /** A token never signed before (a new `jti`), under the current key. */
  fresh(): string;
  /** One token per key: the same string until the key rotates (a client re-using its token). */
  same(): string;
  /** Rotations so far. */
  readonly rotations: number;
  /** Key-set requests served so far. */
  readonly fetches: number;
  close(): Promise<void>;
}

const PREVIOUS = 10;
const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
let kids = 0;

function newKey(): Key {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `rot-${++kids}`;
  return { kid, privateKey, jwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256', use: 'sig' } };
}

export async function startRotatingJwks(issuer: string, audience: string, periodMs: number): Promise<RotatingJwks> {
  // [...previous (up to PREVIOUS), current, next, after next]
  const keys = [newKey(), newKey(), newKey()];
  const current = () => keys[keys.length - 3]!;
  let body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
  let header = '';
  let sameToken = '';
  let serial = 0;
  let rotations = 0;
  let fetches = 0;
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const signWith = (key: Key) => {
    const input = `${header}.${b64(JSON.stringify({ sub: `user-${serial}`, scope: 'openid orders:read', iss: issuer, aud: audience, iat: Math.floor(Date.now() / 1000), exp, jti: `t${++serial}` }))}`;
    return `${input}.${b64(sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }))}`;
  };
  const use = () => {
    header = b64(JSON.stringify({ alg: 'ES256', kid: current().kid, typ: 'at+jwt' }));
    sameToken = signWith(current());
  };
  use();
  const { server, url, close } = await listen();
  server.on('request', (_req, res) => {
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  const timer =
    periodMs > 0
      ? setInterval(() => {
          if (keys.length === PREVIOUS + 3) keys.shift();
          keys.push(newKey());
          body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
          rotations += 1;
          use();
        }, periodMs)
      : undefined;
  return {
    jwksUri: `${url}/jwks.json`,
    fresh: () => signWith(current()),
    same: () => sameToken,
    get rotations() {
      return rotations;
    },
    get fetches() {
      return fetches;
    },
    close: async () => {
      clearInterval(timer);
      await close();
    },
  };
}
