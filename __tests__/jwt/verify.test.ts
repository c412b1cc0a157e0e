/** lib/jwt's algorithm → key table, key handling and the cases where it is stricter than jose. */
import { constants, createHmac, createSecretKey, generateKeyPairSync, sign as cryptoSign, webcrypto, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, errors, exportJWK, jwtVerify as joseVerify } from 'jose';
import { ALGORITHMS, jwtVerify } from '../../lib/jwt/index.js';
import { unverifiedClaims } from '../../lib/jwt/verify.js';

const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const body = { iss: 'https://idp.test', aud: 'api', exp: now + 300, iat: now };
const opts = { issuer: 'https://idp.test', audience: 'api', requiredClaims: ['exp'] };

type Signing = KeyObject | { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' | 'der' };
function jwt(alg: string, key: Signing | Buffer, hash: string | null = 'sha256', header: object = {}, payload: object = body): string {
  const input = `${b64(JSON.stringify({ alg, ...header }))}.${b64(JSON.stringify(payload))}`;
  const sig = Buffer.isBuffer(key) ? createHmac(hash!, key).update(input).digest() : cryptoSign(hash, Buffer.from(input), key);
  return `${input}.${b64(sig)}`;
}
const pair = (type: string, o: object = {}): { publicKey: KeyObject; privateKey: KeyObject } => generateKeyPairSync(type as 'rsa', o as { modulusLength: number });
const rejects = (p: Promise<unknown>, cls: new (...a: never[]) => Error, message?: RegExp) =>
  expect(p).rejects.toThrow(message ? expect.objectContaining({ constructor: cls, message: expect.stringMatching(message) }) : cls);

const rsa = pair('rsa', { modulusLength: 2048 });
const ec256 = pair('ec', { namedCurve: 'P-256' });
const ec384 = pair('ec', { namedCurve: 'P-384' });
const ec521 = pair('ec', { namedCurve: 'P-521' });
const ed25519 = pair('ed25519');

test('the table holds exactly the RS/PS/ES/EdDSA/Ed25519/HS families', () => {
  expect(Object.keys(ALGORITHMS).sort()).toEqual(
    ['EdDSA', 'Ed25519', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'].sort(),
  );
  expect(ALGORITHMS['__proto__']).toBeUndefined();
  expect(ALGORITHMS['constructor']).toBeUndefined();
});

test('every row verifies a token of its own kind, with a KeyObject given directly', async () => {
  const pssKey = { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING };
  const ec = (k: KeyObject) => ({ key: k, dsaEncoding: 'ieee-p1363' as const });
  const rows: Array<[string, Signing, string | null, KeyObject]> = [
    ['RS256', rsa.privateKey, 'sha256', rsa.publicKey],
    ['RS384', rsa.privateKey, 'sha384', rsa.publicKey],
    ['RS512', rsa.privateKey, 'sha512', rsa.publicKey],
    ['PS256', { ...pssKey, saltLength: 32 }, 'sha256', rsa.publicKey],
    ['PS384', { ...pssKey, saltLength: 48 }, 'sha384', rsa.publicKey],
    ['PS512', { ...pssKey, saltLength: 64 }, 'sha512', rsa.publicKey],
    ['ES256', ec(ec256.privateKey), 'sha256', ec256.publicKey],
    ['ES384', ec(ec384.privateKey), 'sha384', ec384.publicKey],
    ['ES512', ec(ec521.privateKey), 'sha512', ec521.publicKey],
    ['EdDSA', ed25519.privateKey, null, ed25519.publicKey],
    ['Ed25519', ed25519.privateKey, null, ed25519.publicKey],
  ];
  for (const [alg, signing, hash, publicKey] of rows) {
    const { payload, protectedHeader } = await jwtVerify(jwt(alg, signing, hash), publicKey, opts);
    expect([protectedHeader.alg, payload.aud]).toEqual([alg, 'api']);
  }
  const secret = Buffer.alloc(64, 7);
  for (const [alg, hash] of [['HS256', 'sha256'], ['HS384', 'sha384'], ['HS512', 'sha512']] as const) {
    expect((await jwtVerify(jwt(alg, secret, hash), new Uint8Array(secret), opts)).protectedHeader.alg).toBe(alg);
    expect((await jwtVerify(jwt(alg, secret, hash), createSecretKey(secret), opts)).protectedHeader.alg).toBe(alg);
  }
});

test('RSA keys under 2048 bits are refused for RS* and PS*, as jose does', async () => {
  const weak = pair('rsa', { modulusLength: 1024 });
  for (const alg of ['RS256', 'PS256']) {
    const signing = alg === 'PS256' ? { key: weak.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : weak.privateKey;
    await rejects(jwtVerify(jwt(alg, signing), weak.publicKey, opts), TypeError, /2048 bits or larger/);
  }
  // Through a key set the 1024-bit key arrives as a CryptoKey: same refusal, same class as jose.
  const set = createLocalJWKSet({ keys: [{ ...(await exportJWK(weak.publicKey)), alg: 'RS256' }] });
  const token = jwt('RS256', weak.privateKey);
  await rejects(jwtVerify(token, set, opts), TypeError, /2048/);
  await rejects(joseVerify(token, set, opts), TypeError, /2048/);
});

test('a key of the wrong type or curve is refused before any signature work', async () => {
  const cases: Array<[string, Signing, KeyObject, RegExp]> = [
    ['ES256', { key: ec384.privateKey, dsaEncoding: 'ieee-p1363' }, ec384.publicKey, /P-256/],
    ['ES384', { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' }, ec256.publicKey, /P-384/],
    ['ES512', { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' }, ec256.publicKey, /P-521/],
    ['RS256', ec256.privateKey, ec256.publicKey, /RSA public key/],
    ['ES256', rsa.privateKey, rsa.publicKey, /EC public key/],
    ['EdDSA', ec256.privateKey, ec256.publicKey, /ed25519 or ed448/],
    ['HS256', rsa.privateKey, rsa.publicKey, /CryptoKey, KeyObject or Uint8Array/],
  ];
  for (const [alg, signing, key, message] of cases) {
    await rejects(jwtVerify(jwt(alg, signing, alg === 'EdDSA' ? null : 'sha256'), key, opts), TypeError, message);
  }
  // A private key, or secret bytes for a public-key alg, are refused too.
  await rejects(jwtVerify(jwt('RS256', rsa.privateKey), rsa.privateKey, opts), TypeError, /"public"/);
  await rejects(jwtVerify(jwt('RS256', rsa.privateKey), new Uint8Array(32), opts), TypeError, /CryptoKey or KeyObject/);
  await rejects(jwtVerify(jwt('HS256', Buffer.alloc(0)), new Uint8Array(0), opts), TypeError, /non-empty secret/);
});

test('a CryptoKey imported for another algorithm is refused like jose refuses it', async () => {
  const jwk = await exportJWK(rsa.publicKey);
  const pssKey = await webcrypto.subtle.importKey('jwk', jwk, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
  const token = jwt('RS256', rsa.privateKey);
  await rejects(jwtVerify(token, pssKey, opts), TypeError, /algorithm.name must be RSASSA-PKCS1-v1_5/);
  await rejects(joseVerify(token, pssKey, opts), TypeError, /algorithm.name must be RSASSA-PKCS1-v1_5/);
  const sha384 = await webcrypto.subtle.importKey('jwk', jwk, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }, false, ['verify']);
  await rejects(jwtVerify(token, sha384, opts), TypeError, /algorithm.hash must be SHA-256/);
});

test('EdDSA takes Ed25519 and Ed448 keys; the Ed25519 alg only Ed25519', async () => {
  const ed448 = pair('ed448');
  const token = jwt('EdDSA', ed448.privateKey, null);
  expect((await jwtVerify(token, ed448.publicKey, opts)).protectedHeader.alg).toBe('EdDSA');
  await rejects(jwtVerify(jwt('Ed25519', ed448.privateKey, null), ed448.publicKey, opts), TypeError, /ed25519 public key/);
});

test('PS*: salt length must equal the hash length; an rsa-pss key only with matching parameters', async () => {
  const salt20 = jwt('PS256', { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 });
  await rejects(jwtVerify(salt20, rsa.publicKey, opts), errors.JWSSignatureVerificationFailed);
  const restricted = pair('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 32 });
  const ok = jwt('PS256', { key: restricted.privateKey, saltLength: 32 });
  expect((await jwtVerify(ok, restricted.publicKey, opts)).protectedHeader.alg).toBe('PS256');
  // A PS384 token (signed by any RSA key) meets the sha256-restricted key: refused before verifying.
  const ps384 = jwt('PS384', { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, 'sha384');
  await rejects(jwtVerify(ps384, restricted.publicKey, opts), TypeError, /RSA-PSS key parameters/);
  await rejects(jwtVerify(jwt('RS256', rsa.privateKey), restricted.publicKey, opts), TypeError, /RSA public key/);
});

test('ES*: a DER or otherwise mis-sized signature fails verification (exact IEEE P1363 length)', async () => {
  const der = jwt('ES256', { key: ec256.privateKey, dsaEncoding: 'der' });
  await rejects(jwtVerify(der, ec256.publicKey, opts), errors.JWSSignatureVerificationFailed);
  const good = jwt('ES256', { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' });
  const short = good.slice(0, good.lastIndexOf('.') + 1) + b64(Buffer.from(good.split('.')[2]!, 'base64url').subarray(0, 63));
  await rejects(jwtVerify(short, ec256.publicKey, opts), errors.JWSSignatureVerificationFailed);
});

test('HS*: a wrong secret or a truncated MAC fails, compared in constant time', async () => {
  const secret = Buffer.alloc(32, 1);
  const token = jwt('HS256', secret);
  await rejects(jwtVerify(token, new Uint8Array(Buffer.alloc(32, 2)), opts), errors.JWSSignatureVerificationFailed);
  const mac = Buffer.from(token.split('.')[2]!, 'base64url');
  const truncated = `${token.slice(0, token.lastIndexOf('.'))}.${b64(mac.subarray(0, 16))}`;
  await rejects(jwtVerify(truncated, new Uint8Array(secret), opts), errors.JWSSignatureVerificationFailed);
});

test('algorithms outside the table are refused (JOSENotSupported), never handed to another path', async () => {
  const header = (h: object) => `${b64(JSON.stringify(h))}.${b64(JSON.stringify(body))}.AAAA`;
  for (const alg of ['none', 'ML-DSA-44', 'RS1', 'ES256K', 'HS1']) {
    await rejects(jwtVerify(header({ alg }), rsa.publicKey), errors.JOSENotSupported);
  }
  // With an allow-list, a disallowed alg is refused before the key set is even asked.
  let asked = 0;
  const getKey = () => {
    asked++;
    return rsa.publicKey;
  };
  await rejects(jwtVerify(header({ alg: 'HS256' }), getKey, { ...opts, algorithms: ['RS256'] }), errors.JOSEAlgNotAllowed);
  expect(asked).toBe(0);
});

test('stricter than jose: only canonical unpadded base64url', async () => {
  const token = jwt('ES256', { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' });
  const [h, p, s] = token.split('.') as [string, string, string];
  // Re-spellings of the same signed token that jose's atob-based decoder accepts.
  const respelled = [`${h}.${p}.${s.slice(0, 5)} ${s.slice(5)}`, `${h}.${p}.${s}\n`];
  // 64-byte signature: 86 characters, the last one carrying 4 spare bits.
  const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(s.at(-1)!);
  respelled.push(`${h}.${p}.${s.slice(0, -1)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last | 1]}`);
  for (const t of respelled) {
    await expect(joseVerify(t, ec256.publicKey, opts)).resolves.toBeDefined();
    await rejects(jwtVerify(t, ec256.publicKey, opts), errors.JWSInvalid, /signature/);
  }
  const padded = jwt('ES256', { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' }, 'sha256', { pad: 'x' });
  const [ph] = padded.split('.');
  await rejects(jwtVerify(`${ph}==.${p}.${s}`, ec256.publicKey, opts), errors.JWSInvalid, /Header/);
});

test('jose-style options: string durations, several issuers, currentDate', async () => {
  const t = Math.floor(Date.now() / 1000);
  const token = jwt('ES256', { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' }, 'sha256', {}, { ...body, exp: t - 3 });
  await rejects(jwtVerify(token, ec256.publicKey, opts), errors.JWTExpired);
  const lenient = { ...opts, issuer: ['x', 'https://idp.test'], clockTolerance: '1 minute' };
  expect((await jwtVerify(token, ec256.publicKey, lenient)).payload.exp).toBe(t - 3);
  expect((await jwtVerify(token, ec256.publicKey, { ...opts, currentDate: new Date((t - 60) * 1000) })).payload.iss).toBe('https://idp.test');
  await rejects(jwtVerify(token, ec256.publicKey, { ...opts, clockTolerance: 'soon' }), TypeError, /time period/);
});

test('requireAuth runs on this engine: a re-spelled signature (spare bits set) is a 401, where jose let it through', async () => {
  const { default: express } = await import('express');
  const { default: request } = await import('supertest');
  const { requireAuth, oauthErrorHandler } = await import('../../lib/index.js');
  const jwks = { keys: [{ ...(await exportJWK(ec256.publicKey)), kid: 'k', alg: 'ES256' }] };
  const app = express();
  app.get('/me', requireAuth({ issuer: 'https://idp.test', audience: 'api', jwks }), (req, res) => res.json({ sub: req.auth!.payload.sub }));
  app.use(oauthErrorHandler());
  const token = jwt('ES256', { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' }, 'sha256', { kid: 'k' }, { ...body, sub: 'u1' });
  expect((await request(app).get('/me').set('Authorization', `Bearer ${token}`)).body).toEqual({ sub: 'u1' });
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const respelled = token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) | 1];
  await expect(joseVerify(respelled, createLocalJWKSet(jwks), opts)).resolves.toBeDefined();
  const res = await request(app).get('/me').set('Authorization', `Bearer ${respelled}`);
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toContain('error="invalid_token", error_description="The token is not a well-formed JWS"');
});

describe('unverifiedClaims(): the payload is parsed once per new token, and handed over once', () => {
  it('the verification that follows returns the parse that chose the keys', async () => {
    const token = jwt('RS256', rsa.privateKey);
    const peek = unverifiedClaims(token);
    expect(peek).toMatchObject({ iss: 'https://idp.test' });
    const first = await jwtVerify(token, rsa.publicKey, opts);
    expect(first.payload).toBe(peek);
    // Taken: a second verification of the same token (another guard, say) gets its own object,
    // so one guard's state keyed on its payload object never answers for another guard.
    const second = await jwtVerify(token, rsa.publicKey, opts);
    expect(second.payload).not.toBe(first.payload);
    expect(second.payload).toEqual(first.payload);
  });

  it('a parse is never handed to a token with another payload, and a bad payload is not a claims set', async () => {
    const token = jwt('RS256', rsa.privateKey);
    unverifiedClaims(jwt('RS256', rsa.privateKey, 'sha256', {}, { ...body, sub: 'mallory' }));
    expect((await jwtVerify(token, rsa.publicKey, opts)).payload.sub).toBeUndefined();
    expect(unverifiedClaims(`${b64('{"alg":"RS256"}')}.${b64('[1]')}.c2ln`)).toBeUndefined();
    expect(unverifiedClaims(`${b64('{"alg":"RS256"}')}.${b64('{"iss":')}.c2ln`)).toBeUndefined();
    expect(unverifiedClaims('no-dots')).toBeUndefined();
  });
});
