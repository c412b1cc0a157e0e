import * as clock from '../../clock.js';
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { LRUCache } from 'lru-cache';
import type { ConfigErrorCode, DocsTopic } from '../../errors/config-error.js';
import { OptionChecker } from '../../options/validate.js';
import { IdpBadResponseError, InvalidRequestError, InvalidTokenError } from '../../errors/oauth-error.js';
import { secretPattern } from '../../idp/client-auth.js';
import { describeUrl } from '../../idp/http.js';
import type { IdpClient } from '../../idp/idp-client.js';
import { ACCESS_TOKEN_TYPE, type ExchangedToken, type M2MExchange, type TokenExchangeOptions, type TokenExchangeTarget } from './exchange-types.js';
import type { RetryPolicy } from '../request/retry.js';
import { normalizeList, normalizeScope } from '../request/spec.js';
import { B64TOKEN } from '../store/store.js';
import { timing } from '../cache/timing.js';
import { withRetry } from '../request/token-request.js';
import { interpretTokenResponse } from '../request/token-response.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Exchanged tokens held in memory at most: one per (user token, target) in use, least recent dropped. */
export const EXCHANGE_CACHE_MAX = 1000;

const CONTROL = /[\u0000-\u0020\u007F-\u009F]/;

export interface ExchangeContext {
  idp: IdpClient;
  retry: RetryPolicy;
  expirySkewMs: number;
  defaultExpiresInMs: number;
}

/** A checked target: what goes into the request and the cache key. */
export interface ExchangeTarget {
  readonly scope: string | undefined;
  readonly audience: readonly string[];
  readonly resource: readonly string[];
  readonly requestedTokenType: string | undefined;
}

const TOPIC: DocsTopic = 'service-to-service.md#token-exchange';

/**
 * The checks of `exchange()`'s per-call arguments: the same rules as the mount options of
 * `onBehalfOf()`, but found while serving, so a 400 invalid_request that `oauthErrorHandler`
 * renders, not a ConfigError (which means "fix the options and restart").
 */
class ArgumentChecker extends OptionChecker {
  override fail(_code: ConfigErrorCode, message: string): never {
    throw new InvalidRequestError(`${this.factory}: ${message}`);
  }
}

/** Checks of `onBehalfOf()`'s options (at mount: ConfigError) and of `exchange()`'s (per call: InvalidRequestError). */
export const mountChecker = new OptionChecker('onBehalfOf()', TOPIC);
const callChecker = new ArgumentChecker('exchange()', TOPIC);

function tokenTypeUri(value: unknown, name: string, check: OptionChecker): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > 512 || CONTROL.test(value)) {
    check.fail('config_options', `${name} must be a token type URI such as ${ACCESS_TOKEN_TYPE}`);
  }
  return value;
}

export function checkTarget(o: TokenExchangeTarget | undefined, check: OptionChecker): ExchangeTarget {
  if (o !== undefined && (o === null || typeof o !== 'object')) check.fail('config_options', 'options must be an object');
  return Object.freeze({
    scope: normalizeScope(o?.scope, check),
    audience: normalizeList(o?.audience, 'audience', check),
    resource: normalizeList(o?.resource, 'resource', check),
    requestedTokenType: tokenTypeUri(o?.requestedTokenType, 'requestedTokenType', check),
  });
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');

/**
 * `text` with every form (raw, form- and percent-encoded, JSON-escaped, base64) of the user's
 * tokens replaced, by the pattern that redacts the client secret: an IdP that echoes the request
 * in an error must not carry them into our messages. Built only when an error needs it.
 */
function tokenRedactor(tokens: readonly string[]): (text: string) => string {
  let patterns: (RegExp | string)[] | undefined;
  return (text) => {
    // A token too short for a pattern (which would match innocent text) is still removed as is.
    patterns ??= tokens.map((t) => secretPattern(undefined, t) ?? t);
    return patterns.reduce<string>((acc, p) => (typeof p === 'string' ? acc.split(p).join('[redacted]') : acc.replace(p, '[redacted]')), text);
  };
}

/** A bearer credential must be a plain b64token: anything else is refused before it reaches a form body or a log. */
function checkToken(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 16_384 || !B64TOKEN.test(value)) {
    throw new InvalidTokenError(`The ${what} is not a token`);
  }
  return value;
}

/**
 * Refuses a subject token no IdP should be asked about: expired by its own `exp`, or (with
 * `expectedIssuer`) not from that issuer. Returns its expiry in ms, which bounds the cache entry.
 * The claims are read, not verified: the IdP verifies; this only saves a doomed round trip.
 */
function subjectExpiry(token: string, expectedIssuer: string | undefined): number | undefined {
  let claims: ReturnType<typeof decodeJwt> | undefined;
  try {
    claims = decodeJwt(token);
  } catch {
    claims = undefined;
  }
  if (expectedIssuer !== undefined && claims?.iss !== expectedIssuer) {
    throw new InvalidTokenError(claims === undefined ? 'The subject token is not a JWT, so its issuer cannot be checked' : 'The subject token is not from the expected issuer');
  }
  const exp = claims?.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return undefined;
  if (exp * 1000 <= clock.now()) throw new InvalidTokenError('The subject token has expired');
  return exp * 1000;
}

interface Entry {
  readonly token: ExchangedToken;
  readonly staleAt: number;
}

/**
 * RFC 8693 token exchange with an in-memory cache (never the fleet store: these tokens carry a
 * user's authority, and the subject token's hash is no key to share) and one request per key.
 */
export interface Exchanger {
  /** The public `exchange()`: checks the per-call target, then `run`. */
  exchange: M2MExchange;
  /** Exchange with an already checked target (the middleware checks its target once, at mount). */
  run(subjectToken: string, target: ExchangeTarget, o?: TokenExchangeOptions): Promise<ExchangedToken>;
  /**
   * A downstream refused this exchanged token: the next call exchanges again, and the token it
   * gets is a replacement (see `isReplacement`).
   */
  forget(subjectToken: string, target: ExchangeTarget, accessToken: string): void;
  /** True for a token exchanged after a downstream refused its predecessor: it is not replaced again on a 401. */
  isReplacement(token: ExchangedToken): boolean;
}

export function createExchange(ctx: ExchangeContext): Exchanger {
  const { idp, retry } = ctx;
  const cache = new LRUCache<string, Entry>({ max: EXCHANGE_CACHE_MAX });
  const inflight = new Map<string, Promise<ExchangedToken>>();
  /** Per key, the exchanged token a downstream refused: the next one for that key is a replacement. */
  const rejected = new LRUCache<string, string>({ max: EXCHANGE_CACHE_MAX });
  const replacements = new WeakSet<ExchangedToken>();

  const keyOf = (subject: string, t: ExchangeTarget, o: TokenExchangeOptions | undefined): string =>
    JSON.stringify([sha256(subject), o?.subjectTokenType ?? '', o?.actorToken === undefined ? '' : sha256(o.actorToken), o?.actorTokenType ?? '', t.requestedTokenType ?? '', t.scope ?? '', t.audience, t.resource]);

  async function request(subject: string, t: ExchangeTarget, o: TokenExchangeOptions | undefined, subjectExp: number | undefined): Promise<Entry> {
    const params = new URLSearchParams([
      ['grant_type', TOKEN_EXCHANGE_GRANT],
      ['subject_token', subject],
      ['subject_token_type', o?.subjectTokenType ?? ACCESS_TOKEN_TYPE],
    ]);
    if (t.requestedTokenType !== undefined) params.set('requested_token_type', t.requestedTokenType);
    if (o?.actorToken !== undefined) {
      params.set('actor_token', o.actorToken);
      params.set('actor_token_type', o.actorTokenType!);
    }
    if (t.scope !== undefined) params.set('scope', t.scope);
    for (const a of t.audience) params.append('audience', a);
    for (const r of t.resource) params.append('resource', r);
    const redact = tokenRedactor(o?.actorToken === undefined ? [subject] : [subject, o.actorToken]);
    const sanitize = (text: string): string => idp.sanitize(redact(text));
    const label = `token exchange${t.audience.length ? ` for audience "${t.audience.join(' ')}"` : ''}${t.resource.length ? ` for resource "${t.resource.join(' ')}"` : ''}${t.scope ? `, scope "${t.scope}"` : ''}`;
    // The client's own retry loop: same back-off, same Retry-After handling, same error context.
    const { value } = await withRetry({ retry, label, background: false }, async () => {
      const where = describeUrl(await idp.endpointUrl('token'));
      const issuedAt = clock.now();
      const res = await idp.post('token', params);
      const stored = interpretTokenResponse(res, { where, requestedScope: t.scope, defaultExpiresInMs: ctx.defaultExpiresInMs, sanitize, issuedAt });
      const issued = res.body.issued_token_type;
      if (typeof issued !== 'string' || issued === '' || CONTROL.test(issued)) {
        throw new IdpBadResponseError(`The IdP at ${where} answered a token exchange without issued_token_type (RFC 8693 §2.2.1)`, { retryable: false });
      }
      const { staleAt } = timing(stored, ctx.expirySkewMs, 0);
      const token: ExchangedToken = Object.freeze({
        accessToken: stored.accessToken,
        tokenType: 'Bearer',
        // The user's authority ends with their token: the exchanged one is not used beyond it.
        expiresAt: subjectExp === undefined ? stored.expiresAt : Math.min(stored.expiresAt, subjectExp),
        scope: stored.scope,
        issuedTokenType: issued,
      });
      return { token, staleAt: Math.min(staleAt, subjectExp ?? Infinity) };
    });
    return value;
  }

  function run(subjectToken: string, t: ExchangeTarget, o?: TokenExchangeOptions): Promise<ExchangedToken> {
    let subject: string;
    let key: string;
    let subjectExp: number | undefined;
    try {
      subject = checkToken(subjectToken, 'subject token');
      if (o?.actorToken !== undefined) {
        checkToken(o.actorToken, 'actor token');
        if (tokenTypeUri(o.actorTokenType, 'actorTokenType', callChecker) === undefined) {
          callChecker.fail('config_options', 'actorTokenType is required with actorToken (RFC 8693 §2.1)');
        }
      }
      tokenTypeUri(o?.subjectTokenType, 'subjectTokenType', callChecker);
      subjectExp = subjectExpiry(subject, o?.expectedIssuer);
      key = keyOf(subject, t, o);
    } catch (err) {
      return Promise.reject(err);
    }
    const hit = cache.get(key);
    if (hit !== undefined && clock.now() < hit.staleAt) return Promise.resolve(hit.token);
    const running = inflight.get(key);
    if (running !== undefined) return running;
    const p = request(subject, t, o, subjectExp).then(
      (entry) => {
        inflight.delete(key);
        const refused = rejected.get(key);
        if (refused !== undefined && refused !== entry.token.accessToken) {
          rejected.delete(key);
          replacements.add(entry.token);
        }
        const ttl = Math.ceil(entry.staleAt - clock.now());
        if (ttl > 0) cache.set(key, entry, { ttl });
        return entry.token;
      },
      (err: unknown) => {
        inflight.delete(key);
        throw err;
      },
    );
    inflight.set(key, p);
    return p;
  }

  return {
    exchange: (subjectToken, options) => {
      let t: ExchangeTarget;
      try {
        t = checkTarget(options, callChecker);
      } catch (err) {
        return Promise.reject(err);
      }
      return run(subjectToken, t, options);
    },
    run,
    forget(subjectToken, target, accessToken) {
      const key = keyOf(subjectToken, target, undefined);
      rejected.set(key, accessToken);
      if (cache.peek(key)?.token.accessToken === accessToken) cache.delete(key);
    },
    isReplacement: (token) => replacements.has(token),
  };
}
