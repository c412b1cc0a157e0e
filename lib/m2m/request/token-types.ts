// The token and fetch shapes every M2M flow shares (client_credentials and token exchange alike),
// kept apart so that neither flow's types import the other's.

/** What `getToken()` resolves to. The object is frozen and shared by every caller of one token. */
export interface M2MToken {
  /** The access token, to send as `Authorization: <tokenType> <accessToken>`. A credential: never log it. */
  readonly accessToken: string;
  /** `'DPoP'` with the `dpop` option (the token is bound to the client's key; send it with a proof), else `'Bearer'`. */
  readonly tokenType: 'Bearer' | 'DPoP';
  /** Epoch milliseconds at which the IdP says the token expires. */
  readonly expiresAt: number;
  /** Scope the IdP granted, or the requested scope when the IdP did not say. */
  readonly scope: string | undefined;
}

/** `init` of `fetch()` as Node accepts it (`duplex` is needed for stream bodies). */
export type M2MFetchInit = RequestInit & {
  /** `'half'`: required by Node's fetch when `body` is a stream. */
  duplex?: 'half';
};
