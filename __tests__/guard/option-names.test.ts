/**
 * Guard option renames (durations named with their unit): the old names keep working, with the
 * same unit, and say so once per process as a DeprecationWarning; an old and a new name together
 * is a ConfigError, since which one was meant cannot be guessed.
 */
import { jest } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { ConfigError, claimCheck, oauthErrorHandler, requireAuth, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

/** Options a test puts over a working single-issuer base (the either/or key options are unions: see option-types.test.ts). */
type OptionOverrides = Partial<GuardCommonOptions & IssuerSettings> & { jwksUri?: string };

let idp: JwksServer;
beforeAll(async () => {
  idp = await startJwksServer({ algs: ['ES256'] });
});
afterAll(() => idp.close());

/** The renamed-option warnings emitted while `run` runs. */
function renameWarnings(run: () => void): string[] {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    run();
    return spy.mock.calls
      .filter(([, options]) => (options as { code?: string } | undefined)?.code === 'EXPRESS_OAUTH_KIT_RENAMED_OPTION')
      .map(([message]) => String(message));
  } finally {
    spy.mockRestore();
  }
}

const base = () => ({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false as const });

describe('old names still work, with one DeprecationWarning each', () => {
  test('clockTolerance (seconds): a token expired 60 s ago passes with 120, and the warning is given once', async () => {
    let auth!: ReturnType<typeof requireAuth>;
    const warnings = renameWarnings(() => {
      auth = requireAuth({ ...base(), clockTolerance: 120 });
      requireAuth({ ...base(), clockTolerance: 120 });
    });
    expect(warnings).toEqual([expect.stringMatching(/requireAuth\(\): option "clockTolerance" is renamed "clockToleranceSeconds"/)]);
    const app = express();
    app.get('/me', auth, (req, res) => res.json({ sub: req.auth!.payload.sub }));
    app.use(oauthErrorHandler());
    const token = await idp.sign({ sub: 'late' }, { expiresIn: -60 });
    expect((await request(app).get('/me').set('Authorization', `Bearer ${token}`)).body).toEqual({ sub: 'late' });
    const strict = express();
    strict.get('/me', requireAuth({ ...base(), clockToleranceSeconds: 0 }), (_req, res) => res.json({}));
    expect((await request(strict).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  });

  test.each([
    ['maxTokenAge', { maxTokenAge: 60 }, 'maxTokenAgeSeconds'],
    ['jwksTimeout', { jwksTimeout: 1000 }, 'jwksTimeoutMs'],
    ['jwksCooldown', { jwksCooldown: 1000 }, 'jwksCooldownMs'],
    ['jwksCacheMaxAge', { jwksCacheMaxAge: 1000 }, 'jwksCacheMaxAgeMs'],
    ['jwksStaleIfError', { jwksStaleIfError: 1000 }, 'jwksStaleIfErrorMs'],
    ['dpop.iatWindow', { dpop: { iatWindow: 60 } }, 'dpop.iatWindowSeconds'],
    ['dpop.iatLeeway', { dpop: { iatLeeway: 2 } }, 'dpop.iatLeewaySeconds'],
    ['dpop.nonce.rotateEvery', { dpop: { nonce: { secret: 'x'.repeat(32), rotateEvery: 60 } } }, 'dpop.nonce.rotateEverySeconds'],
  ] as Array<[string, OptionOverrides, string]>)('%s', (oldName, extra, newName) => {
    const warnings = renameWarnings(() => {
      requireAuth({ ...base(), ...extra });
      requireAuth({ ...base(), ...extra });
    });
    expect(warnings).toEqual([`requireAuth(): option "${oldName}" is renamed "${newName}"; the old name will stop working in the next minor version (see node_modules/express-oauth-kit/CHANGELOG.md, "Option names")`]);
  });

  test('the old name carries its value to the new one (the new name\'s bounds apply)', () => {
    expect(() => renameWarnings(() => requireAuth({ ...base(), dpop: { iatWindow: 0 } }))).toThrow(/dpop\.iatWindowSeconds/);
    expect(() => renameWarnings(() => requireAuth({ ...base(), clockTolerance: 301 }))).toThrow(/clockToleranceSeconds/);
  });

  test('old names in an issuers entry', () => {
    const warnings = renameWarnings(() => requireAuth({ issuers: [{ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, maxTokenAge: 30 }], logger: false }));
    expect(warnings).toEqual([expect.stringMatching(/"issuers\[0\]\.maxTokenAge" is renamed "issuers\[0\]\.maxTokenAgeSeconds"/)]);
  });

  test('claimCheck cacheFor (seconds): answers are reused as with cacheForSeconds', async () => {
    let calls = 0;
    let mw!: ReturnType<typeof claimCheck>;
    const warnings = renameWarnings(() => {
      mw = claimCheck(() => (calls++, true), { cacheFor: 30, cacheKey: () => '' });
    });
    expect(warnings).toEqual([expect.stringMatching(/claimCheck\(\): option "cacheFor" is renamed "cacheForSeconds"/)]);
    const app = express();
    app.get('/me', requireAuth(base()), mw, (_req, res) => res.json({}));
    const token = await idp.sign();
    for (let i = 0; i < 3; i++) expect((await request(app).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(calls).toBe(1);
  });
});

describe('an old and a new name together → ConfigError', () => {
  test.each([
    [{ clockTolerance: 5, clockToleranceSeconds: 5 }],
    [{ maxTokenAge: 5, maxTokenAgeSeconds: 5 }],
    [{ jwksTimeout: 5, jwksTimeoutMs: 5 }],
    [{ jwksCooldown: 5, jwksCooldownMs: 5 }],
    [{ jwksCacheMaxAge: 5, jwksCacheMaxAgeMs: 5 }],
    [{ jwksStaleIfError: 5, jwksStaleIfErrorMs: 5 }],
    [{ dpop: { iatWindow: 5, iatWindowSeconds: 5 } }],
    [{ dpop: { iatLeeway: 5, iatLeewaySeconds: 5 } }],
    [{ dpop: { nonce: { secret: 'x'.repeat(32), rotateEvery: 5, rotateEverySeconds: 5 } } }],
  ] as Array<[OptionOverrides]>)('%j', (extra) => {
    let thrown: unknown;
    renameWarnings(() => {
      try {
        requireAuth({ ...base(), ...extra });
      } catch (err) {
        thrown = err;
      }
    });
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toMatch(/both ".+" and ".+" are set/);
  });

  test('claimCheck cacheFor with cacheForSeconds', () => {
    expect(() => claimCheck(() => true, { cacheFor: 1, cacheForSeconds: 1 })).toThrow(ConfigError);
  });
});
