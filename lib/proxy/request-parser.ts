import type { Request, RequestHandler } from 'express';
import { MisconfigurationError, OAuthError, ServerError } from '../errors/oauth-error.js';
import { OptionChecker } from '../options/validate.js';
import { GRANT_SPECS } from './grants.js';
import { parsedParams, readParams, rememberParams, single, type Params } from './read-params.js';
import { errorAnswer, send } from './respond.js';

/** Options of {@link proxyRequestParser}; give it the same values as the proxy on the route. */
export interface ProxyRequestParserOptions {
  /**
   * Read the query string too; match the proxy's `allowQueryParams`.
   * @default false
   */
  allowQueryParams?: boolean;
  /**
   * Largest body read, in bytes; match the proxy's `bodyLimit`.
   * @default 16384
   */
  bodyLimit?: number;
}

/**
 * Reads a proxy request once, with the proxies' own rules (RFC 6749 §3.2 form or UTF-8 JSON,
 * anything else 415), for middleware that must look at it before the proxy, typically rate
 * limiters. The proxy on the same route then uses these very parameters instead of reading
 * again, and `proxyGuess()` derives the limiter's key from them: what the limiter counts and what
 * the proxy forwards cannot disagree, whatever the content type. Refusals are answered here, as
 * the proxy would answer them. `req.body` is also set (strings; arrays for repeated names).
 *
 * @example
 * ```ts
 * import { createHash } from 'node:crypto';
 * import rateLimit from 'express-rate-limit';
 *
 * const perAccount = rateLimit({
 *   windowMs: 15 * 60_000,
 *   limit: 5,
 *   skipSuccessfulRequests: true,
 *   skip: (req) => proxyGuess(req) === undefined, // only password and SMS-code attempts count
 *   keyGenerator: (req) => createHash('sha256').update(proxyGuess(req)!.account).digest('base64url'),
 * });
 * app.post('/auth/token', proxyRequestParser(), perAccount, tokenProxy(options));
 * ```
 */
export function proxyRequestParser(options: ProxyRequestParserOptions = {}): RequestHandler {
  const check: OptionChecker = new OptionChecker('proxyRequestParser()', 'token-proxy.md#brute-force-the-rate-limit-recipe');
  check.knownKeys(check.object(options, '{ allowQueryParams?, bodyLimit? }'), ['allowQueryParams', 'bodyLimit']);
  const config = {
    allowQuery: check.boolean(options.allowQueryParams, 'allowQueryParams', false),
    bodyLimit: check.number(options.bodyLimit, 'bodyLimit', 16 * 1024, { positive: true }),
  };
  return (req, res, next) => {
    readParams(req, config).then(
      (params) => {
        rememberParams(req, params);
        const body: Record<string, string | string[]> = Object.create(null);
        for (const [k, v] of params) body[k] = v.length === 1 ? v[0]! : [...v];
        (req as { body?: unknown }).body = body;
        next();
      },
      (err: unknown) => {
        if (res.headersSent) return;
        send(res, errorAnswer(err instanceof OAuthError ? err : new ServerError('Internal server error'), 'local'));
      },
    );
  };
}

/** A request that tries a credential: a password grant (per username) or an SMS code (per mfa_token). */
export interface ProxyGuess {
  /** The grant that carries the guess: a password, or an SMS code (`mfa_oob`). */
  grantType: 'password' | 'mfa_oob';
  /**
   * The account attacked: `user:` + the username (NFKC, trimmed, lower-cased, so "Alice" and
   * " alice" are one account) or `mfa:` + the mfa_token. Hash it before storing it anywhere shared.
   */
  account: string;
}

function guessOf(params: Params): ProxyGuess | undefined {
  try {
    const grant = single(params, 'grant_type');
    if (grant !== 'password' && grant !== 'mfa_oob') return undefined;
    // Exactly the proxy's checks: a request it would refuse locally never reaches the IdP.
    for (const name of GRANT_SPECS[grant].required) if (single(params, name) === undefined) return undefined;
    if (grant === 'password') return { grantType: grant, account: `user:${single(params, 'username')!.normalize('NFKC').trim().toLowerCase()}` };
    return { grantType: grant, account: `mfa:${single(params, 'mfa_token')!}` };
  } catch {
    return undefined; // a repeated parameter: the proxy answers 400 without calling the IdP
  }
}

/**
 * The guess this request makes, as the proxy will forward it, or undefined when the proxy will
 * not call the IdP with a password or SMS code. Needs `proxyRequestParser()` earlier on the
 * route, and throws a {@link MisconfigurationError} (500) otherwise: a limiter that cannot see
 * the request must not let it through.
 */
export function proxyGuess(req: Request): ProxyGuess | undefined {
  const params = parsedParams(req);
  if (!params) {
    // Found while serving a request, so a 500 for the operator rather than a ConfigError.
    throw new MisconfigurationError('proxyGuess() needs proxyRequestParser() earlier on the same route');
  }
  return guessOf(params);
}
