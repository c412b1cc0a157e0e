import { hash } from 'node:crypto';
import { urlAudiences } from '../verified-token.js';
import { jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { IntrospectionUnavailableError, MisconfigurationError, OAuthError, ServerError } from '../../errors/oauth-error.js';
import { describeUrl, type IdpResponse } from '../../idp/http.js';
import { introspectionMetrics, errorCode } from '../../telemetry/otel.js';
import * as clock from '../../clock.js';
import type { GuardLog } from '../guard-log.js';
import type { KeySource } from '../key-source.js';
import type { ResolvedOptions } from '../options.js';
import type { TokenErrorFactory, VerifiedToken } from '../types.js';
import { isCompactJws } from '../../jwt/compact.js';
import { unverifiedClaims } from '../../jwt/verify.js';
import { acceptableUntil, judge, type AnswerRules, type Judgement } from './answer.js';
import type { IntrospectedTokens, ResolvedIntrospection } from './options.js';
import { SharedAnswers } from './shared-answers.js';

/** RFC 9701 §5: the media type of a signed introspection answer. */
const SIGNED_ANSWER = 'application/token-introspection+jwt';
/**
 * Distinct tokens being introspected at once, at most (and no more than the cache holds). A flood
 * of made-up tokens costs one call each (then their inactive answer is cached); past this many in
 * flight, new ones are answered 503 at once instead of piling up requests and memory.
 */
const MAX_IN_FLIGHT = 1_024;
/** Average bytes an active answer may take in memory: cacheMaxEntries × this bounds the active cache. */
const ACTIVE_BYTES_PER_ENTRY = 4_096;
/** An entry's own bytes besides its answer (key, VerifiedToken, scopes), roughly. */
const ENTRY_OVERHEAD = 400;
/** Oldest signed answer (its iat) accepted, in seconds, beyond the clock tolerance. */
const SIGNED_ANSWER_MAX_AGE_S = 60;
/** RFC 6749 §5.2 errors of a 400 that are about this API's client, not the token: a misconfiguration. */
const OUR_CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client']);
/** Longest Retry-After passed on from the endpoint, in seconds. */
const MAX_RETRY_AFTER_S = 60;

interface Active {
  verified: VerifiedToken;
  /** Estimated bytes (the answer's JSON length plus the entry's own): what the byte bound counts. */
  size: number;
  /** Epoch ms until which the answer is used without asking again. */
  until: number;
}
interface Refused {
  description: string;
  until: number;
}

/** SHA-256 of the token: what the caches are keyed by, so no cache holds a usable token. */
// crypto.hash: one call, no Hash object (about a quarter of createHash's cost on the hot path).
const tokenId = (token: string): string => hash('sha256', token, 'base64url');

/**
 * RFC 7662 token introspection for one issuer, behind two in-process caches (active answers for
 * `cacheTtlSeconds`, never past `exp`; refusals briefly), single flight per token, and an optional
 * sealed store shared by the fleet. Answers that cannot be had (endpoint down, slow, garbage) are
 * 503 and never cached; an active answer past its period may be served for `staleIfErrorSeconds`.
 */
export class Introspector {
  readonly tokens: IntrospectedTokens;
  readonly #settings: ResolvedIntrospection;
  readonly #rules: AnswerRules;
  readonly #algorithms: string[];
  readonly #active: LRUCache<string, Active>;
  readonly #refused: LRUCache<string, Refused>;
  readonly #inflight = new Map<string, Promise<VerifiedToken>>();
  readonly #shared: SharedAnswers | undefined;
  readonly #metrics = introspectionMetrics();
  readonly #maxInFlight: number;

  constructor(
    resolved: ResolvedOptions & { introspection: ResolvedIntrospection },
    private readonly keys: KeySource,
    private readonly invalidToken: TokenErrorFactory,
    private readonly log: GuardLog,
  ) {
    const s = resolved.introspection;
    this.#settings = s;
    this.tokens = s.tokens;
    this.#algorithms = resolved.algorithms;
    this.#rules = {
      issuer: resolved.issuer,
      audience: resolved.audience,
      urlAudiences: urlAudiences(resolved.audience),
      clockTolerance: resolved.clockTolerance,
      maxTokenAge: resolved.maxTokenAge,
      requiredClaims: resolved.requiredClaims,
      allowMissingAudience: s.allowMissingAudience,
      cacheTtlMs: s.cacheTtlMs,
      inactiveTtlMs: s.inactiveTtlMs,
    };
    // Keyed by SHA-256 (43 characters): bounded by count, an entry is small whatever the token.
    // And by bytes: an answer is the IdP's to size (up to maxResponseBytes), so a broken or hostile
    // endpoint answering 64 KiB for every token would otherwise fill cacheMaxEntries × 64 KiB.
    this.#active = new LRUCache({ max: s.maxEntries, maxSize: s.maxEntries * ACTIVE_BYTES_PER_ENTRY, sizeCalculation: (e) => e.size });
    this.#refused = new LRUCache({ max: s.maxEntries });
    this.#maxInFlight = Math.min(MAX_IN_FLIGHT, s.maxEntries);
    if (s.store !== undefined && s.sealer !== undefined) {
      const report = (line: string) => log.report(new IntrospectionUnavailableError(line));
      this.#shared = new SharedAnswers(s.store, s.sealer, s.storeTimeoutMs, report);
    }
  }

  /** Whether this token is checked by introspection rather than by its signature. */
  takes(token: string): boolean {
    return this.tokens === 'all' || (this.tokens === 'opaque' && !isCompactJws(token));
  }

  /**
   * A fresh active answer from process memory, or undefined: the guard's hot path, tried before any
   * other work (token routing, single flight), so a cached opaque token costs a hash and a lookup.
   */
  cached(token: string): VerifiedToken | undefined {
    if (!this.takes(token)) return undefined;
    const hit = this.#active.get(tokenId(token));
    if (hit === undefined || clock.now() >= hit.until) return undefined;
    this.#metrics.cacheHits?.add(1, { tier: 'memory' });
    return hit.verified;
  }

  /**
   * The token's checked answer: synchronous from the cache (the hot path), else a promise shared
   * by every concurrent request with the same token. Rejects with OAuthErrors only.
   */
  introspect(token: string): VerifiedToken | Promise<VerifiedToken> {
    const id = tokenId(token);
    const now = clock.now();
    const hit = this.#active.get(id);
    if (hit !== undefined && now < hit.until) {
      this.#metrics.cacheHits?.add(1, { tier: 'memory' });
      return hit.verified;
    }
    const no = this.#refused.get(id);
    if (no !== undefined) {
      if (now < no.until) throw this.invalidToken(no.description);
      this.#refused.delete(id);
    }
    const joined = this.#inflight.get(id);
    if (joined !== undefined) return joined;
    if (this.#inflight.size >= this.#maxInFlight) {
      throw new IntrospectionUnavailableError(`${this.#maxInFlight} tokens are being introspected already; refusing more until some answers arrive`, { retryAfterSeconds: 1 });
    }
    const flight = this.#ask(token, id, hit);
    this.#inflight.set(id, flight);
    const forget = () => this.#inflight.delete(id);
    flight.then(forget, forget);
    return flight;
  }

  async #ask(token: string, id: string, stale: Active | undefined): Promise<VerifiedToken> {
    if (this.#shared !== undefined) {
      const entry = await this.#shared.get(token);
      if (entry !== undefined) {
        const now = clock.now();
        const judged = judge(entry.answer, this.#rules, now, Math.min(entry.at, now));
        // An entry past its period (a store that kept it too long) is a miss.
        if (judged.malformed === undefined && (judged.until === undefined || judged.until > now)) {
          this.#metrics.cacheHits?.add(1, { tier: 'store' });
          return this.#settle(id, judged);
        }
      }
    }
    const at = clock.now();
    let judged: Judgement;
    try {
      judged = judge(keepBinding(token, await this.#call(token)), this.#rules, at, at);
      if (judged.malformed !== undefined) throw new IntrospectionUnavailableError(`${await this.#where()} gave an answer that is not an RFC 7662 answer: ${judged.malformed}`);
    } catch (err) {
      return this.#outage(err, stale);
    }
    this.#metrics.calls?.add(1, { result: judged.verified !== undefined ? 'active' : judged.inactive ? 'inactive' : 'refused' });
    if (this.#shared !== undefined && judged.until !== undefined) {
      // The IdP's answer as given (frozen by now, which JSON does not mind); checked again by each reader.
      const answer = judged.verified !== undefined ? judged.verified.payload : judged.answer;
      await this.#shared.set(token, { answer: answer as Record<string, unknown>, at }, judged.until - at);
    }
    return this.#settle(id, judged);
  }

  #settle(id: string, judged: Exclude<Judgement, { malformed: string }>): VerifiedToken {
    if (judged.verified !== undefined) {
      this.#refused.delete(id);
      this.#active.set(id, { verified: judged.verified, until: judged.until, size: sizeOf(judged.verified.payload) });
      return judged.verified;
    }
    // A refusal replaces an earlier active answer: the token was revoked, say.
    this.#active.delete(id);
    // An audience or issuer mismatch is often this server's settings (a trailing slash): say so, rate-limited.
    if (!judged.inactive) this.log.refusal(`refused an introspected token: ${judged.refused}`);
    if (judged.until !== undefined) this.#refused.set(id, { description: judged.refused, until: judged.until });
    throw this.invalidToken(judged.refused);
  }

  /** Endpoint down, slow, refusing us or answering garbage: never 401, never "allow" — unless staleIfError says so. */
  #outage(err: unknown, stale: Active | undefined): VerifiedToken {
    const error = this.#asOutage(err);
    this.#metrics.calls?.add(1, { result: errorCode(error) });
    const now = clock.now();
    if (
      stale !== undefined &&
      error instanceof IntrospectionUnavailableError &&
      now < stale.until + this.#settings.staleIfErrorMs &&
      now < acceptableUntil(stale.verified.payload, this.#rules)
    ) {
      this.log.report(new IntrospectionUnavailableError(`${error.message}; accepting a token on its earlier answer (staleIfErrorSeconds)`));
      this.#metrics.cacheHits?.add(1, { tier: 'stale' });
      return stale.verified;
    }
    this.log.report(error);
    throw error;
  }

  #asOutage(err: unknown): OAuthError {
    if (err instanceof IntrospectionUnavailableError || err instanceof MisconfigurationError) return err;
    // No introspection_endpoint in the metadata, and none configured: an operator must act.
    if (err instanceof ServerError) return new MisconfigurationError(err.message, { cause: err });
    // Keys for a signed answer could not be had: the same outage the JWT path answers.
    if (err instanceof OAuthError && err.code === 'jwks_unavailable') return err;
    const detail = err instanceof OAuthError ? err.message : 'it failed';
    return new IntrospectionUnavailableError(`Token introspection failed: ${detail}`, { cause: err });
  }

  async #where(): Promise<string> {
    return `The introspection endpoint at ${describeUrl(await this.#settings.idp.endpointUrl('introspection'))}`;
  }

  /** One POST (RFC 7662 §2.1) through the package's IdP client; the answer's JSON object, or a throw. */
  async #call(token: string): Promise<Record<string, unknown>> {
    const { idp, signedAnswers } = this.#settings;
    const params = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const accept = signedAnswers ? SIGNED_ANSWER : 'application/json';
    const res: IdpResponse = await idp.post('introspection', params, { headers: { accept }, rawTypes: [SIGNED_ANSWER] });
    if (res.status !== 200) {
      const where = await this.#where();
      const code = typeof res.body.error === 'string' && /^[a-z_]{1,40}$/.test(res.body.error) ? ` ${res.body.error}` : '';
      if (res.status === 400 && !OUR_CLIENT_ERRORS.has(code.trim())) {
        // A 400 that is not about this API's client (invalid_request, unsupported_token_type …) is
        // about the token, which any client chooses (oidc-provider answers it for a token whose first
        // part decodes as a JOSE header): never a 500 or an error-level line; refused as inactive.
        this.log.refusal(`${where} answered 400${code} for a token; refused as not active`);
        return { active: false };
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw new MisconfigurationError(`${where} refused this API's request (${res.status}${code}); check introspection.clientId, its credentials and clientAuth`);
      }
      throw new IntrospectionUnavailableError(`${where} answered ${res.status}${code}`, { retryAfterSeconds: retryAfterSeconds(res.headers.get('retry-after')) });
    }
    if (res.raw !== undefined) return this.#signed(res.raw);
    // Asked for a signed answer: a plain one may be a signature stripped on the way (or an IdP not
    // set up to sign for this client); either way its integrity is what signedAnswers asks for.
    if (signedAnswers) throw new IntrospectionUnavailableError(`${await this.#where()} answered without a signature (RFC 9701) although signedAnswers is set`);
    return res.body;
  }

  /** RFC 9701: a JWT signed by the issuer, for this API, carrying the answer in `token_introspection`. */
  async #signed(jwt: string): Promise<Record<string, unknown>> {
    let inner: unknown;
    try {
      const { payload } = await jwtVerify(jwt.trim(), this.keys.key as Parameters<typeof jwtVerify>[1], {
        issuer: this.#rules.issuer,
        // RFC 9701 §5: the audience identifies this resource server: its client id, or (as
        // oidc-provider writes it) the token's audience, which is this API's.
        audience: [this.#settings.idp.clientId, ...this.#rules.audience],
        typ: 'token-introspection+jwt',
        algorithms: this.#algorithms,
        clockTolerance: this.#rules.clockTolerance,
        // RFC 9701 §5: iat is required. The answer was made for the request just sent: an older one
        // is a recorded answer replayed (from before a revocation, or about another token).
        maxTokenAge: SIGNED_ANSWER_MAX_AGE_S,
      });
      inner = payload.token_introspection;
    } catch (err) {
      if (err instanceof OAuthError) throw err;
      throw new IntrospectionUnavailableError(`${await this.#where()} sent a signed answer that did not verify (${(err as { code?: string }).code ?? 'invalid'})`, { cause: err });
    }
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
      throw new IntrospectionUnavailableError(`${await this.#where()} sent a signed answer without a token_introspection object`);
    }
    // A copy: jose's payload is shared with nothing, but the answer must be ours to freeze.
    return { ...(inner as Record<string, unknown>) };
  }
}

/**
 * An active entry's estimated bytes. An answer nested a few thousand levels deep (which JSON.parse
 * and deepFreeze take) makes JSON.stringify throw: too big to keep, so it is not cached (lru-cache
 * skips an entry larger than the whole cache) rather than a throw that would answer 500.
 */
function sizeOf(payload: object): number {
  try {
    return JSON.stringify(payload).length + ENTRY_OVERHEAD;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

/**
 * A JWT (`tokens: 'all'`) carries its own `cnf`; many IdPs leave it out of introspection answers.
 * Dropped, a stolen DPoP- or certificate-bound JWT would pass as a bearer token: the token's `cnf`
 * (its own, which the issuer vouches for by answering active) goes into an answer that has none.
 */
function keepBinding(token: string, answer: Record<string, unknown>): Record<string, unknown> {
  if (answer.active !== true || answer.cnf !== undefined || !isCompactJws(token)) return answer;
  const cnf = unverifiedClaims(token)?.cnf;
  if (cnf !== undefined && cnf !== null) answer.cnf = structuredClone(cnf);
  return answer;
}

/** The endpoint's Retry-After (delay-seconds) within 1…60 s, else 5. */
function retryAfterSeconds(value: string | null): number {
  const n = value !== null && /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) : 5;
  return Math.min(MAX_RETRY_AFTER_S, Math.max(1, n));
}
