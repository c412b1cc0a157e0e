import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { OAuthError, type ParsedRequest } from './http.js';
import type { MockClient, MockUser } from './types.js';

export const DEFAULT_CLIENTS: MockClient[] = [
  {
    clientId: 'web-app',
    clientSecret: 'web-secret',
    grants: ['password', 'mfa_oob', 'refresh_token', 'authorization_code'],
  },
  {
    clientId: 'svc-report',
    clientSecret: 'svc-secret',
    grants: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
    scopes: ['inventory:read', 'inventory:write'],
    audience: 'https://inventory.example.test',
  },
  {
    // Every character RFC 6749 §2.3.1 form-encoding changes, plus non-ASCII: catches callers that
    // base64 the raw secret (the '%w' then fails to percent-decode, '+' turns into a space).
    clientId: 'weird-client',
    clientSecret: 'p:a+s/s%w&o rd=ü密',
    grants: ['password', 'mfa_oob', 'refresh_token', 'client_credentials'],
    scopes: ['openid', 'profile', 'orders:read', 'inventory:read'],
  },
];

export const DEFAULT_USERS: MockUser[] = [
  { username: 'alice', password: 'alice-password', scopes: ['openid', 'profile', 'orders:read'] },
  {
    username: 'bob',
    password: 'bob-password',
    mfa: true,
    phone: '+86 138 0000 0000',
    scopes: ['openid', 'profile', 'orders:read', 'orders:write'],
  },
  { username: 'carol', password: 'carol-password', scopes: ['openid', 'profile'] },
];

/**
 * The second tenant (CIAM profile, issuer `<url>/customers`): its own clients and users, as a
 * separate Tencent CIAM tenant for customers would have. No MFA; the password grant issues a
 * refresh token there.
 */
export const CUSTOMER_CLIENTS: MockClient[] = [
  { clientId: 'shop-web', clientSecret: 'shop-secret', grants: ['password', 'refresh_token'] },
];
export const CUSTOMER_USERS: MockUser[] = [{ username: 'dave', password: 'dave-password', scopes: ['openid', 'profile', 'orders:read'] }];

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Hashing first gives equal-length buffers, so length differences leak nothing either. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** application/x-www-form-urlencoded decoding of one value; undefined when it is not valid. */
function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface Presented {
  clientId: string;
  clientSecret: string;
  viaBasic: boolean;
}

function basicChallenge(viaBasic: boolean): Record<string, string> {
  return viaBasic ? { 'WWW-Authenticate': 'Basic realm="mock-idp"' } : {};
}

function invalidClient(viaBasic: boolean, description = 'client authentication failed'): OAuthError {
  return new OAuthError(401, 'invalid_client', description, basicChallenge(viaBasic));
}

function presentedCredentials(req: Request, p: ParsedRequest): Presented {
  const header = req.headers.authorization;
  const postId = p.params.client_id;
  const postSecret = p.params.client_secret;
  if (header !== undefined) {
    const m = /^basic\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      // Not Basic at all (e.g. a forwarded browser Bearer token) is a malformed request, not bad credentials.
      if (!/^basic(\s|$)/i.test(header)) {
        throw new OAuthError(400, 'invalid_request', 'unsupported Authorization scheme; use Basic');
      }
      throw invalidClient(true, 'malformed Basic credentials');
    }
    if (postSecret !== undefined) {
      // RFC 6749 §2.3: a client MUST NOT use more than one authentication method in each request.
      throw new OAuthError(400, 'invalid_request', 'client credentials sent both in Authorization header and parameters');
    }
    if (!BASE64.test(m[1]!) || m[1]!.length % 4 !== 0) throw invalidClient(true, 'malformed Basic credentials');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient(true, 'malformed Basic credentials');
    const id = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (id === undefined || secret === undefined) {
      throw invalidClient(true, 'Basic credentials must be form-urlencoded (RFC 6749 §2.3.1)');
    }
    if (postId !== undefined && postId !== id) {
      throw new OAuthError(400, 'invalid_request', 'client_id parameter does not match Authorization header');
    }
    return { clientId: id, clientSecret: secret, viaBasic: true };
  }
  if (postId === undefined) throw invalidClient(false, 'client authentication required');
  if (postSecret === undefined) throw invalidClient(false, 'client_secret required');
  return { clientId: postId, clientSecret: postSecret, viaBasic: false };
}

export function authenticateClient(
  clients: Map<string, MockClient>,
  req: Request,
  p: ParsedRequest,
): MockClient {
  const presented = presentedCredentials(req, p);
  const client = clients.get(presented.clientId);
  // Compare even for unknown clients so response time does not reveal which client ids exist.
  const ok = safeEqual(presented.clientSecret, client?.clientSecret ?? '\u0000unknown-client');
  if (!client || !ok) throw invalidClient(presented.viaBasic);
  return client;
}

export function assertGrantAllowed(client: MockClient, grant: string): void {
  if (client.grants && !client.grants.includes(grant)) {
    throw new OAuthError(400, 'unauthorized_client', `client is not allowed to use grant_type ${grant}`);
  }
}
