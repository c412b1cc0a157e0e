/**
 * JWT claims checks (RFC 7519 §4.1, §7.2; RFC 8725 §3.8–3.11), in jose's order and with jose's
 * error classes, claim names and reasons, so callers mapping jose errors keep working unchanged.
 * Options are compiled once per options object (the guard passes the same one every time).
 */
import { errors, type JWTPayload, type JWTVerifyOptions, type ProtectedHeaderParameters } from 'jose';
import * as clock from '../clock.js';

const MULTIPLIERS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_557_600 };
const DURATION = /^(\+|-)? ?(\d+|\d+\.\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)(?: (ago|from now))?$/i;

/** A jose-style duration string ("30 s", "2 hours") in seconds. */
export function secs(value: string): number {
  const m = DURATION.exec(value);
  if (!m || (m[4] && m[1])) throw new TypeError('Invalid time period format');
  const seconds = Math.round(parseFloat(m[2]!) * MULTIPLIERS[m[3]![0]!.toLowerCase()]!);
  if (!Number.isFinite(seconds)) throw new TypeError('Invalid time period format');
  return m[1] === '-' || m[4]?.toLowerCase() === 'ago' ? -seconds : seconds;
}

function finite(label: string, value: number): number {
  if (!Number.isFinite(value)) throw new TypeError(`Invalid ${label} input`);
  return value;
}

/** `at+jwt` and `application/at+jwt` are the same media type (RFC 7515 §4.1.9), compared case-insensitively. */
const normalizeTyp = (value: string): string => (value.includes('/') ? value.toLowerCase() : `application/${value.toLowerCase()}`);

export interface CompiledClaims {
  typ: string | undefined;
  /** The option as given: a header spelling it exactly needs no normalizing (the usual case). */
  typAsGiven: string | undefined;
  /** Claims that must be present, in the order jose reports the first missing one. */
  presence: string[];
  issuers: unknown[] | undefined;
  subject: string | undefined;
  audiences: string[] | undefined;
  tolerance: number | TypeError;
  maxTokenAge: number | TypeError | undefined;
  currentDate: Date | undefined;
}

const compiled = new WeakMap<object, CompiledClaims>();

export function compileClaims(options: JWTVerifyOptions): CompiledClaims {
  let c = compiled.get(options);
  if (c !== undefined) return c;
  const { requiredClaims = [], issuer, subject, audience, maxTokenAge, clockTolerance, typ } = options;
  const presence = [...requiredClaims];
  if (maxTokenAge !== undefined) presence.push('iat');
  if (audience !== undefined) presence.push('aud');
  if (subject !== undefined) presence.push('sub');
  if (issuer !== undefined) presence.push('iss');
  // Option errors surface when a token reaches the claims stage, as in jose, not at compile time.
  const lazy = (fn: () => number): number | TypeError => {
    try {
      return fn();
    } catch (err) {
      return err as TypeError;
    }
  };
  c = {
    typ: typ === undefined ? undefined : normalizeTyp(typ),
    typAsGiven: typ,
    presence: [...new Set(presence.reverse())],
    issuers: issuer === undefined ? undefined : Array.isArray(issuer) ? issuer : [issuer],
    subject,
    audiences: audience === undefined ? undefined : typeof audience === 'string' ? [audience] : audience,
    tolerance: lazy(() => {
      let t = 0;
      if (typeof clockTolerance === 'string') t = secs(clockTolerance);
      else if (clockTolerance !== undefined) {
        if (typeof clockTolerance !== 'number') throw new TypeError('Invalid clockTolerance option type');
        t = clockTolerance;
      }
      if (finite('clockTolerance option', t) < 0) throw new TypeError('Invalid clockTolerance option input');
      return t;
    }),
    maxTokenAge:
      maxTokenAge === undefined
        ? undefined
        : lazy(() => {
            const max = finite('maxTokenAge option', typeof maxTokenAge === 'number' ? maxTokenAge : secs(maxTokenAge));
            if (max < 0) throw new TypeError('Invalid maxTokenAge option input');
            return max;
          }),
    currentDate: options.currentDate,
  };
  compiled.set(options, c);
  return c;
}

const failed = (message: string, payload: JWTPayload, claim: string, reason = 'check_failed') =>
  new errors.JWTClaimValidationFailed(message, payload, claim, reason);

function numericDate(payload: JWTPayload, claim: 'iat' | 'nbf' | 'exp', required = false): number | undefined {
  const value = payload[claim];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number') throw failed(`"${claim}" claim must be a number`, payload, claim, 'invalid');
  return value;
}

function audienceMatches(aud: unknown, expected: string[]): boolean {
  if (typeof aud === 'string') return expected.includes(aud);
  if (Array.isArray(aud)) return expected.some((a) => aud.includes(a));
  return false;
}

/** Checks a parsed claims set against compiled options; throws jose's errors. */
export function checkClaims(header: ProtectedHeaderParameters, payload: JWTPayload, c: CompiledClaims): void {
  if (c.typ !== undefined && header.typ !== c.typAsGiven && (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== c.typ)) {
    throw failed('unexpected "typ" JWT header value', payload, 'typ');
  }
  for (const claim of c.presence) {
    if (!Object.hasOwn(payload, claim)) throw failed(`missing required "${claim}" claim`, payload, claim, 'missing');
  }
  if (c.issuers !== undefined && !c.issuers.includes(payload.iss)) throw failed('unexpected "iss" claim value', payload, 'iss');
  if (c.subject !== undefined && payload.sub !== c.subject) throw failed('unexpected "sub" claim value', payload, 'sub');
  if (c.audiences !== undefined && !audienceMatches(payload.aud, c.audiences)) throw failed('unexpected "aud" claim value', payload, 'aud');

  if (c.tolerance instanceof TypeError) throw c.tolerance;
  const tolerance = c.tolerance;
  const now = finite('currentDate option', Math.floor((c.currentDate?.getTime() ?? clock.now()) / 1000));
  const iat = numericDate(payload, 'iat', c.maxTokenAge !== undefined);
  const nbf = numericDate(payload, 'nbf');
  if (nbf !== undefined && nbf > now + tolerance) throw failed('"nbf" claim timestamp check failed', payload, 'nbf');
  const exp = numericDate(payload, 'exp');
  if (exp !== undefined && exp <= now - tolerance) {
    throw new errors.JWTExpired('"exp" claim timestamp check failed', payload, 'exp', 'check_failed');
  }
  if (c.maxTokenAge !== undefined) {
    if (c.maxTokenAge instanceof TypeError) throw c.maxTokenAge;
    const age = now - iat!;
    if (age - tolerance > c.maxTokenAge) {
      throw new errors.JWTExpired('"iat" claim timestamp check failed (too far in the past)', payload, 'iat', 'check_failed');
    }
    if (age < -tolerance) throw failed('"iat" claim timestamp check failed (it should be in the past)', payload, 'iat');
  }
}
