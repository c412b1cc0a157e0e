import type { ClientAuthMethod, IdpProfile, ParamsIn } from '../lib/index.js';
import { assertSecureUrl, DemoConfigError, oneOf, optional, origins, port, required, scope, url, type Env } from './env.js';

export { DemoConfigError, type Env } from './env.js';

/**
 * Environment → typed configuration. With no OAUTH_ISSUER the demo starts its own mock IdP and uses
 * the mock's seeded clients, so `npm run demo` needs no account. Setting OAUTH_ISSUER switches to a
 * real tenant, and then every credential must come from the environment: nothing falls back to the
 * demo secrets. Every variable is documented in `.env.example` and `docs/demo.md`.
 */

export interface IdpConfig {
  /** true: start the bundled mock IdP (issuer and endpoints are known only after it listens). */
  mock: boolean;
  issuer?: string;
  profile: IdpProfile;
  tokenEndpoint?: string;
  mfaChallengeEndpoint?: string;
  revocationEndpoint?: string;
  jwksUri?: string;
  /** Undefined: the profile's default (EIAM basic, CIAM post, RFC 6749 basic). */
  clientAuth?: ClientAuthMethod;
  /** Undefined: the profile's default (EIAM query, otherwise body). */
  paramsIn?: ParamsIn;
  allowInsecureHttp: boolean;
}

export interface DemoConfig {
  /** 0 = any free port. `idp` is used only for the mock IdP. */
  ports: { api: number; inventory: number; idp: number };
  /** Browser origins allowed to use the refresh-token cookie. Default: the API's own URL (127.0.0.1 and localhost). */
  publicOrigins?: string[];
  idp: IdpConfig;
  /**
   * The confidential client the token proxy uses on behalf of the login page, and the API's expected
   * `aud`. `sendAudience`: also send it as the `audience` parameter of the password grant (Auth0-style
   * IdPs issue a JWT for an API only when asked).
   */
  web: { clientId: string; clientSecret: string; audience: string; sendAudience: boolean };
  /** The API's own identity for calling the inventory service (client_credentials); `audience` is sent only when set. */
  m2m: { clientId: string; clientSecret: string; scope: string; audience?: string };
  /** Undefined url: start the built-in inventory service, which requires `audience` and `inventory:read`. */
  inventory: { url?: string; audience?: string };
}

export const PROFILES: readonly IdpProfile[] = ['eiam', 'ciam', 'rfc6749'];
export const CLIENT_AUTH: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post'];
export const PARAMS_IN: readonly ParamsIn[] = ['query', 'body'];
export const INVENTORY_SCOPE = 'inventory:read';

/** The mock IdP's seeded clients (fixtures/mock-idp/clients.ts). Used only when the mock runs. */
const MOCK = {
  web: { clientId: 'web-app', clientSecret: 'web-secret', audience: 'https://api.example.test' },
  m2m: { clientId: 'svc-report', clientSecret: 'svc-secret' },
  inventoryAudience: 'https://inventory.example.test',
};

/** Variables that only make sense against a real IdP; any of them without OAUTH_ISSUER is a half-done setup. */
const REAL_ONLY = [
  'OAUTH_TOKEN_ENDPOINT', 'OAUTH_MFA_CHALLENGE_ENDPOINT', 'OAUTH_REVOCATION_ENDPOINT', 'OAUTH_JWKS_URI',
  'OAUTH_CLIENT_ID', 'OAUTH_CLIENT_SECRET', 'API_AUDIENCE', 'M2M_CLIENT_ID', 'M2M_CLIENT_SECRET', 'M2M_AUDIENCE',
];

function bool(env: Env, name: string): boolean {
  const v = oneOf(env, name, ['true', 'false', '1', '0'] as const, 'false');
  return v === 'true' || v === '1';
}

function idpConfig(env: Env): IdpConfig {
  const issuer = url(env, 'OAUTH_ISSUER');
  const common = {
    profile: oneOf(env, 'OAUTH_PROFILE', PROFILES, 'eiam'),
    clientAuth: oneOf(env, 'OAUTH_CLIENT_AUTH', CLIENT_AUTH),
    paramsIn: oneOf(env, 'OAUTH_PARAMS_IN', PARAMS_IN),
    allowInsecureHttp: bool(env, 'OAUTH_ALLOW_INSECURE_HTTP'),
  };
  if (issuer === undefined) {
    const stray = REAL_ONLY.find((name) => optional(env, name) !== undefined);
    if (stray) {
      throw new DemoConfigError(
        'OAUTH_ISSUER',
        `is required because ${stray} is set; set OAUTH_ISSUER to use a real IdP, or unset ${stray} to use the built-in mock IdP`,
      );
    }
    return { mock: true, ...common };
  }
  const endpoints = {
    tokenEndpoint: url(env, 'OAUTH_TOKEN_ENDPOINT'),
    mfaChallengeEndpoint: url(env, 'OAUTH_MFA_CHALLENGE_ENDPOINT'),
    revocationEndpoint: url(env, 'OAUTH_REVOCATION_ENDPOINT'),
    jwksUri: url(env, 'OAUTH_JWKS_URI'),
  };
  assertSecureUrl('OAUTH_ISSUER', issuer, common.allowInsecureHttp);
  assertSecureUrl('OAUTH_TOKEN_ENDPOINT', endpoints.tokenEndpoint, common.allowInsecureHttp);
  assertSecureUrl('OAUTH_MFA_CHALLENGE_ENDPOINT', endpoints.mfaChallengeEndpoint, common.allowInsecureHttp);
  assertSecureUrl('OAUTH_REVOCATION_ENDPOINT', endpoints.revocationEndpoint, common.allowInsecureHttp);
  assertSecureUrl('OAUTH_JWKS_URI', endpoints.jwksUri, common.allowInsecureHttp);
  return { mock: false, issuer, ...common, ...endpoints };
}

/** Throws `DemoConfigError` naming the first bad variable. Pure: reads only `env`. */
export function loadConfig(env: Env = process.env): DemoConfig {
  const idp = idpConfig(env);
  const ports = {
    api: port(env, 'DEMO_API_PORT', 3000),
    inventory: port(env, 'DEMO_INVENTORY_PORT', 3001),
    idp: port(env, 'DEMO_IDP_PORT', 3002),
  };
  const inventoryUrl = url(env, 'INVENTORY_URL');
  const m2mScope = scope(env, 'M2M_SCOPE', INVENTORY_SCOPE);
  const publicOrigins = origins(env, 'DEMO_PUBLIC_ORIGINS');
  const sendApiAudience = bool(env, 'API_AUDIENCE_PARAM');
  const sendM2mAudience = bool(env, 'M2M_AUDIENCE_PARAM');
  if (idp.mock) {
    // The mock gives each client the right `aud` unasked; the *_AUDIENCE_PARAM switches still work against it.
    return {
      ports,
      publicOrigins,
      idp,
      web: { ...MOCK.web, sendAudience: sendApiAudience },
      m2m: { ...MOCK.m2m, scope: m2mScope, audience: sendM2mAudience ? MOCK.inventoryAudience : undefined },
      inventory: { url: inventoryUrl, audience: MOCK.inventoryAudience },
    };
  }
  const real = 'when OAUTH_ISSUER is set';
  const web = {
    clientId: required(env, 'OAUTH_CLIENT_ID', `${real} (the confidential client the token proxy uses)`),
    clientSecret: required(env, 'OAUTH_CLIENT_SECRET', `${real} (keep it out of the front end and out of git)`),
    audience: required(env, 'API_AUDIENCE', `${real} (the \`aud\` of access tokens issued for this API)`),
    sendAudience: sendApiAudience,
  };
  // The built-in inventory has to know which audience to require; an external one decides for itself.
  const m2mAudience =
    inventoryUrl === undefined || sendM2mAudience
      ? required(env, 'M2M_AUDIENCE', `${real} and ${inventoryUrl === undefined ? 'INVENTORY_URL is not' : 'M2M_AUDIENCE_PARAM is'} (the \`aud\` of M2M tokens for the inventory service)`)
      : optional(env, 'M2M_AUDIENCE');
  return {
    ports,
    publicOrigins,
    idp,
    web,
    m2m: {
      clientId: required(env, 'M2M_CLIENT_ID', `${real} (the API's own client for client_credentials)`),
      clientSecret: required(env, 'M2M_CLIENT_SECRET', real),
      scope: m2mScope,
      audience: sendM2mAudience ? m2mAudience : undefined,
    },
    inventory: { url: inventoryUrl, audience: m2mAudience },
  };
}
