import type { Request } from 'express';
import { assertGrantAllowed, authenticateClient, safeEqual } from './clients.js';
import type { IdpContext } from './context.js';
import { missing, OAuthError, type ParsedRequest } from './http.js';
import type { MockClient, MockUser } from './types.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const SUPPORTED_GRANTS = ['password', 'mfa_oob', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE];
// Accepted so web-app's configured grant is meaningful, but this IdP has no /authorize, so no code is ever valid.
const KNOWN_GRANTS = [...SUPPORTED_GRANTS, 'authorization_code'];

export interface Reply {
  status?: number;
  /** undefined → empty body (RFC 7009 revocation answers). */
  body?: Record<string, unknown>;
}

const DUMMY_PASSWORD = '\u0000no-such-user';

function need(p: ParsedRequest, name: string): string {
  const v = p.params[name];
  if (v === undefined || v === '') throw missing(name);
  return v;
}

/** RFC 6749 §3.3: space-delimited; undefined when the caller did not ask for anything specific. */
function requestedScope(p: ParsedRequest): string[] | undefined {
  const raw = p.params.scope;
  if (raw === undefined) return undefined;
  const list = [...new Set(raw.split(' ').filter(Boolean))];
  return list.length ? list : undefined;
}

/** `audience` (Auth0 style) or RFC 8707 `resource`, which may repeat; undefined when neither was sent. */
function requestedAudience(p: ParsedRequest): string | string[] | undefined {
  if (p.params.audience !== undefined && p.multi.resource) {
    throw new OAuthError(400, 'invalid_request', 'send either audience or resource, not both');
  }
  if (p.params.audience !== undefined) return p.params.audience;
  const resources = p.multi.resource;
  if (!resources) return undefined;
  for (const r of resources) {
    let ok = false;
    try {
      ok = !new URL(r).hash;
    } catch {
      ok = false;
    }
    if (!ok) throw new OAuthError(400, 'invalid_target', 'resource must be an absolute URI without a fragment');
  }
  return resources.length === 1 ? resources[0] : resources;
}

function audienceFor(ctx: IdpContext, client: MockClient, p: ParsedRequest): string | string[] {
  return requestedAudience(p) ?? client.audience ?? ctx.audience;
}

/**
 * Users get what they asked for, silently narrowed to what they and the client may have (RFC 6749 §3.3
 * lets the server issue a different scope; the `scope` in the answer tells the client). Asking only
 * for scopes nobody may have is an error.
 */
function userScope(user: MockUser, client: MockClient, requested?: string[]): string[] {
  const allowed = (user.scopes ?? ['openid']).filter((s) => !client.scopes || client.scopes.includes(s));
  if (!requested) return allowed;
  const granted = requested.filter((s) => allowed.includes(s));
  if (!granted.length) throw new OAuthError(400, 'invalid_scope', 'none of the requested scopes can be granted');
  return granted;
}

function findUser(ctx: IdpContext, username: string, password: string): MockUser | undefined {
  const user = ctx.users.get(username);
  // Always compare, so unknown usernames take as long as wrong passwords.
  const ok = safeEqual(password, user?.password ?? DUMMY_PASSWORD);
  return user && ok ? user : undefined;
}

async function passwordGrant(ctx: IdpContext, client: MockClient, p: ParsedRequest): Promise<Reply> {
  const username = need(p, 'username');
  const password = need(p, 'password');
  const user = findUser(ctx, username, password);
  if (!user) throw new OAuthError(400, 'invalid_grant', 'invalid username or password');
  const scope = userScope(user, client, requestedScope(p));
  const aud = audienceFor(ctx, client, p);
  if (user.mfa) {
    // The EIAM seed shows only the body of this answer, no status. 400 keeps it an RFC 6749 §5.2 error
    // response, which is what a generic client expects (Auth0 uses 403 for the same body).
    const mfaToken = ctx.tokens.createMfaToken(user, client, scope, aud);
    throw new OAuthError(400, 'mfa_required', 'mfa required', {}, { mfa_token: mfaToken });
  }
  const refresh = ctx.passwordGrantRefreshToken ? true : 'empty';
  return { body: await ctx.tokens.login({ client, user, scope, aud, amr: ['pwd'], refresh }) };
}

async function mfaOobGrant(ctx: IdpContext, client: MockClient, p: ParsedRequest): Promise<Reply> {
  const code = need(p, 'code');
  const mfaToken = need(p, 'mfa_token');
  const bindingCode = need(p, 'binding_code');
  const rec = ctx.tokens.completeMfa(client, mfaToken, code, bindingCode);
  return {
    body: await ctx.tokens.login({
      client, user: rec.user, scope: rec.scope, aud: rec.aud, amr: ['pwd', 'sms', 'mfa'], refresh: true,
    }),
  };
}

async function clientCredentialsGrant(ctx: IdpContext, client: MockClient, p: ParsedRequest): Promise<Reply> {
  const requested = requestedScope(p);
  if (requested && client.scopes && !requested.every((s) => client.scopes!.includes(s))) {
    throw new OAuthError(400, 'invalid_scope', 'requested scope exceeds what the client may have');
  }
  const scope = requested ?? client.scopes ?? [];
  return { body: await ctx.tokens.clientCredentials(client, scope, audienceFor(ctx, client, p)) };
}

/**
 * RFC 8693 token exchange, as an API calling a downstream on behalf of its user: the subject must
 * be an access token this IdP issued (any of its audiences), still valid; the new token keeps the
 * user as `sub` and names the calling client in `act` (§4.1).
 */
async function tokenExchangeGrant(ctx: IdpContext, client: MockClient, p: ParsedRequest): Promise<Reply> {
  const subjectToken = need(p, 'subject_token');
  if (need(p, 'subject_token_type') !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError(400, 'invalid_request', 'subject_token_type must be an access token');
  }
  const subject = await ctx.keys.verify(subjectToken, ctx.issuer);
  if (subject === undefined || typeof subject.sub !== 'string') throw new OAuthError(400, 'invalid_grant', 'subject_token is not a valid access token of this issuer');
  const requested = requestedScope(p);
  if (requested && client.scopes && !requested.every((s) => client.scopes!.includes(s))) {
    throw new OAuthError(400, 'invalid_scope', 'requested scope exceeds what the client may have');
  }
  const scope = requested ?? client.scopes ?? [];
  const body = await ctx.tokens.onBehalfOf(client, subject.sub, scope, audienceFor(ctx, client, p));
  return { body: { ...body, issued_token_type: ACCESS_TOKEN_TYPE } };
}

export async function tokenEndpoint(ctx: IdpContext, req: Request, p: ParsedRequest): Promise<Reply> {
  const grant = need(p, 'grant_type');
  const client = authenticateClient(ctx.clients, req, p);
  if (!KNOWN_GRANTS.includes(grant)) {
    throw new OAuthError(400, 'unsupported_grant_type', `grant_type ${grant} is not supported`);
  }
  assertGrantAllowed(client, grant);
  switch (grant) {
    case 'password':
      return passwordGrant(ctx, client, p);
    case 'mfa_oob':
      return mfaOobGrant(ctx, client, p);
    case 'refresh_token':
      return { body: await ctx.tokens.refresh(client, need(p, 'refresh_token'), requestedScope(p)) };
    case 'client_credentials':
      return clientCredentialsGrant(ctx, client, p);
    case TOKEN_EXCHANGE:
      return tokenExchangeGrant(ctx, client, p);
    default:
      need(p, 'code');
      throw new OAuthError(400, 'invalid_grant', 'authorization code is invalid or expired');
  }
}

/** No seed page for this endpoint: shaped like Auth0's /mfa/challenge, which the mfa_oob seed's `code` refers to. */
export async function challengeEndpoint(ctx: IdpContext, req: Request, p: ParsedRequest): Promise<Reply> {
  const client = authenticateClient(ctx.clients, req, p);
  assertGrantAllowed(client, 'mfa_oob');
  const mfaToken = need(p, 'mfa_token');
  const type = need(p, 'challenge_type');
  if (type.split(' ').filter(Boolean).every((t) => t !== 'oob')) {
    throw new OAuthError(400, 'unsupported_challenge_type', 'only challenge_type=oob is supported');
  }
  const channel = p.params.oob_channel ?? 'sms';
  if (channel !== 'sms') throw new OAuthError(400, 'invalid_request', 'only oob_channel=sms is supported');
  const { oobCode, user, smsCode } = ctx.tokens.challenge(client, mfaToken);
  ctx.log(`SMS to ${user.username}: ${smsCode}`);
  return { body: { challenge_type: 'oob', oob_code: oobCode, binding_method: 'prompt' } };
}

export async function revokeEndpoint(ctx: IdpContext, req: Request, p: ParsedRequest): Promise<Reply> {
  const client = authenticateClient(ctx.clients, req, p);
  await ctx.tokens.revoke(client, need(p, 'token'));
  return {};
}

export async function introspectEndpoint(ctx: IdpContext, req: Request, p: ParsedRequest): Promise<Reply> {
  authenticateClient(ctx.clients, req, p);
  return { body: await ctx.tokens.introspect(need(p, 'token')) };
}
