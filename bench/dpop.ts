/**
 * DPoP benchmark: one DPoP-bound token (cnf.jkt), a fresh proof per request (distinct jti,
 * htm GET, htu the bench server's URL, ath), against requireAuth (dpop 'allowed') and
 * express-oauth2-jwt-bearer (dpop enabled) on the same route, token and proofs. Each case walks
 * its own cursor through the same pre-signed proofs, so no proof is sent twice to one guard.
 * Run alone: `npm run bench -- dpop`.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import { CONNECTIONS, ROUNDS, WINDOW, fmt, interleavedRounds, load, pin, printTable, startChild, unpin, type Row } from './common.js';
import { startJwksServer } from '../fixtures/jwks-server.js';
import { built } from './kit.js';

const { jwkThumbprint } = await built<typeof import('../lib/m2m/dpop/key.js')>('m2m/dpop/key.js');

// More proofs than one case sends in a whole run (rounds × duration × a generous req/s), plus warm-up.
const PROOFS = Number(process.env.BENCH_DPOP_PROOFS ?? Math.max(20_000, ROUNDS * WINDOW * 4_000 + 10_000));
const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');

export async function benchDpop(): Promise<Row[]> {
  const jwks = await startJwksServer({ algs: ['RS256'] });
  const server = await startChild(fileURLToPath(new URL('./dpop-server.ts', import.meta.url)), { ISSUER: jwks.issuer, AUDIENCE: jwks.audience, JWKS_URI: jwks.jwksUri });
  const base = `http://127.0.0.1:${server.port}`;
  const parentMask = cpus().length >= 2 ? pin(process.pid, '0') : undefined;
  const pinned = parentMask !== undefined && pin(server.child.pid!, '1') !== undefined;
  try {
    // The proof key first, then the token bound to it (cnf.jkt), then the proofs for that token.
    const started = performance.now();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = publicKey.export({ format: 'jwk' }) as Record<string, string>;
    const token = await jwks.sign({ cnf: { jkt: jwkThumbprint(pub) } }, { expiresIn: 3_600 });
    const list = signProofs(PROOFS, `${base}/orders`, token, privateKey, pub);
    const signMs = performance.now() - started;

    const cursor = () => {
      let i = 0;
      return () => {
        if (i >= list.length) throw new Error(`ran out of proofs (${list.length}); raise BENCH_DPOP_PROOFS`);
        return list[i++]!;
      };
    };
    const request = (guard: string, next: () => string): Partial<autocannon.Options> => ({
      requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, authorization: `DPoP ${token}`, dpop: next(), 'x-guard': guard } }) }],
    });
    const cpu = async () => ((await (await fetch(`${base}/__cpu`)).json()) as { us: number }).us;
    const measured = async (path: string, extra: Partial<autocannon.Options> = {}) => {
      const before = await cpu();
      const r = await load(base + path, undefined, { duration: WINDOW, ...extra });
      return { ...r, cpuPerRequest: ((await cpu()) - before) / (r.rps * WINDOW) };
    };
    const next = { kit: cursor(), auth0: cursor() };
    const cases: Record<string, () => ReturnType<typeof measured>> = {
      bare: () => measured('/bare'),
      kit: () => measured('/orders', request('kit', next.kit)),
      auth0: () => measured('/orders', request('auth0', next.auth0)),
    };
    // Warm-up: JIT, JWKS fetch, connection pools (from the same cursors: those proofs are spent).
    for (const c of ['bare', 'kit', 'auth0']) {
      const extra = c === 'bare' ? {} : request(c, next[c as 'kit' | 'auth0']);
      await load(base + (c === 'bare' ? '/bare' : '/orders'), undefined, { ...extra, duration: 1 });
    }
    const { m, ratio, cpuRatio, us } = await interleavedRounds(cases, ROUNDS);
    const x = (v: number) => `${fmt(v, 2)}×`;
    const layout = pinned ? 'API on core 1, autocannon on core 0' : 'unpinned';
    return [
      { name: 'bare Express route', value: `${fmt(m('bare'))} req/s`, note: `${us('bare')}; median of ${ROUNDS} interleaved rounds, ${WINDOW} s per case, ${CONNECTIONS} connections; ${layout}` },
      {
        name: '**DPoP** requireAuth (dpop allowed), one bound token, fresh proof per request',
        value: `${fmt(m('kit'))} req/s`,
        note: `**${x(ratio('kit', 'auth0'))} express-oauth2-jwt-bearer** (target ≥ 1.3×), ${x(ratio('kit', 'bare'))} bare; ${us('kit')} (by CPU: ${x(cpuRatio('kit', 'auth0'))} express-oauth2-jwt-bearer)`,
      },
      { name: 'DPoP express-oauth2-jwt-bearer (dpop enabled), same token and proofs', value: `${fmt(m('auth0'))} req/s`, note: `${x(ratio('auth0', 'bare'))} bare; ${us('auth0')}` },
      { name: 'proofs pre-signed (ES256, distinct jti)', value: fmt(list.length), note: `${fmt(signMs / 1000, 1)} s to sign; iatWindow / iatOffset 3600 s on both guards so none goes stale during the run` },
    ];
  } finally {
    unpin(process.pid, parentMask);
    await server.stop();
    await jwks.close();
  }
}

/** ES256 proofs signed with node:crypto directly (plain compact JWS, as any DPoP client sends; much faster than SignJWT in a loop). */
export function signProofs(count: number, htu: string, token: string, privateKey: KeyObject, pub: Record<string, string>): string[] {
  const header = b64(JSON.stringify({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y } }));
  const ath = createHash('sha256').update(token).digest('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const list: string[] = [];
  for (let i = 0; i < count; i++) {
    const input = `${header}.${b64(JSON.stringify({ htm: 'GET', htu, jti: randomUUID(), iat, ath }))}`;
    list.push(`${input}.${b64(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`);
  }
  return list;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('DPoP', await benchDpop());
}
