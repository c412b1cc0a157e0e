/**
 * Drives oidc-provider's authorization_code flow with plain fetch, so tests get a real
 * authorization code (and from it a refresh token) without a browser. It walks the provider's
 * development interactions: /auth → login form → consent form → redirect with ?code=.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RunningOidcProvider } from './oidc-provider.js';

/** Cookies by name. Paths are ignored on purpose: every request goes to the same provider. */
class CookieJar {
  readonly #cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = /max-age=0|expires=thu, 01 jan 1970/i.test(line);
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface AuthorizationCodeOptions {
  clientId: string;
  redirectUri: string;
  /** The end-user; the dev login accepts any name and password. Default 'alice'. */
  accountId?: string;
  /** Default 'openid offline_access' plus nothing else. */
  scope?: string;
}

export interface AuthorizationCode {
  code: string;
  /** PKCE verifier matching the S256 challenge sent with the authorization request. */
  codeVerifier: string;
  redirectUri: string;
}

const base64url = (b: Buffer): string => b.toString('base64url');

/**
 * Runs the front-channel part of the code flow and returns the code. Follows at most 10
 * redirects; fails with the provider's own error when the flow ends anywhere but redirect_uri.
 */
export async function getAuthorizationCode(op: RunningOidcProvider, options: AuthorizationCodeOptions): Promise<AuthorizationCode> {
  const jar = new CookieJar();
  const codeVerifier = base64url(randomBytes(32));
  const challenge = base64url(createHash('sha256').update(codeVerifier).digest());
  const state = base64url(randomBytes(8));
  const auth = new URL('/auth', op.issuer);
  auth.search = new URLSearchParams({
    client_id: options.clientId,
    response_type: 'code',
    redirect_uri: options.redirectUri,
    scope: options.scope ?? 'openid offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
  }).toString();

  const go = async (url: string, form?: Record<string, string>): Promise<Response> => {
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    jar.store(res);
    return res;
  };

  let res = await go(auth.href);
  for (let hop = 0; hop < 10; hop += 1) {
    if (res.status === 200) {
      // An interaction page: answer login first, then consent.
      const page = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
      if (!action) throw new Error(`oidc-provider page without a form: ${page.slice(0, 200)}`);
      const submit = new URL(action.replace(/&amp;/g, '&'), op.issuer).href;
      const form: Record<string, string> = page.includes('name="login"')
        ? { prompt: 'login', login: options.accountId ?? 'alice', password: 'any' }
        : { prompt: 'consent' };
      res = await go(submit, form);
      continue;
    }
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (res.status < 300 || res.status >= 400 || !location) {
      throw new Error(`oidc-provider authorization flow stopped with HTTP ${res.status}`);
    }
    const next = new URL(location, op.issuer);
    if (next.href.startsWith(options.redirectUri)) {
      const error = next.searchParams.get('error');
      if (error) throw new Error(`oidc-provider refused: ${error} ${next.searchParams.get('error_description') ?? ''}`);
      if (next.searchParams.get('state') !== state) throw new Error('state mismatch');
      const code = next.searchParams.get('code');
      if (!code) throw new Error('redirect without code');
      return { code, codeVerifier, redirectUri: options.redirectUri };
    }
    res = await go(next.href);
  }
  throw new Error('oidc-provider authorization flow did not reach redirect_uri in 10 steps');
}
