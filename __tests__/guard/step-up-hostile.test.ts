/**
 * Step-up (RFC 9470) against what a client controls: requests without a token on a guard with
 * `authRequired: false`, where the framework-free acrCheck() is given the adapter's `null`. A
 * step-up route must never let such a request through, nor answer it with a 500.
 */
import { acrCheck, createGuard, InsufficientUserAuthenticationError, webAuth } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, type Listening } from '../../fixtures/listen.js';

const MFA = 'urn:example:acr:mfa';

let idp: JwksServer;
let server: Listening;

beforeAll(async () => {
  idp = await startJwksServer({ algs: ['ES256'] });
  // A guard shared with public routes: authRequired: false, so a request without a token gets null.
  const auth = webAuth(createGuard<Request>({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, authRequired: false }));
  const mfa = acrCheck(MFA, { maxAgeSeconds: 600 });
  // The documented pattern (docs/require-auth.md, "Without Express").
  server = await listen(async (req, res) => {
    const headers: Record<string, string> = {};
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const result = await auth(new Request(`http://127.0.0.1${req.url}`, { headers }));
    let answer: Response;
    if (result instanceof Response) answer = result;
    else {
      try {
        const refused = mfa(result);
        answer = refused ? Response.json(refused.toJSON(), { status: refused.status, headers: refused.headers }) : Response.json({ paid: true });
      } catch {
        // What a framework would make of a throw: a 500.
        answer = Response.json({ error: 'server_error' }, { status: 500 });
      }
    }
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => (out[name] = value));
    res.writeHead(answer.status, out).end(await answer.text());
  });
});
afterAll(async () => {
  await server.close();
  await idp.close();
});

test('acrCheck() given null or undefined (no token) refuses with 401 insufficient_user_authentication, never passes or throws', () => {
  for (const none of [null, undefined]) {
    const err = acrCheck(MFA, { maxAgeSeconds: 60 })(none);
    expect(err).toBeInstanceOf(InsufficientUserAuthenticationError);
    expect(err!.status).toBe(401);
    expect(err!.headers['WWW-Authenticate']).toBe(
      `Bearer error="insufficient_user_authentication", error_description="A stronger authentication is required: the request has no access token", acr_values="${MFA}", max_age="60"`,
    );
  }
});

test('over real HTTP with authRequired: false: a request without a token is refused on the step-up route; an MFA token passes', async () => {
  const anonymous = await fetch(server.url);
  expect(anonymous.status).toBe(401);
  expect(await anonymous.json()).toMatchObject({ error: 'insufficient_user_authentication', acr_values: MFA, max_age: 600 });

  const now = Math.floor(Date.now() / 1000);
  const token = await idp.sign({ acr: MFA, auth_time: now });
  const ok = await fetch(server.url, { headers: { Authorization: `Bearer ${token}` } });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toEqual({ paid: true });
});
