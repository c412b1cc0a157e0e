export interface MockClient {
  clientId: string;
  clientSecret: string;
  /** Upper bound for any scope this client may receive; undefined = no client-side limit. */
  scopes?: string[];
  /** Grant types this client may use; undefined = every grant the IdP knows. */
  grants?: string[];
  /** Default `aud` of access tokens issued to this client. */
  audience?: string;
}

export interface MockUser {
  username: string;
  password: string;
  mfa?: boolean;
  phone?: string;
  scopes?: string[];
}

export type FaultMode = 'none' | 'slow' | 'error500' | 'reset' | 'html' | 'huge' | 'status429' | 'status503';

export interface MockFaults {
  mode: FaultMode;
  delayMs?: number;
  retryAfter?: number;
  /** How many requests the fault applies to; undefined = all. */
  count?: number;
}

export interface MockRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: Record<string, string>;
}

export interface MockStats {
  tokenRequests: number;
  requestsByPath: Record<string, number>;
  connections: number;
  lastRequest?: MockRequestRecord;
}

export interface MockIdpOptions {
  /** Default 0 (random); always binds 127.0.0.1. */
  port?: number;
  clients?: MockClient[];
  users?: MockUser[];
  /** Seconds, default 3600. */
  accessTokenTtl?: number;
  /** Default 'https://api.example.test'. */
  audience?: string;
  /** Never receives secrets, passwords or tokens (SMS codes are logged on purpose: demo fixture). */
  logger?: (line: string) => void;
  /** Seconds an mfa_token (and its oob_code) lives, default 300. */
  mfaTokenTtl?: number;
  /**
   * The EIAM password-grant seed says refresh_token is "fixed empty" for that grant, so by default the
   * answer carries `refresh_token: ""`. Set true to behave like a generic RFC 6749 server (Keycloak) instead.
   */
  passwordGrantRefreshToken?: boolean;
  /** Clients and users of the customer tenant; default CUSTOMER_CLIENTS / CUSTOMER_USERS. */
  customerClients?: MockClient[];
  customerUsers?: MockUser[];
}

/** The CIAM-profile customer tenant: its own issuer path, signing keys, clients and users. */
export interface MockTenant {
  /** `<mock url>/customers`. */
  issuer: string;
  jwksUri: string;
  /** CIAM: form body. */
  tokenEndpoint: string;
  revocationEndpoint: string;
  stats: MockStats;
  rotateKeys(opts?: { removeOld?: boolean }): Promise<void>;
  signToken(claims: Record<string, unknown>, opts?: SignTokenOptions): Promise<string>;
  isAccessTokenActive(token: string): Promise<boolean>;
}

export interface SignTokenOptions {
  expiresIn?: number;
  kid?: string;
  typ?: string;
}

export interface MockIdp {
  url: string;
  issuer: string;
  jwksUri: string;
  eiamTokenEndpoint: string;
  ciamTokenEndpoint: string;
  mfaChallengeEndpoint: string;
  revocationEndpoint: string;
  /** RFC 7662; not in the seeds, handy for checking that rotated/revoked tokens are dead. */
  introspectionEndpoint: string;
  stats: MockStats;
  faults: MockFaults;
  lastSmsCode(username: string): string | undefined;
  rotateKeys(opts?: { removeOld?: boolean }): Promise<void>;
  signToken(claims: Record<string, unknown>, opts?: SignTokenOptions): Promise<string>;
  /** Signature valid against the published keys, not expired, and not revoked/rotated away. */
  isAccessTokenActive(token: string): Promise<boolean>;
  resetStats(): void;
  /** The second tenant, for customers (CIAM profile), served by the same server under `/customers`. */
  customers: MockTenant;
  close(): Promise<void>;
}
