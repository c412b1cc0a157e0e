import type { ClientSecretCredentials, IdpConnectionOptions } from '../lib/idp/idp-client.js';
import type { DemoConfig, IdpConfig } from './config.js';
import type { Log } from './request-log.js';

/** The demo's clients all authenticate with a secret (the one branch of the IdpClientOptions union). */
type IdpClientOptions = IdpConnectionOptions & ClientSecretCredentials;

/**
 * What the servers are built from: the validated configuration with everything that is only known
 * once something listens (the mock IdP's issuer, the inventory's URL, the API's own origin) filled in.
 */
export interface IdpConnection extends Omit<IdpConfig, 'mock' | 'issuer'> {
  issuer: string;
}

/** A second tenant whose users may call the API's shared routes (never the staff-only ones). */
export interface CustomerTenant {
  idp: IdpConnection;
  /** The confidential client the customer login proxy uses at that tenant. */
  web: { clientId: string; clientSecret: string };
}

export interface ApiSettings {
  /** The staff tenant (EIAM profile, MFA): the only issuer allowed on /api/staff routes. */
  idp: IdpConnection;
  /** The customer tenant (CIAM profile); present with the built-in mock IdP. */
  customers?: CustomerTenant;
  web: DemoConfig['web'];
  m2m: DemoConfig['m2m'];
  /** Base URL of the inventory service. */
  inventoryUrl: string;
  /** Origins allowed to use the refresh-token cookie (the login page's origin). */
  publicOrigins: string[];
  log: Log;
}

export interface InventorySettings {
  idp: IdpConnection;
  /** The `aud` an M2M token must carry. */
  audience: string;
  log: Log;
}

/** The IdP half of the package's options for one client; undefined entries are left out so profile defaults apply. */
export function idpClientOptions(idp: IdpConnection, client: { clientId: string; clientSecret: string }): IdpClientOptions {
  const options: IdpClientOptions = {
    issuer: idp.issuer,
    profile: idp.profile,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    tokenEndpoint: idp.tokenEndpoint,
    mfaChallengeEndpoint: idp.mfaChallengeEndpoint,
    revocationEndpoint: idp.revocationEndpoint,
    clientAuth: idp.clientAuth,
    paramsIn: idp.paramsIn,
    allowInsecureHttp: idp.allowInsecureHttp || undefined,
  };
  for (const key of Object.keys(options) as (keyof IdpClientOptions)[]) {
    if (options[key] === undefined) delete options[key];
  }
  return options;
}

/** The guard's key options: an explicit JWKS URI when configured, else discovery from the issuer. */
export function guardKeyOptions(idp: IdpConnection): { jwksUri?: string; allowInsecureHttp?: boolean } {
  return {
    ...(idp.jwksUri ? { jwksUri: idp.jwksUri } : {}),
    ...(idp.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
}
