/**
 * The pre-verification parse of a token's claims (lib/jwt/verify.ts unverifiedClaims(), read by
 * lib/guard/tenants.ts to pick the issuer) is handed to the verification that follows: one slot,
 * taken once. These interleavings try to make a verification return claims that are not its
 * token's, or one claims object to two guards — each of which answers with its own challenge
 * context (realm, resource_metadata, clock tolerance) after the verification.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { CompactSign } from 'jose';
import { acrCheck, createGuard, type AuthResult, type Guard, type GuardOutcome } from '../../lib/index.js';
import { jwtVerify } from '../../lib/jwt/index.js';
import { unverifiedClaims } from '../../lib/jwt/verify.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

let idp: JwksServer;
beforeAll(async () => {
  idp = await startJwksServer();
});
afterAll(() => idp.close());

const now = () => Math.floor(Date.now() / 1000);

/** The same payload bytes under another protected header: a second token whose payload segment equals the first's. */
async function signWith(payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const key = idp.keys[0]!;
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}

function request(token: string): Parameters<Guard['check']>[0] {
  return { method: 'GET', url: '/x', headers: { authorization: `Bearer ${token}` }, protocol: 'http', host: '127.0.0.1', native: undefined };
}

function authOf(outcome: GuardOutcome): AuthResult {
  if (outcome.error !== undefined) throw outcome.error;
  return outcome.auth!;
}

const realmOf = (auth: AuthResult): string | undefined => /realm="([^"]*)"/.exec(acrCheck('urn:never')(auth)!.headers['WWW-Authenticate']!)?.[1];

test('two guards, one still fetching its keys, verifying two tokens with the same payload: each gets its own claims object and its own challenge context', async () => {
  const payload = { iss: idp.issuer, aud: idp.audience, sub: 'alice', iat: now(), exp: now() + 300 };
  const t1 = await signWith(payload);
  const t2 = await signWith(payload, { x: 'other header' });
  expect(t1.split('.')[1]).toBe(t2.split('.')[1]);
  expect(t1).not.toBe(t2);

  // A fetches its key set on first use (async); B has its keys at hand (synchronous).
  const a = createGuard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, realm: 'a', logger: false });
  const b = createGuard({ issuer: idp.issuer, audience: idp.audience, jwks: { keys: idp.keys.map((k) => k.publicJwk) }, realm: 'b', logger: false });

  // A's key set is held back, so B's whole verification happens while A's waits (the order is
  // not asserted: the claims below must hold in any order).
  idp.jwksDelay = 2_000;
  const pendingA = a.check(request(t1)); // parses t1's payload, then waits for the JWKS
  expect(pendingA).toBeInstanceOf(Promise);
  const authB = authOf(await b.check(request(t2))); // same payload segment, verified meanwhile
  const authA = authOf(await pendingA);
  idp.jwksDelay = 0;

  expect(authA.token).toBe(t1);
  expect(authB.token).toBe(t2);
  expect(authA.payload).toEqual(payload);
  expect(authB.payload).toEqual(payload);
  expect(authA.payload).not.toBe(authB.payload);
  expect(realmOf(authA)).toBe('a');
  expect(realmOf(authB)).toBe('b');

  // And again for the same token through both guards (A's keys now loaded, both synchronous).
  const t3 = await signWith({ ...payload, jti: 'same-token' });
  const a3 = authOf(await a.check(request(t3)));
  const b3 = authOf(await b.check(request(t3)));
  expect(a3.payload).not.toBe(b3.payload);
  expect(realmOf(a3)).toBe('a');
  expect(realmOf(b3)).toBe('b');
});

test('a verification never returns the claims of another token, whatever was parsed before it (Uint8Array input too)', async () => {
  const p1 = { iss: idp.issuer, aud: idp.audience, sub: 'alice', iat: now(), exp: now() + 300 };
  const p2 = { ...p1, sub: 'mallory' };
  const t1 = await signWith(p1);
  const t2 = await signWith(p2);
  const pub = createPublicKey({ key: idp.keys[0]!.publicJwk as JsonWebKey, format: 'jwk' });

  // t1 parsed, then t2 verified: t2's claims.
  unverifiedClaims(t1);
  expect((await jwtVerify(t2, pub)).payload.sub).toBe('mallory');
  // Parsed and verified as bytes: the slot is keyed by the payload segment, whatever the input type.
  const claims = unverifiedClaims(t1);
  const fromBytes = await jwtVerify(new TextEncoder().encode(t1), pub);
  expect(fromBytes.payload.sub).toBe('alice');
  expect(fromBytes.payload).toBe(claims); // the parse was handed over …
  const again = await jwtVerify(t1, pub);
  expect(again.payload).toEqual(fromBytes.payload);
  expect(again.payload).not.toBe(fromBytes.payload); // … once only

  // A token whose signature fails leaves its parse in the slot: the next verification of an equal
  // payload may take it, but it was handed to no verification before, so it is still one owner's.
  const forged = `${t2.split('.')[0]}.${t2.split('.')[1]}.${t1.split('.')[2]}`;
  const parsed = unverifiedClaims(forged);
  await expect(jwtVerify(forged, pub)).rejects.toThrow();
  const real = await jwtVerify(t2, pub);
  expect(real.payload).toBe(parsed);
  expect((await jwtVerify(t2, pub)).payload).not.toBe(parsed);
});
