/**
 * The engine's synchronous fast path (lib/jwt/verify.ts: the one-scan alphabet check, decodeChecked,
 * the latin1 JSON read) over a corpus of hand-made byte-level edge cases and seeded mutations of ES256,
 * EdDSA and HS256 tokens, with jose.jwtVerify as the reference: same verdict, same error class, same
 * payload and header when accepted, with the key at hand and with a key set.
 *
 * Where the engine is documented to be stricter than jose (lib/jwt/base64url.ts: canonical unpadded
 * base64url only, so one signed token has one string form), the engine must refuse with JWSInvalid
 * and never accept what jose refuses. And the engine answers the same, message included, whatever
 * form the token comes in: a string, its UTF-8 bytes, or after the guard's formatProblem() shape check.
 */
import { createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { createLocalJWKSet, errors, jwtVerify as joseVerify, type JWK, type JWTVerifyOptions } from 'jose';
import { verifyJwt } from '../../lib/jwt/verify.js';
import { formatProblem } from '../../lib/guard/verifier.js';
import { seeded } from '../support/seeded.js';

const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');

/** The documented strictness: some part of a three-part token is not canonical unpadded base64url. */
const canonical = (seg: string) => /^[A-Za-z0-9_-]*$/.test(seg) && seg.length % 4 !== 1 && Buffer.from(seg, 'base64url').toString('base64url') === seg;
const nonCanonical = (jwt: string) => {
  const parts = jwt.split('.');
  return parts.length === 3 && parts.some((p) => !canonical(p));
};

describe('jwt engine fast path agrees with jose over a byte-level corpus', () => {
  const NOW = 1_900_000_000;
  const ISS = 'https://idp.example.test';
  const AUD = 'https://api.example.test';
  const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const secret = Buffer.from('fast-path-differential-secret-0123456789');
  const jwks = {
    keys: [
      { ...(es.publicKey.export({ format: 'jwk' }) as JWK), kid: 'es', alg: 'ES256' },
      { ...(ed.publicKey.export({ format: 'jwk' }) as JWK), kid: 'ed', alg: 'EdDSA' },
    ],
  };
  const options: JWTVerifyOptions = { issuer: ISS, audience: AUD, algorithms: ['ES256', 'EdDSA'], requiredClaims: ['exp'], currentDate: new Date(NOW * 1000) };
  const hsOptions: JWTVerifyOptions = { ...options, algorithms: ['HS256'] };
  const claims = JSON.stringify({ iss: ISS, aud: AUD, sub: 'user-1', iat: NOW - 10, exp: NOW + 300 });

  type Signer = 'es' | 'ed' | 'hs';
  const signRaw = (s: Signer, h: string, p: string) => {
    const input = Buffer.from(`${h}.${p}`, 'latin1');
    const sig =
      s === 'hs' ? createHmac('sha256', secret).update(input).digest() : s === 'es' ? cryptoSign('sha256', input, { key: es.privateKey, dsaEncoding: 'ieee-p1363' }) : cryptoSign(null, input, ed.privateKey);
    return `${h}.${p}.${b64(sig)}`;
  };
  const headerOf = (s: Signer) => JSON.stringify(s === 'hs' ? { alg: 'HS256', typ: 'at+jwt' } : { alg: s === 'es' ? 'ES256' : 'EdDSA', kid: s, typ: 'at+jwt' });

  // The same mutations every run.
  const { int } = seeded(0xfa57);

  function corpus(): Array<{ name: string; jwt: string; signer: Signer }> {
    const out: Array<{ name: string; jwt: string; signer: Signer }> = [];
    const jsonBytes = (json: string): Array<[string, Uint8Array]> => {
      const inner = json.slice(1);
      return [
        ['ascii', Buffer.from(json)],
        ['BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)])],
        ['BOM twice', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from(json)])],
        ['UTF-16 BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(json)])],
        ['valid UTF-8 ü', Buffer.from(`{"x":"ü✓😀",${inner}`)],
        ['latin1 é byte', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xe9]), Buffer.from(`",${inner}`)])],
        ['lone 0x80', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0x80]), Buffer.from(`",${inner}`)])],
        ['0xff', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff]), Buffer.from(`",${inner}`)])],
        ['overlong /', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from(`",${inner}`)])],
        ['CESU surrogate', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`",${inner}`)])],
        ['truncated 3-byte', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xe2, 0x82]), Buffer.from(`",${inner}`)])],
        ['raw DEL', Buffer.from(`{"x":"\u007f",${inner}`)],
        ['raw NUL in string', Buffer.from(`{"x":"\u0000",${inner}`)],
        ['BOM in the middle', Buffer.from(`{"x":"\ufeff",${inner}`)],
        ['NBSP as whitespace', Buffer.from(`{\u00a0${inner}`)],
        ['escaped non-ASCII', Buffer.from(`{"x":"\\u00e9\\ud83d\\ude00",${inner}`)],
        ['latin1 text as bytes', Buffer.from(`{"x":"é",${inner}`, 'latin1')],
      ];
    };
    for (const s of ['es', 'ed', 'hs'] as Signer[]) {
      for (const [hn, hb] of jsonBytes(headerOf(s))) {
        for (const [pn, pb] of jsonBytes(claims)) {
          if (hn !== 'ascii' && pn !== 'ascii') continue;
          out.push({ name: `${s} header ${hn} payload ${pn}`, jwt: signRaw(s, b64(hb), b64(pb)), signer: s });
        }
      }
    }
    const bases = (['es', 'ed', 'hs'] as Signer[]).map((s) => ({ s, jwt: signRaw(s, b64(headerOf(s)), b64(claims)) }));
    const CHARS = ['+', '/', '=', '.', ' ', '\t', '*', '~', '-', '_', 'A', 'é', '\u212A', '\u017F', '\uff21', '\ufeff', '\ud800', '\u0000', '\n', '\u00a0', '%', '\\'];
    for (const { s, jwt } of bases) {
      const parts = jwt.split('.');
      out.push({ name: `${s} valid`, jwt, signer: s });
      for (let i = 0; i < 3; i++) {
        const p = [...parts];
        p[i] = '';
        out.push({ name: `${s} empty part ${i}`, jwt: p.join('.'), signer: s });
        // Standard base64 and padding.
        const std = [...parts];
        std[i] = Buffer.from(parts[i]!, 'base64url').toString('base64');
        out.push({ name: `${s} part ${i} standard base64`, jwt: std.join('.'), signer: s });
        const unpadded = [...parts];
        unpadded[i] = Buffer.from(parts[i]!, 'base64url').toString('base64').replace(/=+$/, '');
        out.push({ name: `${s} part ${i} +/ unpadded`, jwt: unpadded.join('.'), signer: s });
        // Non-canonical endings: every other value of the last character.
        for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
          const nc = [...parts];
          nc[i] = parts[i]!.slice(0, -1) + c;
          out.push({ name: `${s} part ${i} last char ${c}`, jwt: nc.join('.'), signer: s });
        }
        for (const extra of ['A', 'AA', 'AAA', '=', '==']) {
          const longer = [...parts];
          longer[i] = parts[i]! + extra;
          out.push({ name: `${s} part ${i} + ${extra}`, jwt: longer.join('.'), signer: s });
        }
      }
      for (let n = 0; n < 700; n++) {
        const chars = [...jwt];
        const at = int(chars.length);
        const c = CHARS[int(CHARS.length)]!;
        const op = int(3);
        if (op === 0) chars[at] = c;
        else if (op === 1) chars.splice(at, 0, c);
        else chars.splice(at, 1);
        out.push({ name: `${s} mutation ${n} (${op} ${JSON.stringify(c)} at ${at})`, jwt: chars.join(''), signer: s });
      }
    }
    return out;
  }

  /** The full answer: verdict, error class, message and claim/reason — for comparing the engine with itself. */
  const outcome = async (run: () => unknown): Promise<string> => {
    try {
      const r = (await run()) as { payload: unknown; protectedHeader: unknown };
      return `ok ${JSON.stringify(r.payload)} ${JSON.stringify(r.protectedHeader)}`;
    } catch (err) {
      const e = err as { claim?: string; reason?: string; message: string; constructor: { name: string } };
      return `${e.constructor.name}: ${e.message}${e.claim ? ` ${e.claim}/${e.reason}` : ''}`;
    }
  };
  /** The verdict jose and the engine must share: messages are each library's own. */
  const verdict = (full: string) => (full.startsWith('ok ') ? full : full.split(':')[0]!);
  const claimPart = (full: string) => (/ (\w+)\/(\w+)$/.exec(full)?.[0] ?? '');

  test('every token of the corpus: the verdict jose gives (stricter only on non-canonical base64url), the same answer as a string, as bytes and shape-checked', async () => {
    const set = createLocalJWKSet(jwks);
    const cases = corpus();
    expect(cases.length).toBeGreaterThan(2_500);
    const mismatches: string[] = [];
    const stricter: string[] = [];
    const tally: Record<string, number> = {};
    let shapeChecked = 0;
    for (const c of cases) {
      const opts = c.signer === 'hs' ? hsOptions : options;
      const direct = c.signer === 'hs' ? new Uint8Array(secret) : c.signer === 'es' ? es.publicKey : ed.publicKey;
      for (const [how, key] of [
        ['key', direct],
        ['set', c.signer === 'hs' ? direct : set],
      ] as const) {
        const ours = await outcome(() => verifyJwt(c.jwt, key as never, opts));
        const jose = await outcome(() => joseVerify(c.jwt, key as never, opts));
        const joseClaim = jose.startsWith(errors.JWTClaimValidationFailed.name) || jose.startsWith(errors.JWTExpired.name) ? claimPart(jose) : '';
        const oursClaim = joseClaim === '' ? '' : claimPart(ours);
        if (verdict(ours) === verdict(jose) && oursClaim === joseClaim) {
          // agreed
        } else if (nonCanonical(c.jwt) && verdict(ours) === 'JWSInvalid') stricter.push(`${c.name} [${how}] (jose: ${verdict(jose).slice(0, 40)})`);
        else mismatches.push(`${c.name} [${how}]: engine ${ours} | jose ${jose}`);
        // The engine itself: bytes are read as their UTF-8 text (a lone surrogate became U+FFFD on the way).
        const bytes = new TextEncoder().encode(c.jwt);
        const asBytes = await outcome(() => verifyJwt(bytes, key as never, opts));
        const asText = await outcome(() => verifyJwt(new TextDecoder().decode(bytes), key as never, opts));
        if (asBytes !== asText) mismatches.push(`${c.name} [${how}, bytes]: bytes ${asBytes} | text ${asText}`);
        // As the guard calls it: formatProblem() first, whose shape match the engine then reuses.
        if (formatProblem(c.jwt) === undefined) {
          shapeChecked++;
          const guarded = await outcome(() => verifyJwt(c.jwt, key as never, opts));
          if (guarded !== ours) mismatches.push(`${c.name} [${how}, shapeChecked]: ${guarded} | unchecked ${ours}`);
        }
        const k = ours.startsWith('ok') ? 'ok' : verdict(ours);
        tally[k] = (tally[k] ?? 0) + 1;
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The corpus must reach both verdicts and the decoding errors, or it proves little.
    expect(tally.ok).toBeGreaterThan(50);
    expect(tally.JWSInvalid).toBeGreaterThan(500);
    expect(tally.JWSSignatureVerificationFailed).toBeGreaterThan(100);
    expect(shapeChecked).toBeGreaterThan(1_000);
    // The corpus reaches the documented strictness too (padding, '+/', non-canonical last characters).
    expect(stricter.length).toBeGreaterThan(100);
  });
});
