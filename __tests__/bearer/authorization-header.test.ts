/**
 * The character-code Authorization parser (lib/bearer/extract-token.ts) against the regexes it
 * replaced, written out below as the oracle: over a generated corpus, and over real HTTP with the
 * header bytes as sent.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { oauthErrorHandler, requireAuth } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { extractCredentials, type ExtractOptions } from '../../lib/bearer/extract-token.js';
import { InvalidRequestError } from '../../lib/errors/oauth-error.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer({ algs: ['RS256', 'ES256'] });
  clearDiscoveryCache();
});
afterEach(() => idp.close());

// ---------------------------------------------------------------------------------------------
// Authorization header: the character-code parser against the regexes it replaced.

/** lib/bearer/extract-token.ts before 7a7526d, written out: the oracle. */
function oldHeader(header: string, dpop: boolean): { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string; scheme: 'bearer' | 'dpop' } {
  if (!(dpop ? /^(?:bearer|dpop)(?: |$)/i : /^bearer(?: |$)/i).test(header)) return { kind: 'none' };
  const m = /^(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  if (m === null) return { kind: 'malformed' };
  return { kind: 'token', token: m[2]!, scheme: m[1]!.length === 4 ? 'dpop' : 'bearer' };
}
const malformedText = (dpop: boolean) =>
  `The Authorization header is malformed: expected "${dpop ? 'Bearer or DPoP' : 'Bearer'} <token>" with exactly one token of base64url/b64token characters`;

function headerCorpus(jwt: string): string[] {
  const schemes = [
    'Bearer', 'bearer', 'BEARER', 'bEaReR', 'Bear', 'Bearerx', 'Bearer2', 'DPoP', 'dpop', 'DPOP', 'dPoP', 'DPo', 'DPoPx', 'Basic', 'Token', '',
    // Look-alikes: fullwidth, Cyrillic, dotless/long letters, Kelvin sign, combining marks, letters ±0x20 that are not letters.
    '\uff22earer', 'B\u0435arer', 'Be\u0430rer', 'Bearer\u0301', 'Bea\u0280er', '\u0392earer', 'D\u0420oP', 'DP\u043eP', '\uff24\uff30\uff4f\uff30',
    '\u212Aearer', 'Bea\u017Fer', 'B\u00e9arer', '\u0142earer', 'Bearer\u0000', '\u0002earer', 'Bearer\u00a0', 'BEARE\u0152', 'BEA\u0152ER', '\u00c2earer',
  ];
  const separators = ['', ' ', '  ', '\t', ' \t', '\t ', '\u00a0', '\u3000', ',', ':', '=', '\u0000'];
  const tokens = [jwt, '', 'abc', 'a=b', 'abc==', '==', 'a b', `${jwt.slice(0, 20)}=${jwt.slice(20)}`, `${jwt}=`, 'tok~en+/.', ' ', 'x\u212A', '\u00e9', 'a\tb', `${jwt} `, '\uff41bc'];
  const out = new Set<string>(['', ' ', 'Bearer', 'DPoP', ' Bearer x', 'Bearer x ', 'Bearer  ', 'Bearer\t', 'bearer\u0000x']);
  for (const s of schemes) for (const sep of separators) for (const t of tokens) out.add(`${s}${sep}${t}`);
  return [...out];
}

describe('Authorization header parsing equals the old regexes', () => {
  test('extractCredentials over a generated corpus (with and without DPoP)', async () => {
    const jwt = await idp.sign();
    const corpus = headerCorpus(jwt);
    let compared = 0;
    const tally: Record<string, number> = {};
    for (const dpop of [false, true]) {
      const options: ExtractOptions = { locations: ['header'], dpop, maxLength: 16_384, invalidRequest: (d) => new InvalidRequestError(d) };
      for (const value of corpus) {
        const expected = oldHeader(value, dpop);
        let got: ReturnType<typeof oldHeader>;
        try {
          const c = extractCredentials({ headers: { authorization: value }, rawHeaders: ['Authorization', value] } as never, options);
          got = c === undefined ? { kind: 'none' } : { kind: 'token', token: c.token, scheme: c.scheme };
        } catch (err) {
          expect((err as Error).message).toBe(malformedText(dpop));
          got = { kind: 'malformed' };
        }
        expect({ dpop, value, got }).toEqual({ dpop, value, got: expected });
        tally[expected.kind] = (tally[expected.kind] ?? 0) + 1;
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(12_000);
    expect(tally.token).toBeGreaterThan(20);
    expect(tally.malformed).toBeGreaterThan(100);
  });

  test('over real HTTP, header bytes as sent (UTF-8 look-alikes included): status, error and description as the old parser implies', async () => {
    const jwt = await idp.sign();
    for (const mode of ['disabled', 'allowed'] as const) {
      const dpop = mode === 'allowed';
      const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, dpop: { mode } });
      const received = new Map<string, string | undefined>();
      const app = express();
      app.use((req, _res, next) => {
        received.set(req.get('x-case')!, req.headers.authorization);
        next();
      });
      app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub }));
      app.use(oauthErrorHandler());
      const server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const { port } = server.address() as AddressInfo;
      try {
        const canonical = new Map<string, string>();
        const answer = async (id: string, value: Buffer | undefined) => {
          const r = await rawGet(port, id, value);
          return `${r.status} ${r.body}`;
        };
        const none = await answer('none', undefined);
        expect(none).toMatch(/^401 \{"error_description"/);
        // Every value as UTF-8 bytes; the server reads header bytes as latin1, so the oracle is fed what it received.
        // Every third value (the unit test above takes them all): enough to cover each scheme, separator and token shape.
        const values = headerCorpus(jwt).filter((v, i) => i % 3 === 0 && !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v));
        let n = 0;
        const kinds = new Set<string>();
        for (const value of values) {
          const id = `c${n++}`;
          const got = await answer(id, Buffer.from(value, 'utf8'));
          const seen = received.get(id);
          expect(seen).toBeDefined();
          const expected = oldHeader(seen!, dpop);
          kinds.add(expected.kind);
          let want: string;
          if (expected.kind === 'none') want = none;
          else if (expected.kind === 'malformed') want = `400 ${JSON.stringify({ error: 'invalid_request', error_description: malformedText(dpop) })}`;
          else {
            const key = `${expected.scheme === 'dpop' ? 'DPoP' : 'Bearer'} ${expected.token}`;
            if (!canonical.has(key)) canonical.set(key, await answer(`k${n}`, Buffer.from(key, 'latin1')));
            want = canonical.get(key)!;
          }
          expect({ mode, value, got }).toEqual({ mode, value, got: want });
        }
        expect(kinds).toEqual(new Set(['none', 'malformed', 'token']));
        expect([...canonical.values()].some((a) => a.startsWith('200 '))).toBe(true);
      } finally {
        await new Promise((r) => server.close(r));
      }
    }
  });
});

/** One HTTP/1.1 GET over a raw socket, so any header bytes can be sent. */
function rawGet(port: number, id: string, authorization: Buffer | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(head!.split(' ')[1]), body: Buffer.from(rest.join('\r\n\r\n'), 'latin1').toString('utf8') });
    });
    const lines: Buffer[] = [Buffer.from(`GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Case: ${id}\r\nConnection: close\r\n`, 'latin1')];
    if (authorization !== undefined) lines.push(Buffer.from('Authorization: ', 'latin1'), authorization, Buffer.from('\r\n', 'latin1'));
    lines.push(Buffer.from('\r\n', 'latin1'));
    // write, not end: a half-closed socket makes Node abort a request still being answered.
    socket.write(Buffer.concat(lines));
  });
}
