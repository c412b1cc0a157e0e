/** createM2MClient({ logger }): operator lines for store failures and callers left without a token, when no onError hook reports them. */
import { createM2MClient, IdpError, type OperatorLogger, type TokenStore } from '../../lib/index.js';
import { startScriptedIdp, fresh, type ScriptedIdp } from '../support/m2m.js';

const SECRET = 'svc-secret-never-logged';
const svc = { clientId: 'svc-log', clientSecret: SECRET, retry: false as const };
let idp: ScriptedIdp;

beforeAll(async () => {
  idp = await startScriptedIdp();
});
afterAll(() => idp.close());

function capture(): OperatorLogger & { lines: [string, string][] } {
  const lines: [string, string][] = [];
  return { lines, warn: (m) => lines.push(['warn', m]), error: (m) => lines.push(['error', m]) };
}

// The IdP refuses the client and echoes the secret and a forged line in its description.
const refused = { status: 401, body: { error: 'invalid_client', error_description: `bad secret ${SECRET}\n[express-oauth-kit] forged` } };

test('a caller without a token: one error line per distinct failure, secret redacted, no line breaks', async () => {
  idp.answers = [refused];
  const logger = capture();
  const client = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, ...svc, logger, idpBackoffMs: 0 });
  await expect(client.getToken()).rejects.toBeInstanceOf(IdpError);
  await expect(client.getToken()).rejects.toBeInstanceOf(IdpError);
  expect(logger.lines).toHaveLength(1);
  const [level, line] = logger.lines[0]!;
  expect(level).toBe('error');
  expect(line).toMatch(/^\[express-oauth-kit\] createM2MClient\(\) client "svc-log": no token \(idp_error\): /);
  expect(line).toContain('invalid_client');
  expect(line).not.toContain(SECRET);
  expect(line).not.toMatch(/[\r\n]/);
});

test('an onError hook reports instead: nothing is written twice', async () => {
  idp.answers = [refused];
  const logger = capture();
  const seen: Error[] = [];
  const client = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, ...svc, logger, onError: (e) => seen.push(e) });
  await expect(client.getToken()).rejects.toBeInstanceOf(IdpError);
  expect(seen).toHaveLength(1);
  expect(logger.lines).toEqual([]);
});

test('a failing store is a warn line and the token still comes from the IdP', async () => {
  idp.answers = [fresh()];
  const logger = capture();
  const broken: TokenStore = {
    get: () => Promise.reject(new Error('ECONNREFUSED')),
    set: () => Promise.reject(new Error('ECONNREFUSED')),
  };
  const client = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, ...svc, store: broken, logger });
  expect((await client.getToken()).accessToken).toMatch(/^tok-/);
  expect(logger.lines.length).toBeGreaterThanOrEqual(1);
  expect(logger.lines.every(([level]) => level === 'warn')).toBe(true);
  expect(logger.lines[0]![1]).toMatch(/token store failed \(token_store_error\)/);
});

test('logger: false writes nothing, and a throwing logger changes no result', async () => {
  idp.answers = [refused];
  const silent = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, ...svc, logger: false });
  await expect(silent.getToken()).rejects.toBeInstanceOf(IdpError);
  const throwing: OperatorLogger = {
    warn: () => {
      throw new Error('logger down');
    },
    error: () => {
      throw new Error('logger down');
    },
  };
  const client = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, ...svc, logger: throwing });
  await expect(client.getToken()).rejects.toBeInstanceOf(IdpError);
});

test('a logger without warn/error is a ConfigError at start-up', () => {
  expect(() => createM2MClient({ tokenEndpoint: idp.tokenEndpoint, ...svc, logger: {} as never })).toThrow(/logger must have warn\(message\) and error\(message\)/);
});
