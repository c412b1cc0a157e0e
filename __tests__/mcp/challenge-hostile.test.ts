/**
 * Every WWW-Authenticate the guard and the helpers after it send, parsed back as RFC 9110 §11.2
 * challenges: each attribute a quoted-string that unescapes to the value meant (realm with quotes
 * and backslashes, a resource_metadata URL with characters a URL allows, acr_values and scope with
 * every scope-token character), and nothing that could split the header.
 */
import express from 'express';
import { oauthErrorHandler, protectedResourceMetadata, requireAcr, requireAuth, requireScopes } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, type Listening } from '../../fixtures/listen.js';

const REALM = 'he said "hi" \\ left';
const RESOURCE = "https://api.example.test/m'c(p)!$&*+,;=:@~";
const ACR = ["urn:acr:a!#$%&'()*+,-./:;<=>?@[]^_`{|}~"];
const SCOPE = "tools:call!#$%&'()*+,-./:;<=>?@[]^_`{|}~";

let idp: JwksServer;
let server: Listening;
let url: string;

beforeAll(async () => {
  idp = await startJwksServer({ audience: RESOURCE });
  const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, realm: REALM, resourceMetadata: {} });
  const app = express();
  app.use(protectedResourceMetadata(auth));
  app.get('/acr', auth, requireAcr(ACR, { maxAgeSeconds: 0 }), (_req, res) => res.end());
  app.get('/scope', auth, requireScopes(SCOPE), (_req, res) => res.end());
  app.use(oauthErrorHandler());
  server = await listen(app);
  url = server.url;
});
afterAll(async () => {
  await server.close();
  await idp.close();
});

/** RFC 9110 §11.2: challenges of `scheme 1*SP auth-param *( OWS "," OWS auth-param )`, every value a quoted-string here. */
function parseChallenges(header: string): Array<{ scheme: string; params: Record<string, string> }> {
  const out: Array<{ scheme: string; params: Record<string, string> }> = [];
  const re = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +|$)|\s*([a-z_]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(header)) !== null && m[0] !== '') {
    consumed = re.lastIndex;
    if (m[1] !== undefined) out.push({ scheme: m[1], params: {} });
    else out.at(-1)!.params[m[2]!] = m[3]!.replace(/\\(.)/g, '$1');
  }
  expect(consumed).toBe(header.length); // nothing left over that the grammar does not allow
  return out;
}

async function challenges(path: string, authorization?: string) {
  const res = await fetch(`${url}${path}`, { headers: authorization ? { authorization } : {} });
  const header = res.headers.get('www-authenticate')!;
  expect(header).toMatch(/^[\x20-\x7e]+$/);
  return { status: res.status, parsed: parseChallenges(header) };
}

const METADATA_URL = `https://api.example.test/.well-known/oauth-protected-resource/m'c(p)!$&*+,;=:@~`;

test('no token: both schemes, realm and resource_metadata round-trip', async () => {
  const { status, parsed } = await challenges('/acr');
  expect(status).toBe(401);
  expect(parsed.map((c) => c.scheme)).toEqual(['Bearer', 'DPoP']);
  for (const c of parsed) {
    expect(c.params.realm).toBe(REALM);
    expect(c.params.resource_metadata).toBe(METADATA_URL);
  }
  // The document is where the challenge says.
  const doc = await fetch(`${url}${new URL(METADATA_URL).pathname}`);
  expect(doc.status).toBe(200);
  expect(((await doc.json()) as { resource: string }).resource).toBe(RESOURCE);
});

test('step-up and scope refusals: acr_values, max_age and scope round-trip', async () => {
  const token = await idp.sign({ acr: 'urn:other', auth_time: Math.floor(Date.now() / 1000) - 100 });
  const acr = await challenges('/acr', `Bearer ${token}`);
  expect(acr.status).toBe(401);
  expect(acr.parsed).toHaveLength(1);
  expect(acr.parsed[0]!.params).toMatchObject({ realm: REALM, error: 'insufficient_user_authentication', acr_values: ACR[0], max_age: '0', resource_metadata: METADATA_URL });

  const scope = await challenges('/scope', `Bearer ${token}`);
  expect(scope.status).toBe(403);
  expect(scope.parsed[0]!.params).toMatchObject({ realm: REALM, error: 'insufficient_scope', scope: SCOPE, resource_metadata: METADATA_URL });
});
