/**
 * The testing kit's token endpoint against what a test (or anything else on the loopback
 * interface) may send it: the records tests assert on — and print whole when an assertion fails —
 * carry no credential, whatever the grant.
 */
import { createTestIssuer, type TestIssuer } from 'express-oauth-kit/testing';

let idp: TestIssuer;
beforeAll(async () => {
  idp = await createTestIssuer({ clients: [{ clientId: 'svc', clientSecret: 'svc-secret' }], users: [{ username: 'alice', password: 'wonderland' }] });
});
afterAll(() => idp.close());

async function post(params: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(idp.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('svc:svc-secret').toString('base64')}` },
    body: new URLSearchParams(params).toString(),
  });
  return (await res.json()) as Record<string, unknown>;
}

test('a refresh token sent back is not in tokenRequests; nor are the tokens of a token exchange or an assertion', async () => {
  const login = await post({ grant_type: 'password', username: 'alice', password: 'wonderland' });
  const refreshToken = login.refresh_token as string;
  expect(typeof refreshToken).toBe('string');
  const refreshed = await post({ grant_type: 'refresh_token', refresh_token: refreshToken, scope: 'profile' });
  expect(typeof refreshed.access_token).toBe('string');
  // An unsupported grant is recorded too (with its error): its tokens must not be.
  const exchange = await post({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: login.access_token as string,
    actor_token: refreshed.access_token as string,
    assertion: 'an-assertion-jwt',
    code_verifier: 'a-pkce-verifier',
  });
  expect(exchange.error).toBe('unsupported_grant_type');

  const records = JSON.stringify(idp.tokenRequests);
  for (const secret of [refreshToken, login.access_token, refreshed.access_token, 'an-assertion-jwt', 'a-pkce-verifier', 'wonderland', 'svc-secret']) {
    expect(records).not.toContain(secret as string);
  }
  // What is not a credential is still there to assert on.
  expect(idp.tokenRequests.map((r) => r.grantType)).toEqual(['password', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange']);
  expect(idp.tokenRequests[1]!.params).toEqual({ grant_type: 'refresh_token', scope: 'profile' });
});
