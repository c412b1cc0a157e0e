/**
 * Misconfiguration found when a factory is called. Thrown at start-up, never per request, so a
 * bad deployment fails before it serves traffic. `code` is stable; `docs` points at the README
 * section that explains the option.
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

const DOCS = 'https://www.npmjs.com/package/express-oauth-kit#';

// README sections by the factory named at the start of a message, for errors given no anchor.
const SECTIONS: Array<[RegExp, string]> = [
  [/^requireAuth/, 'requireauth-options'],
  [/^(tokenProxy|mfaChallengeProxy|revocationProxy)/, 'token-proxy-tokenproxy-mfachallengeproxy-revocationproxy'],
  [/^createM2MClient/, 'calling-other-services-createm2mclient'],
  [/^redisTokenStore/, 'shared-m2m-token-store'],
];

export class ConfigError extends TypeError {
  readonly code: ConfigErrorCode;
  readonly docs: string;
  constructor(code: ConfigErrorCode, message: string, anchor?: string) {
    const docs = DOCS + (anchor ?? SECTIONS.find(([re]) => re.test(message))?.[1] ?? 'install');
    super(`${message} (${code}, see ${docs})`);
    this.code = code;
    this.docs = docs;
  }
  override get name(): string {
    return 'ConfigError';
  }
}
