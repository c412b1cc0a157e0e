import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { OAuthError } from './http.js';
import { safeEqual } from './clients.js';
import type { KeyStore } from './keys.js';
import type { MockClient, MockUser } from './types.js';

const REFRESH_TTL = 30 * 24 * 3600;
const MAX_MFA_FAILURES = 5;

export const opaque = (): string => randomBytes(32).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

/** Everything issued from one user login; rotation and revocation act on the whole family. */
interface Family {
  clientId: string;
  user: MockUser;
  scope: string[];
  aud: string | string[];
  authTime: number;
  amr: string[];
  accessJtis: Set<string>;
  currentRefresh?: string;
  revoked: boolean;
  /** After this nothing issued from the family can still be valid, so it can be forgotten. */
  exp: number;
}

interface RefreshRecord {
  familyId: string;
  /** false once rotated: presenting it again is refresh-token reuse. */
  current: boolean;
  exp: number;
}

interface MfaRecord {
  user: MockUser;
  clientId: string;
  scope: string[];
  aud: string | string[];
  exp: number;
  failures: number;
  oobCode?: string;
  smsCode?: string;
}

export interface TokenSettings {
  issuer: () => string;
  accessTokenTtl: number;
  mfaTokenTtl: number;
  keys: KeyStore;
  log: (line: string) => void;
}

export interface UserLogin {
  client: MockClient;
  user: MockUser;
  scope: string[];
  aud: string | string[];
  amr: string[];
  /** true: rotating refresh token; 'empty': the EIAM password-grant `refresh_token: ""`; false: none. */
  refresh: boolean | 'empty';
}

const invalidGrant = (d: string): OAuthError => new OAuthError(400, 'invalid_grant', d);

export class TokenStore {
  private families = new Map<string, Family>();
  private refreshTokens = new Map<string, RefreshRecord>();
  /** jti → exp, kept only until the token would have expired anyway. */
  private revokedJtis = new Map<string, number>();
  private mfaTokens = new Map<string, MfaRecord>();
  private sms = new Map<string, string>();
  private lastPrune = now();

  constructor(private readonly s: TokenSettings) {}

  private async accessToken(sub: string, client: MockClient, scope: string[], aud: string | string[], extra: Record<string, unknown>) {
    const iat = now();
    const jti = randomUUID();
    const token = await this.s.keys.sign(
      { iss: this.s.issuer(), sub, aud, iat, exp: iat + this.s.accessTokenTtl, jti, client_id: client.clientId, scope: scope.join(' '), ...extra },
      'at+jwt',
    );
    return { token, jti };
  }

  async clientCredentials(client: MockClient, scope: string[], aud: string | string[]) {
    this.prune();
    const { token } = await this.accessToken(client.clientId, client, scope, aud, {});
    return { access_token: token, token_type: 'Bearer', expires_in: this.s.accessTokenTtl, scope: scope.join(' ') };
  }

  /** A token for `client` acting for the user `sub` (token exchange): `act` names the client. */
  async onBehalfOf(client: MockClient, sub: string, scope: string[], aud: string | string[]) {
    this.prune();
    const { token } = await this.accessToken(sub, client, scope, aud, { act: { sub: client.clientId } });
    return { access_token: token, token_type: 'Bearer', expires_in: this.s.accessTokenTtl, scope: scope.join(' ') };
  }

  async login(l: UserLogin): Promise<Record<string, unknown>> {
    this.prune();
    const familyId = randomUUID();
    const family: Family = {
      clientId: l.client.clientId, user: l.user, scope: l.scope, aud: l.aud, authTime: now(), amr: l.amr,
      accessJtis: new Set(), revoked: false,
      exp: now() + Math.max(this.s.accessTokenTtl, l.refresh === true ? REFRESH_TTL : 0),
    };
    this.families.set(familyId, family);
    const body = await this.issueForFamily(familyId, family, l.client, l.scope, l.refresh === true);
    return l.refresh === 'empty' ? { ...body, refresh_token: '' } : body;
  }

  private async issueForFamily(familyId: string, f: Family, client: MockClient, scope: string[], withRefresh: boolean) {
    const extra = { auth_time: f.authTime, amr: f.amr };
    const { token, jti } = await this.accessToken(f.user.username, client, scope, f.aud, extra);
    f.accessJtis.add(jti);
    const iat = now();
    const idToken = await this.s.keys.sign(
      {
        iss: this.s.issuer(), sub: f.user.username, aud: client.clientId, azp: client.clientId, iat,
        exp: iat + this.s.accessTokenTtl, auth_time: f.authTime, amr: f.amr, preferred_username: f.user.username,
      },
      'JWT',
    );
    const body: Record<string, unknown> = {
      access_token: token, token_type: 'Bearer', expires_in: this.s.accessTokenTtl, scope: scope.join(' '), id_token: idToken,
    };
    if (withRefresh) {
      const rt = opaque();
      this.refreshTokens.set(rt, { familyId, current: true, exp: iat + REFRESH_TTL });
      f.currentRefresh = rt;
      f.exp = Math.max(f.exp, iat + REFRESH_TTL);
      body.refresh_token = rt;
    }
    return body;
  }

  private revokeFamily(f: Family): void {
    f.revoked = true;
    const exp = now() + this.s.accessTokenTtl;
    for (const jti of f.accessJtis) this.revokedJtis.set(jti, exp);
    if (f.currentRefresh) this.refreshTokens.delete(f.currentRefresh);
  }

  /**
   * The EIAM refresh seed: after a refresh the previous id_token, access_token and refresh_token are
   * invalid. Presenting a rotated refresh token again looks like theft, so the whole family dies (RFC 9700 §4.14).
   */
  async refresh(client: MockClient, refreshToken: string, requested?: string[]) {
    const rec = this.refreshTokens.get(refreshToken);
    if (!rec || rec.exp < now()) throw invalidGrant('refresh token is invalid or expired');
    const f = this.families.get(rec.familyId);
    if (!f || f.revoked) throw invalidGrant('refresh token has been revoked');
    if (f.clientId !== client.clientId) throw invalidGrant('refresh token was issued to another client');
    if (!rec.current) {
      this.revokeFamily(f);
      this.s.log(`refresh token reuse detected for ${f.user.username}; token family revoked`);
      throw invalidGrant('refresh token has already been used');
    }
    let scope = f.scope;
    if (requested) {
      if (!requested.every((s) => f.scope.includes(s))) {
        throw new OAuthError(400, 'invalid_scope', 'requested scope exceeds the original grant');
      }
      scope = requested;
    }
    rec.current = false;
    const exp = now() + this.s.accessTokenTtl;
    for (const jti of f.accessJtis) this.revokedJtis.set(jti, exp);
    f.accessJtis.clear();
    return this.issueForFamily(rec.familyId, f, client, scope, true);
  }

  /** RFC 7009: unknown tokens and tokens of other clients are a silent no-op (nothing leaks). */
  async revoke(client: MockClient, token: string): Promise<void> {
    const rec = this.refreshTokens.get(token);
    if (rec) {
      const f = this.families.get(rec.familyId);
      if (f && f.clientId === client.clientId) this.revokeFamily(f);
      return;
    }
    const payload = await this.s.keys.verify(token, this.s.issuer());
    if (payload?.jti && payload.client_id === client.clientId) {
      this.revokedJtis.set(payload.jti, payload.exp ?? now() + this.s.accessTokenTtl);
    }
  }

  async introspect(token: string): Promise<Record<string, unknown>> {
    const rec = this.refreshTokens.get(token);
    if (rec) {
      const f = this.families.get(rec.familyId);
      if (!f || f.revoked || !rec.current || rec.exp < now()) return { active: false };
      return {
        active: true, token_type: 'refresh_token', client_id: f.clientId, sub: f.user.username,
        username: f.user.username, scope: f.scope.join(' '), exp: rec.exp, iss: this.s.issuer(),
      };
    }
    const payload = await this.s.keys.verify(token, this.s.issuer());
    if (!payload || (payload.jti && this.revokedJtis.has(payload.jti))) return { active: false };
    return { active: true, token_type: 'access_token', ...payload };
  }

  async isAccessTokenActive(token: string): Promise<boolean> {
    const r = await this.introspect(token);
    return r.active === true && r.token_type === 'access_token';
  }

  createMfaToken(user: MockUser, client: MockClient, scope: string[], aud: string | string[]): string {
    const token = opaque();
    this.mfaTokens.set(token, { user, clientId: client.clientId, scope, aud, exp: now() + this.s.mfaTokenTtl, failures: 0 });
    return token;
  }

  private liveMfa(client: MockClient, mfaToken: string): MfaRecord {
    const rec = this.mfaTokens.get(mfaToken);
    if (!rec || rec.exp < now()) {
      this.mfaTokens.delete(mfaToken);
      throw invalidGrant('mfa_token is invalid or expired');
    }
    if (rec.clientId !== client.clientId) throw invalidGrant('mfa_token was issued to another client');
    return rec;
  }

  /** A new challenge replaces the previous oob_code and SMS code, as resending a code would. */
  challenge(client: MockClient, mfaToken: string): { oobCode: string; user: MockUser; smsCode: string } {
    const rec = this.liveMfa(client, mfaToken);
    rec.oobCode = opaque();
    rec.smsCode = String(randomInt(0, 1_000_000)).padStart(6, '0');
    this.sms.set(rec.user.username, rec.smsCode);
    return { oobCode: rec.oobCode, user: rec.user, smsCode: rec.smsCode };
  }

  lastSmsCode(username: string): string | undefined {
    return this.sms.get(username);
  }

  /** Single use on success; MAX_MFA_FAILURES wrong codes burn the mfa_token so SMS codes cannot be brute-forced. */
  completeMfa(client: MockClient, mfaToken: string, oobCode: string, bindingCode: string): MfaRecord {
    const rec = this.liveMfa(client, mfaToken);
    const ok = !!rec.oobCode && !!rec.smsCode && safeEqual(oobCode, rec.oobCode) && safeEqual(bindingCode, rec.smsCode);
    if (!ok) {
      rec.failures += 1;
      if (rec.failures >= MAX_MFA_FAILURES) {
        this.mfaTokens.delete(mfaToken);
        throw invalidGrant('too many failed attempts; mfa_token revoked');
      }
      throw invalidGrant(rec.oobCode ? 'invalid binding_code or oob code' : 'no challenge issued for this mfa_token');
    }
    this.mfaTokens.delete(mfaToken);
    return rec;
  }

  /** Keeps long benchmark runs from growing the maps without bound. */
  private prune(): void {
    const t = now();
    if (t - this.lastPrune < 60) return;
    this.lastPrune = t;
    for (const [k, exp] of this.revokedJtis) if (exp < t) this.revokedJtis.delete(k);
    for (const [k, r] of this.mfaTokens) if (r.exp < t) this.mfaTokens.delete(k);
    for (const [k, r] of this.refreshTokens) if (r.exp < t) this.refreshTokens.delete(k);
    for (const [k, f] of this.families) if (f.exp < t) this.families.delete(k);
  }
}
