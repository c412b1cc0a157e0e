/**
 * Token exchange errors redact the user's tokens in every encoding an IdP may echo them in.
 */
import { createM2MClient, type M2MClientOptions } from '../../lib/index.js';
import { startScriptedIdp, type Listening, type ScriptedIdp } from '../support/m2m.js';

let idp: ScriptedIdp;
const servers: Listening[] = [];

beforeAll(async () => {
  idp = await startScriptedIdp();
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await idp.close();
});
beforeEach(() => {
  idp.requests.length = 0;
});

const client = (extra: Partial<M2MClientOptions> = {}) =>
  createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'api', clientSecret: 'api-secret-value', retry: false, idpBackoffMs: 0, ...extra } as M2MClientOptions);

describe('exchange errors redact the user tokens in every encoding', () => {
  // '+', '/', '=' and '.' all change under form or JSON encoding; "S3cretUser" is the trace looked for.
  const subject = 'S3cretUser.tok+en/with+slash/es.and.dots==';
  const actor = 'Act0rS3cret+x/y.z=';
  const formEncode = (v: string) => new URLSearchParams([['', v]]).toString().slice(1);

  test.each([
    ['form-encoded (application/x-www-form-urlencoded)', (t: string) => `bad request body: subject_token=${formEncode(t)}&x=1`],
    ['percent-encoded, lower-case hex', (t: string) => `bad subject ${encodeURIComponent(t).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`],
    ['JSON-escaped ("/" as "\\/")', (t: string) => `bad {"subject_token":"${t.replace(/\//g, '\\/')}"}`],
    ['raw', (t: string) => `bad subject_token ${t}`],
  ])('%s in error_description: no trace in err.message or idpErrorDescription', async (_name, echo) => {
    idp.answers = [{ status: 400, body: { error: 'invalid_request', error_description: `${echo(subject)} actor ${echo(actor)}` } }];
    const err = (await client()
      .exchange(subject, { audience: 'inventory', actorToken: actor, actorTokenType: 'urn:ietf:params:oauth:token-type:access_token' })
      .catch((e: unknown) => e)) as { message: string; idpErrorDescription?: string };
    expect(idp.requests).toHaveLength(1);
    expect(err.message).toMatch(/\[redacted\].*actor .*\[redacted\]/);
    for (const text of [err.message, err.idpErrorDescription ?? '']) {
      expect(text).not.toMatch(/S3cretUser|Act0rS3cret/);
    }
  });
});
