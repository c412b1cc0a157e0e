/**
 * Misconfiguration found when a factory is called. Thrown at start-up, never per request, so a
 * bad deployment fails before it serves traffic. `code` is stable; `docs` names the page and
 * section that explain the option, as a path inside the installed package.
 */
export type ConfigErrorCode =
  | 'ERR_OAUTHKIT_OPTIONS'
  | 'ERR_OAUTHKIT_ISSUER'
  | 'ERR_OAUTHKIT_AUDIENCE'
  | 'ERR_OAUTHKIT_KEYS'
  | 'ERR_OAUTHKIT_ALGORITHMS'
  | 'ERR_OAUTHKIT_URL'
  | 'ERR_OAUTHKIT_CLIENT'
  | 'ERR_OAUTHKIT_GRANTS'
  | 'ERR_OAUTHKIT_NUMBER'
  | 'ERR_OAUTHKIT_TOKEN_LOCATION'
  | 'ERR_OAUTHKIT_COOKIE'
  | 'ERR_OAUTHKIT_STORE';

// The docs ship in the package (docs/*.md), so this path exists on every machine that can throw
// the error, offline and for the installed version; a web URL could describe another version.
const DOCS = 'express-oauth-kit/docs/';

// Topic names the factories pass as `anchor` → page#section. A name already of the form
// `page.md#section` is used as is.
const TOPICS: Record<string, string> = {
  'requireauth-options': 'require-auth.md#options',
  'requirescopes-and-claim-helpers': 'require-auth.md#requirescopes-and-claim-helpers',
  'refresh-token-cookie-mode': 'token-proxy.md#refresh-token-cookie-mode',
  'sharing-tokens-across-instances-the-store-interface': 'm2m.md#sharing-tokens-across-instances-the-store-interface',
  'shared-m2m-token-store': 'fleet.md#redistokenstore-options',
};

// Pages by the factory named at the start of a message, for errors given no anchor.
const SECTIONS: Array<[RegExp, string]> = [
  [/^requireAuth/, 'require-auth.md#options'],
  [/^(tokenProxy|mfaChallengeProxy|revocationProxy)/, 'token-proxy.md#options'],
  [/^createM2MClient/, 'm2m.md#options'],
  [/^redisTokenStore/, 'fleet.md#redistokenstore-options'],
];
const FALLBACK = 'errors.md#configerror';

/**
 * Thrown synchronously by a factory (`requireAuth`, `tokenProxy`, `createM2MClient`,
 * `redisTokenStore`, ...) when its options are invalid, so a bad deployment fails at start-up
 * instead of answering requests wrongly. Never sent to an HTTP client. The message names the
 * option, never a secret's value.
 *
 * @example
 * ```ts
 * try {
 *   app.use('/api', requireAuth({ issuer: process.env.ISSUER!, audience: 'api' }));
 * } catch (err) {
 *   if (err instanceof ConfigError) {
 *     console.error(`${err.code}: ${err.message}\nSee ${err.docs}`);
 *     process.exit(1);
 *   }
 *   throw err;
 * }
 * ```
 */
export class ConfigError extends TypeError {
  /** Stable identifier of what is wrong (which kind of option); see {@link ConfigErrorCode}. */
  readonly code: ConfigErrorCode;
  /** Page and section that explain the option, e.g. `express-oauth-kit/docs/require-auth.md#options`. */
  readonly docs: string;
  constructor(code: ConfigErrorCode, message: string, anchor?: string) {
    const topic = anchor === undefined ? undefined : anchor.includes('.md#') ? anchor : TOPICS[anchor];
    const docs = DOCS + (topic ?? SECTIONS.find(([re]) => re.test(message))?.[1] ?? FALLBACK);
    super(`${message} (${code}, see node_modules/${docs})`);
    this.code = code;
    this.docs = docs;
  }
  /** Always `"ConfigError"` (a literal, so it survives minification). */
  override get name(): string {
    return 'ConfigError';
  }
}
