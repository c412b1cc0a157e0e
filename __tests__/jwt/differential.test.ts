/**
 * Differential test: every token of a large corpus (valid tokens of six algorithms, hostile shapes,
 * claim edges, seeded random mutations) goes through lib/jwt's jwtVerify and through jose.jwtVerify
 * with the same options and the same jose key set, and both must agree: same accept/reject, same
 * error class, same claim/reason for claim errors, same payload and header when accepted.
 *
 * The one allowed difference is listed and counted: the engine accepts only canonical unpadded
 * base64url (no whitespace, no '=', zero spare bits), which jose's atob-based decoder does not
 * require; on such tokens the engine must reject with JWSInvalid, and never accept what jose rejects.
 */
import { createHmac, generateKeyPairSync, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify as joseVerify, type JWK, type JWTVerifyOptions } from 'jose';
import { jwtVerify } from '../../lib/jwt/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { seeded } from '../support/seeded.js';

// The same cases and mutations on every run (keys are fresh each run); a failure names its case.
const { int, pick } = seeded(0x5eed1234);

const NOW = 1_900_000_000;
const ISS = 'https://idp.example.test';
const AUD = 'https://api.example.test';
const TOL = 5;
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const json = (v: unknown) => b64(JSON.stringify(v));

type Alg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA' | 'HS256';
interface Signer {
  alg: Alg;
  kid: string;
  key: KeyObject | Buffer;
}
const secret = Buffer.from('differential-test-secret-0123456789abcdef');
const pair = (type: 'rsa' | 'ec' | 'ed25519', o: object = {}): { publicKey: KeyObject; privateKey: KeyObject } =>
  generateKeyPairSync(type as 'rsa', o as { modulusLength: number });
const rsa = pair('rsa', { modulusLength: 2048 });
const pss = pair('rsa', { modulusLength: 2048 });
const weak = pair('rsa', { modulusLength: 1024 });
const p256 = pair('ec', { namedCurve: 'P-256' });
const p256b = pair('ec', { namedCurve: 'P-256' });
const p384 = pair('ec', { namedCurve: 'P-384' });
const ed = pair('ed25519');
const signers: Record<string, Signer> = {
  rs: { alg: 'RS256', kid: 'rs', key: rsa.privateKey },
  ps: { alg: 'PS256', kid: 'ps', key: pss.privateKey },
  es: { alg: 'ES256', kid: 'es', key: p256.privateKey },
  es384: { alg: 'ES384', kid: 'es384', key: p384.privateKey },
  ed: { alg: 'EdDSA', kid: 'ed', key: ed.privateKey },
  hs: { alg: 'HS256', kid: 'hs', key: secret },
};
const jwk = (k: KeyObject, extra: object) => ({ ...(k.export({ format: 'jwk' }) as JWK), ...extra });
const JWKS = {
  keys: [
    jwk(rsa.publicKey, { kid: 'rs', alg: 'RS256', use: 'sig' }),
    jwk(pss.publicKey, { kid: 'ps', alg: 'PS256' }),
    jwk(p256.publicKey, { kid: 'es', use: 'sig' }), // no alg: selected by kty/crv
    jwk(p384.publicKey, { kid: 'es384', alg: 'ES384', key_ops: ['verify'] }),
    jwk(ed.publicKey, { kid: 'ed', alg: 'EdDSA' }),
    jwk(weak.publicKey, { kid: 'weak', alg: 'RS256' }), // 1024 bits: both refuse with a TypeError
    jwk(p256b.publicKey, { kid: 'dup' }), // two keys share kid "dup": JWKSMultipleMatchingKeys
    jwk(p256.publicKey, { kid: 'dup' }),
    jwk(rsa.publicKey, { kid: 'enc', use: 'enc' }), // never selected for signatures
  ],
};

/** Signs arbitrary header/payload segments (raw strings, so hostile shapes can be signed too). */
function signSegments(s: Signer, header: string, payload: string, keyOverride?: KeyObject): string {
  const input = Buffer.from(`${header}.${payload}`, 'latin1');
  const key = keyOverride ?? s.key;
  let sig: Buffer;
  if (s.alg === 'HS256') sig = createHmac('sha256', key as Buffer).update(input).digest();
  else if (s.alg === 'EdDSA') sig = cryptoSign(null, input, key as KeyObject);
  else if (s.alg === 'PS256') sig = cryptoSign('sha256', input, { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  else if (s.alg.startsWith('ES')) sig = cryptoSign(s.alg === 'ES384' ? 'sha384' : 'sha256', input, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  else sig = cryptoSign('sha256', input, key as KeyObject);
  return `${header}.${payload}.${b64(sig)}`;
}
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISS, aud: AUD, sub: 'user-1', iat: NOW - 60, exp: NOW + 300, ...extra });
const token = (s: Signer, payload: object = claims(), header: object = {}) =>
  signSegments(s, json({ alg: s.alg, kid: s.kid, typ: 'at+jwt', ...header }), json(payload));

// Two verifier set-ups, each run through both implementations.
const asymOptions: JWTVerifyOptions = {
  issuer: ISS,
  audience: [AUD, 'https://other.example.test'],
  algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'],
  clockTolerance: TOL,
  maxTokenAge: 3600,
  typ: 'at+jwt',
  requiredClaims: ['exp', 'sub'],
  currentDate: new Date(NOW * 1000),
};
const plainOptions: JWTVerifyOptions = { issuer: ISS, audience: AUD, algorithms: ['ES256', 'EdDSA', 'RS256'], requiredClaims: ['exp'], currentDate: new Date(NOW * 1000) };
const hsOptions: JWTVerifyOptions = { ...asymOptions, algorithms: ['HS256'], typ: undefined, maxTokenAge: undefined };
const localSet = createLocalJWKSet(JWKS);

interface Case {
  name: string;
  jwt: string;
  key: 'jwks' | 'secret' | 'remote';
  options?: JWTVerifyOptions;
}

type Outcome = { ok: true; payload: unknown; header: unknown } | { ok: false; cls: string; claim?: string; reason?: string };
async function outcome(run: () => Promise<{ payload: unknown; protectedHeader: unknown }>): Promise<Outcome> {
  try {
    const r = await run();
    return { ok: true, payload: r.payload, header: r.protectedHeader };
  } catch (err) {
    const e = err as { claim?: string; reason?: string; constructor: { name: string } };
    const claimError = err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired;
    return { ok: false, cls: e.constructor.name, ...(claimError ? { claim: e.claim, reason: e.reason } : {}) };
  }
}

const CANONICAL = /^[A-Za-z0-9_-]*$/;
const canonical = (seg: string) => {
  if (seg.length % 4 === 1 || !CANONICAL.test(seg)) return false;
  return Buffer.from(seg, 'base64url').toString('base64url') === seg;
};
/** The listed stricter case: some part of a three-part token is not canonical base64url. */
const nonCanonical = (jwt: string) => {
  const parts = jwt.split('.');
  return parts.length === 3 && parts.some((p) => !canonical(p));
};

function cases(): Case[] {
  const out: Case[] = [];
  const add = (name: string, jwt: string, key: Case['key'] = 'jwks', options?: JWTVerifyOptions) => out.push({ name, jwt, key, options });
  const asym = [signers.rs!, signers.ps!, signers.es!, signers.es384!, signers.ed!];

  // 1. Valid tokens, varied claims, every algorithm; the HS256 ones against the secret.
  for (let i = 0; i < 60; i++) {
    for (const s of asym) {
      const extra = pick([{}, { aud: [AUD, 'x'] }, { aud: ['x', 'https://other.example.test'] }, { scope: 'a b', n: i, nested: { ü: '✓' } }, { nbf: NOW - TOL }]);
      add(`valid ${s.alg} #${i}`, token(s, claims(extra)), 'jwks', i % 3 === 0 ? plainOptions : undefined);
    }
    add(`valid HS256 #${i}`, token(signers.hs!, claims({ n: i })), 'secret');
  }

  // 2. Hostile headers, properly signed where a signature makes sense.
  const es = signers.es!;
  const hostileHeaders: Array<[string, unknown]> = [
    ['alg none', { alg: 'none', typ: 'at+jwt' }],
    ['alg None', { alg: 'None', kid: 'es', typ: 'at+jwt' }],
    ['alg empty', { alg: '', kid: 'es', typ: 'at+jwt' }],
    ['alg missing', { kid: 'es', typ: 'at+jwt' }],
    ['alg number', { alg: 256, kid: 'es', typ: 'at+jwt' }],
    ['alg HS256 (confusion)', { alg: 'HS256', kid: 'rs', typ: 'at+jwt' }],
    ['alg RS256 on the EC kid', { alg: 'RS256', kid: 'es', typ: 'at+jwt' }],
    ['alg PS256 on the RS256 kid', { alg: 'PS256', kid: 'rs', typ: 'at+jwt' }],
    ['alg ES384 on a P-256 kid', { alg: 'ES384', kid: 'es', typ: 'at+jwt' }],
    ['alg Ed25519 (RFC 9864)', { alg: 'Ed25519', kid: 'ed', typ: 'at+jwt' }],
    ['alg ML-DSA-44', { alg: 'ML-DSA-44', kid: 'es', typ: 'at+jwt' }],
    ['alg __proto__', { alg: '__proto__', kid: 'es', typ: 'at+jwt' }],
    ['kid unknown', { alg: 'ES256', kid: 'nope', typ: 'at+jwt' }],
    ['kid missing', { alg: 'ES256', typ: 'at+jwt' }],
    ['kid number', { alg: 'ES256', kid: 7, typ: 'at+jwt' }],
    ['kid path', { alg: 'ES256', kid: '../../es', typ: 'at+jwt' }],
    ['kid __proto__', { alg: 'ES256', kid: '__proto__', typ: 'at+jwt' }],
    ['kid duplicated in the set', { alg: 'ES256', kid: 'dup', typ: 'at+jwt' }],
    ['kid of a 1024-bit RSA key', { alg: 'RS256', kid: 'weak', typ: 'at+jwt' }],
    ['kid of an enc key', { alg: 'RS256', kid: 'enc', typ: 'at+jwt' }],
    ['crit b64 true', { alg: 'ES256', kid: 'es', typ: 'at+jwt', b64: true, crit: ['b64'] }],
    ['crit b64 false', { alg: 'ES256', kid: 'es', typ: 'at+jwt', b64: false, crit: ['b64'] }],
    ['crit b64 missing', { alg: 'ES256', kid: 'es', typ: 'at+jwt', crit: ['b64'] }],
    ['crit b64 string', { alg: 'ES256', kid: 'es', typ: 'at+jwt', b64: 'false', crit: ['b64'] }],
    ['b64 false without crit', { alg: 'ES256', kid: 'es', typ: 'at+jwt', b64: false }],
    ['crit unknown', { alg: 'ES256', kid: 'es', typ: 'at+jwt', crit: ['exp'], exp: 1 }],
    ['crit empty', { alg: 'ES256', kid: 'es', typ: 'at+jwt', crit: [] }],
    ['crit not array', { alg: 'ES256', kid: 'es', typ: 'at+jwt', crit: 'b64' }],
    ['crit member number', { alg: 'ES256', kid: 'es', typ: 'at+jwt', crit: [1] }],
    ['crit duplicate b64', { alg: 'ES256', kid: 'es', typ: 'at+jwt', b64: true, crit: ['b64', 'b64'] }],
    ['crit __proto__', { alg: 'ES256', kid: 'es', typ: 'at+jwt', crit: ['__proto__'] }],
    ['jku/jwk/x5u ignored', { alg: 'ES256', kid: 'es', typ: 'at+jwt', jku: 'https://evil/jwks', x5u: 'https://evil', jwk: { kty: 'oct' } }],
    ['typ AT+JWT', { alg: 'ES256', kid: 'es', typ: 'AT+JWT' }],
    ['typ application/at+jwt', { alg: 'ES256', kid: 'es', typ: 'application/AT+jwt' }],
    ['typ JWT', { alg: 'ES256', kid: 'es', typ: 'JWT' }],
    ['typ missing', { alg: 'ES256', kid: 'es' }],
    ['typ number', { alg: 'ES256', kid: 'es', typ: 1 }],
    ['header array', [{ alg: 'ES256', kid: 'es' }]],
    ['header null', null],
    ['header string', 'ES256'],
  ];
  for (const [name, header] of hostileHeaders) {
    const seg = json(header);
    for (const payload of [claims(), claims({ aud: 'x' })]) {
      add(`${name}`, signSegments(es, seg, json(payload)));
      add(`${name} (RSA-signed)`, signSegments(signers.rs!, seg, json(payload)));
      add(`${name}, unsigned`, `${seg}.${json(payload)}.`);
      add(`${name} vs secret`, signSegments(signers.hs!, seg, json(payload)), 'secret');
    }
    // b64:false with a raw (unencoded, ASCII) payload
    add(`${name}, raw payload`, signSegments(es, seg, JSON.stringify(claims()).replace(/[./]/g, '_')));
  }
  // HS256 signed with the RSA public key's PEM as the secret: the classic confusion attack.
  const pem = Buffer.from(rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  add('HS256 with the public key as secret', signSegments({ ...signers.hs!, key: pem }, json({ alg: 'HS256', kid: 'rs' }), json(claims())));
  add('HS256 confusion vs secret', signSegments({ ...signers.hs!, key: pem }, json({ alg: 'HS256' }), json(claims())), 'secret');

  // 3. Structure: part counts, bad base64url, JSON that is not an object, bad UTF-8, BOM, duplicates.
  const good = token(es);
  const [h, p, sig] = good.split('.') as [string, string, string];
  for (const [name, jwt] of [
    ['empty', ''],
    ['dots only', '..'],
    ['two parts', `${h}.${p}`],
    ['four parts', `${good}.`],
    ['JWE-like five parts', `${h}.${p}.${sig}.${p}.${sig}`],
    ['padding =', `${h}.${p}=.${sig}`],
    ['standard alphabet +/', `${h}.${p.replace(/-/g, '+').replace(/_/g, '/')}.${sig}`],
    ['space in signature', `${h}.${p}.${sig.slice(0, 10)} ${sig.slice(10)}`],
    ['non-ascii payload', `${h}.${p}é.${sig}`],
    ['non-ascii signature', `${h}.${p}.${sig}é`],
    ['star in header', `*${h}.${p}.${sig}`],
    ['length%4==1 signature', `${h}.${p}.${sig}A`],
    ['empty signature', `${h}.${p}.`],
    ['empty payload', signSegments(es, h, '')],
  ] as const) add(name, jwt);
  for (const [name, payload] of [
    ['payload array', b64('[1]')],
    ['payload null', b64('null')],
    ['payload number', b64('42')],
    ['payload string', b64('"x"')],
    ['payload invalid JSON', b64('{"iss":')],
    ['payload bad UTF-8', b64(Buffer.from([0x7b, 0xff, 0x7d]))],
    ['payload BOM', b64(`\ufeff${JSON.stringify(claims())}`)],
    ['payload duplicate iss', b64(JSON.stringify(claims()).replace('{', '{"iss":"https://evil",'))],
    ['payload duplicate exp', b64(JSON.stringify(claims()).replace('{', `{"exp":${NOW + 999},`).replace(`"exp":${NOW + 300}`, `"exp":${NOW - 999}`))],
    ['payload __proto__', b64(JSON.stringify(claims()).replace('{', '{"__proto__":{"admin":true},'))],
    ['payload huge exp', b64(JSON.stringify(claims()).replace(`${NOW + 300}`, '1e400'))],
  ] as const) add(name, signSegments(es, h, payload));
  add('header BOM', signSegments(es, b64(`\ufeff${JSON.stringify({ alg: 'ES256', kid: 'es', typ: 'at+jwt' })}`), p));
  add('header bad UTF-8', signSegments(es, b64(Buffer.from([0x7b, 0xc3, 0x7d])), p));
  add('header duplicate alg', signSegments(es, b64('{"alg":"none","alg":"ES256","kid":"es","typ":"at+jwt"}'), p));

  // 4. Claim edges around clockTolerance, maxTokenAge, types, presence, iss/aud/sub.
  const edges: Array<[string, Record<string, unknown>]> = [];
  for (const d of [-1, 0, 1]) {
    edges.push([`exp = now - tol ${d}`, { exp: NOW - TOL + d }], [`nbf = now + tol ${d}`, { nbf: NOW + TOL + d }]);
    edges.push([`iat future tol ${d}`, { iat: NOW + TOL + d }], [`iat age max ${d}`, { iat: NOW - 3600 - TOL + d }]);
  }
  for (const [claim, values] of [
    ['exp', [undefined, String(NOW + 300), null, true, NOW + 0.5, -1, 0]],
    ['nbf', [String(NOW), null, NOW + 5.5, NOW + 6]],
    ['iat', [undefined, String(NOW), null, NOW - 0.5]],
    ['aud', [undefined, 'x', [], ['x', 1, AUD], [1], { a: AUD }, null, AUD.toUpperCase()]],
    ['iss', [undefined, 'https://evil', `${ISS}/`, null, [ISS]]],
    ['sub', [undefined, 1, null]],
  ] as const) {
    for (const v of values) edges.push([`${claim} = ${JSON.stringify(v) ?? 'missing'}`, { [claim]: v }]);
  }
  for (const [name, extra] of edges) {
    const body = claims(extra);
    for (const k of Object.keys(body)) if (body[k as keyof typeof body] === undefined) delete body[k as keyof typeof body];
    for (const s of [es, signers.ed!]) {
      add(`${name} ${s.alg}`, token(s, body));
      add(`${name} ${s.alg} plain options`, token(s, body), 'jwks', plainOptions);
    }
    add(`${name} HS256`, token(signers.hs!, body), 'secret');
  }

  // 5. Seeded random mutations: header/payload/signature bytes, token characters, and re-signed claim changes.
  const bases = [...asym, signers.hs!].map((s) => ({ s, jwt: token(s) }));
  const mutateBytes = (buf: Buffer) => {
    const b = Buffer.from(buf);
    const op = int(4);
    const i = int(Math.max(1, b.length));
    if (op === 0 && b.length) b[i] = int(256);
    else if (op === 1 && b.length) b[i] = b[i]! ^ (1 << int(8));
    else if (op === 2) return Buffer.concat([b.subarray(0, i), Buffer.from([int(256)]), b.subarray(i)]);
    else return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    return b;
  };
  const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
  for (let i = 0; i < 9400; i++) {
    const { s, jwt } = pick(bases);
    const parts = jwt.split('.');
    const key = s.alg === 'HS256' ? 'secret' : 'jwks';
    const kind = int(6);
    if (kind < 3) {
      parts[kind] = b64(mutateBytes(Buffer.from(parts[kind]!, 'base64url')));
      add(`mutate ${['header', 'payload', 'signature'][kind]} bytes ${s.alg} #${i}`, parts.join('.'), key);
    } else if (kind === 3) {
      const chars = [...jwt];
      chars[int(chars.length)] = pick([...CHARS]);
      add(`mutate char ${s.alg} #${i}`, chars.join(''), key);
    } else if (kind === 4 && s.alg !== 'RS256' && s.alg !== 'PS256') {
      // A re-signed token whose claims were changed at random: the claim checks decide.
      const body: Record<string, unknown> = claims();
      const claim = pick(['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'typ']);
      const value = pick([undefined, NOW + int(20) - 10, NOW - 3600 - int(20), String(NOW), ISS, AUD, [AUD], null, {}]);
      if (claim === 'typ') add(`re-signed typ ${s.alg} #${i}`, token(s, body, { typ: value }), key);
      else {
        if (value === undefined) delete body[claim];
        else body[claim] = value;
        add(`re-signed ${claim} ${s.alg} #${i}`, token(s, body), key, pick([undefined, plainOptions]));
      }
    } else {
      add(`truncate signature ${s.alg} #${i}`, `${parts[0]}.${parts[1]}.${parts[2]!.slice(0, int(parts[2]!.length))}`, key);
    }
  }
  return out;
}

let remote: JwksServer;
beforeAll(async () => {
  remote = await startJwksServer({ algs: ['ES256', 'EdDSA'] });
  await remote.addKey('ES256'); // a second P-256 key: a token without kid then matches two
});
afterAll(() => remote.close());

test('lib/jwt agrees with jose.jwtVerify on a corpus of over 10,000 tokens', async () => {
  const t0 = performance.now();
  const corpus = cases();
  const t1 = performance.now();
  const time = { ours: 0, jose: 0 };
  expect(corpus.length).toBeGreaterThanOrEqual(10_000);
  const mismatches: string[] = [];
  const stricter: string[] = [];
  let accepted = 0;
  const tally: Record<string, number> = {};
  for (const c of corpus) {
    const options = c.options ?? (c.key === 'secret' ? hsOptions : asymOptions);
    const key = c.key === 'secret' ? new Uint8Array(secret) : localSet;
    const a = performance.now();
    const ours = await outcome(() => jwtVerify(c.jwt, key, options));
    const b = performance.now();
    const theirs = await outcome(() => joseVerify(c.jwt, key as never, options));
    time.ours += b - a;
    time.jose += performance.now() - b;
    if (JSON.stringify(ours) === JSON.stringify(theirs)) {
      if (ours.ok) accepted++;
      const k = ours.ok ? 'accepted' : ours.cls + (ours.claim ? ` ${ours.claim}/${ours.reason}` : '');
      tally[k] = (tally[k] ?? 0) + 1;
    } else if (nonCanonical(c.jwt) && !ours.ok && ours.cls === 'JWSInvalid') stricter.push(`${c.name} (jose: ${theirs.ok ? 'accepted' : theirs.cls})`);
    else mismatches.push(`${c.name}: engine ${JSON.stringify(ours)} jose ${JSON.stringify(theirs)} ${c.jwt}`);
  }
  const joseAccepted = stricter.filter((n) => n.endsWith('(jose: accepted)'));
  // The figures only on request (`TEST_FIGURES=1`): a green run stays quiet.
  if (process.env.TEST_FIGURES) console.log(
    `differential: ${corpus.length} cases (built in ${Math.round(t1 - t0)} ms; verifying took ${Math.round(time.ours)} ms here, ${Math.round(time.jose)} ms in jose), ` +
      `${accepted} accepted by both; stricter (non-canonical base64url): ${stricter.length}, of which jose accepted ${joseAccepted.length}, e.g. ${joseAccepted.slice(0, 3).join('; ')}`,
    tally,
  );
  expect(mismatches.slice(0, 10)).toEqual([]);
  // The corpus must exercise both outcomes and many error classes, or it proves little.
  expect(accepted).toBeGreaterThan(400);
  expect(Object.keys(tally).length).toBeGreaterThan(15);
});

test('with a remote key set (real JWKS server) both agree too', async () => {
  const set = createRemoteJWKSet(new URL(remote.jwksUri));
  const opts = { issuer: remote.issuer, audience: remote.audience, algorithms: ['ES256', 'EdDSA'], requiredClaims: ['exp'] };
  const tokens = [
    await remote.sign(),
    await remote.sign({}, { alg: 'EdDSA' }),
    await remote.sign({ aud: 'x' }),
    await remote.sign({}, { expiresIn: -60 }),
    await remote.sign({}, { kid: null }),
    (await remote.sign()).replace(/\.[^.]+$/, '.AAAA'),
  ];
  const results: Outcome[] = [];
  for (const t of tokens) {
    const ours = await outcome(() => jwtVerify(t, set, opts));
    expect(ours).toEqual(await outcome(() => joseVerify(t, set, opts)));
    results.push(ours);
  }
  expect(results.map((r) => (r.ok ? 'ok' : r.cls))).toEqual(['ok', 'ok', 'JWTClaimValidationFailed', 'JWTExpired', 'JWKSMultipleMatchingKeys', 'JWSSignatureVerificationFailed']);
});
