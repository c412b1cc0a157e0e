/**
 * What the proxy lets a front end send, per grant. It is an allow-list on purpose: the outbound
 * request is built from these names only, so a parameter the browser adds (client_id,
 * client_secret, client_assertion, a second grant's parameters) never reaches the IdP.
 */

/** Grants a front end may use through the proxy. `client_credentials` is deliberately absent. */
export type ProxyGrantType = 'password' | 'mfa_oob' | 'refresh_token' | 'authorization_code';

export interface GrantSpec {
  /** Must be present and non-empty (RFC 6749 §3.1: an empty value counts as omitted). */
  readonly required: readonly string[];
  /** Copied when present. */
  readonly optional: readonly string[];
}

export const GRANT_SPECS: Readonly<Record<ProxyGrantType, GrantSpec>> = {
  // EIAM password seed: username + password; scope is RFC 6749 §4.3.2.
  password: { required: ['username', 'password'], optional: ['scope'] },
  // EIAM mfa_oob seed: `code` is the oob_code from the challenge, `binding_code` the SMS code.
  mfa_oob: { required: ['mfa_token', 'code', 'binding_code'], optional: [] },
  refresh_token: { required: ['refresh_token'], optional: ['scope'] },
  // Only with PKCE: without a code_verifier a stolen code would be redeemable with our secret.
  authorization_code: { required: ['code', 'code_verifier'], optional: ['redirect_uri'] },
};

export const PROXY_GRANTS = Object.keys(GRANT_SPECS) as ProxyGrantType[];

export const DEFAULT_GRANTS: readonly ProxyGrantType[] = ['password', 'mfa_oob', 'refresh_token'];

/** The EIAM MFA challenge: `challenge_type=oob`, `oob_channel=sms`; `authenticator_id` for Auth0-style IdPs. */
export const MFA_CHALLENGE_SPEC: GrantSpec = {
  required: ['mfa_token'],
  optional: ['challenge_type', 'oob_channel', 'authenticator_id'],
};

/** RFC 7009 §2.1. */
export const REVOCATION_SPEC: GrantSpec = { required: ['token'], optional: ['token_type_hint'] };

/**
 * Names the server owns. Neither `allowParams` nor `extraParams` may name them: client identity
 * comes from the server's own configuration, and grant_type from the validated request.
 */
export const RESERVED_PARAMS: ReadonlySet<string> = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
]);

/** Grants that exist but are never proxied, answered with a specific error rather than "unknown". */
export const CONFIDENTIAL_ONLY_GRANTS: ReadonlySet<string> = new Set([
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

/**
 * Every parameter name any proxy endpoint knows. When query-string input is off, a request whose
 * query carries one of these is refused instead of silently ignored, so a misbuilt front end
 * learns why its password "went missing" rather than leaking it into access logs unnoticed.
 */
export const KNOWN_PARAMS: ReadonlySet<string> = new Set([
  ...RESERVED_PARAMS,
  ...PROXY_GRANTS.flatMap((g) => [...GRANT_SPECS[g].required, ...GRANT_SPECS[g].optional]),
  ...MFA_CHALLENGE_SPEC.required,
  ...MFA_CHALLENGE_SPEC.optional,
  ...REVOCATION_SPEC.required,
  ...REVOCATION_SPEC.optional,
]);
